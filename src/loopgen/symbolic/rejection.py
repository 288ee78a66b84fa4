"""Rejection sampling for several nested loop-score limits from ONE stream of generated loops,
resumable, with the kept loops streamed to disk.

The limits are nested (a loop below 0.01 is below 0.1 and 1), so one stream serves them all: each
limit keeps the first `target` loops of the stream that score below it, and its `tried` is the
stream position of the loop that completed it. Each limit's result is distributed exactly as an
independent stream's would be, and the cost is the tightest limit's tries, not the sum over limits
(SPEC's 5-limit sweep: 3-6x less). At most `max_tries` loops are drawn; a limit that is not
complete by then is reported with tried = max_tries, as before.

Progress (drawn-loop count, each limit's kept loops so far, the sampler's RNG state) is saved with
the kept loops, in part files, every `flush_rows` kept rows, so a job killed at its Slurm time
limit continues where it stopped when it is run again, and memory stays bounded by one flush.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np

from loopgen.symbolic.generation import SAMPLE_SCHEMA, sample_table
from loopgen.tables import join_files, write_table
from loopgen.training import Checkpoint

log = logging.getLogger("loopgen.symbolic")


def _key(limit: float) -> str:
    return f"{limit:g}"


def nested_rejection(
    sampler,
    mode,
    score,
    limits,
    target: int,
    max_tries: int,
    out_paths: dict,
    state_dir,
    prefixes: dict,
    run_key: str = "",
    flush_rows: int = 65_536,
    log_every_s: float = 60.0,
) -> list[dict]:
    """Keep `target` loops below each of `limits` (floats) from one stream drawn by `sampler`
    (`sampler.draw(n, mode)` -> packed rolls, `sampler.rng` a torch.Generator,
    `sampler.batch_size`) and scored by `score(packed)`.

    Each limit's loops go to `out_paths[limit]` (SAMPLE_SCHEMA) with ids `prefixes[limit]-<i>`.
    `state_dir` (not a Snakemake output) holds the progress; `run_key` (code version, seed, mode)
    must match for it to be resumed. Returns one stats dict per limit, loosest first."""
    limits = sorted(limits, reverse=True)
    state_dir = Path(state_dir)
    checkpoint = Checkpoint(state_dir)
    fingerprint = {"limits": [_key(x) for x in limits], "target": target, "max_tries": max_tries, "run_key": run_key}
    state = checkpoint.load()
    if state is not None and state.get("fingerprint") == fingerprint:
        sampler.rng.set_state(state["rng"])
        log.info(
            "resuming the rejection stream at %d drawn loops: %s",
            state["drawn"],
            {k: v["kept"] for k, v in state["limits"].items()},
        )
    else:
        shutil.rmtree(state_dir, ignore_errors=True)
        state = {
            "fingerprint": fingerprint,
            "drawn": 0,
            "limits": {_key(x): {"kept": 0, "tried": None, "parts": 0} for x in limits},
        }
    for limit in limits:  # parts written after the last saved state belong to no state: drop them
        folder = state_dir / _key(limit)
        folder.mkdir(parents=True, exist_ok=True)
        for part in folder.glob("part-*.parquet"):
            if int(part.stem.split("-")[1]) >= state["limits"][_key(limit)]["parts"]:
                part.unlink()

    for limit in limits:  # nothing to keep: complete before the first loop
        if target == 0:
            state["limits"][_key(limit)]["tried"] = 0
    buffers = {_key(x): [] for x in limits}
    buffered = 0
    last_log = time.monotonic()

    def flush() -> None:
        nonlocal buffered
        for limit in limits:
            entry, chunks = state["limits"][_key(limit)], buffers[_key(limit)]
            if not chunks:
                continue
            packed = np.concatenate([p for p, _ in chunks])
            scores = np.concatenate([s for _, s in chunks])
            first = entry["kept"] - len(packed)
            write_table(
                sample_table(packed, scores, prefixes[limit], first),
                state_dir / _key(limit) / f"part-{entry['parts']:06d}.parquet",
                SAMPLE_SCHEMA,
            )
            entry["parts"] += 1
            chunks.clear()
        state["rng"] = sampler.rng.get_state()
        checkpoint.save(state)
        buffered = 0

    def incomplete():
        return [x for x in limits if state["limits"][_key(x)]["tried"] is None]

    while incomplete() and state["drawn"] < max_tries:
        packed = sampler.draw(min(sampler.batch_size, max_tries - state["drawn"]), mode)
        scores = np.asarray(score(packed))
        for limit in incomplete():
            entry = state["limits"][_key(limit)]
            accepted = np.flatnonzero(scores < limit)[: target - entry["kept"]]
            if len(accepted):
                buffers[_key(limit)].append((packed[accepted], scores[accepted]))
                entry["kept"] += len(accepted)
                buffered += len(accepted)
            if entry["kept"] == target:
                entry["tried"] = state["drawn"] + (int(accepted[-1]) + 1 if len(accepted) else 0)
        state["drawn"] += len(packed)
        if buffered >= flush_rows:
            flush()
        if time.monotonic() - last_log >= log_every_s:
            last_log = time.monotonic()
            log.info(
                "%d of at most %d loops drawn; kept: %s",
                state["drawn"],
                max_tries,
                {k: v["kept"] for k, v in state["limits"].items()},
            )
    flush()

    stats = []
    for limit in limits:
        entry = state["limits"][_key(limit)]
        tried = entry["tried"] if entry["tried"] is not None else state["drawn"]
        if entry["kept"] < target:
            log.warning(
                "limit %s: only %d of %d loops kept after %d tries (max_tries)",
                _key(limit),
                entry["kept"],
                target,
                tried,
            )
        join_files(sorted((state_dir / _key(limit)).glob("part-*.parquet")), out_paths[limit], SAMPLE_SCHEMA)
        stats.append(
            {
                "limit": limit,
                "target": target,
                "tried": tried,
                "kept": entry["kept"],
                "acceptance_rate": entry["kept"] / tried if tried else float("nan"),
            }
        )
    return stats
