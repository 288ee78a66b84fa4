"""The phrase pianoroll shared by every symbolic stage (SPEC section 1).

A phrase is a boolean roll of shape (128, 57): 8 bars x 16 steps, columns = 9 drum columns then
48 bass pitches (MIDI 24..71). Rolls are stored packed (np.packbits, row-major: 912 bytes) and
unpacked per batch. One bar is exactly 16 * 57 = 912 bits = 114 packed bytes, so bars can be
compared without unpacking.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa

STEPS_PER_BAR = 16
N_BARS = 8
N_STEPS = STEPS_PER_BAR * N_BARS  # 128
N_DRUM = 9
BASS_LOW, BASS_HIGH = 24, 71  # inclusive MIDI pitches
N_BASS = BASS_HIGH - BASS_LOW + 1  # 48
N_COLS = N_DRUM + N_BASS  # 57
ROLL_SHAPE = (N_STEPS, N_COLS)
PACKED_BYTES = N_STEPS * N_COLS // 8  # 912
BAR_BYTES = STEPS_PER_BAR * N_COLS // 8  # 114

# GM drum notes per drum column (SPEC section 1); the first note is the one written back to MIDI.
DRUM_COLUMNS: tuple[tuple[int, ...], ...] = (
    (36, 35),  # kick
    (38, 37, 39, 40),  # snare
    (42, 44),  # closed hi-hat
    (45, 41, 43),  # low tom
    (46,),  # open hi-hat
    (48, 47),  # mid tom
    (49, 55, 57),  # crash
    (50,),  # high tom
    (51, 59),  # ride
)
DRUM_NAMES = ("kick", "snare", "closed_hihat", "low_tom", "open_hihat", "mid_tom", "crash", "high_tom", "ride")
DRUM_NOTE_TO_COLUMN: dict[int, int] = {note: col for col, notes in enumerate(DRUM_COLUMNS) for note in notes}

# Upper-triangle bar pairs in row-major order: (0,1), (0,2), ... (6,7) -> 28 values.
BAR_PAIRS: tuple[tuple[int, int], ...] = tuple(itertools.combinations(range(N_BARS), 2))
_PAIR_I = np.array([i for i, _ in BAR_PAIRS])
_PAIR_J = np.array([j for _, j in BAR_PAIRS])


def pack_rolls(rolls: np.ndarray) -> np.ndarray:
    """(N, 128, 57) bool -> (N, 912) uint8."""
    rolls = np.asarray(rolls, dtype=bool)
    return np.packbits(rolls.reshape(len(rolls), -1), axis=1)


def unpack_rolls(packed) -> np.ndarray:
    """(N, 912) uint8 (or a sequence of 912-byte strings) -> (N, 128, 57) bool."""
    packed = as_packed_array(packed)
    return np.unpackbits(packed, axis=1).view(bool).reshape(len(packed), *ROLL_SHAPE)


def as_packed_array(packed) -> np.ndarray:
    """Accept an (N, 912) uint8 array or a sequence of bytes objects (a Parquet binary column)."""
    if isinstance(packed, np.ndarray) and packed.dtype == np.uint8 and packed.ndim == 2:
        return packed
    buffer = b"".join(packed)
    return np.frombuffer(buffer, dtype=np.uint8).reshape(-1, PACKED_BYTES)


def bar_correlation(packed) -> np.ndarray:
    """The 28-value MIDI bar-to-bar correlation of each phrase (SPEC section 1, S appendix B.3).

    h_ij = number of cells where bars i and j differ; corr_ij = 1 - h_ij / (max_ij h_ij + 1e-5).
    Works on packed rolls: XOR of the bars' 114 bytes and a popcount. Returns (N, 28) float32.
    """
    bars = as_packed_array(packed).reshape(-1, N_BARS, BAR_BYTES)
    diff = np.bitwise_count(bars[:, _PAIR_I] ^ bars[:, _PAIR_J]).sum(axis=2, dtype=np.int32)
    scale = diff.max(axis=1, keepdims=True).astype(np.float32) + np.float32(1e-5)
    return (1.0 - diff / scale).astype(np.float32)


def packed_column(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A Parquet binary column of 912-byte rolls as an (N, 912) uint8 array, without a Python
    object per row (the values of a binary array lie back to back in one buffer).

    Chunk by chunk: combining the chunks first would need one binary array of every roll, whose
    int32 offsets stop at 2**31 bytes (2.35M rolls, or two paper-scale MIDI shards)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    arrays = [_packed_chunk(chunk) for chunk in chunks if len(chunk)]
    if not arrays:
        return np.zeros((0, PACKED_BYTES), dtype=np.uint8)
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _packed_chunk(column: pa.Array) -> np.ndarray:
    if column.null_count:
        raise ValueError(f"{column.null_count} rolls are null")
    offset_type = np.int64 if pa.types.is_large_binary(column.type) else np.int32
    offsets = np.frombuffer(column.buffers()[1], dtype=offset_type)[column.offset : column.offset + len(column) + 1]
    if not np.all(np.diff(offsets) == PACKED_BYTES):
        raise ValueError(f"rolls must be {PACKED_BYTES} bytes each")
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)
    return data[offsets[0] : offsets[-1]].reshape(-1, PACKED_BYTES)
