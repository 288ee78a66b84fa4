import numpy as np

from loopgen.roll import (
    BAR_PAIRS,
    DRUM_NOTE_TO_COLUMN,
    PACKED_BYTES,
    ROLL_SHAPE,
    bar_correlation,
    pack_rolls,
    unpack_rolls,
)


def random_rolls(n, seed=0, density=0.1):
    return np.random.default_rng(seed).random((n, *ROLL_SHAPE)) < density


def test_pack_unpack_round_trip_and_size():
    rolls = random_rolls(5)
    packed = pack_rolls(rolls)
    assert packed.shape == (5, PACKED_BYTES) == (5, 912)
    assert np.array_equal(unpack_rolls(packed), rolls)
    # A Parquet binary column arrives as bytes objects.
    assert np.array_equal(unpack_rolls([row.tobytes() for row in packed]), rolls)


def test_correlation_matches_direct_definition():
    rolls = random_rolls(7, seed=3)
    corr = bar_correlation(pack_rolls(rolls))
    for roll, values in zip(rolls, corr):
        bars = roll.reshape(8, 16, 57)
        h = np.array([(bars[i] != bars[j]).sum() for i, j in BAR_PAIRS], dtype=float)
        assert np.allclose(values, 1 - h / (h.max() + 1e-5), atol=1e-6)


def test_identical_bars_give_all_ones_and_most_different_pair_zero():
    bar = random_rolls(1, seed=1)[0][:16]
    loop = np.tile(bar, (8, 1))[None]
    assert np.allclose(bar_correlation(pack_rolls(loop)), 1.0)

    roll = loop.copy()
    roll[0, 16 * 5 : 16 * 6] = ~roll[0, 16 * 5 : 16 * 6]  # bar 5 is the inverse of all others
    corr = bar_correlation(pack_rolls(roll))[0]
    pairs_with_5 = [k for k, (i, j) in enumerate(BAR_PAIRS) if 5 in (i, j)]
    assert np.allclose(corr[pairs_with_5], 0.0, atol=1e-6)
    others = [k for k in range(28) if k not in pairs_with_5]
    assert np.allclose(corr[others], 1.0)


def test_drum_map_is_the_spec_map():
    expected = {
        35: 0,
        36: 0,
        37: 1,
        38: 1,
        39: 1,
        40: 1,
        42: 2,
        44: 2,
        41: 3,
        43: 3,
        45: 3,
        46: 4,
        47: 5,
        48: 5,
        49: 6,
        55: 6,
        57: 6,
        50: 7,
        51: 8,
        59: 8,
    }
    assert DRUM_NOTE_TO_COLUMN == expected


def test_packed_column_reads_a_parquet_binary_column_without_copies_per_row():
    import pyarrow as pa

    from loopgen.roll import packed_column

    packed = pack_rolls(random_rolls(6, seed=5))
    column = pa.chunked_array(
        [pa.array([r.tobytes() for r in packed[:2]]), pa.array([r.tobytes() for r in packed[2:]])]
    )
    assert np.array_equal(packed_column(column), packed)
    assert np.array_equal(packed_column(column.chunk(1).slice(1, 2)), packed[3:5])
    assert packed_column(pa.chunked_array([], pa.binary())).shape == (0, PACKED_BYTES)
