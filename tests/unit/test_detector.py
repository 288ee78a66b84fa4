"""Loop detector: the network, the training (centre, threshold, split, resume) and scoring."""

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from loopgen import detector
from loopgen.detector import TrainSettings, loop_scores, train_detector
from loopgen.models.loop_detector import LoopDetector, LoopDetectorConfig
from loopgen.roll import N_COLS, ROLL_SHAPE, STEPS_PER_BAR, bar_correlation, pack_rolls

FAST = TrainSettings(epochs=4, batch_size=16, seed=5)


def random_rolls(n, rng, density=0.08):
    return rng.random((n, *ROLL_SHAPE)) < density


def repeating_rolls(n, rng, flips=0, density=0.08):
    """Rolls whose 8 bars repeat a random 1-, 2- or 4-bar pattern, with `flips` cells toggled."""
    rolls = []
    for _ in range(n):
        bars = int(rng.choice([1, 2, 4]))
        pattern = rng.random((bars * STEPS_PER_BAR, N_COLS)) < density
        roll = np.tile(pattern, (8 // bars, 1))
        cells = rng.integers(0, roll.size, flips)
        roll.flat[cells] = ~roll.flat[cells]
        rolls.append(roll)
    return np.stack(rolls)


def loop_like_corr(n, seed=0):
    """Correlations of slightly varied repeating rolls: a stand-in for the audio training data."""
    rng = np.random.default_rng(seed)
    return bar_correlation(pack_rolls(repeating_rolls(n, rng, flips=int(rng.integers(0, 6)))))


# --- the network -------------------------------------------------------------------------------


def test_network_is_bias_free_with_the_paper_layer_sizes_and_maps_zero_to_zero():
    model = LoopDetector(LoopDetectorConfig())
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (28, 14),
        (14, 14),
        (14, 7),
        (7, 14),
        (14, 14),
        (14, 28),
    ]
    assert all(m.bias is None for m in linears)
    slopes = {m.negative_slope for m in model.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.1}
    zero = torch.zeros(3, 28)
    assert torch.equal(model.encode(zero), torch.zeros(3, 7))
    assert torch.equal(model.reconstruct(zero), torch.zeros(3, 28))


def test_score_is_mean_squared_distance_to_the_centre():
    model = LoopDetector(LoopDetectorConfig())
    model.centre.copy_(torch.arange(7.0))
    x = torch.randn(5, 28)
    expected = ((model.encode(x) - torch.arange(7.0)) ** 2).mean(dim=1)
    assert torch.allclose(model(x), expected)


# --- small pieces with known answers ---------------------------------------------------------


def test_threshold_is_one_sigma_above_the_log_mean():
    # log d = [0, 2]: mean 1, std 1 -> exp(2)
    assert detector.log_sigma_threshold(np.array([1.0, math.exp(2.0)])) == pytest.approx(math.exp(2.0))
    # all equal: std 0 -> the value itself
    assert detector.log_sigma_threshold(np.full(10, 0.25)) == pytest.approx(0.25)
    # log d = [-3, -1, 1, 3]: mean 0, population std sqrt(5)
    scores = np.exp([-3.0, -1.0, 1.0, 3.0])
    assert detector.log_sigma_threshold(scores) == pytest.approx(math.exp(math.sqrt(5.0)))


def test_split_is_a_seeded_permutation_of_distinct_rows():
    train, val = detector.split_indices(100, 0.2, seed=3)
    assert len(train) == 80 and len(val) == 20
    assert sorted(np.r_[train, val]) == list(range(100))  # no duplicates, nothing lost
    again = detector.split_indices(100, 0.2, seed=3)
    assert np.array_equal(train, again[0]) and np.array_equal(val, again[1])
    assert not np.array_equal(val, detector.split_indices(100, 0.2, seed=4)[1])
    assert not np.array_equal(val, np.arange(80, 100))  # shuffled, not the tail
    train, val = detector.split_indices(3, 0.2, seed=0)
    assert len(train) == 2 and len(val) == 1  # tiny sets still validate on something


def test_rescaling_audio_correlations_gives_the_midi_scale():
    r = np.array([[1.0, 0.9, 0.8] + [1.0] * 25, [1.0] * 28], dtype=np.float32)
    out = detector.rescale_like_midi(r[:1], eps=0.0)
    assert out[0, :3] == pytest.approx([1.0, 0.5, 0.0]) and np.all(out[0, 3:] == 1.0)
    assert np.all(detector.rescale_like_midi(r, eps=0.01)[1] == 1.0)  # identical bars stay 1
    assert detector.rescale_like_midi(r, eps=0.2)[0, 2] == pytest.approx(0.5)  # 1 - 0.2 / 0.4
    # MIDI correlations are already on that scale: rescaling leaves them as they are
    rng = np.random.default_rng(0)
    midi = bar_correlation(pack_rolls(np.r_[random_rolls(5, rng), repeating_rolls(5, rng, flips=4)]))
    assert np.allclose(detector.rescale_like_midi(midi, eps=1e-5), midi, atol=1e-4)


# --- training --------------------------------------------------------------------------------


def test_centre_is_the_mean_encoding_of_the_training_split_after_pretraining(tmp_path):
    corr = loop_like_corr(60)

    class StopAfterPretraining(Exception):
        pass

    def stop(row):
        if row["phase"] == "autoencoder" and row["epoch"] == FAST.epochs:
            raise StopAfterPretraining

    with pytest.raises(StopAfterPretraining):  # the end of a phase is always checkpointed
        train_detector(corr, FAST, tmp_path, on_epoch=stop)
    pretrained = LoopDetector(LoopDetectorConfig())
    # the centre comes from the kept (best validation MSE) autoencoder epoch
    pretrained.load_state_dict(detector.Checkpoint(tmp_path).load()["best"]["autoencoder"]["model"])
    train_index, _ = detector.split_indices(len(corr), FAST.val_fraction, FAST.seed)
    expected = pretrained.encode(torch.from_numpy(corr[train_index])).mean(dim=0)

    trained = train_detector(corr, FAST, tmp_path)
    assert np.array_equal(trained.train_index, train_index)
    assert torch.allclose(trained.model.centre, expected, atol=1e-6)
    assert not torch.allclose(expected, torch.zeros(7))


def test_each_phase_keeps_its_best_validation_epoch_and_says_which(tmp_path):
    # A learning rate far too high (no decay): the validation losses jump about, the last epoch is
    # not the best, and the kept weights are the best epoch's.
    corr = loop_like_corr(80, seed=3)
    settings = TrainSettings(epochs=8, batch_size=16, seed=3, lr=0.3, lr_min=0.3)
    trained = train_detector(corr, settings, tmp_path)
    x_val = torch.from_numpy(corr[trained.val_index])
    for phase in ("autoencoder", "svdd"):
        losses = [row["val_loss"] for row in trained.history if row["phase"] == phase]
        kept = trained.selection[phase]
        assert kept["epoch"] == 1 + int(np.argmin(losses)) and kept["val_loss"] == pytest.approx(min(losses))
        if phase == "autoencoder":
            assert min(losses) < losses[-1] / 10  # the case this is about (measured: epoch 1, 1.39 vs 503)
    with torch.no_grad():
        assert detector._svdd_loss(trained.model, x_val).item() == pytest.approx(
            trained.selection["svdd"]["val_loss"], rel=1e-5
        )
    detector.save_detector(tmp_path / "model", trained)
    assert json.loads((tmp_path / "model" / "model.json").read_text())["selection"]["svdd"]["epoch"] == kept["epoch"]


def test_training_sets_the_threshold_from_the_training_scores_and_logs_both_phases(tmp_path):
    corr = loop_like_corr(60)
    trained = train_detector(corr, FAST, tmp_path)
    train_scores = trained.scores[trained.train_index]
    assert trained.threshold == pytest.approx(detector.log_sigma_threshold(train_scores), rel=1e-5)
    assert np.array_equal(trained.scores, detector.correlation_scores(trained.model, corr))
    assert [(r["phase"], r["epoch"]) for r in trained.history] == [
        (phase, e) for phase in ("autoencoder", "svdd") for e in range(1, FAST.epochs + 1)
    ]
    # the cosine schedule (logged at each epoch's last step) ends at exactly lr_min in each phase
    lrs = [r["lr"] for r in trained.history]
    assert lrs[FAST.epochs - 1] == lrs[-1] == pytest.approx(FAST.lr_min)
    assert FAST.lr > lrs[0] > lrs[1] > lrs[2] > FAST.lr_min


def test_svdd_training_pulls_loops_towards_the_centre(tmp_path):
    corr = loop_like_corr(200)
    history = train_detector(corr, TrainSettings(epochs=30, seed=1), tmp_path).history
    svdd = [r["train_loss"] for r in history if r["phase"] == "svdd"]
    assert svdd[-1] < 0.5 * svdd[0]


def test_repeating_rolls_score_lower_than_random_rolls(tmp_path):
    trained = train_detector(loop_like_corr(300, seed=2), TrainSettings(epochs=30, seed=2), tmp_path)
    rng = np.random.default_rng(9)
    loops = loop_scores(trained.model, pack_rolls(repeating_rolls(50, rng, flips=3)))
    random = loop_scores(trained.model, pack_rolls(random_rolls(50, rng)))
    assert loops.max() < np.median(random)
    assert detector.roc_auc(np.r_[loops, random], np.r_[np.ones(50), np.zeros(50)]) > 0.95
    # the threshold calls most repeating rolls loops and most random rolls not
    assert (loops < trained.threshold).mean() > 0.7
    assert (random < trained.threshold).mean() < 0.1


def test_interrupted_and_resumed_training_ends_with_the_same_weights(tmp_path):
    corr = loop_like_corr(80)
    settings = TrainSettings(epochs=5, batch_size=16, seed=11)
    reference = train_detector(corr, settings, tmp_path / "straight")

    class Interrupted(Exception):
        pass

    def interrupt_at(phase, epoch):
        def hook(row):
            if (row["phase"], row["epoch"]) == (phase, epoch):
                raise Interrupted

        return hook

    resumed_dir = tmp_path / "resumed"
    every_epoch = {"checkpoint_every_s": 0}
    with pytest.raises(Interrupted):  # mid-pretraining
        train_detector(corr, settings, resumed_dir, on_epoch=interrupt_at("autoencoder", 3), **every_epoch)
    with pytest.raises(Interrupted):  # mid-fine-tuning, after resuming once
        train_detector(corr, settings, resumed_dir, on_epoch=interrupt_at("svdd", 2), **every_epoch)
    epochs_run = []
    resumed = train_detector(corr, settings, resumed_dir, on_epoch=epochs_run.append, **every_epoch)

    assert len(epochs_run) == settings.epochs - 2  # only the rest of the SVDD phase ran
    for key, value in reference.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert reference.history == resumed.history
    assert np.array_equal(reference.scores, resumed.scores)


def test_checkpoint_of_other_settings_is_not_resumed(tmp_path):
    corr = loop_like_corr(40)
    train_detector(corr, TrainSettings(epochs=3, seed=1), tmp_path)
    other = train_detector(corr, TrainSettings(epochs=3, seed=2), tmp_path)
    fresh = train_detector(corr, TrainSettings(epochs=3, seed=2), tmp_path / "fresh")
    assert torch.equal(other.model.encoder[0].weight, fresh.model.encoder[0].weight)
    assert len(other.history) == 6


# --- scoring packed rolls --------------------------------------------------------------------


def test_loop_scores_from_packed_rolls_match_scores_of_their_correlations():
    rng = np.random.default_rng(4)
    model = LoopDetector(LoopDetectorConfig())
    model.centre.copy_(torch.randn(7))
    packed = pack_rolls(np.r_[random_rolls(7, rng), repeating_rolls(6, rng)])
    scores = loop_scores(model, packed)
    assert scores.dtype == np.float32 and scores.shape == (13,)
    assert np.allclose(scores, detector.correlation_scores(model, bar_correlation(packed)))
    assert np.array_equal(loop_scores(model, packed, batch_size=4), scores)  # batching changes nothing
    assert np.array_equal(loop_scores(model, [row.tobytes() for row in packed]), scores)
    assert loop_scores(model, packed[:0]).shape == (0,)


def test_packed_column_reads_a_parquet_binary_column_without_copies_per_row(tmp_path):
    rng = np.random.default_rng(1)
    packed = pack_rolls(random_rolls(10, rng))
    column = pa.chunked_array(
        [pa.array([r.tobytes() for r in packed[:4]]), pa.array([r.tobytes() for r in packed[4:]])]
    )
    assert np.array_equal(detector.packed_column(column), packed)
    assert np.array_equal(detector.packed_column(column.combine_chunks().slice(3, 5)), packed[3:8])
    assert detector.packed_column(pa.chunked_array([], pa.binary())).shape == (0, 912)
    assert detector.packed_column(column.slice(0, 0)).shape == (0, 912)
    with pytest.raises(ValueError, match="912 bytes"):
        detector.packed_column(pa.array([b"\x00" * 911]))


# --- model files and audio input -------------------------------------------------------------


def test_saved_detector_scores_the_same_and_states_centre_and_threshold(tmp_path):
    trained = train_detector(loop_like_corr(40), TrainSettings(epochs=2), tmp_path / "ckpt")
    detector.save_detector(tmp_path / "model", trained)
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["threshold"] == pytest.approx(trained.threshold)
    assert meta["centre"] == pytest.approx(trained.model.centre.tolist())
    loaded = detector.load_detector(tmp_path / "model")
    packed = pack_rolls(random_rolls(5, np.random.default_rng(0)))
    assert np.array_equal(loop_scores(loaded, packed), loop_scores(trained.model, packed))
    assert float(loaded.threshold) == pytest.approx(trained.threshold)


def test_bar_corr_rows_that_cannot_be_used_are_rejected_with_a_reason(tmp_path, caplog):
    good = [0.5] * 28
    table = pa.table(
        {
            "loop_id": ["a", "b", "c", "d", "e"],
            "file": ["a.wav", "b.wav", "c.wav", "d.wav", "e.wav"],
            "corr": pa.array([good, [0.1] * 27, [float("nan")] + good[1:], None, good], pa.list_(pa.float32())),
        }
    )
    path = tmp_path / "bar_corr.parquet"
    pq.write_table(table, path)
    ids, corr, rejected = detector.read_bar_corr(path)
    assert ids == ["a", "e"] and corr.shape == (2, 28) and corr.dtype == np.float32
    reasons = {r["loop_id"]: r["reason"] for r in rejected}
    assert set(reasons) == {"b", "c", "d"}
    assert "27 correlations" in reasons["b"] and "not finite" in reasons["c"]
    assert all(f"loop {i} left out" in caplog.text for i in "bcd")
