"""Which loops a symbolic-evaluation row describes, and reading them: the training or validation
split of the loop shards (by results/symbolic/codes.parquet) and generated sample sets, as packed
rolls (N, 912) and loop scores (N,). Also the seeded random subsets that P/R/D/C and the pianoroll
images draw from a set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from loopgen.roll import PACKED_BYTES

log = logging.getLogger("loopgen.evaluation.symbolic")  # the name the log lines had before the split


@dataclass
class SampleSet:
    """Which loops a row describes."""

    experiment: str  # generation | rejection
    model: str
    mode: str
    limit: float | None = None

    @property
    def label(self) -> str:
        if self.experiment != "rejection":
            return f"{self.model} {self.mode}"
        return f"{self.model} {self.mode}, " + (
            "no loop-score limit" if self.limit is None else f"loop score < {self.limit:g}"
        )


def read_training_loops(loop_paths, codes_path) -> tuple[np.ndarray, np.ndarray]:
    """The real set of P/R/D/C and the "training set" row of table 2: the loops of the VQ-VAE's
    training split (split == 'train' in results/symbolic/codes.parquet), never its validation
    songs -- as the released code (`original_data[:num_train_origin]`). Packed rolls and scores."""
    return read_split_loops(loop_paths, codes_path, "train")


def read_split_loops(loop_paths, codes_path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Packed rolls (N, 912) and loop scores (N,) of the loops (results/loops/shard-*.parquet) in
    one split ('train' | 'val') of results/symbolic/codes.parquet."""
    import pyarrow.compute as pc

    from loopgen.detector import LOOP_SCHEMA
    from loopgen.symbolic import CODES_SCHEMA
    from loopgen.tables import read_table

    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    codes = read_table(codes_path, CODES_SCHEMA, columns=["phrase_id", "split"])
    keep = pc.equal(codes.column("split"), split)
    ids = codes.column("phrase_id").filter(keep).combine_chunks()
    return _read_rolls_and_scores(loop_paths, LOOP_SCHEMA, keep_ids=ids)


def read_sample_set(path) -> tuple[np.ndarray, np.ndarray]:
    """A generated set (results/samples/{model}/...parquet): packed rolls and loop scores."""
    from loopgen.symbolic import SAMPLE_SCHEMA

    return _read_rolls_and_scores([path], SAMPLE_SCHEMA)


def _read_rolls_and_scores(paths, schema: pa.Schema, keep_ids: pa.Array | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rolls and loop scores of Parquet files (only the rows whose phrase_id is in keep_ids, when
    given). A row whose roll is not 912 bytes or whose score is missing or not finite is left out,
    with one warning line naming the file (never silently).

    Read a row group at a time into one array sized for every row of the files: pages of it that
    are never written never become resident, so the memory is the kept rolls plus one row group,
    not every file's table beside their concatenation (~2x; issue 13: 93 % of symbolic_set_metrics'
    4 GB at paper scale)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from loopgen.roll import packed_column
    from loopgen.tables import iter_row_groups

    columns = ["roll", "loop_score"] if keep_ids is None else ["phrase_id", "roll", "loop_score"]
    capacity = sum(pq.read_metadata(path).num_rows for path in paths)
    packed = np.empty((capacity, PACKED_BYTES), np.uint8)
    scores = np.empty(capacity, np.float64)
    filled = 0
    for path in paths:
        n_rows = n_bad = 0
        for table in iter_row_groups(path, schema, columns):
            if keep_ids is not None:
                table = table.filter(pc.is_in(table.column("phrase_id"), value_set=keep_ids))
            roll_bytes = pc.binary_length(table.column("roll")).to_numpy(zero_copy_only=False)
            score = table.column("loop_score").to_numpy(zero_copy_only=False).astype(np.float64)
            good = (np.nan_to_num(roll_bytes, nan=-1) == PACKED_BYTES) & np.isfinite(score)
            n_rows, n_bad = n_rows + len(good), n_bad + int((~good).sum())
            if not good.all():
                table, score = table.filter(pa.array(good)), score[good]
            rolls = packed_column(table.column("roll"))
            packed[filled : filled + len(rolls)] = rolls
            scores[filled : filled + len(rolls)] = score
            filled += len(rolls)
        if n_bad:
            log.warning(
                "%s: %d of %d loops left out: roll not %d bytes or loop score missing",
                path,
                n_bad,
                n_rows,
                PACKED_BYTES,
            )
        log.info("%s: %d loops", path, n_rows - n_bad)
    return packed[:filled], scores[:filled]


def validation_rolls(loop_paths, codes_path) -> np.ndarray:
    """Packed rolls of the VQ-VAE's validation songs (split == 'val' in codes.parquet)."""
    return read_split_loops(loop_paths, codes_path, "val")[0]


def _subset(n: int, size: int, seed: tuple) -> np.ndarray:
    """`size` distinct row indices of n (all of them when n <= size), sorted."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(list(seed)).choice(n, size, replace=False))
