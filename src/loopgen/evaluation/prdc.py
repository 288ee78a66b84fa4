"""Improved precision and recall (Kynkäänniemi et al., 2019) and density and coverage (Naeem et
al., 2020) with k nearest neighbours, as the symbolic paper computes them (S §4.3, SPEC §4).

The definitions are those of the reference `prdc` package (0.2), which the paper used. With r_i
the distance from real point i to its k-th nearest real neighbour (itself not counted) and r'_j the
same within the fake set:

    precision = share of fake j with d(i, j) < r_i for some real i
    recall    = share of real i with d(i, j) < r'_j for some fake j
    density   = (1 / k) * mean over fake j of #{real i : d(i, j) < r_i}
    coverage  = share of real i with min_j d(i, j) < r_i

The reference builds three full N x N float32 distance matrices (1.2 GB at the paper's 10,000
points) and an int64 argpartition of each. Here rows go through in chunks, in two steps:

1. Screen: squared distances from one float32 matrix product per chunk. Its rounding error has a
   proven bound, so every comparison lying farther from its threshold than the bound is already
   decided. Only pairs near or inside a ball survive the screen: about k per point.
2. Decide: the few comparisons inside the bound are recomputed exactly in float64 and rounded as
   the reference rounds them (float32 squared distance, float32 square root).

Every comparison therefore has the reference's outcome, so the four numbers are the reference's
numbers, while memory stays at one chunk of the distance matrix.

One exception by design: for two *identical* points the reference computes |x|^2 + |y|^2 - 2 x.y in
float64, which may leave rounding noise instead of 0, so where exact duplicates meet a radius of 0
its outcome is that noise; here their distance is exactly 0 (and 0 < 0 is false).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

# Unit roundoff of float32 (half its machine epsilon).
_U32 = float(np.finfo(np.float32).eps) / 2
# Relative margin around a threshold inside which the float32 rounding of the reference's distance
# could change the outcome (8 unit roundoffs suffice; this is about 17).
_REL_MARGIN = 1e-6
# Nearest neighbours screened beyond the k + 1 needed, for rows where the k-th one is in doubt.
_EXTRA_NEIGHBOURS = 10
# Elements of one chunk of the distance matrix: 8 MB of float32, cache-friendly (measured faster
# than 32 or 64 MB chunks).
_CHUNK_ELEMENTS = 2**21


def compute_prdc(
    real: np.ndarray, fake: np.ndarray, k: int = 5, workers: int | None = None, chunk_elements: int = _CHUNK_ELEMENTS
) -> dict[str, float]:
    """Precision, recall, density and coverage of `fake` against `real` ((N, d) and (M, d) arrays).

    Chunks are independent, so `workers` threads (default: torch's thread count) each take whole
    chunks with one torch thread apiece. Unlike threads inside each small matrix product, this
    keeps every core busy even on a loaded machine."""
    real, fake = _check_inputs(real, fake, k)
    real_points = _Points.of(real, centre=None)
    fake_points = _Points.of(fake, centre=real_points.centre)
    with _ieee_float32_matmul(), _ChunkPool(workers or torch.get_num_threads()) as pool:
        real_radii = kth_neighbour_radii(real_points, k, chunk_elements, pool)
        fake_radii = kth_neighbour_radii(fake_points, k, chunk_elements, pool)
        balls = _ball_membership(real_points, fake_points, real_radii, fake_radii, chunk_elements, pool)
    return {
        "precision": float(np.mean(balls.real_balls_per_fake > 0)),
        "recall": float(np.mean(balls.real_in_a_fake_ball)),
        "density": float(balls.real_balls_per_fake.sum() / (k * len(fake_points))),
        "coverage": float(np.mean(balls.real_ball_has_fake)),
    }


def _check_inputs(real, fake, k: int) -> tuple[np.ndarray, np.ndarray]:
    real, fake = np.asarray(real), np.asarray(fake)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    for name, points in (("real", real), ("fake", fake)):
        if points.ndim != 2:
            raise ValueError(f"{name} embeddings must be a 2-D array (points x features), got shape {points.shape}")
        if len(points) <= k:
            raise ValueError(f"{name} set has {len(points)} points; k = {k} needs more than k")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake embeddings differ in size: {real.shape[1]} vs {fake.shape[1]}")
    return real, fake


@dataclass
class _Points:
    """One embedding set in both forms: exact (float64) and screening (centred float32)."""

    exact: np.ndarray  # (n, d) float64: the caller's values as float32, upcast
    scaled: torch.Tensor  # (n, d) float32: -2 * (point - centre); the factor -2 is exact
    centred: torch.Tensor  # (n, d) float32: point - centre
    sq_norms: np.ndarray  # (n,) float32 squared norms of `centred`
    centre: np.ndarray  # (d,) float64

    @classmethod
    def of(cls, values, centre) -> _Points:
        # The reference works on float32 embeddings; so do we, whatever came in.
        exact = values.astype(np.float32).astype(np.float64)
        centre = exact.mean(axis=0) if centre is None else centre
        # Distances do not change under translation, but the float32 product loses less when the
        # points sit around the origin.
        centred = (exact - centre).astype(np.float32)
        sq_norms = np.square(centred).sum(axis=1, dtype=np.float32)
        return cls(exact, torch.from_numpy(-2 * centred), torch.from_numpy(centred), sq_norms, centre)

    def __len__(self) -> int:
        return len(self.exact)

    @property
    def dim(self) -> int:
        return self.exact.shape[1]

    def error_bound_factor(self) -> float:
        """tau with |screened - exact squared distance| <= tau * (|x|^2 + |y|^2) for centred x, y:
        (2d + 4) u from the float32 dot product, norms and sums, 4u from rounding the centred
        points, and 8u of slack for rounding the thresholds the screen compares against."""
        return (2 * self.dim + 16) * _U32


def kth_neighbour_radii(points: _Points, k: int, chunk_elements: int = _CHUNK_ELEMENTS, pool=None) -> np.ndarray:
    """Distance from each point to its k-th nearest neighbour in its own set (the point itself is
    its 0th), float32, exactly as the reference computes it."""
    n = len(points)
    values, neighbours = _screened_nearest(points, min(n, k + 1 + _EXTRA_NEIGHBOURS), chunk_elements, pool)
    bound = points.error_bound_factor() * (points.sq_norms + points.sq_norms.max())
    radii = np.empty(n, dtype=np.float32)
    # Usually the k-th neighbour is certain: surely farther than the k before it and surely nearer
    # than the next one. Then one exact distance gives the radius.
    kth_certain = _surely_below(values[:, k - 1], values[:, k], bound)
    if values.shape[1] > k + 1:
        kth_certain &= _surely_below(values[:, k], values[:, k + 1], bound)
    radii[kth_certain] = _reference_distances(points.exact[kth_certain], points.exact[neighbours[kth_certain, k]])
    # Otherwise the k + 1 nearest are among the candidates when the last candidate is surely
    # farther (or every point is a candidate): exact distances to all candidates decide.
    in_candidates = ~kth_certain & (_surely_below(values[:, k], values[:, -1], bound) | (values.shape[1] == n))
    exact = _reference_distances(points.exact[in_candidates, None], points.exact[neighbours[in_candidates]])
    radii[in_candidates] = np.sort(exact, axis=1)[:, k]
    for row in np.flatnonzero(~kth_certain & ~in_candidates):  # rare: many neighbours within the bound
        radii[row] = np.partition(_reference_distances(points.exact[row], points.exact), k)[k]
    return radii


def _screened_nearest(points: _Points, n_candidates: int, chunk_elements: int, pool) -> tuple[np.ndarray, np.ndarray]:
    """The `n_candidates` smallest screened squared distances of each point to its own set (itself
    included), ascending, as float64 values and point indices. (Computing only the blocks above the
    diagonal of this symmetric matrix saves products but costs more in top-k merges on CPU.)"""
    values = np.empty((len(points), n_candidates))
    neighbours = np.empty((len(points), n_candidates), dtype=np.int64)

    def nearest_of_chunk(rows: slice) -> None:
        # A row's own squared norm does not change the order within the row: added afterwards.
        screened = torch.from_numpy(_screened_sq_distances(points, rows, points, row_norms=False))
        chunk_values, chunk_neighbours = screened.topk(n_candidates, dim=1, largest=False, sorted=True)
        values[rows] = chunk_values.numpy() + points.sq_norms[rows, None].astype(np.float64)
        neighbours[rows] = chunk_neighbours.numpy()

    _map(pool, nearest_of_chunk, _row_chunks(len(points), len(points), chunk_elements))
    return values, neighbours


def _surely_below(smaller: np.ndarray, larger: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """Screened squared distances `smaller` < `larger` with exact values ordered the same way, with
    a margin that survives the reference's float32 rounding."""
    return larger - bound > (smaller + bound) * (1 + _REL_MARGIN)


@dataclass
class _BallMembership:
    real_balls_per_fake: np.ndarray  # (M,) int64: number of real k-NN balls holding fake j
    real_ball_has_fake: np.ndarray  # (N,) bool: real ball i holds some fake point
    real_in_a_fake_ball: np.ndarray  # (N,) bool: real i lies in some fake k-NN ball


def _ball_membership(
    real: _Points, fake: _Points, real_radii, fake_radii, chunk_elements, pool=None
) -> _BallMembership:
    """One pass over the real x fake distances, chunked by real rows, deciding for every pair both
    'fake j inside real ball i' and 'real i inside fake ball j'."""
    tau = real.error_bound_factor()
    real_sq_radii = real_radii.astype(np.float64) ** 2
    fake_sq_radii = fake_radii.astype(np.float64) ** 2
    # A pair whose screened distance reaches neither of these is surely outside both balls.
    real_reach = real_sq_radii * (1 + _REL_MARGIN) + tau * (real.sq_norms + fake.sq_norms.max())
    fake_reach = fake_sq_radii * (1 + _REL_MARGIN) + tau * (real.sq_norms.max() + fake.sq_norms)
    real_reach, fake_reach = real_reach.astype(np.float32), fake_reach.astype(np.float32)

    def pairs_of_chunk(rows: slice) -> tuple[np.ndarray, ...]:
        """The chunk's pairs inside a real ball and inside a fake ball, as (row, column) indices."""
        screened = _screened_sq_distances(real, rows, fake)
        near = (screened < real_reach[rows, None]) | (screened < fake_reach[None, :])
        flat = np.flatnonzero(near)
        pair_rows, pair_cols = np.divmod(flat, len(fake))
        pair_rows += rows.start
        pair_sq = screened.ravel()[flat].astype(np.float64)
        pair_bound = tau * (real.sq_norms[pair_rows] + fake.sq_norms[pair_cols])

        def exact_distances(selected: np.ndarray) -> np.ndarray:
            return _reference_distances(real.exact[pair_rows[selected]], fake.exact[pair_cols[selected]])

        in_real_ball = _decide(pair_sq, pair_bound, real_radii[pair_rows], exact_distances)
        in_fake_ball = _decide(pair_sq, pair_bound, fake_radii[pair_cols], exact_distances)
        return pair_rows[in_real_ball], pair_cols[in_real_ball], pair_rows[in_fake_ball]

    membership = _BallMembership(
        np.zeros(len(fake), dtype=np.int64), np.zeros(len(real), dtype=bool), np.zeros(len(real), dtype=bool)
    )
    chunks = _row_chunks(len(real), len(fake), chunk_elements)
    for real_ball_rows, real_ball_cols, fake_ball_rows in _map(pool, pairs_of_chunk, chunks):
        membership.real_balls_per_fake += np.bincount(real_ball_cols, minlength=len(fake))
        membership.real_ball_has_fake[real_ball_rows] = True
        membership.real_in_a_fake_ball[fake_ball_rows] = True
    return membership


def _decide(pair_sq, pair_bound, radius, exact_distances) -> np.ndarray:
    """d(i, j) < radius for each screened pair: settled by the screen where it is farther from the
    threshold than its error bound, recomputed exactly (exact_distances(mask)) otherwise."""
    sq_radius = radius.astype(np.float64) ** 2
    margin = pair_bound + _REL_MARGIN * sq_radius
    inside = pair_sq < sq_radius - margin
    unsure = ~inside & (pair_sq < sq_radius + margin)
    inside[unsure] = exact_distances(unsure) < radius[unsure]
    return inside


def _screened_sq_distances(left: _Points, rows: slice, right: _Points, row_norms: bool = True) -> np.ndarray:
    """|x|^2 + |y|^2 - 2 x.y in float32 for left[rows] x right: fast, and wrong by at most
    tau * (|x|^2 + |y|^2) (see _Points.error_bound_factor). A fresh (rows, len(right)) array."""
    sq = torch.mm(left.scaled[rows], right.centred.T).numpy()
    sq += right.sq_norms[None, :]
    if row_norms:
        sq += left.sq_norms[rows, None]
    return sq


def _reference_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances of broadcast float64 point arrays, rounded as the reference rounds them
    (sklearn: squared distance in float64, stored as float32; numpy float32 square root)."""
    return np.sqrt(np.square(a - b).sum(axis=-1).astype(np.float32))


def _row_chunks(n_rows: int, n_cols: int, chunk_elements: int):
    step = max(1, chunk_elements // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _map(pool: ThreadPoolExecutor | None, fn, items) -> list:
    return list(pool.map(fn, items)) if pool is not None else [fn(item) for item in items]


class _ChunkPool:
    """A pool of `workers` threads for whole chunks, torch kept to one thread meanwhile: a chunk's
    product is small, and threads inside it mostly wait for each other (measured on 2 cores: 2.5x
    slower with 2 torch threads than with 1)."""

    def __init__(self, workers: int):
        self.workers = workers

    def __enter__(self) -> ThreadPoolExecutor | None:
        self.saved_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        self.pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        return self.pool

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown()
        torch.set_num_threads(self.saved_threads)


class _ieee_float32_matmul:
    """The error bound assumes IEEE float32 products: no reduced-precision shortcuts meanwhile."""

    def __enter__(self):
        self.saved = torch.get_float32_matmul_precision()
        torch.set_float32_matmul_precision("highest")

    def __exit__(self, *exc):
        torch.set_float32_matmul_precision(self.saved)
