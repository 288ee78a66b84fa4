"""Train/validation splits and derived seeds of the symbolic stage.

Split by *song* (file_id) by default, not by phrase: loops are 8-bar windows sliding by one bar, so
neighbouring windows of one song share 7 bars; a split by phrase would leak them."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # trainer imports this module; the settings are only named in annotations
    from loopgen.symbolic.trainer import TrainSettings

VQVAE_SPLIT_SALT = "vqvae"  # the VQ-VAE's validation songs (table 1 is computed on them)
PRIOR_SPLIT_SALT = "prior"  # the prior's validation songs, among the VQ-VAE's training songs


def validation_mask(file_ids, fraction: float, salt: str) -> np.ndarray:
    """True for rows whose song is in the validation split: a stable hash of (salt, file_id), so
    the split never changes between runs. With two or more songs both sides get at least one."""
    file_ids = np.asarray(file_ids, dtype=object)
    songs, inverse = (
        np.unique(file_ids, return_inverse=True) if len(file_ids) else (np.zeros(0, object), np.zeros(0, int))
    )
    u = np.array([_unit_hash(f"{salt}:{song}") for song in songs])
    is_val = u < fraction
    if len(songs) >= 2 and fraction > 0:
        if not is_val.any():
            is_val[u.argmin()] = True
        if is_val.all():
            is_val[u.argmax()] = False
    return is_val[inverse] if len(file_ids) else np.zeros(0, bool)


def split_mask(file_ids, settings: TrainSettings, salt: str) -> np.ndarray:
    """Validation rows for `settings.split_by`:
    'song' holds out whole songs (validation_mask), so no validation loop shares bars with a
    training loop; 'loop' holds out a seeded random share of the loops, as the released code did
    for the prior (its codes came out of a shuffled loader) -- neighbouring windows of one song then
    sit on both sides and share 7 of their 8 bars, which inflates validation scores."""
    if settings.split_by == "song":
        return validation_mask(file_ids, settings.val_fraction, salt)
    if settings.split_by == "loop":
        rng = np.random.default_rng(derived_seed(settings.seed, "split", salt))
        return rng.random(len(file_ids)) < settings.val_fraction
    raise ValueError(f"split_by must be 'song' or 'loop', got {settings.split_by!r}")


def _unit_hash(text: str) -> float:
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "big") / 2**64


def derived_seed(seed: int, *names) -> int:
    """A seed for one named task (e.g. sampling mode top_k) from the config seed."""
    return int.from_bytes(hashlib.md5(json.dumps([seed, *names]).encode()).digest()[:8], "big") % 2**63
