"""Precision/recall/density/coverage at the paper's size: ours against the `prdc` package.

Issue 5 goal: at 10,000 x 10,000 points of 128-d embeddings (S §4.3), our P/R/D/C is >= 5x
faster than the `prdc` package (0.2, the paper's choice) with lower peak memory and the same values.

Each run happens in a fresh subprocess (so one's memory cannot hide the other's), alternating
ours and the reference; a run reports its wall and CPU time (all threads) and its peak resident
memory (VmHWM, reset just before the computation), in total and above what the process held just
before. On a shared machine the CPU time is the steadier figure. The embeddings are
those the evaluation uses: a random, never trained CNN of SPEC §4 applied to synthetic loops
(--data gaussian for plain Gaussian points instead).

    .venv/bin/python benchmarks/bench_prdc.py [--n 10000] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

GOAL_SPEEDUP = 5.0
KEYS = ("precision", "recall", "density", "coverage")


def synthetic_packed_loops(n: int, seed: int, density: float) -> np.ndarray:
    """Loop-like packed rolls: one random bar repeated 8 times, a few cells flipped."""
    from loopgen.roll import ROLL_SHAPE, pack_rolls

    rng = np.random.default_rng(seed)
    bars = rng.random((n, 1, 16, ROLL_SHAPE[1])) < density
    rolls = np.tile(bars, (1, 8, 1, 1)).reshape(n, *ROLL_SHAPE)
    rolls ^= rng.random(rolls.shape) < 0.01
    return pack_rolls(rolls)


def make_embeddings(kind: str, n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    if kind == "gaussian":
        rng = np.random.default_rng(0)
        real = rng.standard_normal((n, dim)).astype(np.float32)
        return real, (rng.standard_normal((n, dim)) * 1.1 + 0.05).astype(np.float32)
    from loopgen.evaluation.embeddings import embed_rolls, random_embedding_net

    net = random_embedding_net(seed=0)
    real = embed_rolls(net, synthetic_packed_loops(n, seed=1, density=0.06))
    fake = embed_rolls(net, synthetic_packed_loops(n, seed=2, density=0.05))
    return real, fake


def worker(which: str, data_path: str, k: int, threads: int) -> None:
    """One measured run, in its own process; prints a JSON line."""
    data = np.load(data_path)
    real, fake = data["real"], data["fake"]
    if which == "ours":
        import torch

        from loopgen.evaluation.prdc import compute_prdc

        torch.set_num_threads(threads)
        run = lambda: compute_prdc(real, fake, k=k)
    else:
        from prdc import compute_prdc

        def run():
            with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
                return compute_prdc(real, fake, nearest_k=k)

    before = resident_mb("VmRSS")
    reset_peak_resident()
    start, start_cpu = time.perf_counter(), time.process_time()
    values = run()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    peak = resident_mb("VmHWM")
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "peak_mb": peak,
                "added_mb": peak - before,
                **{key: float(values[key]) for key in KEYS},
            }
        )
    )


def resident_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process in MB, from /proc (Linux). Unlike ru_maxrss,
    VmHWM belongs to this process image alone (ru_maxrss keeps the parent's peak across exec)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def reset_peak_resident() -> None:
    """Set VmHWM back to the current RSS, so the peak measured is that of the computation."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def measure(which: str, data_path: str, k: int, threads: int) -> dict:
    env = {
        **os.environ,
        **{var: str(threads) for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
    }
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            which,
            "--data-file",
            data_path,
            "--k",
            str(k),
            "--threads",
            str(threads),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="points in each set")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--data", choices=("cnn", "gaussian"), default="cnn")
    parser.add_argument("--worker", choices=("ours", "reference"), help=argparse.SUPPRESS)
    parser.add_argument("--data-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.data_file, args.k, args.threads)

    real, fake = make_embeddings(args.data, args.n, args.dim)
    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "embeddings.npz")
        np.savez(data_path, real=real, fake=fake)
        runs = {"ours": [], "reference": []}
        for _ in range(args.repeats):  # alternate, so a busy moment of the machine hits both
            for which in runs:
                runs[which].append(measure(which, data_path, args.k, args.threads))

    print(
        f"P/R/D/C, {args.n:,} real x {args.n:,} fake, {real.shape[1]}-d {args.data} embeddings, k = {args.k}, "
        f"{args.threads} thread(s), {os.cpu_count()} CPU(s); median of {args.repeats} runs, each in a fresh process"
    )
    header = f"{'':10s} {'wall':>8s} {'CPU':>8s} {'peak RSS':>9s} {'above start':>12s}"
    print(f"  {header}   " + "  ".join(f"{key:>9s}" for key in KEYS))
    for which, results in runs.items():
        time_s, cpu_s, peak, added = (
            median(results, field) for field in ("seconds", "cpu_seconds", "peak_mb", "added_mb")
        )
        values = "  ".join(f"{results[0][key]:9.5f}" for key in KEYS)
        print(f"  {which:10s} {time_s:7.2f}s {cpu_s:7.2f}s {peak:7.0f}MB {added:10.0f}MB   {values}")
    ours, ref = runs["ours"], runs["reference"]
    speedup = median(ref, "seconds") / median(ours, "seconds")
    cpu_ratio = median(ref, "cpu_seconds") / median(ours, "cpu_seconds")
    peak_ratio = median(ref, "peak_mb") / median(ours, "peak_mb")
    added_ratio = median(ref, "added_mb") / max(median(ours, "added_mb"), 1e-9)
    diff = max(abs(o[key] - r[key]) for o, r in zip(ours, ref, strict=True) for key in KEYS)
    verdict = "met" if speedup >= GOAL_SPEEDUP and peak_ratio > 1 and diff <= 1e-6 else "MISSED"
    print(
        f"  speed-up {speedup:.1f}x in wall time, {cpu_ratio:.1f}x less CPU time; peak memory {peak_ratio:.1f}x lower "
        f"({added_ratio:.1f}x lower above start); largest difference in any value {diff:.1e}"
    )
    print(f"  goal (>= {GOAL_SPEEDUP:.0f}x faster, less peak memory, same values within 1e-6): {verdict}")


def median(results: list[dict], field: str) -> float:
    return statistics.median(r[field] for r in results)


if __name__ == "__main__":
    main()
