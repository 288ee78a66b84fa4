"""Loop detector scoring throughput: packed rolls -> loop scores (issue 4 goal: >= 1,000,000
phrases per minute on one CPU core, i.e. the paper's 5.7M phrases in under 6 minutes).

Prints the time split between the bar correlation (on packed bytes) and the network, and, side by
side, the reference way of computing the same correlation: unpack to booleans and compare bars.
With a CUDA device present it also prints the CUDA figure.

    .venv/bin/python benchmarks/bench_detector.py [--phrases 200000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from loopgen.detector import SCORE_BATCH, correlation_scores, loop_scores
from loopgen.models.loop_detector import LoopDetector, LoopDetectorConfig
from loopgen.roll import BAR_PAIRS, N_BARS, PACKED_BYTES, bar_correlation, unpack_rolls

GOAL_PER_MIN = 1_000_000


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def reference_correlation(packed: np.ndarray) -> np.ndarray:
    """The direct definition on unpacked rolls: what bar_correlation replaces."""
    out = []
    for start in range(0, len(packed), SCORE_BATCH):
        bars = unpack_rolls(packed[start : start + SCORE_BATCH]).reshape(-1, N_BARS, 16 * 57)
        h = np.stack([(bars[:, i] != bars[:, j]).sum(axis=1) for i, j in BAR_PAIRS], axis=1)
        out.append((1 - h / (h.max(axis=1, keepdims=True) + 1e-5)).astype(np.float32))
    return np.concatenate(out)


def per_minute(n: int, seconds: float) -> str:
    return f"{n / seconds * 60:>14,.0f} phrases/min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)

    rng = np.random.default_rng(0)
    # Random bytes score like any rolls: the work does not depend on the content.
    packed = rng.integers(0, 256, (args.phrases, PACKED_BYTES), dtype=np.uint8)
    model = LoopDetector(LoopDetectorConfig()).eval()
    model.centre.copy_(torch.randn(7))
    n = len(packed)

    corr = bar_correlation(packed)
    assert np.allclose(reference_correlation(packed[:1000]), corr[:1000], atol=1e-6)
    t_corr = best_of(
        args.repeats, lambda: [bar_correlation(packed[s : s + SCORE_BATCH]) for s in range(0, n, SCORE_BATCH)]
    )
    t_net = best_of(
        args.repeats, lambda: [correlation_scores(model, corr[s : s + SCORE_BATCH]) for s in range(0, n, SCORE_BATCH)]
    )
    t_total = best_of(args.repeats, lambda: loop_scores(model, packed))
    t_ref = best_of(1, lambda: reference_correlation(packed))

    print(f"loop detector scoring, {n:,} phrases, one CPU thread (torch.set_num_threads(1))")
    print(
        f"  bar correlation on packed bytes   {t_corr:7.3f} s  {per_minute(n, t_corr)}  ({t_corr / (t_corr + t_net):.0%} of the work)"
    )
    print(
        f"  network (28-14-14-7 + distance)   {t_net:7.3f} s  {per_minute(n, t_net)}  ({t_net / (t_corr + t_net):.0%} of the work)"
    )
    print(f"  loop_scores, packed -> scores     {t_total:7.3f} s  {per_minute(n, t_total)}")
    print(
        f"  reference: unpack + compare bars  {t_ref:7.3f} s  {per_minute(n, t_ref)}  "
        f"(bar_correlation is {t_ref / t_corr:.1f}x faster)"
    )
    verdict = "meets" if n / t_total * 60 >= GOAL_PER_MIN else "MISSES"
    print(
        f"  goal {GOAL_PER_MIN:,} phrases/min: {verdict} it ({n / t_total * 60 / GOAL_PER_MIN:.1f}x); "
        f"paper's 5,687,274 phrases in {5_687_274 / n * t_total / 60:.1f} min"
    )

    if torch.cuda.is_available():
        cuda_model = model.to("cuda")
        loop_scores(cuda_model, packed[:SCORE_BATCH])  # warm-up
        torch.cuda.synchronize()
        t_cuda = best_of(args.repeats, lambda: loop_scores(cuda_model, packed))
        print(f"  CUDA ({torch.cuda.get_device_name()}), correlation on CPU: {t_cuda:7.3f} s  {per_minute(n, t_cuda)}")
    else:
        print("  CUDA: no device here")


if __name__ == "__main__":
    main()
