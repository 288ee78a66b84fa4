"""The training loop both symbolic models share: settings, resumable epochs of AdamW with a cosine
schedule per step, and the per-epoch history (CSV and PNG)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from loopgen.training import Checkpoint, cosine_lr, rng_state, seed_everything, set_rng_state

log = logging.getLogger("loopgen.symbolic")


@dataclass
class TrainSettings:
    """Optimisation of either model (config sections `vqvae` and `prior`)."""

    epochs: int = 500
    batch_size: int = 2048
    lr: float = 1e-3
    lr_min: float = 5e-6
    weight_decay: float = 1e-2  # AdamW default
    val_fraction: float = 0.2
    split_by: str = "song"  # song | loop: what the validation split holds out (see split_mask)
    seed: int = 1234


def settings_from(section: dict, model_config_class, seed: int, **extra):
    """A config section (`vqvae` or `prior`) -> (model hyper-parameters, TrainSettings).

    Each key goes to the dataclass that has a field of its name; a key neither knows is an error
    (the schema should have caught it)."""
    values = {**section, **extra}
    model_fields = {f.name for f in dataclasses.fields(model_config_class)}
    train_fields = {f.name for f in dataclasses.fields(TrainSettings)}
    unknown = sorted(set(values) - model_fields - train_fields)
    if unknown:
        raise ValueError(f"unknown {model_config_class.__name__} / TrainSettings keys: {unknown}")
    model_config = model_config_class(**{k: v for k, v in values.items() if k in model_fields})
    settings = TrainSettings(**{k: v for k, v in values.items() if k in train_fields}, seed=seed)
    return model_config, settings


def run_fingerprint(arrays, *settings, run_key: str = "") -> str:
    digest = hashlib.sha1()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps([dataclasses.asdict(s) for s in settings] + [run_key]).encode())
    return digest.hexdigest()


class EpochTrainer:
    """Checkpointed epochs of AdamW + cosine schedule. Subclasses define `train_step` and
    `validate`. The checkpoint is resumed only when made from the same data, settings and run_key."""

    name = "model"

    def __init__(self, model, settings: TrainSettings, n_train: int, checkpoint_dir, fingerprint: str):
        self.model, self.settings = model, settings
        self.generator = seed_everything(settings.seed)
        self.optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        self.steps_per_epoch = max(1, -(-n_train // settings.batch_size))
        self.n_train = n_train
        self.checkpoint = Checkpoint(checkpoint_dir)
        self.fingerprint = fingerprint
        self.history: list[dict] = []
        self.epoch = 0

    def run(self) -> list[dict]:
        self._resume()
        for epoch in range(self.epoch, self.settings.epochs):
            started = time.perf_counter()
            row = {"epoch": epoch + 1, **self._train_epoch(epoch)}
            self.model.eval()
            row.update(self.validate())
            row.update(self.epoch_extras())
            row["seconds"] = time.perf_counter() - started
            self.history.append(row)
            self.epoch = epoch + 1
            self._save()
            log.info("%s epoch %d/%d: %s", self.name, self.epoch, self.settings.epochs,
                     ", ".join(f"{k}={v:.5g}" for k, v in row.items() if k != "epoch"))
        self.model.eval()
        return self.history

    def _train_epoch(self, epoch: int) -> dict:
        """One pass over the training rows in a seeded order; returns the last lr and the
        per-sample means of what train_step reports."""
        self.model.train()
        order = torch.randperm(self.n_train, generator=self.generator)
        total_steps = self.steps_per_epoch * self.settings.epochs
        sums: dict[str, float] = {}
        for b, start in enumerate(range(0, self.n_train, self.settings.batch_size)):
            lr = cosine_lr(epoch * self.steps_per_epoch + b, total_steps, self.settings.lr, self.settings.lr_min)
            for group in self.optimiser.param_groups:
                group["lr"] = lr
            index = order[start : start + self.settings.batch_size]
            for key, value in self.train_step(index).items():
                sums[key] = sums.get(key, 0.0) + value * len(index)
        return {"lr": lr, **{key: value / self.n_train for key, value in sums.items()}}

    def step(self, loss: torch.Tensor) -> None:
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()

    def epoch_extras(self) -> dict:
        return {}

    def _save(self) -> None:
        self.checkpoint.save({
            "fingerprint": self.fingerprint, "epoch": self.epoch, "history": self.history,
            "model": self.model.state_dict(), "optimiser": self.optimiser.state_dict(),
            "generator": self.generator.get_state(), "rng": rng_state(),
        })

    def _resume(self) -> None:
        state = self.checkpoint.load()
        if state is None:
            return
        if state.get("fingerprint") != self.fingerprint:
            log.info("ignoring %s: it was made from other data, settings or code", self.checkpoint.path)
            return
        self.model.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.generator.set_state(state["generator"])
        set_rng_state(state["rng"])
        self.history, self.epoch = state["history"], state["epoch"]
        log.info("resuming %s from %s after epoch %d", self.name, self.checkpoint.path, self.epoch)


def write_history(history: list[dict], path) -> None:
    """The per-epoch history as CSV (one row per epoch)."""
    import csv

    columns = list(dict.fromkeys(key for row in history for key in row))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)


def plot_history(history: list[dict], path, panels: dict[str, list[str]], title: str) -> None:
    """One PNG, one panel per entry of `panels` (panel title -> history keys plotted per epoch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    epochs = [row["epoch"] for row in history]
    for ax, (panel, keys) in zip(axes[0], panels.items()):
        for key in keys:
            if history and key in history[0]:
                ax.plot(epochs, [row[key] for row in history], label=key, marker="." if len(epochs) < 30 else None)
        ax.set_title(panel)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
