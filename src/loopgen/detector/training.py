"""Training the loop detector (SPEC section 2) on the audio bar correlations, and the saved model.

Training has two phases over the same 80/20 split:
1. "autoencoder": the bias-free autoencoder learns to reconstruct the 28 correlations (MSE);
2. "svdd": the centre c is set to the mean encoding of the training split, then the encoder alone
   is fine-tuned to pull every training encoding towards c (mean squared distance).
Each phase runs `epochs` epochs of AdamW with a cosine schedule lr -> lr_min (per step).
The threshold is exp(mean(log d) + std(log d)) over the training split's final scores.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F

from loopgen.detector.data import N_CORR, split_indices
from loopgen.detector.scoring import correlation_scores
from loopgen.models.loop_detector import LoopDetector, LoopDetectorConfig
from loopgen.training import (
    Checkpoint,
    cosine_lr,
    load_model,
    rng_state,
    save_model,
    seed_everything,
    set_rng_state,
)

log = logging.getLogger("loopgen.detector")

PHASES = ("autoencoder", "svdd")

# One row per audio loop offered for training: its split and final score, or why it was left out.
TRAINING_SCORE_SCHEMA = pa.schema(
    [
        ("loop_id", pa.string()),
        ("split", pa.string()),  # train | val | rejected
        ("score", pa.float32()),  # null when rejected
        ("reason", pa.string()),  # null unless rejected
    ]
)
HISTORY_COLUMNS = ("phase", "epoch", "lr", "train_loss", "val_loss")


@dataclass
class TrainSettings:
    """Training hyper-parameters (config section `detector`; SPEC section 2 defaults)."""

    epochs: int = 1000  # per phase
    lr: float = 1e-3
    lr_min: float = 5e-6
    weight_decay: float = 1e-2  # AdamW's decoupled decay: the lambda R(W) term of S eq. 1
    batch_size: int = 64
    val_fraction: float = 0.2
    seed: int = 1234


@dataclass
class TrainedDetector:
    model: LoopDetector  # centre and threshold set, on CPU, eval mode
    history: list[dict]  # one row per phase and epoch: HISTORY_COLUMNS
    train_index: np.ndarray
    val_index: np.ndarray
    scores: np.ndarray  # final score of every input row
    selection: dict | None = None  # per phase: the kept (best validation loss) epoch and its loss

    @property
    def threshold(self) -> float:
        return float(self.model.threshold)


def log_sigma_threshold(scores: np.ndarray) -> float:
    """exp(mean(log d) + std(log d)): one sigma above the log-mean of the training scores."""
    logs = np.log(np.maximum(np.asarray(scores, dtype=np.float64), np.finfo(np.float64).tiny))
    return float(np.exp(logs.mean() + logs.std()))


@torch.no_grad()
def mean_encoding(model: LoopDetector, x: torch.Tensor) -> torch.Tensor:
    return model.encode(x).mean(dim=0)


# --------------------------------------------------------------------------------------------
# Training


def train_detector(
    corr: np.ndarray,
    settings: TrainSettings,
    checkpoint_dir: str | Path,
    device: torch.device | str = "cpu",
    run_key: str = "",
    on_epoch: Callable[[dict], None] | None = None,
    checkpoint_every_s: float = 30.0,
) -> TrainedDetector:
    """Train on (N, 28) correlations; resumable from `checkpoint_dir`.

    The checkpoint is written at the end of each phase and after any epoch that ends more than
    `checkpoint_every_s` seconds after the last write (an epoch of this tiny net is often shorter
    than writing the checkpoint; 0 writes every epoch). It is resumed only when it was made from
    the same data, settings and `run_key` (pass the code version so that changed code starts
    afresh). `on_epoch` gets each history row, after that epoch's checkpoint if one was written.
    """
    corr = np.ascontiguousarray(corr, dtype=np.float32)
    if corr.ndim != 2 or corr.shape[1] != N_CORR or len(corr) < 2:
        raise ValueError(f"need at least 2 correlation vectors of {N_CORR} values, got shape {corr.shape}")
    device = torch.device(device)
    train_index, val_index = split_indices(len(corr), settings.val_fraction, settings.seed)
    x_train = torch.from_numpy(corr[train_index]).to(device)
    x_val = torch.from_numpy(corr[val_index]).to(device)

    generator = seed_everything(settings.seed)
    model = LoopDetector(LoopDetectorConfig()).to(device)
    checkpoint = Checkpoint(checkpoint_dir)
    fingerprint = _fingerprint(corr, settings, model.config, run_key)
    state = _resumable_state(checkpoint, fingerprint)
    if state is None:
        state = {"fingerprint": fingerprint, "phase": PHASES[0], "epoch": 0, "history": []}
    else:
        model.load_state_dict(state["model"])
        generator.set_state(state["generator"])
        set_rng_state(state["rng"])
        log.info("resuming from %s: phase %s, epoch %d", checkpoint.path, state["phase"], state["epoch"])

    for phase in PHASES[PHASES.index(state["phase"]) :]:
        resuming_this_phase = state["phase"] == phase and state["epoch"] > 0
        if not resuming_this_phase:
            state.update(phase=phase, epoch=0, optimiser=None)
            if phase == "svdd":
                model.centre.copy_(mean_encoding(model, x_train))
                log.info("centre c = mean encoding of %d training loops: %s", len(x_train), model.centre.tolist())
        _train_phase(model, phase, x_train, x_val, settings, generator, state, checkpoint, on_epoch, checkpoint_every_s)

    model.threshold.fill_(log_sigma_threshold(correlation_scores(model, x_train)))
    model = model.cpu().eval()
    return TrainedDetector(
        model,
        state["history"],
        train_index,
        val_index,
        correlation_scores(model, corr),
        {phase: {k: v for k, v in best.items() if k != "model"} for phase, best in state.get("best", {}).items()},
    )


def _train_phase(
    model, phase, x_train, x_val, settings, generator, state, checkpoint, on_epoch, checkpoint_every_s
) -> None:
    # The SVDD phase moves only the encoder; the decoder has done its job (a useful initialisation).
    module = model if phase == "autoencoder" else model.encoder
    optimiser = torch.optim.AdamW(module.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    if state.get("optimiser"):
        optimiser.load_state_dict(state["optimiser"])
    loss_fn = _reconstruction_loss if phase == "autoencoder" else _svdd_loss
    steps_per_epoch = -(-len(x_train) // settings.batch_size)
    last_step = settings.epochs * steps_per_epoch - 1  # the last step runs at exactly lr_min
    last_save = time.monotonic()
    for epoch in range(state["epoch"], settings.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator).to(x_train.device)
        losses = []
        for b, start in enumerate(range(0, len(x_train), settings.batch_size)):
            lr = cosine_lr(epoch * steps_per_epoch + b, last_step, settings.lr, settings.lr_min)
            for group in optimiser.param_groups:
                group["lr"] = lr
            batch = x_train[order[start : start + settings.batch_size]]
            loss = loss_fn(model, batch)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(loss.item() * len(batch))
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model, x_val).item() if len(x_val) else float("nan")
        row = {
            "phase": phase,
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": sum(losses) / len(x_train),
            "val_loss": val_loss,
        }
        state["history"].append(row)
        state.update(
            epoch=epoch + 1,
            model=model.state_dict(),
            optimiser=optimiser.state_dict(),
            generator=generator.get_state(),
            rng=rng_state(),
        )
        best = state.setdefault("best", {}).get(phase)
        if np.isfinite(val_loss) and (best is None or val_loss < best["val_loss"]):
            state["best"][phase] = {
                "epoch": epoch + 1,
                "val_loss": val_loss,
                "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            }
        if epoch + 1 == settings.epochs or time.monotonic() - last_save >= checkpoint_every_s:
            checkpoint.save(state)
            last_save = time.monotonic()
        if on_epoch is not None:
            on_epoch(row)
    state["optimiser"] = None
    # Keep the best validation epoch of the phase, as the released checkpoints (monitor='val_loss').
    best = state.get("best", {}).get(phase)
    if best is not None:
        model.load_state_dict(best["model"])
        log.info(
            "%s: kept epoch %d of %d (lowest validation loss %.4g)",
            phase,
            best["epoch"],
            settings.epochs,
            best["val_loss"],
        )


def _reconstruction_loss(model: LoopDetector, x: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(model.reconstruct(x), x)


def _svdd_loss(model: LoopDetector, x: torch.Tensor) -> torch.Tensor:
    return model(x).mean()


def _fingerprint(corr: np.ndarray, settings: TrainSettings, config: LoopDetectorConfig, run_key: str) -> str:
    digest = hashlib.sha1(corr.tobytes())
    digest.update(json.dumps([dataclasses.asdict(settings), dataclasses.asdict(config), run_key]).encode())
    return digest.hexdigest()


def _resumable_state(checkpoint: Checkpoint, fingerprint: str) -> dict | None:
    state = checkpoint.load()
    if state is not None and state.get("fingerprint") != fingerprint:
        log.info("ignoring %s: it was made from other data, settings or code", checkpoint.path)
        return None
    return state


# --------------------------------------------------------------------------------------------
# Saving and loading


def save_detector(folder: str | Path, trained: TrainedDetector, extras: dict | None = None) -> None:
    """DESIGN model contract; model.json carries the centre and threshold (also buffers in model.pt)."""
    model = trained.model
    meta = {
        "centre": model.centre.tolist(),
        "threshold": trained.threshold,
        "n_train": len(trained.train_index),
        "n_val": len(trained.val_index),
        "selection": trained.selection,
        **(extras or {}),
    }
    save_model(folder, model, model.config, meta)


def load_detector(folder: str | Path, device: torch.device | str = "cpu") -> LoopDetector:
    model, _config, _meta = load_model(folder, LoopDetector, LoopDetectorConfig, device=device)
    return model


def training_score_rows(ids: list[str], trained: TrainedDetector, rejected: list[dict]) -> list[dict]:
    split = np.full(len(ids), "train", dtype=object)
    split[trained.val_index] = "val"
    rows = [
        {"loop_id": i, "split": s, "score": float(d), "reason": None} for i, s, d in zip(ids, split, trained.scores)
    ]
    return rows + rejected
