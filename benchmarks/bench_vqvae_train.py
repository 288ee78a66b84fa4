"""VQ-VAE training throughput (samples/s) of the paper's model, on CPU and on CUDA when present.

The training loop keeps the loop set packed (912 bytes a loop) and unpacks one batch at a time
(loopgen.sampling.unpack_batch). Side by side, the reference: the whole set unpacked to float32
up front (what the released code did, 22 GB for the paper's 752k loops), batches sliced from it.
The ratio shows what the packed pipeline costs per step.

On a shared machine the CPU figure is also given per CPU second of this process (= one dedicated
core when --threads 1); the load average is printed.

    .venv/bin/python benchmarks/bench_vqvae_train.py [--steps 6] [--batch 256] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from loopgen.models.vqvae import VQVAE, VQVAEConfig
from loopgen.roll import PACKED_BYTES
from loopgen.sampling import unpack_batch


def random_packed(n: int, density: float = 0.04, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.packbits(rng.random((n, PACKED_BYTES * 8)) < density, axis=1)


def samples_per_second(device, packed: np.ndarray, batch: int, steps: int, prepacked: bool) -> tuple[float, float]:
    """Train steps of the paper's VQ-VAE (AdamW); the first step is a warm-up and not timed."""
    torch.manual_seed(0)
    model = VQVAE(VQVAEConfig()).to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    if prepacked:
        data = torch.from_numpy(packed).to(device)
        get = lambda index: unpack_batch(data[index])
    else:  # reference: everything unpacked to float up front
        data = unpack_batch(torch.from_numpy(packed)).to(device)
        get = lambda index: data[index]
    generator = torch.Generator().manual_seed(0)
    started = cpu_started = None
    for step in range(steps + 1):
        if step == 1:
            _sync(device)
            started, cpu_started = time.perf_counter(), time.process_time()
        index = torch.randint(len(packed), (batch,), generator=generator).to(device)
        loss, _ = model.loss(get(index))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    _sync(device)
    return steps * batch / (time.perf_counter() - started), steps * batch / (time.process_time() - cpu_started)


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def report(label: str, device, packed, batch: int, steps: int) -> None:
    (ours, ours_cpu), (reference, reference_cpu) = (
        samples_per_second(device, packed, batch, steps, prepacked) for prepacked in (True, False)
    )
    cpu = device.type == "cpu"
    print(
        f"{label:<28} packed batches {ours:>9,.0f} samples/s"
        + (f" ({ours_cpu:,.0f} per CPU second)" if cpu else "")
        + f"   unpacked-up-front reference {reference:>9,.0f} samples/s"
        + (f" ({reference_cpu:,.0f} per CPU second)" if cpu else "")
        + f"   ratio {(ours_cpu / reference_cpu) if cpu else (ours / reference):.2f}"
    )
    epoch_600k = 600_000 / (ours_cpu if cpu else ours)
    print(
        f"{'':<28} paper-scale epoch (600k training loops): {epoch_600k / 60:,.1f} min; "
        f"500 epochs: {500 * epoch_600k / 3600:,.1f} h"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cuda-batch", type=int, default=2048)
    parser.add_argument("--cuda-steps", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"VQ-VAE ({sum(p.numel() for p in VQVAE(VQVAEConfig()).parameters()):,} weights), "
        f"batch {args.batch}, {args.steps} timed steps"
    )
    packed = random_packed(4 * args.batch)
    report(f"CPU, {args.threads} thread(s)", torch.device("cpu"), packed, args.batch, args.steps)
    if torch.cuda.is_available():
        packed = random_packed(8 * args.cuda_batch)
        report(
            f"CUDA ({torch.cuda.get_device_name()}), batch {args.cuda_batch}",
            torch.device("cuda"),
            packed,
            args.cuda_batch,
            args.cuda_steps,
        )
    else:
        print("CUDA: no device present")


if __name__ == "__main__":
    main()
