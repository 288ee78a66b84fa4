"""Paper-scale limits: binary columns beyond int32 offsets (2**31 bytes = 2.35M packed rolls)."""

import numpy as np
import pyarrow as pa

from loopgen.roll import PACKED_BYTES, packed_column


def _binary(packed, large=False):
    offsets = np.arange(len(packed) + 1, dtype=np.int64 if large else np.int32) * PACKED_BYTES
    return pa.Array.from_buffers(
        pa.large_binary() if large else pa.binary(),
        len(packed),
        [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(packed))],
    )


def test_packed_column_reads_chunk_by_chunk_and_large_binary():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (n, PACKED_BYTES), dtype=np.uint8) for n in (5, 3))
    # Chunks are never combined (one int32-offset array cannot hold more than 2**31 bytes).
    column = pa.chunked_array([_binary(a), _binary(b)])
    assert np.array_equal(packed_column(column), np.concatenate([a, b]))
    assert np.array_equal(packed_column(pa.chunked_array([_binary(a, large=True)])), a)
    assert np.array_equal(packed_column(_binary(a, large=True).slice(1, 3)), a[1:4])
    assert packed_column(pa.chunked_array([], pa.binary())).shape == (0, PACKED_BYTES)


def test_packed_to_arrow_never_puts_more_rolls_in_one_array_than_int32_offsets_hold(monkeypatch):
    from loopgen.symbolic import data

    assert data.ROLLS_PER_ARRAY * PACKED_BYTES < 2**31 - 1  # the offsets of a full array fit
    monkeypatch.setattr(data, "ROLLS_PER_ARRAY", 4)
    packed = np.random.default_rng(1).integers(0, 256, (10, PACKED_BYTES), dtype=np.uint8)
    column = data.packed_to_arrow(packed)
    assert [len(chunk) for chunk in column.chunks] == [4, 4, 2]
    assert np.array_equal(packed_column(column), packed)
    assert data.packed_to_arrow(packed[:0]).to_pylist() == []
    table = pa.table({"roll": column})  # a chunked column writes as one Parquet column
    assert table.column("roll").to_pylist()[9] == packed[9].tobytes()
