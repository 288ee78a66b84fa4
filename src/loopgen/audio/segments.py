"""1-bar segments at the target tempo, and the train/test split by loop (SPEC section 5).

A bar at 130 BPM and 16 kHz lasts 29,538.46 samples. Bar i starts at round(i·bar) and a segment
keeps its first floor(bar) = 29,538 samples, so segments never drift against the beat. A trailing
part longer than `min_tail` of a bar becomes one more, zero-padded segment; a shorter one is dropped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa

SEGMENT_SCHEMA = pa.schema(
    [
        ("segment_id", pa.string()),  # "<loop_id>:<bar>"
        ("loop_id", pa.string()),
        ("bar", pa.int32()),
        ("split", pa.string()),  # train | test
        ("pcm", pa.list_(pa.int16())),  # one bar, 16 kHz mono
    ]
)


def bar_length(bpm: float, sr: int, beats_per_bar: int = 4) -> float:
    """Exact bar length in samples (29538.46 at 130 BPM, 16 kHz)."""
    return beats_per_bar * 60.0 * sr / bpm


def n_segments(n_samples: int, bar: float, min_tail: float = 0.5) -> int:
    """Segments of a stretched loop of `n_samples`: whole bars, plus one for a long enough tail."""
    length = int(bar)
    full = 0
    while int(round(full * bar)) + length <= n_samples:
        full += 1
    tail = n_samples - full * bar
    return full + (1 if tail > min_tail * bar else 0)


def cut_bars(audio: np.ndarray, bar: float, min_tail: float = 0.5, limit: int | None = None) -> np.ndarray:
    """(n_segments, floor(bar)) array of the loop's bars; the last may be zero-padded."""
    length = int(bar)
    count = n_segments(len(audio), bar, min_tail)
    if limit is not None:
        count = min(count, limit)
    out = np.zeros((count, length), dtype=audio.dtype)
    for i in range(count):
        piece = audio[int(round(i * bar)) : int(round(i * bar)) + length]
        out[i, : len(piece)] = piece
    return out


def split_of(loop_id: str, seed: int, test_fraction: float) -> str:
    """'test' for a stable pseudo-random `test_fraction` of loops, decided by a hash of the loop and seed."""
    digest = hashlib.sha1(f"{seed}:{loop_id}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2.0**64 < test_fraction else "train"


def to_pcm(bars: np.ndarray) -> np.ndarray:
    """float in [-1, 1] -> int16 (clipped)."""
    return np.clip(np.rint(bars * 32767.0), -32768, 32767).astype(np.int16)


def from_pcm(pcm: np.ndarray) -> np.ndarray:
    return np.asarray(pcm, dtype=np.float32) / 32767.0


def float_audio(audio: np.ndarray) -> np.ndarray:
    """Clips as float32 in [-1, 1]: int16 PCM through from_pcm, float clips as they are. Readers of
    whole sets keep them as int16 and convert a batch at a time (half the memory of float32)."""
    return from_pcm(audio) if np.asarray(audio).dtype == np.int16 else np.asarray(audio, np.float32)


def pcm_column(pcm: np.ndarray) -> pa.Array:
    """(N, L) int16 -> a list<int16> Arrow column on the array's own buffer (no object per row)."""
    n, length = pcm.shape
    offsets = pa.array(np.arange(0, (n + 1) * length, length, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(np.ascontiguousarray(pcm, np.int16).reshape(-1), type=pa.int16()))


def segment_table(segment_ids, loop_ids, bars, splits, pcm: np.ndarray) -> pa.Table:
    """Build the table straight from one (N, L) int16 array (no per-sample Python objects)."""
    return pa.table(
        [
            pa.array(segment_ids, pa.string()),
            pa.array(loop_ids, pa.string()),
            pa.array(bars, pa.int32()),
            pa.array(splits, pa.string()),
            pcm_column(pcm),
        ],
        schema=SEGMENT_SCHEMA,
    )


def write_segments(table: pa.Table, path) -> None:
    """A segment shard with its rows sorted by split and one Parquet row group per split, so that
    a reader of one split (e.g. the 10% test split) skips the others' audio (DESIGN data contract)."""
    import os

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from loopgen.tables import temporary_path

    table = table.cast(SEGMENT_SCHEMA).sort_by([("split", "ascending"), ("segment_id", "ascending")])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with pq.ParquetWriter(tmp, SEGMENT_SCHEMA, compression="zstd") as writer:
            for split in sorted(set(table["split"].to_pylist())) or [None]:
                part = table if split is None else table.filter(pc.equal(table["split"], split))
                writer.write_table(part, row_group_size=max(1, part.num_rows))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def pcm_array(table: pa.Table) -> np.ndarray:
    """(N, L) int16 view of a segment table's pcm column."""
    column = table.column("pcm").combine_chunks()
    n = len(column)
    if n == 0:
        return np.zeros((0, 0), dtype=np.int16)
    return column.flatten().to_numpy(zero_copy_only=False).reshape(n, -1)
