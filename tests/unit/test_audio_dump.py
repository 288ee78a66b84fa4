"""The audio stage end to end on a tiny rendered dump with every kind of bad input."""

import shutil

import numpy as np
import pyarrow as pa
import pytest

from loopgen.audio import synth
from loopgen.audio.dump import LOOP_SCHEMA, member_path, parse_bpm
from loopgen.audio.features import FEATURE_SCHEMA, TIMBRE_NAMES
from loopgen.audio.pipeline import check_loops, extract_shard, segment_shard, stats_of_shards
from loopgen.audio.segments import SEGMENT_SCHEMA, pcm_array
from loopgen.config import load_schema, validate
from loopgen.tables import read_table, write_table

GROOVE = ["k...s...k.k.s...", "k...s...k.k.s.h."]


@pytest.fixture(scope="module")
def audio_config(request):
    config = {"midi": {"raw_dir": "x"}, "audio": {"raw_dir": "x"}}
    schema = load_schema(request.config.rootpath / "workflow/schemas/config.schema.yaml")
    audio = validate(config, schema, demo_dirs=("x",))["audio"]
    audio["segments"]["max_per_loop"] = 1  # keeps the timbre part of the test short
    return audio


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    root = tmp_path_factory.mktemp("dump")
    loop = lambda bpm, bars, sr: synth.drum_loop(GROOVE * (bars // 2), bpm, sr)
    synth.write_wav(root / "audio/good_a.wav", loop(128, 8, 22050), 22050)
    stereo = loop(124, 4, 44100)
    synth.write_wav(root / "audio/good_b.wav", np.stack([stereo, 0.5 * stereo], axis=1), 44100)
    synth.write_wav(root / "audio/slow.wav", loop(98, 8, 22050), 22050)
    synth.write_wav(root / "audio/wrong_bpm.wav", synth.drum_loop(GROOVE * 4, 128, 22050, seed=1), 22050)
    synth.write_wav(root / "audio/silent.wav", np.zeros(22050, np.float32), 22050)
    synth.write_wav(root / "audio/no_bpm.wav", loop(126, 2, 22050), 22050)
    synth.write_wav(root / "audio/text_bpm.wav", loop(127, 2, 22050), 22050)
    synth.write_wav(root / "audio/orphan.wav", loop(130, 2, 22050), 22050)
    (root / "audio/empty.wav").write_bytes(b"")
    (root / "audio/text.wav").write_text("this is not audio\n")
    shutil.copy(root / "audio/good_a.wav", root / "audio/z_copy_of_a.wav")
    synth.write_metadata(
        root / "metadata.csv",
        [
            {"file": "audio/good_a.wav", "bpm": "128"},
            {"file": "audio/good_b.wav", "bpm": "124.0"},
            {"file": "audio/slow.wav", "bpm": "98"},
            {"file": "audio/wrong_bpm.wav", "bpm": "133"},
            {"file": "audio/silent.wav", "bpm": "125"},
            {"file": "audio/no_bpm.wav", "bpm": ""},
            {"file": "audio/text_bpm.wav", "bpm": "fast"},
            {"file": "audio/empty.wav", "bpm": "125"},
            {"file": "audio/text.wav", "bpm": "125"},
            {"file": "audio/z_copy_of_a.wav", "bpm": "128"},
            {"file": "../../etc/passwd", "bpm": "125"},
            {"file": "audio/missing.wav", "bpm": "125"},
        ],
    )
    return root


@pytest.fixture(scope="module")
def checked(dump, audio_config):
    a = audio_config
    return check_loops(dump, "metadata.csv", a["tempo"], a["segments"], a["bar_corr"], seed=1, n_shards=1)


def test_every_file_and_metadata_row_has_one_row_with_its_reason(checked, tmp_path):
    rows, _ = checked
    by_file = {r["file"]: r for r in rows}
    assert len(rows) == len(by_file) == 13
    reasons = {f: r["reason"] for f, r in by_file.items() if r["status"] == "rejected"}
    assert reasons == {
        "audio/slow.wav": "bpm 98 outside 120–140",
        "audio/wrong_bpm.wav": reasons["audio/wrong_bpm.wav"],
        "audio/silent.wav": "silent",
        "audio/no_bpm.wav": "bpm missing in metadata",
        "audio/text_bpm.wav": "bpm not a number in metadata: 'fast'",
        "audio/empty.wav": "unreadable audio: empty file (0 bytes)",
        "audio/text.wav": reasons["audio/text.wav"],
        "audio/z_copy_of_a.wav": "duplicate of audio/good_a.wav",
        "../../etc/passwd": "path leaves the dump folder",
        "audio/missing.wav": "file listed in metadata but missing",
        "audio/orphan.wav": "no metadata row",
    }
    assert reasons["audio/wrong_bpm.wav"].startswith("tempo confidence 0.") and reasons["audio/wrong_bpm.wav"].endswith(
        "≤ 0.99"
    )
    assert reasons["audio/text.wav"] == "unreadable audio: Format not recognised."
    write_table(rows, tmp_path / "loops.parquet", LOOP_SCHEMA)  # the rows fit the schema
    assert read_table(tmp_path / "loops.parquet", LOOP_SCHEMA).num_rows == len(rows)


def test_accepted_loops_carry_tempo_segments_and_notes(checked):
    rows, _ = checked
    good = {r["file"]: r for r in rows if r["status"] == "accepted"}
    assert set(good) == {"audio/good_a.wav", "audio/good_b.wav"}
    a, b = good["audio/good_a.wav"], good["audio/good_b.wav"]
    assert a["n_beats"] == 32 and a["confidence"] > 0.99 and a["n_segments"] == 1  # 8 bars, capped at 1
    assert b["n_beats"] == 16 and b["channels"] == 2 and b["sample_rate"] == 44100
    assert b["note"] == "2 channels down-mixed to mono; resampled 44100 -> 16000 Hz"
    assert {a["split"], b["split"]} <= {"train", "test"}


def test_bar_correlation_only_for_exact_eight_bar_loops(checked):
    _, corr_rows = checked
    # wrong_bpm is not confident, slow.wav is 8 bars but out of the tempo range, good_b is 4 bars
    assert [r["file"] for r in corr_rows] == ["audio/good_a.wav"]
    corr = np.array(corr_rows[0]["corr"])
    assert corr.shape == (28,) and (corr > 0.9).all()  # the groove repeats every two bars


def test_segments_and_features_of_a_shard(checked, dump, audio_config, tmp_path):
    rows, _ = checked
    loops = pa.Table.from_pylist(rows, schema=LOOP_SCHEMA)
    segments = segment_shard(dump, loops, 0, audio_config["segments"])
    assert segments.schema == SEGMENT_SCHEMA
    assert segments.num_rows == 2 and pcm_array(segments).shape == (2, 29538)
    assert (
        len({(split, loop) for split, loop in zip(segments["split"].to_pylist(), segments["loop_id"].to_pylist())}) == 2
    )
    features = extract_shard(dump, loops, segments, audio_config["segments"], audio_config["features"])
    assert features.schema == FEATURE_SCHEMA and features.num_rows == 2
    row = features.to_pylist()[0]
    assert len(row["kick"]) == len(row["envelope"]) == 116 and max(row["kick"]) == pytest.approx(1.0)
    assert len(row["hpcp"]) == 12 and max(row["hpcp"]) == pytest.approx(1.0)
    # 22.05 kHz audio: the 9 kHz band exists before down-sampling, so all 21 values are real
    assert len(row["timbre"]) == len(TIMBRE_NAMES) and np.isfinite(row["timbre"][:14]).all()
    write_table(features, tmp_path / "shard-0.parquet", FEATURE_SCHEMA)
    features_test = features.set_column(2, "split", pa.array(["train"] * 2))
    write_table(features_test, tmp_path / "shard-1.parquet", FEATURE_SCHEMA)
    stats = stats_of_shards([tmp_path / "shard-0.parquet", tmp_path / "shard-1.parquet"])
    assert stats["n_segments"] == 2 + sum(s == "train" for s in features["split"].to_pylist())


@pytest.mark.parametrize(
    "name,expected",
    [
        ("audio/x.wav", "audio/x.wav"),
        ("./audio//x.wav", "audio/x.wav"),
        ("audio\\x.wav", "audio/x.wav"),
        ("../../etc/passwd", None),
        ("/etc/passwd", None),
        ("audio/../../x.wav", None),
        ("C:/x.wav", None),
        ("", None),
    ],
)
def test_member_paths_never_leave_the_dump(name, expected):
    assert member_path(name) == expected


def test_parse_bpm():
    assert parse_bpm("128") == (128.0, None)
    assert parse_bpm(" ")[0] is None or parse_bpm(" ")[1]
    assert parse_bpm("nan")[1] and parse_bpm("-5")[1] and parse_bpm("abc")[1]
