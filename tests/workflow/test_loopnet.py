"""The LoopNet stage and its evaluation on the tiny config (two variants: one per output head)."""

import json

import pytest
import soundfile as sf

from loopgen import loopnet
from loopgen.evaluation import coherence, fad
from loopgen.tables import read_table

from .conftest import snakemake

pytestmark = pytest.mark.workflow

EVAL = "results/eval/loopnet"


@pytest.fixture(scope="module")
def loopnet_run(tiny_workdir):
    snakemake(tiny_workdir, "evaluate_loopnet")
    return tiny_workdir


def _variants(workdir):
    import yaml

    return yaml.safe_load((workdir / "config.yaml").read_text())["loopnet"]["variants"]


def test_each_variant_is_trained_and_saved_with_what_synthesis_needs(loopnet_run):
    for variant in _variants(loopnet_run):
        meta = json.loads((loopnet_run / f"results/models/loopnet-{variant}/model.json").read_text())
        assert meta["variant"] == variant and meta["hparams"]["head"] == ("stft" if variant == "STFT" else "wave")
        assert len(meta["feature_stats"]["timbre"]["min"]) == 21
        assert len(meta["history"]["probe_loss"]) == 2  # before training and after the tiny config's 1 epoch
        assert (loopnet_run / f"results/checkpoints/loopnet-{variant}/checkpoint.pt").exists()


def test_every_test_segment_is_resynthesised_by_every_set(loopnet_run):
    segments = sorted((loopnet_run / "results/audio/segments").glob("shard-*.parquet"))
    test = loopnet.read_segment_audio(segments, split="test")
    assert len(test) > 0
    for name in [*_variants(loopnet_run), "griffin_lim"]:
        table = read_table(loopnet_run / f"results/loopnet/test/{name}.parquet", loopnet.SYNTH_SCHEMA)
        assert table["segment_id"].to_pylist() == test.segment_id
        assert set(table["set"].to_pylist()) == {name}
        wavs = sorted((loopnet_run / f"results/loopnet/test/{name}").glob("*.wav"))
        assert len(wavs) == len(test)
        audio, sr = sf.read(wavs[0], dtype="int16")
        assert sr == 16000 and len(audio) == 29538


def test_griffin_lim_baseline_is_close_to_the_real_audio(loopnet_run):
    """The baseline keeps each segment's magnitude: its FAD is the smallest of all sets."""
    rows = read_table(loopnet_run / f"{EVAL}/fad.parquet", fad.FAD_SCHEMA).to_pylist()
    sets = {r["set"]: r["fad"] for r in rows if r["kind"] == "set"}
    assert set(sets) == {*_variants(loopnet_run), "griffin_lim"}
    assert sets["griffin_lim"] == min(sets.values())
    references = {r["set"]: r for r in rows if r["kind"] == "reference"}
    assert len(references) == 2 and all(r["fad_high"] >= r["fad_low"] > 0 for r in references.values())
    assert all(r["embedding"].startswith("VGGish architecture, random weights") for r in rows)


def test_tables_name_the_embedding_and_show_the_papers_numbers(loopnet_run):
    table1 = (loopnet_run / f"{EVAL}/table1_fad.md").read_text()
    assert "random weights" in table1 and "| Griffin-Lim |" in table1 and "1.26" in table1
    assert "noise 40 dB SNR" in table1
    table2 = (loopnet_run / f"{EVAL}/table2_coherence.md").read_text()
    assert "| STFT |" in table2 and "87.50" in table2
    for name in ("training_loss.png", "example_waveforms.png", "example_spectrograms.png"):
        assert (loopnet_run / EVAL / name).stat().st_size > 0


def test_gates_csv_holds_the_contract_columns_for_every_variant(loopnet_run):
    import csv

    with open(loopnet_run / f"{EVAL}/gates.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["variant"] for r in rows] == _variants(loopnet_run)
    for row in rows:
        values = {
            k: float(row[k])
            for k in ("test_loss", "silence_loss", "loss_ratio", "rms_db_diff", "mrstft_to_target", "mrstft_other_real")
        }
        assert values["loss_ratio"] == pytest.approx(values["test_loss"] / values["silence_loss"], rel=1e-6)
    assert "| MULTI_NOENV |" in (loopnet_run / f"{EVAL}/gates.md").read_text()


def test_coherence_rows_cover_the_configured_grid(loopnet_run):
    rows = read_table(loopnet_run / f"{EVAL}/coherence-STFT.parquet", coherence.COHERENCE_SCHEMA).to_pylist()
    assert len(rows) == 1 * 1 * 3  # tiny config: 1 loop x 1 feature x 3 values
    assert {r["feature"] for r in rows} == {"highpass9k_brightness"}
    assert sorted(r["value"] for r in rows) == pytest.approx([0.2, 0.5, 0.8])


def test_rerun_is_a_no_op(loopnet_run):
    result = snakemake(loopnet_run, "evaluate_loopnet", "-n")
    assert "Nothing to be done" in result.stdout + result.stderr
