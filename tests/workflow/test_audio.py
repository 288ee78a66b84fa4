"""The audio stage on the tiny demo config: accounting, the demo's labels recovered, the contracts."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from loopgen.audio.bar_corr import BAR_CORR_SCHEMA
from loopgen.audio.dump import LOOP_SCHEMA, audio_files, read_metadata
from loopgen.audio.features import FEATURE_SCHEMA, TIMBRE_NAMES
from loopgen.audio.pipeline import confusion_against_labels
from loopgen.audio.segments import SEGMENT_SCHEMA, pcm_array
from loopgen.tables import read_table, read_tables

from .conftest import snakemake

pytestmark = pytest.mark.workflow

DUMP = "resources/demo/looperman"


@pytest.fixture(scope="module")
def audio_run(tiny_workdir):
    snakemake(
        tiny_workdir,
        "results/audio/loops.parquet",
        "results/audio/bar_corr.parquet",
        "results/audio/feature_stats.json",
    )
    return tiny_workdir


def _shards(workdir, kind, schema):
    return read_tables(sorted((workdir / f"results/audio/{kind}").glob("shard-*.parquet")), schema)


def test_every_file_and_metadata_row_is_accounted_for(audio_run):
    loops = read_table(audio_run / "results/audio/loops.parquet", LOOP_SCHEMA).to_pylist()
    on_disk = set(audio_files(audio_run / DUMP))
    listed = [row["file"] for row in read_metadata(audio_run / DUMP / "metadata.csv")]
    assert len(loops) == len(on_disk | set(listed))
    assert {r["file"] for r in loops} == on_disk | set(listed)
    assert all(r["reason"] for r in loops if r["status"] == "rejected")
    assert all(r["confidence"] > 0.99 and 120 <= r["bpm"] <= 140 for r in loops if r["status"] == "accepted")


def test_tempo_check_recovers_the_demo_labels(audio_run):
    loops = read_table(audio_run / "results/audio/loops.parquet", LOOP_SCHEMA).to_pylist()
    labels = pq.read_table(audio_run / "resources/demo/labels/audio_loops.parquet").to_pylist()
    counts = confusion_against_labels(loops, labels, {"bpm_min": 120, "bpm_max": 140})
    assert counts["accepted_should_accept"] > 0
    assert counts["accepted_should_reject"] == 0, counts
    assert counts["rejected_should_accept"] <= 0.05 * counts["accepted_should_accept"], counts


def test_segments_features_and_stats_keep_their_contracts(audio_run):
    loops = read_table(audio_run / "results/audio/loops.parquet", LOOP_SCHEMA).to_pylist()
    segments = _shards(audio_run, "segments", SEGMENT_SCHEMA)
    features = _shards(audio_run, "features", FEATURE_SCHEMA)
    accepted = [r for r in loops if r["status"] == "accepted"]
    assert segments.num_rows == sum(r["n_segments"] for r in accepted) == features.num_rows > 0
    assert pcm_array(segments).shape[1] == 29538
    split_of_loop = {}
    for loop_id, split in zip(segments["loop_id"].to_pylist(), segments["split"].to_pylist()):
        assert split_of_loop.setdefault(loop_id, split) == split  # no loop in both splits
    assert set(split_of_loop.values()) == {"train", "test"}
    assert features["segment_id"].to_pylist() == segments["segment_id"].to_pylist()
    timbre = np.array(features["timbre"].to_pylist(), dtype=float)
    assert timbre.shape == (features.num_rows, 21) and np.isfinite(timbre).mean() > 0.9
    stats = json.loads((audio_run / "results/audio/feature_stats.json").read_text())
    assert stats["timbre"]["names"] == list(TIMBRE_NAMES) and len(stats["hpcp"]["min"]) == 12
    assert stats["n_segments"] == segments["split"].to_pylist().count("train")


def test_bar_correlations_of_the_eight_bar_loops(audio_run):
    corr = read_table(audio_run / "results/audio/bar_corr.parquet", BAR_CORR_SCHEMA).to_pylist()
    labels = {r["file"]: r for r in pq.read_table(audio_run / "resources/demo/labels/audio_loops.parquet").to_pylist()}
    assert corr and all(len(r["corr"]) == 28 for r in corr)
    assert all(labels[r["file"]]["n_bars"] == 8 for r in corr)
