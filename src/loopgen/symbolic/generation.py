"""Drawing loops from the trained models: sampling in a mode, rejection sampling by loop score, and
the sample and acceptance tables."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from loopgen.models.lstm_prior import LSTMPrior
from loopgen.models.vqvae import VQVAE
from loopgen.roll import PACKED_BYTES
from loopgen.sampling import SamplingMode, decode_codes, sample_codes
from loopgen.symbolic.data import packed_to_arrow
from loopgen.symbolic.prior_training import load_prior
from loopgen.symbolic.vqvae_training import load_vqvae

log = logging.getLogger("loopgen.symbolic")

# results/samples/{model}/{mode}.parquet: every generator's output (baselines too).
SAMPLE_SCHEMA = pa.schema([("sample_id", pa.string()), ("roll", pa.binary()), ("loop_score", pa.float32())])
# One row per rejection limit: how many loops were generated to keep the target count.
ACCEPTANCE_SCHEMA = pa.schema(
    [
        ("mode", pa.string()),
        ("limit", pa.float64()),
        ("target", pa.int64()),
        ("tried", pa.int64()),
        ("kept", pa.int64()),
        ("acceptance_rate", pa.float64()),
    ]
)

ScoreFn = Callable[[np.ndarray], np.ndarray]  # packed rolls (N, 912) -> loop scores (N,)


@dataclass
class LoopSampler:
    """Everything needed to draw loops: the two models, the first-code distribution, a seeded RNG."""

    vqvae: VQVAE
    prior: LSTMPrior
    first_code_probs: torch.Tensor
    rng: torch.Generator
    batch_size: int = 4096

    @classmethod
    def load(cls, vqvae_dir, prior_dir, seed: int, device="cpu", batch_size: int = 4096) -> LoopSampler:
        device = torch.device(device)
        prior, first = load_prior(prior_dir, device)
        return cls(load_vqvae(vqvae_dir, device), prior, first, torch.Generator(device).manual_seed(seed), batch_size)

    def draw(self, n: int, mode: SamplingMode) -> np.ndarray:
        """n generated loops as packed rolls (n, 912)."""
        codes = sample_codes(self.prior, self.first_code_probs, n, mode, self.rng, self.batch_size)
        return decode_codes(self.vqvae, codes, self.batch_size)


def sample_loops(
    sampler: LoopSampler,
    n: int,
    mode: SamplingMode,
    score: ScoreFn,
    mode_name: str,
    first: int = 0,
    log_every_s: float = 60.0,
) -> pa.Table:
    """n loops of one mode, batch by batch, with their loop scores: a SAMPLE_SCHEMA table whose
    ids start at `first` (a chunk of a larger set). Logs its progress every `log_every_s`."""
    packed = np.zeros((n, PACKED_BYTES), np.uint8)
    scores = np.zeros(n, np.float32)
    started = last_log = time.monotonic()
    for start in range(0, n, sampler.batch_size):
        batch = sampler.draw(min(sampler.batch_size, n - start), mode)
        packed[start : start + len(batch)] = batch
        scores[start : start + len(batch)] = score(batch)
        if time.monotonic() - last_log >= log_every_s:
            last_log = time.monotonic()
            done = start + len(batch)
            log.info("%s: %d of %d loops (%.0f loops/s)", mode_name, done, n, done / (last_log - started))
    return sample_table(packed, scores, mode_name, first)


def sample_table(packed: np.ndarray, scores: np.ndarray, prefix: str, first: int = 0) -> pa.Table:
    """SAMPLE_SCHEMA rows with ids `prefix-<first + i>`."""
    ids = [f"{prefix}-{i:07d}" for i in range(first, first + len(packed))]
    return pa.table(
        {
            "sample_id": pa.array(ids, pa.string()),
            "roll": packed_to_arrow(packed),
            "loop_score": pa.array(np.asarray(scores, np.float32), pa.float32()),
        },
        schema=SAMPLE_SCHEMA,
    )


def rejection_sample(
    sampler: LoopSampler, mode: SamplingMode, score: ScoreFn, limit: float | None, target: int, max_tries: int
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Generate until `target` loops score below `limit` (None keeps every loop) or `max_tries`
    loops have been generated. Returns (kept packed rolls, their scores, stats).

    Loops are drawn a batch at a time, but counted one by one: `tried` stops at the loop that
    completed the target, so acceptance_rate = kept / tried exactly."""
    kept, kept_scores, tried, n_kept = [], [], 0, 0
    while n_kept < target and tried < max_tries:
        packed = sampler.draw(min(sampler.batch_size, max_tries - tried), mode)
        scores = score(packed)
        accepted = np.ones(len(packed), bool) if limit is None else scores < limit
        needed = np.flatnonzero(accepted)[: target - n_kept]
        examined = len(packed) if len(needed) < target - n_kept else int(needed[-1]) + 1
        tried += examined
        kept.append(packed[needed])
        kept_scores.append(scores[needed])
        n_kept += len(needed)
        log.info("limit %s: %d of %d kept so far (%d tried)", limit, n_kept, target, tried)
    packed = np.concatenate(kept or [np.zeros((0, PACKED_BYTES), np.uint8)])
    scores = np.concatenate(kept_scores or [np.zeros(0, np.float32)])
    stats = {
        "limit": limit,
        "target": target,
        "tried": tried,
        "kept": n_kept,
        "acceptance_rate": n_kept / tried if tried else float("nan"),
    }
    if n_kept < target:
        log.warning("limit %s: only %d of %d loops kept after %d tries (max_tries)", limit, n_kept, target, tried)
    return packed, scores, stats


def acceptance_table(stats: list[dict], mode: str) -> pa.Table:
    """Rejection-sweep stats (one dict per limit) -> ACCEPTANCE_SCHEMA, loosest limit first."""
    rows = sorted(stats, key=lambda s: -np.inf if s["limit"] is None else -s["limit"])
    return pa.Table.from_pylist(
        [{"mode": mode, **{k: row[k] for k in ACCEPTANCE_SCHEMA.names if k != "mode"}} for row in rows],
        schema=ACCEPTANCE_SCHEMA,
    )


def acceptance_markdown(table: pa.Table) -> str:
    lines = ["| mode | loop-score limit | kept | tried | acceptance rate |", "| --- | --- | --- | --- | --- |"]
    for row in table.to_pylist():
        limit = "none" if row["limit"] is None else f"{row['limit']:g}"
        lines.append(
            f"| {row['mode']} | {limit} | {row['kept']:,} of {row['target']:,} | {row['tried']:,} "
            f"| {row['acceptance_rate']:.4f} |"
        )
    return "\n".join(lines) + "\n"
