"""LSTM prior (SPEC section 3): size, teacher forcing, first-code distribution, training, resume."""

import numpy as np
import pytest
import torch

from loopgen.models.lstm_prior import LSTMPrior, PriorConfig
from loopgen.symbolic import TrainSettings, first_code_distribution, load_prior, save_prior, train_prior
from loopgen.training import Checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")


SMALL = PriorConfig(codebook_size=16, embed_dim=8, hidden=32, n_layers=2, seq_len=32)


def test_paper_prior_has_the_papers_size_and_shapes():
    model = LSTMPrior(PriorConfig())
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(7.95e6, rel=0.01)
    codes = torch.randint(0, 512, (3, 32))
    logits, target = model.teacher_forcing(codes)
    assert logits.shape == (3, 31, 512)
    assert torch.equal(target, codes[:, 1:])


def test_teacher_forcing_predicts_from_the_prefix_only():
    # The logits at position t depend on codes[:t+1] only: changing the last code changes nothing.
    model = LSTMPrior(SMALL).eval()
    codes = torch.randint(0, 16, (2, 32))
    changed = codes.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 16
    with torch.no_grad():
        assert torch.equal(model.teacher_forcing(codes)[0], model.teacher_forcing(changed)[0])


def test_first_code_distribution_counts_first_codes():
    codes = np.array([[3, 1], [3, 0], [5, 2], [0, 3]], dtype=np.int16)
    probs = first_code_distribution(codes, 8)
    assert probs.tolist() == [0.25, 0, 0, 0.5, 0, 0.25, 0, 0]


def counting_sequences(n, seed=0):
    """Each code is the previous one + 1 (mod 16): perfectly predictable after the first."""
    start = np.random.default_rng(seed).integers(0, 16, n)
    codes = (start[:, None] + np.arange(32)[None]) % 16
    files = np.array([f"song{i % 10}" for i in range(n)], dtype=object)
    return codes.astype(np.int16), files


def test_prior_learns_a_deterministic_sequence_and_saves_its_first_codes(tmp_path):
    codes, files = counting_sequences(200)
    settings = TrainSettings(epochs=25, batch_size=32, lr=1e-2, val_fraction=0.2, seed=0)
    model, history, first, selection = train_prior(codes, files, SMALL, settings, tmp_path / "ck")
    assert selection["epoch"] == 1 + int(np.argmin([row["val_loss"] for row in history]))
    assert history[-1]["val_accuracy"] > 0.99
    assert history[-1]["val_accuracy"] > history[0]["val_accuracy"]
    assert np.allclose(first, first_code_distribution(codes, 16))
    save_prior(tmp_path / "model", model, history, first, settings, selection)
    loaded, loaded_first = load_prior(tmp_path / "model")
    assert np.allclose(loaded_first.numpy(), first)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])


class Interrupted(Exception):
    pass


def test_prior_training_resumes_after_an_interruption_to_the_same_weights(tmp_path, monkeypatch):
    codes, files = counting_sequences(60)
    settings = TrainSettings(epochs=3, batch_size=16, val_fraction=0.2, seed=3)
    reference, _, _, _ = train_prior(codes, files, SMALL, settings, tmp_path / "a")
    original_save = Checkpoint.save

    def save_then_die(self, state):
        original_save(self, state)
        if state["epoch"] == 1:
            raise Interrupted

    monkeypatch.setattr(Checkpoint, "save", save_then_die)
    with pytest.raises(Interrupted):
        train_prior(codes, files, SMALL, settings, tmp_path / "b")
    monkeypatch.setattr(Checkpoint, "save", original_save)
    resumed, history, _, _ = train_prior(codes, files, SMALL, settings, tmp_path / "b")
    assert len(history) == 3
    for key, value in reference.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_prior_rejects_sequences_of_the_wrong_length(tmp_path):
    with pytest.raises(ValueError, match="codes must be"):
        train_prior(np.zeros((4, 16), np.int16), np.array(list("abcd"), object), SMALL, TrainSettings(), tmp_path)
