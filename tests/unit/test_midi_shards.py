"""Shards of a raw tree: accounting of every file, the merged files table, `loopgen summary`, and
our path against the paper's pipeline on awkward LMD-like files."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

from loopgen.cli import main
from loopgen.midi import (
    FILES_SCHEMA,
    MIDI_SUFFIXES,
    PHRASE_SCHEMA,
    MidiError,
    MidiParams,
    extract_phrases,
    extract_shard,
    merge_files_tables,
)
from loopgen.midi_reference import make_tree, reference_phrases, synthetic_song
from loopgen.roll import bar_correlation
from loopgen.shards import files_in_shard, list_files
from loopgen.tables import read_table


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Generated songs plus every kind of broken file, and a duplicate."""
    root = make_tree(tmp_path_factory.mktemp("lmd"), 24, seed=11)
    good = next(p for p in sorted(root.rglob("*.mid")) if _accepted(p.read_bytes()))
    broken = root / "broken"
    broken.mkdir()
    (broken / "empty.mid").write_bytes(b"")
    (broken / "text.mid").write_bytes(b"not midi at all\n" * 20)
    (broken / "truncated.MID").write_bytes(good.read_bytes()[:300])
    (broken / "copy.midi").write_bytes(good.read_bytes())
    (broken / "notes.txt").write_text("not a MIDI name: ignored")
    (broken / "dangling.mid").symlink_to(broken / "nowhere.mid")
    return root


def _accepted(data):
    try:
        extract_phrases(data, MidiParams())
        return True
    except MidiError:
        return False


def run_shards(tree, out, n_shards=2):
    counts = []
    for shard in range(n_shards):
        relpaths = files_in_shard(tree, MIDI_SUFFIXES, shard, n_shards)
        counts.append(
            extract_shard(
                tree,
                relpaths,
                shard,
                MidiParams(),
                out / f"p{shard}.parquet",
                out / f"f{shard}.parquet",
                progress=False,
            )
        )
    return counts


def test_every_file_is_accounted_for_exactly_once(tree, tmp_path, caplog):
    caplog.set_level("WARNING", logger="loopgen.midi")
    counts = run_shards(tree, tmp_path)
    files = merge_files_tables([tmp_path / "f0.parquet", tmp_path / "f1.parquet"])
    relpaths = files["relpath"].to_pylist()
    assert sorted(relpaths) == list_files(tree, MIDI_SUFFIXES) and len(set(relpaths)) == len(relpaths)
    assert "broken/notes.txt" not in relpaths
    status = files["status"].to_pylist()
    assert status.count("accepted") + status.count("rejected") == len(files) == sum(c["files"] for c in counts)

    rows = {r["relpath"]: r for r in files.to_pylist()}
    assert rows["broken/empty.mid"]["reason"] == "empty file"
    assert rows["broken/text.mid"]["reason"].startswith("not a MIDI file: ")
    assert rows["broken/truncated.MID"]["reason"].startswith("truncated MIDI file")
    assert rows["broken/dangling.mid"]["reason"] == "could not be read: No such file or directory"
    assert all(r["reason"] for r in rows.values() if r["status"] == "rejected")
    assert all(r["reason"] == "" and r["n_phrases"] > 0 for r in rows.values() if r["status"] == "accepted")
    # one log line per rejected file, naming it
    logged = [r.getMessage() for r in caplog.records]
    for r in rows.values():
        if r["status"] == "rejected":
            assert sum(r["relpath"] in line for line in logged) == 1, r["relpath"]

    phrases = pq.read_table(tmp_path / "p0.parquet").to_pylist() + pq.read_table(tmp_path / "p1.parquet").to_pylist()
    for p in phrases:
        assert p["phrase_id"] == f"{p['file_id']}:{p['start_bar']}"
        assert len(p["roll"]) == 912 and len(p["corr"]) == 28
        assert np.allclose(p["corr"], bar_correlation([p["roll"]])[0])
    expected = Counter()
    for r in rows.values():
        expected[r["file_id"]] += r["n_phrases"]
    assert Counter(p["file_id"] for p in phrases) == +expected


def test_a_second_copy_in_one_shard_is_rejected_as_a_duplicate(tree, tmp_path):
    run_shards(tree, tmp_path, n_shards=1)
    rows = {r["relpath"]: r for r in pq.read_table(tmp_path / "f0.parquet").to_pylist()}
    same = sorted(
        (r for r in rows.values() if r["file_id"] == rows["broken/copy.midi"]["file_id"]), key=lambda r: r["relpath"]
    )
    assert len(same) == 2
    first, second = same  # files are read in path order: the second one read is the duplicate
    assert first["status"] == "accepted"
    assert second["status"] == "rejected" and second["reason"] == f"duplicate: same content as {first['relpath']}"


def test_tables_have_the_declared_schemas(tree, tmp_path):
    run_shards(tree, tmp_path, n_shards=1)
    read_table(tmp_path / "p0.parquet", PHRASE_SCHEMA)
    read_table(tmp_path / "f0.parquet", FILES_SCHEMA)


def test_a_file_in_two_shards_is_an_error(tree, tmp_path):
    run_shards(tree, tmp_path, n_shards=1)
    with pytest.raises(ValueError, match="more than one shard"):
        merge_files_tables([tmp_path / "f0.parquet", tmp_path / "f0.parquet"])


def test_summary_command(tree, tmp_path, capsys):
    run_shards(tree, tmp_path, n_shards=1)
    assert main(["summary", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    files = pq.read_table(tmp_path / "f0.parquet")
    n_phrases = len(pq.read_table(tmp_path / "p0.parquet"))
    assert f"files: {len(files)}:" in out and f"phrases: {n_phrases} from" in out
    assert "empty file" in out and "tempo (BPM)" in out
    assert main(["summary", str(tmp_path / "missing.parquet")]) == 2


@pytest.mark.parametrize("seed", range(8))
def test_our_path_equals_the_reference_on_awkward_songs(seed):
    rng = np.random.default_rng(100 + seed)
    params = MidiParams()
    for _ in range(3):
        data = synthetic_song(rng)
        try:
            ours = extract_phrases(data, params)
        except MidiError:
            with pytest.raises(MidiError):
                reference_phrases(data, params)
            continue
        ref = reference_phrases(data, params)
        assert np.array_equal(ours.windows.start_bar, ref.windows.start_bar)
        assert np.array_equal(ours.windows.packed, ref.windows.packed)
        assert np.array_equal(ours.tempo_bpm, ref.tempo_bpm)
