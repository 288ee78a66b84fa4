"""The symbolic stage on the tiny config: VQ-VAE, codes, prior, samples, listening files, rejection."""

import json

import mido
import numpy as np
import pretty_midi
import pyarrow.parquet as pq
import pytest
import yaml

from loopgen import detector, symbolic
from loopgen.roll import unpack_rolls
from loopgen.tables import read_table

from .conftest import copy_results, snakemake

pytestmark = pytest.mark.workflow

SAMPLES = "results/samples/vqvae_lstm"
TARGETS = [
    f"{SAMPLES}/top_k.parquet",
    f"{SAMPLES}/listen/top_k",
    f"{SAMPLES}/rejection/acceptance.parquet",
    "results/symbolic/vqvae_training.png",
    "results/symbolic/prior_training.png",
]


@pytest.fixture(scope="module")
def symbolic_run(tiny_workdir):
    snakemake(tiny_workdir, *TARGETS)
    return tiny_workdir


def tiny_config(workdir):
    return yaml.safe_load((workdir / "config.yaml").read_text())


def test_codes_cover_every_loop_with_32_codes_and_a_song_split(symbolic_run):
    loops = symbolic.read_loops(sorted(symbolic_run.glob("results/loops/shard-*.parquet")))
    codes, file_id, split = symbolic.read_codes(symbolic_run / "results/symbolic/codes.parquet")
    assert codes.shape == (len(loops), 32) and codes.max() < 512 and codes.min() >= 0
    assert set(split) == {"train", "val"}
    for song in set(file_id):  # a song lies wholly on one side
        assert len(set(split[file_id == song])) == 1
    meta = json.loads((symbolic_run / "results/models/vqvae/model.json").read_text())
    assert meta["n_train"] == (split == "train").sum() and meta["n_val"] == (split == "val").sum()
    log = (symbolic_run / "logs/symbolic/train_vqvae.log").read_text()
    assert "validation Hamming error" in log and "all-zeros prediction" in log


def test_samples_follow_the_contract_and_carry_their_detector_scores(symbolic_run):
    table = read_table(symbolic_run / f"{SAMPLES}/top_k.parquet", symbolic.SAMPLE_SCHEMA)
    assert table.num_rows == tiny_config(symbolic_run)["sampling"]["n_samples"]
    assert len(set(table.column("sample_id").to_pylist())) == table.num_rows
    packed = detector.packed_column(table.column("roll"))
    scorer = detector.load_detector(symbolic_run / "results/models/loop_detector")
    assert np.allclose(table.column("loop_score").to_numpy(), detector.loop_scores(scorer, packed))


def test_listening_files_open_and_read_back_to_the_generated_rolls(symbolic_run):
    from loopgen.midi import MidiError, MidiParams, extract_phrases

    folder = symbolic_run / f"{SAMPLES}/listen/top_k"
    n_listen = tiny_config(symbolic_run)["sampling"]["n_listen"]
    table = read_table(symbolic_run / f"{SAMPLES}/top_k.parquet", symbolic.SAMPLE_SCHEMA).slice(0, n_listen)
    rolls = unpack_rolls(detector.packed_column(table.column("roll")))
    assert sorted(p.name for p in folder.glob("*.mid")) == [f"{i}.mid" for i in table.column("sample_id").to_pylist()]
    assert len(list(folder.glob("*.wav"))) == n_listen
    for sample_id, roll in zip(table.column("sample_id").to_pylist(), rolls):
        path = folder / f"{sample_id}.mid"
        pretty_midi.PrettyMIDI(str(path))
        mido.MidiFile(str(path))
        # The MIDI stage's roll ends at its last lit step (SPEC section 1, "roll end"): a toy model
        # may leave the last step silent (or light no bass, or no drums), and the file then holds
        # no whole 8-bar window.
        if roll[-1].any() and roll[:, :9].any() and roll[:, 9:].any():
            windows = extract_phrases(path.read_bytes(), MidiParams(min_drum_cells=0, min_bass_steps=0)).windows
            bass = roll[:, 9:]
            if (bass.sum(axis=1) <= 1).all():  # the reader keeps the lowest of simultaneous bass notes
                assert np.array_equal(unpack_rolls(windows.packed[:1])[0], roll)
        else:
            with pytest.raises(MidiError):
                extract_phrases(path.read_bytes(), MidiParams(min_drum_cells=0, min_bass_steps=0))


def test_rejection_sweep_keeps_loops_below_each_limit_and_tables_the_acceptance(symbolic_run):
    rejection = tiny_config(symbolic_run)["sampling"].get("rejection", {})
    acceptance = pq.read_table(symbolic_run / f"{SAMPLES}/rejection/acceptance.parquet").to_pylist()
    assert [row["limit"] for row in acceptance] == [None, 1, 0.1, 0.01, 0.001]
    for row in acceptance:
        name = "none" if row["limit"] is None else format(row["limit"], "g")
        kept = read_table(symbolic_run / f"{SAMPLES}/rejection/top_k-limit-{name}.parquet", symbolic.SAMPLE_SCHEMA)
        scores = kept.column("loop_score").to_numpy()
        assert kept.num_rows == row["kept"] <= rejection["n_keep"]
        assert row["kept"] == rejection["n_keep"] or row["tried"] >= rejection["max_tries"]
        if row["limit"] is not None:
            assert (scores < row["limit"]).all()
        assert (
            row["acceptance_rate"] == row["kept"] / row["tried"]
        )  # tries count up to the loop that completed the target
    assert acceptance[0]["acceptance_rate"] == 1.0
    assert "| top_k | none |" in (symbolic_run / f"{SAMPLES}/rejection/acceptance.md").read_text()


def test_sampling_again_gives_the_same_loops(symbolic_run, tmp_path):
    copy_results(symbolic_run, tmp_path)
    before = pq.read_table(tmp_path / f"{SAMPLES}/top_k.parquet")
    snakemake(tmp_path, f"{SAMPLES}/top_k.parquet", "--forcerun", "sample_loops")
    assert pq.read_table(tmp_path / f"{SAMPLES}/top_k.parquet").equals(before)


def test_retraining_the_vqvae_resumes_from_its_checkpoint(symbolic_run, tmp_path):
    copy_results(symbolic_run, tmp_path)
    (tmp_path / "results/models/vqvae/model.pt").unlink()
    snakemake(tmp_path, "results/models/vqvae/model.pt")
    log = (tmp_path / "logs/symbolic/train_vqvae.log").read_text()
    assert "resuming vqvae from results/checkpoints/vqvae/checkpoint.pt after epoch 2" in log
