"""Row groups of the Parquet writer and head reads that read only the head (loopgen.tables)."""

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopgen import tables
from loopgen.tables import SchemaMismatch, read_head, row_group_rows, write_table

ROLLS = pa.schema([("sample_id", pa.string()), ("roll", pa.binary(912))])


def roll_table(n, seed=0):
    rng = np.random.default_rng(seed)
    rolls = rng.integers(0, 256, (n, 912), dtype=np.uint8)
    return pa.table(
        {"sample_id": [f"s{i}" for i in range(n)], "roll": pa.array([r.tobytes() for r in rolls], pa.binary(912))},
        schema=ROLLS,
    )


def test_roll_tables_get_65536_row_groups(tmp_path):
    table = roll_table(70_000)
    write_table(table, tmp_path / "rolls.parquet", ROLLS)
    meta = pq.ParquetFile(tmp_path / "rolls.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [65_536, 70_000 - 65_536]


def test_wide_pcm_rows_are_capped_by_bytes_not_rows():
    pcm = pa.table({"pcm": pa.array([np.zeros(29_538, np.int16)] * 10, pa.list_(pa.int16()))})
    # 128 MiB of 59,076-byte segments (+ a 4-byte offset each): 2,271 rows, not 65,536 (3.9 GB).
    assert row_group_rows(pcm) == 128 * 2**20 // (29_538 * 2 + 4)


class CountingFile(io.FileIO):
    bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        CountingFile.bytes_read += len(data)
        return data


def test_head_read_reads_only_the_first_row_group(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "ROW_GROUP_ROWS", 1000)
    table = roll_table(4000)
    path = tmp_path / "samples.parquet"
    write_table(table, path, ROLLS)
    real_parquet_file = pq.ParquetFile
    monkeypatch.setattr(
        tables.pq, "ParquetFile", lambda p, **kw: real_parquet_file(pa.PythonFile(CountingFile(p, "rb")), **kw)
    )

    head = read_head(path, ROLLS, 10)
    assert head.equals(table.slice(0, 10))
    assert CountingFile.bytes_read < path.stat().st_size / 3  # one of four row groups, plus the footer
    assert read_head(path, ROLLS, 2500).equals(table.slice(0, 2500))  # across groups
    assert read_head(path, ROLLS, 10_000).num_rows == 4000
    assert read_head(path, ROLLS, 0).num_rows == 0
    assert read_head(path, ROLLS, 3, columns=["sample_id"]).column_names == ["sample_id"]


def test_head_read_streams_the_pages_of_a_large_row_group(tmp_path, monkeypatch):
    """One row group of paper-scale audio is 128 MB; a head read of it reads a few MB (issue 13)."""
    table = roll_table(30_000)  # ~27 MB of rolls in one row group
    path = tmp_path / "one-group.parquet"
    write_table(table, path, ROLLS)
    assert pq.ParquetFile(path).metadata.num_row_groups == 1
    real_parquet_file = pq.ParquetFile
    CountingFile.bytes_read = 0
    monkeypatch.setattr(
        tables.pq, "ParquetFile", lambda p, **kw: real_parquet_file(pa.PythonFile(CountingFile(p, "rb")), **kw)
    )
    assert read_head(path, ROLLS, 5).equals(table.slice(0, 5))
    assert CountingFile.bytes_read < path.stat().st_size / 3


def test_head_read_checks_the_schema(tmp_path):
    write_table(roll_table(3), tmp_path / "rolls.parquet", ROLLS)
    with pytest.raises(SchemaMismatch, match="roll"):
        read_head(tmp_path / "rolls.parquet", pa.schema([("roll", pa.binary())]), 2)


def test_synthesized_set_keeps_every_segment_but_caps_the_wavs(tmp_path):
    from loopgen import loopnet

    pcm = np.random.default_rng(0).integers(-1000, 1000, (5, 400), dtype=np.int16)
    ids = [f"loop{i}:bar0" for i in range(5)]
    loopnet.write_set(
        ids, [f"loop{i}" for i in range(5)], "WAV", pcm, tmp_path / "set.parquet", tmp_path / "wavs", n_wavs=2
    )
    assert pq.read_table(tmp_path / "set.parquet").num_rows == 5
    assert pq.read_table(tmp_path / "set.parquet")["pcm"].to_pylist() == pcm.tolist()
    assert sorted(p.name for p in (tmp_path / "wavs").iterdir()) == ["loop0_bar0.wav", "loop1_bar0.wav"]
    loopnet.write_set(ids, ids, "WAV", pcm, tmp_path / "all.parquet", tmp_path / "all", n_wavs=None)
    assert len(list((tmp_path / "all").iterdir())) == 5


def test_join_files_concatenates_in_order_and_keeps_row_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "ROW_GROUP_ROWS", 100)
    parts = [roll_table(n, seed=n) for n in (150, 0, 70)]
    for i, part in enumerate(parts):
        write_table(part, tmp_path / f"part-{i}.parquet", ROLLS)
    tables.join_files([tmp_path / f"part-{i}.parquet" for i in range(3)], tmp_path / "all.parquet", ROLLS)
    joined = pq.ParquetFile(tmp_path / "all.parquet")
    assert joined.read().equals(pa.concat_tables(parts))
    assert max(joined.metadata.row_group(i).num_rows for i in range(joined.metadata.num_row_groups)) == 100
    tables.join_files([], tmp_path / "none.parquet", ROLLS)
    assert pq.read_table(tmp_path / "none.parquet").num_rows == 0


def test_join_files_with_a_limit_copies_the_first_rows_across_files_and_row_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "ROW_GROUP_ROWS", 100)
    parts = [roll_table(n, seed=n) for n in (150, 70)]
    for i, part in enumerate(parts):
        write_table(part, tmp_path / f"part-{i}.parquet", ROLLS)
    paths = [tmp_path / f"part-{i}.parquet" for i in range(2)]
    everything = pa.concat_tables(parts)
    for limit in (0, 30, 100, 180, 500):
        written = tables.join_files(paths, tmp_path / f"head-{limit}.parquet", ROLLS, limit=limit)
        assert written == min(limit, 220)
        assert pq.read_table(tmp_path / f"head-{limit}.parquet").equals(everything.slice(0, written))


def test_a_synthesized_set_reads_back_in_batches_as_written(tmp_path, monkeypatch):
    from loopgen import loopnet
    from loopgen.loopnet import synth

    monkeypatch.setattr(synth, "SET_READ_BATCH", 3)
    pcm = np.random.default_rng(1).integers(-3000, 3000, (7, synth.N_SAMPLES), dtype=np.int16)
    ids = [f"loop{i}:0" for i in range(7)]
    loopnet.write_set(ids, ids, "MULTI", pcm, tmp_path / "set.parquet", tmp_path / "wavs", n_wavs=0)
    name, read_ids, audio = loopnet.read_set_audio(tmp_path / "set.parquet")
    assert name == "MULTI" and read_ids == ids
    np.testing.assert_array_equal(audio, pcm)
    loopnet.write_set(ids[:2], ids[:2], "WAV", pcm[:2, :100], tmp_path / "short.parquet", tmp_path / "w", n_wavs=0)
    with pytest.raises(ValueError, match="samples"):
        loopnet.read_set_audio(tmp_path / "short.parquet")
