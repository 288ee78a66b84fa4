"""`loopgen generate` on the tiny config's trained models: MIDI files pretty_midi and mido open,
8 bars at the asked tempo, loop scores under the limit, and one-line errors."""

import csv
import subprocess
import sys

import mido
import numpy as np
import pretty_midi
import pytest
import soundfile

from loopgen.evaluation.symbolic import read_sample_set

from .conftest import snakemake

pytestmark = pytest.mark.workflow

MODELS = [
    "results/models/vqvae/model.pt",
    "results/models/lstm_prior/model.pt",
    "results/models/loop_detector/model.pt",
]


@pytest.fixture(scope="module")
def trained(tiny_workdir):
    snakemake(tiny_workdir, *MODELS, "results/samples/vqvae_lstm/top_k.parquet")
    return tiny_workdir


def loopgen(workdir, *args):
    return subprocess.run(
        [sys.executable, "-m", "loopgen.cli", "generate", *map(str, args)], cwd=workdir, capture_output=True, text=True
    )


def test_generates_8_bar_loops_at_the_tempo_under_the_limit(trained, tmp_path):
    # A limit that the workflow's own top-k samples show about half the loops meet.
    _packed, scores = read_sample_set(trained / "results/samples/vqvae_lstm/top_k.parquet")
    limit = float(np.quantile(scores, 0.75))
    result = loopgen(
        trained,
        "--models",
        "results/models",
        "--n",
        4,
        "--mode",
        "top_k",
        "--max-loop-score",
        limit,
        "--bpm",
        124,
        "-o",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "generated.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and all(float(r["loop_score"]) < limit for r in rows)
    for row in rows:
        path = tmp_path / row["file"]
        assert mido.MidiFile(str(path)).length == pytest.approx(8 * 4 * 60 / 124, abs=1e-4)
        pm = pretty_midi.PrettyMIDI(str(path))
        assert pm.get_tempo_changes()[1][0] == pytest.approx(124, abs=0.01)
        assert soundfile.info(str(path.with_suffix(".wav"))).duration == pytest.approx(8 * 4 * 60 / 124, abs=1e-3)


def test_impossible_limit_and_missing_model_are_one_line(trained, tmp_path):
    result = loopgen(trained, "--n", 2, "--max-loop-score", 1e-12, "--max-tries", 30, "--audio", "none", "-o", tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "kept only 0 of 2" in result.stderr
    result = loopgen(trained, "--models", tmp_path / "nowhere", "-o", tmp_path / "out")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no loop detector at" in result.stderr
