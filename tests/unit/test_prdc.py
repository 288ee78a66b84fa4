import contextlib
import io

import numpy as np
import pytest

from loopgen.evaluation.prdc import _Points, compute_prdc, kth_neighbour_radii

prdc_reference = pytest.importorskip("prdc.prdc")  # the package the paper used (test extra)

KEYS = ("precision", "recall", "density", "coverage")


def reference(real, fake, k):
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints the set sizes
        values = prdc_reference.compute_prdc(real, fake, nearest_k=k)
    return {key: float(values[key]) for key in KEYS}


def gaussian(n, d=128, seed=0, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * scale + shift).astype(np.float32)


@pytest.mark.parametrize(
    "real, fake, k",
    [
        (gaussian(700, seed=1), gaussian(500, seed=2, shift=0.05, scale=1.1), 5),
        # Far from the origin: the float32 screen must not lose the small distances.
        (gaussian(400, d=32, seed=3, shift=1e3), gaussian(600, d=32, seed=4, shift=1e3 + 0.2), 3),
        # Unequal spreads: many fake points outside every real ball, and the other way round.
        (gaussian(500, d=16, seed=5, scale=0.5), gaussian(300, d=16, seed=6, scale=2.0), 7),
    ],
)
def test_same_values_as_the_prdc_package(real, fake, k):
    ours = compute_prdc(real, fake, k=k)
    expected = reference(real, fake, k)
    for key in KEYS:
        assert ours[key] == pytest.approx(expected[key], abs=1e-6), key


def test_exact_ties_on_a_lattice_are_decided_like_the_reference():
    # Integer points: many distances are exactly equal to a radius, where the strict '<' of the
    # definition decides and float32 screening alone would be unsure.
    rng = np.random.default_rng(7)
    real = rng.integers(0, 4, size=(300, 6)).astype(np.float32)
    fake = rng.integers(0, 4, size=(250, 6)).astype(np.float32)
    ours = compute_prdc(real, fake, k=5)
    expected = reference(real, fake, 5)
    for key in KEYS:
        assert ours[key] == pytest.approx(expected[key], abs=1e-6), key


def test_radii_are_the_reference_kth_neighbour_distances():
    points = gaussian(800, seed=8)
    ours = kth_neighbour_radii(_Points.of(points, centre=None), k=5)
    expected = prdc_reference.compute_nearest_neighbour_distances(points, nearest_k=5)
    np.testing.assert_array_equal(ours, expected.astype(np.float32))


def test_chunking_does_not_change_the_result():
    real, fake = gaussian(300, d=24, seed=9), gaussian(200, d=24, seed=10, shift=0.1)
    whole = compute_prdc(real, fake, k=5)
    assert compute_prdc(real, fake, k=5, chunk_elements=1000) == whole  # 3-5 rows per chunk
    assert compute_prdc(real, fake, k=5, chunk_elements=1000, workers=3) == whole  # chunks on 3 threads
    assert compute_prdc(real, fake, k=5, chunk_elements=1) == whole  # one row per chunk


def test_identical_sets_give_full_precision_recall_and_coverage():
    points = gaussian(500, seed=11)
    values = compute_prdc(points, points.copy(), k=5)
    assert values["precision"] == values["recall"] == values["coverage"] == 1.0
    # Each point is in its own ball and in those of the real points it is among the 5 nearest of.
    assert values["density"] == pytest.approx(reference(points, points, 5)["density"], abs=1e-6)


def test_a_ball_of_radius_zero_holds_nothing():
    # Six copies of the origin: each one's 5th neighbour is another copy, so its radius is 0 and,
    # by the strict '<', not even an identical fake point lies inside it.
    real = np.array([[0.0]] * 6 + [[10.0], [11.0], [12.0], [13.0], [14.0], [15.0]], dtype=np.float32)
    fake = np.array([[0.0]] * 6 + [[12.5]] * 6, dtype=np.float32)
    radii = kth_neighbour_radii(_Points.of(real, centre=None), k=5)
    np.testing.assert_array_equal(radii, [0, 0, 0, 0, 0, 0, 5, 4, 3, 3, 4, 5])
    values = compute_prdc(real, fake, k=5)
    assert values["precision"] == 0.5  # only the six at 12.5 lie in a ball (in those of 10 to 15)
    assert values["density"] == pytest.approx(6 * 6 / (5 * 12))
    expected = reference(real, fake, 5)
    for key in KEYS:
        assert values[key] == pytest.approx(expected[key], abs=1e-6), key


def test_disjoint_sets_score_zero():
    real = gaussian(200, d=8, seed=12)
    fake = gaussian(200, d=8, seed=13, shift=100.0)
    assert compute_prdc(real, fake, k=5) == {key: 0.0 for key in KEYS}


def test_bad_inputs_are_rejected_with_a_reason():
    with pytest.raises(ValueError, match="more than k"):
        compute_prdc(gaussian(5, d=4), gaussian(50, d=4), k=5)
    with pytest.raises(ValueError, match="differ in size"):
        compute_prdc(gaussian(50, d=4), gaussian(50, d=5), k=5)
    with pytest.raises(ValueError, match="2-D"):
        compute_prdc(np.zeros(50), gaussian(50, d=4), k=5)
