"""Training the LSTM prior on the VQ-VAE's codes (teacher forcing), and loading it back with its
first-code distribution."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import torch
import torch.nn.functional as F

from loopgen.models.lstm_prior import LSTMPrior, PriorConfig
from loopgen.symbolic.splits import PRIOR_SPLIT_SALT, split_mask
from loopgen.symbolic.trainer import EpochTrainer, TrainSettings, run_fingerprint
from loopgen.training import load_model, save_model, seed_everything

log = logging.getLogger("loopgen.symbolic")


class _PriorTrainer(EpochTrainer):
    name = "prior"

    def __init__(self, model: LSTMPrior, settings, train_codes, val_codes, checkpoint_dir, fingerprint, device):
        super().__init__(model, settings, len(train_codes), checkpoint_dir, fingerprint)
        self.train_codes = torch.from_numpy(train_codes.astype(np.int64)).to(device)
        self.val_codes = torch.from_numpy(val_codes.astype(np.int64)).to(device)

    def train_step(self, index) -> dict:
        with self.autocast():
            logits, target = self.model.teacher_forcing(self.train_codes[index.to(self.train_codes.device)])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), target.reshape(-1))
        self.step(loss)
        # Tensors, not .item(): summed on the device and read once an epoch (no GPU sync a step).
        return {"train_loss": loss.detach(), "train_accuracy": (logits.argmax(-1) == target).float().mean()}

    @torch.no_grad()
    def validate(self) -> dict:
        if len(self.val_codes) == 0:
            return {}
        loss = correct = 0.0
        for start in range(0, len(self.val_codes), self.settings.batch_size):
            logits, target = self.model.teacher_forcing(self.val_codes[start : start + self.settings.batch_size])
            loss += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="sum").item()
            correct += (logits.argmax(-1) == target).sum().item()
        n_tokens = self.val_codes.shape[0] * (self.val_codes.shape[1] - 1)
        return {"val_loss": loss / n_tokens, "val_accuracy": correct / n_tokens}


def first_code_distribution(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    """Empirical distribution of the first code of each sequence (float64, sums to 1)."""
    counts = np.bincount(codes[:, 0].astype(np.int64), minlength=codebook_size).astype(np.float64)
    return counts / counts.sum()


def train_prior(
    codes: np.ndarray,
    file_id: np.ndarray,
    config: PriorConfig,
    settings: TrainSettings,
    checkpoint_dir,
    device="cpu",
    run_key: str = "",
    precision: str = "fp32",
) -> tuple[LSTMPrior, list[dict], np.ndarray, dict]:
    """Teacher-forced next-code prediction on the VQ-VAE's training codes. Returns (the kept model --
    the best validation-loss epoch -- on CPU in eval mode, history, first-code distribution, selection)."""
    if codes.ndim != 2 or codes.shape[1] != config.seq_len:
        raise ValueError(f"codes must be (N, {config.seq_len}), got {codes.shape}")
    is_val = split_mask(file_id, settings, PRIOR_SPLIT_SALT)
    log.info(
        "prior: %d training sequences, %d validation sequences (split by %s)",
        (~is_val).sum(),
        is_val.sum(),
        settings.split_by,
    )
    seed_everything(settings.seed)
    model = LSTMPrior(config).to(device)
    fingerprint = run_fingerprint([codes, is_val], config, settings, run_key=run_key)
    trainer = _PriorTrainer(model, settings, codes[~is_val], codes[is_val], checkpoint_dir, fingerprint, device)
    trainer.precision = precision
    history = trainer.run()
    return model.cpu().eval(), history, first_code_distribution(codes, config.codebook_size), trainer.selection


def load_prior(model_dir, device="cpu") -> tuple[LSTMPrior, torch.Tensor]:
    """(prior in eval mode, first-code distribution) from results/models/lstm_prior/."""
    model, _config, meta = load_model(model_dir, LSTMPrior, PriorConfig, device=device)
    return model, torch.tensor(meta["first_code_probs"], dtype=torch.float32)


def save_prior(
    folder,
    model: LSTMPrior,
    history: list[dict],
    first_code_probs: np.ndarray,
    settings: TrainSettings,
    selection: dict,
) -> None:
    """model.pt + model.json: the kept model (best validation loss), which epoch it is and why."""
    kept = history[selection["epoch"] - 1] if selection.get("epoch") else (history[-1] if history else {})
    save_model(
        folder,
        model,
        model.config,
        {
            "settings": dataclasses.asdict(settings),
            "split_salt": PRIOR_SPLIT_SALT,
            "selection": selection,
            "val_loss": kept.get("val_loss"),
            "val_accuracy": kept.get("val_accuracy"),
            "first_code_probs": first_code_probs.tolist(),
            "history": history,
        },
    )


PRIOR_PANELS = {"cross entropy": ["train_loss", "val_loss"], "token accuracy": ["train_accuracy", "val_accuracy"]}
