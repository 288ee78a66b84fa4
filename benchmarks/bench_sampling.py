"""Sampling throughput of the paper's models (issue 5 goal: >= 500 loops/s from codes to decoded
rolls on one CPU core, with batching).

1. codes -> decoded rolls: VQ-VAE decoder, threshold at sigmoid 0.5, packed to 912 bytes
   (loopgen.sampling.decode_codes), at the workflow's batch size; side by side the same work one
   loop at a time (the reference without batching), and the ratio.
2. whole generation: first code + 31 LSTM steps (top-k 30, temperature 0.7) + decoding, for
   information: the 7.95M-weight LSTM costs ~0.5 GFLOP a loop, ten times the decoder.
With a CUDA device present the CUDA figures are printed too. Weights are random: the work does
not depend on them.

On a shared machine the wall clock undercounts what one core does, so each CPU figure is given
twice: per wall-clock second, and per CPU second of this (single-threaded) process = the rate of
one dedicated core. The goal is judged on the latter; the load average is printed.

    .venv/bin/python benchmarks/bench_sampling.py [--loops 4096] [--batch 1024]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from loopgen.models.lstm_prior import LSTMPrior, PriorConfig
from loopgen.models.vqvae import VQVAE, VQVAEConfig
from loopgen.sampling import CPU_DECODE_CHUNK, SamplingMode, decode_codes, sample_codes

GOAL = 500  # loops/s, codes -> rolls, one CPU core


class Rate:
    """Items per wall-clock second and per CPU second of this process."""

    def __init__(self, n: int, fn, device):
        fn()  # warm-up (allocations, cuDNN plans)
        _sync(device)
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        _sync(device)
        self.wall = n / (time.perf_counter() - wall)
        self.cpu = n / max(time.process_time() - cpu, 1e-9)
        self.device = device

    def __str__(self) -> str:
        if self.device.type == "cuda":
            return f"{self.wall:>9,.0f} loops/s"
        return f"{self.wall:>7,.0f} loops/s wall, {self.cpu:>7,.0f} per CPU second"


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(device, n_loops: int, batch: int, n_reference: int, n_generate: int) -> None:
    torch.manual_seed(0)
    vqvae = VQVAE(VQVAEConfig()).to(device).eval()
    prior = LSTMPrior(PriorConfig()).to(device).eval()
    codes = torch.randint(0, 512, (n_loops, 32), device=device)

    batched = Rate(n_loops, lambda: decode_codes(vqvae, codes, batch), device)
    one_by_one = Rate(n_reference, lambda: decode_codes(vqvae, codes[:n_reference], 1), device)
    chunk = batch if device.type == "cuda" else min(batch, CPU_DECODE_CHUNK)
    print(f"  codes -> rolls, batch {batch} (decoded in chunks of {chunk}): {batched}")
    print(
        f"  codes -> rolls, one at a time (reference): {one_by_one}   batching gains x{batched.cpu / one_by_one.cpu:.1f}"
    )
    if device.type == "cpu":
        print(f"  goal {GOAL} loops/s on one core: {'met' if batched.cpu >= GOAL else 'NOT met'} ({batched.cpu:,.0f})")

    first = torch.full((512,), 1 / 512, device=device)
    mode = SamplingMode(temperature=0.7, top_k=30)
    rng = torch.Generator(device).manual_seed(0)

    def generate():
        decode_codes(vqvae, sample_codes(prior, first, n_generate, mode, rng, batch), batch)

    whole = Rate(n_generate, generate, device)
    best = whole.wall if device.type == "cuda" else whole.cpu
    print(
        f"  whole generation (LSTM + decoder), batch {min(batch, n_generate)}: {whole}"
        f" -> the paper's 751,935 loops per mode in {751_935 / best / 60:,.1f} min"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--reference-loops", type=int, default=200)
    parser.add_argument("--generate", type=int, default=1024)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"CPU, one thread (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    bench(torch.device("cpu"), args.loops, args.batch, args.reference_loops, args.generate)
    if torch.cuda.is_available():
        print(f"CUDA ({torch.cuda.get_device_name()}):")
        bench(torch.device("cuda"), 16 * args.loops, 4096, args.reference_loops, 16 * args.generate)
    else:
        print("CUDA: no device present")


if __name__ == "__main__":
    main()
