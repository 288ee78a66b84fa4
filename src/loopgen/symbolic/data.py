"""The symbolic stage's tables: the loop shards it reads (rolls kept packed) and the codes table
(results/symbolic/codes.parquet) it writes between the VQ-VAE and the prior."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopgen.roll import PACKED_BYTES, packed_column
from loopgen.tables import read_table

log = logging.getLogger("loopgen.symbolic")

# The columns of a loop shard (detector output: PHRASE_SCHEMA + loop_score) this stage reads.
LOOP_COLUMNS = pa.schema([("phrase_id", pa.string()), ("file_id", pa.string()), ("roll", pa.binary())])
# results/symbolic/codes.parquet: every loop's VQ-VAE codes and its split.
CODES_SCHEMA = pa.schema(
    [("phrase_id", pa.string()), ("file_id", pa.string()), ("split", pa.string()), ("codes", pa.list_(pa.int16()))]
)


@dataclass
class LoopSet:
    phrase_id: np.ndarray  # object (N,)
    file_id: np.ndarray  # object (N,)
    packed: np.ndarray  # uint8 (N, 912)

    def __len__(self) -> int:
        return len(self.packed)


def read_loops(paths) -> LoopSet:
    """Concatenate loop shards, keeping rolls packed. A row whose roll is missing or not 912
    bytes is left out with one warning line naming the shard (never silently)."""
    ids, files, rolls = [], [], []
    for path in paths:
        table = read_table(path, LOOP_COLUMNS, columns=LOOP_COLUMNS.names)
        lengths = pc.binary_length(table.column("roll")).to_numpy(zero_copy_only=False)
        good = np.nan_to_num(lengths, nan=-1) == PACKED_BYTES
        if not good.all():
            log.warning(
                "%s: %d of %d loops left out: roll missing or not %d bytes",
                path,
                (~good).sum(),
                len(good),
                PACKED_BYTES,
            )
            table = table.filter(pa.array(good))
        ids.append(np.asarray(table.column("phrase_id").to_pylist(), dtype=object))
        files.append(np.asarray(table.column("file_id").to_pylist(), dtype=object))
        rolls.append(packed_column(table.column("roll")))
        log.info("%s: %d loops", path, table.num_rows)
    if not rolls:
        return LoopSet(np.zeros(0, object), np.zeros(0, object), np.zeros((0, PACKED_BYTES), np.uint8))
    return LoopSet(np.concatenate(ids), np.concatenate(files), np.concatenate(rolls))


# Rolls per Arrow binary array: its int32 offsets end at 2**31 - 1 bytes, i.e. 2,354,696 rolls.
ROLLS_PER_ARRAY = 1 << 20


def packed_to_arrow(packed: np.ndarray) -> pa.ChunkedArray:
    """(N, 912) uint8 -> a binary Arrow column without a Python object per row, in arrays of at
    most ROLLS_PER_ARRAY rolls (one array beyond 2.35M rolls would wrap its int32 offsets)."""
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    chunks = []
    for start in range(0, len(packed), ROLLS_PER_ARRAY):
        part = packed[start : start + ROLLS_PER_ARRAY]
        offsets = np.arange(len(part) + 1, dtype=np.int32) * np.int32(PACKED_BYTES)
        chunks.append(pa.Array.from_buffers(pa.binary(), len(part), [None, pa.py_buffer(offsets), pa.py_buffer(part)]))
    return pa.chunked_array(chunks, pa.binary())


def codes_table(loops: LoopSet, codes: np.ndarray, is_val: np.ndarray) -> pa.Table:
    split = np.where(is_val, "val", "train")
    flat = pa.array(codes.reshape(-1).astype(np.int16), pa.int16())
    offsets = pa.array(np.arange(len(codes) + 1, dtype=np.int32) * codes.shape[1], pa.int32())
    return pa.table(
        {
            "phrase_id": pa.array(loops.phrase_id.tolist(), pa.string()),
            "file_id": pa.array(loops.file_id.tolist(), pa.string()),
            "split": pa.array(split.tolist(), pa.string()),
            "codes": pa.ListArray.from_arrays(offsets, flat),
        },
        schema=CODES_SCHEMA,
    )


def read_codes(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """results/symbolic/codes.parquet -> (codes (N, S) int16, file_id (N,), split (N,))."""
    table = read_table(path, CODES_SCHEMA)
    column = table.column("codes").combine_chunks()
    n = len(column)
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.int16)
    codes = flat.reshape(n, -1) if n else np.zeros((0, 0), np.int16)
    return (
        codes,
        np.asarray(table.column("file_id").to_pylist(), object),
        np.asarray(table.column("split").to_pylist(), object),
    )


def training_split_size(codes_path) -> int:
    """Loops in the VQ-VAE's training split: how many loops a generated set has by default (the
    paper generates "as many as the training set"; the release used its training-code count)."""
    table = read_table(codes_path, CODES_SCHEMA, columns=["split"])
    return int(pc.sum(pc.equal(table.column("split"), "train").cast(pa.int64())).as_py() or 0)
