"""The detector stage on the tiny demo config: trained on audio only, it must find the MIDI loops."""

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from loopgen import detector
from loopgen.tables import read_table

from .conftest import copy_results, snakemake, write_config

pytestmark = pytest.mark.workflow

MODEL_DIR = "results/models/loop_detector"


@pytest.fixture(scope="module")
def detector_run(tiny_workdir):
    snakemake(
        tiny_workdir, f"{MODEL_DIR}/model.pt", "results/loops/summary.csv", "results/eval/detector/metrics.parquet"
    )
    return tiny_workdir


def test_evaluation_outputs_describe_the_tiny_run(detector_run):
    metrics = pd.read_parquet(detector_run / "results/eval/detector/metrics.parquet").iloc[0]
    assert metrics["loops"] > 0 and metrics["phrases"] > metrics["loops"]
    summary = pd.read_csv(detector_run / "results/loops/summary.csv", dtype={"shard": str})
    assert metrics["predicted_loops"] == summary["loops"].iloc[-1] > 0  # the threshold made the loop set
    groups = pd.read_parquet(detector_run / "results/eval/detector/groups.parquet")
    assert groups["group"].tolist() == ["loops", "random 1", "random 2", "random 3", "random 4"]
    assert (detector_run / "results/eval/detector/figure2.png").stat().st_size > 0


def test_detector_trained_on_audio_separates_labelled_midi_loops(detector_run, tmp_path):
    """With the demo's detector settings (config.yaml: rescaled audio correlations, the paper's
    1,000 epochs), trained on the tiny dump's audio only."""
    copy_results(detector_run, tmp_path)
    write_config(tmp_path, detector={"rescale_audio": True, "epochs": 1000})
    snakemake(tmp_path, "results/eval/detector/metrics.parquet")
    metrics = pd.read_parquet(tmp_path / "results/eval/detector/metrics.parquet").iloc[0]
    assert metrics["roc_auc"] >= 0.85, metrics.to_dict()


def test_loop_shards_hold_exactly_the_phrases_below_the_threshold(detector_run):
    model = detector.load_detector(detector_run / MODEL_DIR)
    threshold = json.loads((detector_run / MODEL_DIR / "model.json").read_text())["threshold"]
    assert float(model.threshold) == pytest.approx(threshold)
    summary = pd.read_csv(detector_run / "results/loops/summary.csv", dtype={"shard": str})
    for row in summary[summary["shard"] != "total"].itertuples():
        phrases = pq.read_table(detector_run / f"results/midi/phrases/shard-{row.shard}.parquet")
        loops = read_table(detector_run / f"results/loops/shard-{row.shard}.parquet", detector.LOOP_SCHEMA)
        scores = detector.loop_scores(model, detector.packed_column(phrases.column("roll")))
        assert (row.phrases, row.loops) == (phrases.num_rows, loops.num_rows)
        assert loops.column("phrase_id").to_pylist() == [
            pid for pid, s in zip(phrases.column("phrase_id").to_pylist(), scores) if s < threshold
        ]
        assert np.array_equal(loops.column("loop_score").to_numpy(), scores[scores < threshold])
    total = summary[summary["shard"] == "total"].iloc[0]
    assert total["phrases"] == summary["phrases"].iloc[:-1].sum() > total["loops"] > 0


def test_retraining_resumes_from_the_checkpoint(detector_run, tmp_path):
    copy_results(detector_run, tmp_path)
    before = torch.load(tmp_path / MODEL_DIR / "model.pt", weights_only=True)
    (tmp_path / MODEL_DIR / "model.pt").unlink()
    snakemake(tmp_path, f"{MODEL_DIR}/model.pt")
    log = (tmp_path / "logs/detector/train_loop_detector.log").read_text()
    assert "resuming from results/checkpoints/loop_detector/checkpoint.pt: phase svdd" in log
    after = torch.load(tmp_path / MODEL_DIR / "model.pt", weights_only=True)
    assert all(torch.equal(before[k], after[k]) for k in before)
