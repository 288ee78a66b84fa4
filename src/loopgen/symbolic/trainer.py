"""The training loop both symbolic models share: settings, resumable epochs of AdamW with a cosine
schedule per step, and the per-epoch history (CSV and PNG)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from loopgen.device import autocast
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
    # Stochastic weight averaging as the released code (Lightning's StochasticWeightAveraging(0.7,
    # 5e-5, 20)): from swa_start of the epochs the lr anneals (cosine, per epoch) to swa_lr over
    # swa_anneal_epochs, and the weights after each of those epochs are averaged. The average, with
    # its BatchNorm statistics recomputed on the training data, is one more candidate for the kept model.
    swa: bool = False
    swa_start: float = 0.7
    swa_lr: float = 5e-5
    swa_anneal_epochs: int = 20


def settings_from(section: dict, model_config_class, seed: int, settings_class=TrainSettings, **extra):
    """A config section (`vqvae`, `prior`, a baseline's) -> (model hyper-parameters, training settings).

    Each key goes to the dataclass that has a field of its name; a key neither knows is an error
    (the schema should have caught it)."""
    values = {**section, **extra}
    model_fields = {f.name for f in dataclasses.fields(model_config_class)}
    train_fields = {f.name for f in dataclasses.fields(settings_class)}
    unknown = sorted(set(values) - model_fields - train_fields)
    if unknown:
        raise ValueError(f"unknown {model_config_class.__name__} / {settings_class.__name__} keys: {unknown}")
    model_config = model_config_class(**{k: v for k, v in values.items() if k in model_fields})
    settings = settings_class(**{k: v for k, v in values.items() if k in train_fields}, seed=seed)
    return model_config, settings


def run_fingerprint(arrays, *settings, run_key: str = "") -> str:
    digest = hashlib.sha1()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps([dataclasses.asdict(s) for s in settings] + [run_key]).encode())
    return digest.hexdigest()


class EpochTrainer:
    """Checkpointed epochs of AdamW + cosine schedule (+ SWA when settings.swa). Subclasses define
    `train_step`, `validate` and `best_key`. The checkpoint is resumed only when made from the same
    data, settings and run_key.

    The kept model is the best validation epoch (lowest `best_key`), as the released code's
    ModelCheckpoint(monitor='val_loss'); with SWA the averaged model competes too. `selection`
    says which was kept and why (model.json records it)."""

    name = "model"
    best_key = "val_loss"  # the validation number (lower is better) that picks the kept model

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
        self.best: dict | None = None  # {"epoch", "value", "state"} of the best validation epoch so far
        self.swa_average: dict | None = None  # running mean of the parameters over the SWA epochs
        self.swa_epochs = 0
        self.selection: dict = {}
        self.swa_first_epoch = int(settings.swa_start * settings.epochs) if settings.swa else settings.epochs
        self.precision = "fp32"  # or bf16: train_step runs its forward pass under self.autocast()

    def autocast(self):
        return autocast(next(self.model.parameters()).device, self.precision)

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
            self._track_best(row)
            if epoch >= self.swa_first_epoch:
                self._average_weights()
            self._save()
            log.info(
                "%s epoch %d/%d: %s",
                self.name,
                self.epoch,
                self.settings.epochs,
                ", ".join(f"{k}={v:.5g}" for k, v in row.items() if k != "epoch"),
            )
        self._keep_best()
        self.model.eval()
        return self.history

    # ---- the kept model: best validation epoch, or the SWA average ----------------------------

    def _track_best(self, row: dict) -> None:
        value = row.get(self.best_key)
        if value is not None and np.isfinite(value) and (self.best is None or value < self.best["value"]):
            state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            self.best = {"epoch": row["epoch"], "value": float(value), "state": state}

    def _average_weights(self) -> None:
        params = {k: p.detach().to("cpu", torch.float64) for k, p in self.model.named_parameters()}
        if self.swa_average is None:
            self.swa_average = params
        else:
            for k, p in params.items():
                self.swa_average[k] += (p - self.swa_average[k]) / (self.swa_epochs + 1)
        self.swa_epochs += 1

    def _keep_best(self) -> None:
        """Load the kept model's weights and fill `selection`."""
        if self.best is None:  # no validation split: the last epoch is all there is
            self.selection = {"kept": "last epoch", "epoch": self.epoch, "why": f"no {self.best_key} to select on"}
            return
        chosen = dict(epoch=self.best["epoch"], value=self.best["value"])
        self.selection = {
            "kept": f"epoch {chosen['epoch']} of {self.epoch}",
            "epoch": chosen["epoch"],
            self.best_key: chosen["value"],
            "why": f"lowest validation {self.best_key}",
        }
        swa_state = self._swa_candidate()
        if swa_state is not None:
            state, values = swa_state
            swa_value = values.get(self.best_key, float("inf"))
            self.selection["swa"] = {"epochs": [self.swa_first_epoch + 1, self.epoch], **values}
            if swa_value < chosen["value"]:
                self.model.load_state_dict(state)
                self.selection.update(
                    kept=f"SWA average of epochs {self.swa_first_epoch + 1}-{self.epoch}",
                    epoch=None,
                    **{self.best_key: swa_value},
                    why=f"lower validation {self.best_key} than the best epoch ({chosen['value']:.5g})",
                )
                log.info("%s: kept %s", self.name, self.selection["kept"])
                return
        self.model.load_state_dict(self.best["state"])
        log.info("%s: kept %s (%s %.5g)", self.name, self.selection["kept"], self.best_key, chosen["value"])

    def _swa_candidate(self) -> tuple[dict, dict] | None:
        """The averaged weights (current buffers, BatchNorm statistics recomputed) and their
        validation numbers; None without SWA."""
        if self.swa_average is None:
            return None
        with torch.no_grad():
            for k, p in self.model.named_parameters():
                p.copy_(self.swa_average[k].to(p.dtype))
        recompute_batchnorm(self.model, self.batchnorm_batches())
        values = self.validate()
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}, values

    def batchnorm_batches(self):
        """Training inputs for recomputing BatchNorm statistics (models with BatchNorm override)."""
        return iter(())

    def lr_at(self, epoch: int, batch: int) -> float:
        """Cosine schedule per step; from the first SWA epoch, SWALR's cosine anneal to swa_lr,
        per epoch, starting from where the cosine schedule stood."""
        total_steps = self.steps_per_epoch * self.settings.epochs
        if epoch < self.swa_first_epoch:
            return cosine_lr(epoch * self.steps_per_epoch + batch, total_steps, self.settings.lr, self.settings.lr_min)
        start_lr = cosine_lr(
            self.swa_first_epoch * self.steps_per_epoch, total_steps, self.settings.lr, self.settings.lr_min
        )
        t = min(1.0, (epoch - self.swa_first_epoch) / max(1, self.settings.swa_anneal_epochs))
        alpha = (1 - math.cos(math.pi * t)) / 2
        return self.settings.swa_lr * alpha + start_lr * (1 - alpha)

    def _train_epoch(self, epoch: int) -> dict:
        """One pass over the training rows in a seeded order; returns the last lr and the
        per-sample means of what train_step reports."""
        self.model.train()
        order = torch.randperm(self.n_train, generator=self.generator)
        sums: dict[str, float | torch.Tensor] = {}  # train_step may report device tensors: no sync a step
        for b, start in enumerate(range(0, self.n_train, self.settings.batch_size)):
            lr = self.lr_at(epoch, b)
            for group in self.optimiser.param_groups:
                group["lr"] = lr
            index = order[start : start + self.settings.batch_size]
            for key, value in self.train_step(index).items():
                sums[key] = sums.get(key, 0.0) + value * len(index)
        return {"lr": lr, **{key: float(value) / self.n_train for key, value in sums.items()}}

    def step(self, loss: torch.Tensor) -> None:
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()

    def epoch_extras(self) -> dict:
        return {}

    def _save(self) -> None:
        self.checkpoint.save(
            {
                "fingerprint": self.fingerprint,
                "epoch": self.epoch,
                "history": self.history,
                "model": self.model.state_dict(),
                "optimiser": self.optimiser.state_dict(),
                "generator": self.generator.get_state(),
                "rng": rng_state(),
                "best": self.best,
                "swa_average": self.swa_average,
                "swa_epochs": self.swa_epochs,
            }
        )

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
        self.best, self.swa_average, self.swa_epochs = (
            state.get("best"),
            state.get("swa_average"),
            state.get("swa_epochs", 0),
        )
        log.info("resuming %s from %s after epoch %d", self.name, self.checkpoint.path, self.epoch)


def recompute_batchnorm(model: nn.Module, batches) -> None:
    """BatchNorm running statistics as the plain mean and variance over `batches` (what
    torch.optim.swa_utils.update_bn does), with every other module in eval mode: a VQ-VAE's
    codebook must not take EMA steps here."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    model.eval()
    momenta = {}
    for norm in norms:
        norm.reset_running_stats()
        momenta[norm], norm.momentum = norm.momentum, None  # None: a cumulative average
        norm.train()
    with torch.no_grad():
        for x in batches:
            model(x)
    for norm in norms:
        norm.momentum = momenta[norm]
    model.eval()


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
