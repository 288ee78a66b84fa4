"""What the baselines' training shares: their split of the loop set (the VQ-VAE's, so table 1 and
the P/R/D/C real set are the same loops for every model), settings from a config section, the
trivial model every validation loss is compared with, and saving. (Best-epoch keeping is
symbolic's EpochTrainer's: each trainer names its `best_key`.)"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from loopgen import symbolic
from loopgen.roll import PACKED_BYTES
from loopgen.sampling import unpack_batch
from loopgen.symbolic.vqvae_training import column_density
from loopgen.training import save_model

log = logging.getLogger("loopgen.baselines")


@dataclass
class TrainedBaseline:
    model: torch.nn.Module  # on CPU, eval mode
    history: list[dict]
    extras: dict  # written into model.json beside the hyper-parameters


def split_loops(loops: symbolic.LoopSet, val_fraction: float, split_by: str, seed: int) -> np.ndarray:
    """Validation mask: the VQ-VAE's split (same salt), so every model trains on the same loops."""
    settings = symbolic.TrainSettings(val_fraction=val_fraction, split_by=split_by, seed=seed)
    is_val = symbolic.split_mask(loops.file_id, settings, symbolic.VQVAE_SPLIT_SALT)
    if (~is_val).sum() < 2:
        raise ValueError(f"need at least 2 training loops, got {(~is_val).sum()} (of {len(loops)} loops)")
    return is_val


def split_metadata(settings, is_val: np.ndarray, best_epoch: int | None, kept_by) -> dict:
    """The model.json fields every baseline shares: its settings, the split and which state was kept."""
    return {
        "settings": vars(settings),
        "split_salt": symbolic.VQVAE_SPLIT_SALT,
        "n_train": int((~is_val).sum()),
        "n_val": int(is_val.sum()),
        "best_epoch": best_epoch,
        "kept_by": kept_by,
    }


def trivial_bce(train_packed: np.ndarray, val_packed: np.ndarray) -> float:
    """Per-cell BCE on the validation rolls of the trivial model: every cell of a column is on with
    that column's density in the training rolls (no time, no context)."""
    density = column_density(train_packed).clamp(1e-4, 1 - 1e-4)  # from up to 20,000 training loops
    total = 0.0
    for start in range(0, len(val_packed), 4096):  # batches: the paper's validation set is 4 GB as float
        x = unpack_batch(torch.from_numpy(np.ascontiguousarray(val_packed[start : start + 4096])))
        total += F.binary_cross_entropy(density[None, :, None].expand_as(x), x, reduction="sum").item()
    return total / (len(val_packed) * PACKED_BYTES * 8)


def save_baseline(folder, trained: TrainedBaseline) -> None:
    """DESIGN.md model contract (model.pt + model.json), the history inside model.json."""
    save_model(folder, trained.model, trained.model.config, {**trained.extras, "history": trained.history})


def best_row(history: list[dict], epoch: int | None) -> dict:
    """The history row of the kept epoch (the last row when no epoch was kept)."""
    rows = [row for row in history if row.get("epoch") == epoch]
    return rows[0] if rows else (history[-1] if history else {})
