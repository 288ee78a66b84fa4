"""The demo's Looperman-shaped audio dump: exact loop durations, defects, metadata accounting, determinism."""

import csv
import hashlib

import numpy as np
import pytest
import soundfile

from loopgen.demo import audio_corpus as ac
from loopgen.tables import read_table

N_FILES, SEED = 24, 5  # >= 20 files: every defect and BPM label is present
RATE = ac.SAMPLE_RATE


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_audio")
    summary = ac.write_audio_corpus(root / "looperman", root / "audio_loops.parquet", N_FILES, SEED)
    labels = read_table(root / "audio_loops.parquet", ac.AUDIO_LOOP_SCHEMA).to_pandas()
    with open(root / "looperman" / "metadata.csv", newline="") as f:
        metadata = list(csv.DictReader(f))
    return root / "looperman", labels, metadata, summary


def loop_frames(label) -> int:
    return round(label.n_bars * 4 * 60 / label.true_bpm * RATE)


def test_dump_layout_and_label_vocabulary(dump):
    root, labels, metadata, summary = dump
    assert sorted(p.name for p in root.iterdir()) == ["audio", "metadata.csv"]
    assert sorted(f"audio/{p.name}" for p in (root / "audio").iterdir()) == sorted(labels.file)
    assert set(labels.bpm_label) == {"correct", "half", "double", "off", "missing", "garbage"}
    assert set(labels.defect) == {"none", "zero_bytes", "not_audio", "silent", "stereo_44k", "truncated"}
    assert set(labels.n_bars) == {1, 2, 4, 8} and (labels.n_bars == 8).mean() == pytest.approx(0.4, abs=0.05)
    assert labels.true_bpm.between(110, 150).all() and labels.true_bpm.between(120, 140).mean() >= 0.6
    assert summary["files"] == N_FILES and summary["metadata_rows"] == len(metadata)


def test_readable_loops_are_exactly_their_bars_plus_their_silences(dump):
    root, labels, _, _ = dump
    for label in labels[labels.defect.isin(["none", "stereo_44k", "silent"])].itertuples():
        info = soundfile.info(root / label.file)
        assert (info.samplerate, info.subtype) == (RATE, "PCM_16")
        assert info.channels == (2 if label.defect == "stereo_44k" else 1)
        silences = round(label.leading_silence_s * RATE) + round(label.trailing_silence_s * RATE)
        assert info.frames == loop_frames(label) + silences, label.file


def test_silences_are_where_the_labels_say(dump):
    root, labels, _, _ = dump
    audible = labels[labels.defect.isin(["none", "stereo_44k"])]
    assert (audible.leading_silence_s > 0).any() and (audible.trailing_silence_s > 0).any()
    for label in audible.itertuples():
        audio, _ = soundfile.read(root / label.file, dtype="int16", always_2d=True)
        lead, trail = round(label.leading_silence_s * RATE), round(label.trailing_silence_s * RATE)
        body = audio[lead : len(audio) - trail]
        assert not audio[:lead].any() and not audio[len(audio) - trail :].any()
        assert body[: RATE // 20].any() and body[-RATE // 20 :].any()  # the loop sounds right up to its edges


def test_defective_files_are_really_defective(dump):
    root, labels, _, _ = dump
    by_defect = {d: [root / f for f in group.file] for d, group in labels.groupby("defect")}
    assert [p.stat().st_size for p in by_defect["zero_bytes"]] == [0]
    for path in by_defect["zero_bytes"] + by_defect["not_audio"]:
        with pytest.raises(soundfile.LibsndfileError):
            soundfile.read(path)
    for path in by_defect["silent"]:
        assert not soundfile.read(path, dtype="int16")[0].any()
    for path in by_defect["truncated"]:
        data = path.read_bytes()
        promised = int.from_bytes(data[data.index(b"data") + 4 :][:4], "little")
        assert len(data) < promised  # the header promises frames that are not there
        assert soundfile.info(path).frames < promised // 2


def test_metadata_rows_are_accounted_for(dump):
    root, labels, metadata, _ = dump
    rows = {row["file"]: row for row in metadata}
    assert len(rows) == len(metadata) == len(labels)  # one file lost its row, one row lost its file
    assert len(set(rows) - set(labels.file)) == 1 and not (root / (set(rows) - set(labels.file)).pop()).exists()
    assert len(set(labels.file) - set(rows)) == 1
    assert list(metadata[0]) == list(ac.METADATA_COLUMNS)
    for label in labels.itertuples():
        if label.file not in rows:
            assert label.bpm_label == "missing" and np.isnan(label.annotated_bpm)
            continue
        text = rows[label.file]["bpm"]
        expected = {"correct": label.true_bpm, "half": label.true_bpm / 2, "double": label.true_bpm * 2}
        if label.bpm_label in expected:
            assert float(text) == expected[label.bpm_label] == label.annotated_bpm
        elif label.bpm_label == "off":
            assert float(text) == label.annotated_bpm and 1 <= abs(float(text) - label.true_bpm) <= 4
        elif label.bpm_label == "missing":
            assert text == "" and np.isnan(label.annotated_bpm)
        else:
            with pytest.raises(ValueError):
                float(text)


def test_eight_bar_loops_repeat_bar_by_bar(dump):
    """The detector learns from 8-bar loops: their bars must sound alike (mostly repeated patterns)."""
    root, labels, _, _ = dump
    eight = labels[(labels.n_bars == 8) & (labels.defect == "none")]
    correlations = []
    for label in eight.itertuples():
        audio, _ = soundfile.read(root / label.file, dtype="float32")
        lead = round(label.leading_silence_s * RATE)
        bars = audio[lead : lead + loop_frames(label)][: loop_frames(label) // 8 * 8].reshape(8, -1)
        spectra = np.log1p(np.abs(np.fft.rfft(bars, axis=1))[:, :4000])
        correlations.append(np.corrcoef(spectra)[np.triu_indices(8, 1)].mean())
    assert len(correlations) >= 5 and np.median(correlations) > 0.8


def test_same_seed_gives_byte_identical_dump(tmp_path):
    def digest(n, seed, name):
        ac.write_audio_corpus(tmp_path / name, tmp_path / f"{name}.parquet", n, seed)
        files = sorted((tmp_path / name).rglob("*"))
        return {p.relative_to(tmp_path / name): hashlib.md5(p.read_bytes()).hexdigest() for p in files if p.is_file()}

    first = digest(5, 9, "a")
    assert first == digest(5, 9, "b")
    assert digest(5, 10, "c") != first


def test_existing_dump_is_not_overwritten(tmp_path):
    (tmp_path / "dump").mkdir()
    (tmp_path / "dump" / "mine.wav").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not empty"):
        ac.write_audio_corpus(tmp_path / "dump", tmp_path / "labels.parquet", 2, 1)
