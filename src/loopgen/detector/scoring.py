"""Loop scores: correlation vectors and packed rolls through a trained detector, and the MIDI phrase
shards scored into loop shards.

`loop_scores(model, packed)` is the one function every stage uses to score packed rolls.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from loopgen.midi import PHRASE_SCHEMA
from loopgen.models.loop_detector import LoopDetector
from loopgen.roll import as_packed_array, bar_correlation, packed_column
from loopgen.tables import read_table, write_table

if TYPE_CHECKING:
    import pandas as pd

SCORE_BATCH = 1 << 16  # phrases per scoring batch: bounds memory, big enough to amortise overhead

# results/loops/shard-{i}.parquet: the phrases below the threshold, with their scores.
LOOP_SCHEMA = PHRASE_SCHEMA.append(pa.field("loop_score", pa.float32()))


@torch.no_grad()
def correlation_scores(model: LoopDetector, corr: np.ndarray | torch.Tensor) -> np.ndarray:
    """Loop scores of (N, 28) correlation vectors, float32 (N,)."""
    # np.asarray on a CUDA tensor raises (Tensor.__array__ calls .numpy()): tensors stay in torch.
    x = torch.as_tensor(
        corr if torch.is_tensor(corr) else np.asarray(corr, np.float32), dtype=torch.float32, device=model.centre.device
    )
    return model(x).cpu().numpy().astype(np.float32, copy=False)


def loop_scores(model: LoopDetector, packed, batch_size: int = SCORE_BATCH) -> np.ndarray:
    """Loop scores of packed rolls ((N, 912) uint8 or a sequence of 912-byte strings): the MIDI
    bar correlation (loopgen.roll.bar_correlation) through the detector. float32 (N,); lower =
    more loop-like; `score < model.threshold` is a loop."""
    packed = as_packed_array(packed)
    scores = np.empty(len(packed), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(packed), batch_size):
            corr = bar_correlation(packed[start : start + batch_size])
            scores[start : start + len(corr)] = correlation_scores(model, corr)
    return scores


# --------------------------------------------------------------------------------------------
# Loop extraction from the MIDI phrase shards


def score_phrase_shard(model: LoopDetector, phrase_path: str | Path, loop_path: str | Path) -> tuple[int, int]:
    """Score every phrase of a shard; write those below the threshold (with loop_score) to
    `loop_path`. Returns (phrases in, loops out)."""
    phrases = read_table(phrase_path, PHRASE_SCHEMA)
    scores = loop_scores(model, packed_column(phrases.column("roll")))
    is_loop = scores < float(model.threshold)
    loops = phrases.filter(pa.array(is_loop)).append_column("loop_score", pa.array(scores[is_loop]))
    write_table(loops, loop_path, LOOP_SCHEMA)
    return phrases.num_rows, loops.num_rows


def loop_summary(shards: list[int], phrase_paths: list, loop_paths: list) -> list[dict]:
    """Phrases in and loops out per shard and in total, from the Parquet footers (no data read)."""
    rows = []
    for shard, phrase_path, loop_path in zip(shards, phrase_paths, loop_paths, strict=True):
        rows.append(
            {
                "shard": str(shard),
                "phrases": pq.read_metadata(phrase_path).num_rows,
                "loops": pq.read_metadata(loop_path).num_rows,
            }
        )
    total = {"shard": "total", "phrases": sum(r["phrases"] for r in rows), "loops": sum(r["loops"] for r in rows)}
    for row in (*rows, total):
        row["loop_fraction"] = row["loops"] / row["phrases"] if row["phrases"] else float("nan")
    return [*rows, total]


def score_phrase_shards(model: LoopDetector, phrase_paths: list) -> pd.DataFrame:
    """file_id, start_bar, loop_score of every phrase of the given shards."""
    import pandas as pd

    frames = []
    for path in phrase_paths:
        table = read_table(path, PHRASE_SCHEMA, columns=["file_id", "start_bar", "roll"])
        frames.append(
            pd.DataFrame(
                {
                    "file_id": table.column("file_id").to_numpy(zero_copy_only=False),
                    "start_bar": table.column("start_bar").to_numpy(zero_copy_only=False),
                    "loop_score": loop_scores(model, packed_column(table.column("roll"))),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
