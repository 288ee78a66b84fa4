"""The numbers of symbolic evaluation, as rows of METRICS_SCHEMA: musical style (UP, ND), the
similarity of a generated set to the training loops (P/R/D/C on random embedding networks), and the
rows of one generated set, the training set, the reconstruction error and the acceptance rates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from loopgen.evaluation.symbolic_sets import SampleSet, _subset
from loopgen.roll import N_BARS, STEPS_PER_BAR, as_packed_array, unpack_rolls

log = logging.getLogger("loopgen.evaluation.symbolic")  # the name the log lines had before the split

# One number per row: results/eval/symbolic.parquet and the per-set files it is gathered from.
METRICS_SCHEMA = pa.schema(
    [
        ("experiment", pa.string()),  # training | generation | rejection | reconstruction
        ("model", pa.string()),  # training_set, vqvae_lstm, vqvae, ...
        ("mode", pa.string()),  # sampling mode; null for the training set and reconstruction
        ("limit", pa.float64()),  # loop-score limit of a rejection-sweep set; null: no limit
        ("metric", pa.string()),  # LS UP ND P R D C reconstruction_error acceptance_rate
        ("network", pa.int32()),  # embedding network of a P/R/D/C value; null for whole-set values
        ("value", pa.float64()),  # NaN where the set had too few loops
        ("n_loops", pa.int64()),  # loops the value was computed from
    ]
)
SIMILARITY_METRICS = {"P": "precision", "R": "recall", "D": "density", "C": "coverage"}
BATCH = 8192  # loops unpacked at a time (60 MB of booleans)


@dataclass
class SimilaritySettings:
    """P/R/D/C as the paper computes them (config section `evaluation`, keys symbolic_*)."""

    k: int = 5
    n_networks: int = 10
    n_samples: int = 10_000
    seed: int = 1234
    device: str = "cpu"


# --------------------------------------------------------------------------------------------
# Musical style: UP and ND


def unique_pitches_per_bar(rolls: np.ndarray) -> np.ndarray:
    """(N, 128, 57) bool -> (N, 8): distinct active columns in each bar (drum columns count)."""
    return _bars(rolls).any(axis=2).sum(axis=2)


def active_steps_per_bar(rolls: np.ndarray) -> np.ndarray:
    """(N, 128, 57) bool -> (N, 8): steps of the bar with at least one active cell."""
    return _bars(rolls).any(axis=3).sum(axis=2)


def _bars(rolls: np.ndarray) -> np.ndarray:
    return np.asarray(rolls, dtype=bool).reshape(len(rolls), N_BARS, STEPS_PER_BAR, -1)


def musical_style(packed, batch_size: int = BATCH) -> dict[str, float]:
    """UP and ND of a set of packed rolls, averaged over all its bars; unpacked a batch at a time."""
    packed = as_packed_array(packed)
    if len(packed) == 0:
        return {"UP": float("nan"), "ND": float("nan")}
    up_sum = nd_sum = 0
    for start in range(0, len(packed), batch_size):
        rolls = unpack_rolls(packed[start : start + batch_size])
        up_sum += int(unique_pitches_per_bar(rolls).sum())
        nd_sum += int(active_steps_per_bar(rolls).sum())
    n_bars = len(packed) * N_BARS
    return {"UP": up_sum / n_bars, "ND": nd_sum / n_bars}


# --------------------------------------------------------------------------------------------
# Similarity: P, R, D, C on random embeddings


def similarity(real_packed, fake_packed, settings: SimilaritySettings) -> list[dict]:
    """P/R/D/C of the fake set against the real one, once per random embedding network. Network i
    has seed settings.seed + i and draws its own subsets of both sets (the real subsets depend on
    the seed alone, so every generated set meets the same real loops)."""
    from loopgen.evaluation.embeddings import embed_rolls, random_embedding_net
    from loopgen.evaluation.prdc import compute_prdc

    real_packed, fake_packed = as_packed_array(real_packed), as_packed_array(fake_packed)
    results = []
    for network in range(settings.n_networks):
        real = real_packed[_subset(len(real_packed), settings.n_samples, (settings.seed, network, 0))]
        fake = fake_packed[_subset(len(fake_packed), settings.n_samples, (settings.seed, network, 1))]
        net = random_embedding_net(settings.seed + network)
        values = compute_prdc(
            embed_rolls(net, real, device=settings.device), embed_rolls(net, fake, device=settings.device), k=settings.k
        )
        log.info(
            "network %d: %d real x %d generated loops: %s",
            network,
            len(real),
            len(fake),
            ", ".join(f"{name} {value:.4f}" for name, value in values.items()),
        )
        results.append({"network": network, "n_loops": len(fake), **values})
    return results


# --------------------------------------------------------------------------------------------
# Rows of METRICS_SCHEMA


def set_rows(sample_set: SampleSet, real_packed, fake_packed, fake_scores, settings: SimilaritySettings) -> list[dict]:
    """Every table-2 number of one generated set: LS, UP, ND and P/R/D/C per network."""
    n = len(fake_packed)
    row = {
        "experiment": sample_set.experiment,
        "model": sample_set.model,
        "mode": sample_set.mode,
        "limit": sample_set.limit,
        "network": None,
        "n_loops": n,
    }
    ls = float(np.mean(fake_scores)) if n else float("nan")
    rows = [{**row, "metric": "LS", "value": ls}]
    rows += [{**row, "metric": name, "value": value} for name, value in musical_style(fake_packed).items()]
    too_few = min(n, len(real_packed), settings.n_samples) <= settings.k
    if too_few:
        log.warning(
            "%s: %d generated and %d training loops (%d drawn per network); P/R/D/C need more than "
            "k = %d in each: left as NaN",
            sample_set.label,
            n,
            len(real_packed),
            settings.n_samples,
            settings.k,
        )
    results = [] if too_few else similarity(real_packed, fake_packed, settings)
    for network in range(settings.n_networks):
        for short, long in SIMILARITY_METRICS.items():
            value = results[network][long] if results else float("nan")
            n_used = results[network]["n_loops"] if results else n
            rows.append({**row, "metric": short, "network": network, "value": value, "n_loops": n_used})
    return rows


def training_rows(packed, loop_scores) -> list[dict]:
    """LS, UP and ND of the training loops (the first row of table 2)."""
    row = {
        "experiment": "training",
        "model": "training_set",
        "mode": None,
        "limit": None,
        "network": None,
        "n_loops": len(packed),
    }
    values = {"LS": float(np.mean(loop_scores)) if len(packed) else float("nan"), **musical_style(packed)}
    return [{**row, "metric": name, "value": value} for name, value in values.items()]


def reconstruction_rows(model: str, error: float, n_loops: int) -> list[dict]:
    return [
        {
            "experiment": "reconstruction",
            "model": model,
            "mode": None,
            "limit": None,
            "network": None,
            "metric": "reconstruction_error",
            "value": error,
            "n_loops": n_loops,
        }
    ]


def acceptance_rows(acceptance: pd.DataFrame, model: str) -> list[dict]:
    """The rejection sweep's acceptance rates (loopgen.symbolic.ACCEPTANCE_SCHEMA rows)."""
    return [
        {
            "experiment": "rejection",
            "model": model,
            "mode": row.mode,
            "limit": None if pd.isna(row.limit) else float(row.limit),
            "metric": "acceptance_rate",
            "network": None,
            "value": float(row.acceptance_rate),
            "n_loops": int(row.tried),
        }
        for row in acceptance.itertuples()
    ]
