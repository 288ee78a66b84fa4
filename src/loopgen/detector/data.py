"""The loop detector's training data: the audio bar correlations read (unusable rows rejected with
a reason), optionally put on the MIDI correlation's scale, and split into train and validation."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from loopgen.audio.bar_corr import BAR_CORR_SCHEMA
from loopgen.tables import read_table

log = logging.getLogger("loopgen.detector")

N_CORR = 28


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded permutation of range(n), cut into (train, val). Row indices, never shuffled rows:
    the released code shuffled a 2-D array with random.shuffle, which duplicates rows."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    if n > 1:
        n_val = min(max(n_val, 1 if val_fraction > 0 else 0), n - 1)
    else:
        n_val = 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def rescale_like_midi(corr: np.ndarray, eps: float) -> np.ndarray:
    """Audio correlations put on the MIDI correlation's scale (not in the paper; config
    detector.rescale_audio).

    The MIDI feature divides each phrase's bar distances by the largest one, so identical bars
    read 1 and the most different pair reads 0, whatever the music; the Pearson correlations of
    one audio loop's whole-bar mel spectra all lie near 1. With d = 1 - r per loop this returns
    1 - d / (max d + eps): the same scaling. `eps` (in units of 1 - r) keeps a loop whose bars
    differ only by noise (a 1-bar pattern) near 1 instead of stretching the noise over [0, 1].
    """
    distance = 1.0 - np.asarray(corr, dtype=np.float64)
    return (1.0 - distance / (distance.max(axis=1, keepdims=True) + eps)).astype(np.float32)


def read_bar_corr(path: str | Path) -> tuple[list[str], np.ndarray, list[dict]]:
    """Audio bar correlations -> (loop ids, (N, 28) float32, rejected rows with a reason).

    A row whose correlations are missing, of the wrong length or not finite (a silent bar has no
    Pearson correlation) is rejected with one log line, never dropped silently.
    """
    table = read_table(path, BAR_CORR_SCHEMA, columns=["loop_id", "corr"])
    ids, vectors, rejected = [], [], []
    for loop_id, values in zip(table.column("loop_id").to_pylist(), table.column("corr").to_pylist()):
        reason = _corr_problem(values)
        if reason:
            log.warning("%s: loop %s left out of training: %s", path, loop_id, reason)
            rejected.append({"loop_id": loop_id, "split": "rejected", "score": None, "reason": reason})
        else:
            ids.append(loop_id)
            vectors.append(values)
    corr = np.asarray(vectors, dtype=np.float32).reshape(-1, N_CORR)
    return ids, corr, rejected


def _corr_problem(values) -> str | None:
    if values is None:
        return "no correlations"
    if len(values) != N_CORR:
        return f"{len(values)} correlations instead of {N_CORR}"
    if any(v is None for v in values) or not np.all(np.isfinite(np.asarray(values, dtype=np.float64))):
        return "correlations not finite (silent or constant bar?)"
    return None
