"""Speed of LoopNet (issue 6): synthesis latency per 1-bar loop and training throughput.

Synthesis "from features to waveform": frame-rate controls + 33 global features -> interpolation
to the sample rate -> Wave-U-Net (paper size: 32 filters, 10 layers) -> 29,538 samples, on one
CPU core (torch.set_num_threads(1)), batch 1 and batch 16, printed beside the paper's ~0.5 s per
loop on a CPU (L section 7) and the goal of <= 50 ms (judged on CPU time: on a shared machine the
wall time also counts other jobs' turns). Reference run side by side: the literal
network that convolves the 33 broadcast global channels (forward_stacked) instead of folding them
into matmuls. The STFT variant adds Griffin-Lim. Where CUDA is present: loops/s there too.
Training throughput (segments/s, MULTI loss, batch 16) on one CPU core, on all cores, and CUDA.
"before" rows: the first implementation's network (no normalisation, issue 10's "before"), beside
today's (BatchNorm after every conv, zero head, DC block).

    .venv/bin/python benchmarks/bench_loopnet.py [--repeats 5]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from loopgen import loopnet
from loopgen.models.wave_unet import WaveUNet

PAPER_S_PER_LOOP = 0.5
GOAL_S_PER_LOOP = 0.050
FRAMES = 1 + loopnet.N_SAMPLES // loopnet.FEATURE_HOP


def controls(batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((batch, 4, FRAMES), dtype=np.float32), rng.random((batch, 33), dtype=np.float32)


def model_of(variant: str, device, norm: str = "batch") -> loopnet.LoopNet:
    config, _ = loopnet.variant_setup(variant, {"norm": norm})
    torch.manual_seed(0)
    return loopnet.LoopNet(WaveUNet(config).to(device).eval(), {"variant": variant, "feature_stats": {}}, device)


def seconds_per_loop(run, batch: int, repeats: int, clock=time.perf_counter) -> float:
    """Median seconds per loop over `repeats` runs of `run` (one batch), after one warm-up run."""
    run()  # warm-up (allocations, oneDNN primitives)
    times = []
    for _ in range(repeats):
        start = clock()
        run()
        times.append(clock() - start)
    return statistics.median(times) / batch


def wall_and_cpu(run, batch: int, repeats: int) -> tuple[float, float]:
    """Wall-clock and process CPU seconds per loop. On a shared machine other jobs stretch the wall
    time; with one thread the CPU time is what the one core spent on our work."""
    return seconds_per_loop(run, batch, repeats), seconds_per_loop(run, batch, repeats, time.process_time)


def literal_synthesis(synth: loopnet.LoopNet, frames, global_scaled):
    """The reference: broadcast the globals to 33 channels of 29,538 samples and convolve them."""
    with torch.inference_mode():
        f, g = torch.from_numpy(frames), torch.from_numpy(global_scaled)
        time_varying, g = loopnet.network_inputs(f, g, synth.config.use_envelope)
        return synth.model.forward_stacked(synth.model.stack_inputs(time_varying, g)).numpy()


def synthesis_table(repeats: int) -> None:
    torch.set_num_threads(1)
    synth = model_of("MULTI", "cpu")
    print("Synthesis latency per 1-bar loop, features -> waveform, one CPU core (torch.set_num_threads(1));")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall time (CPU time of this process)")
    print(
        f"{'variant':<12}{'batch':>6}{'ours ms':>16}{'reference ms':>18}{'ref/ours':>10}{'paper ms':>10}{'paper/ours':>12}{'goal <=50 ms':>14}"
    )
    rows = [
        ("MULTI", synth, True),
        ("MULTI before", model_of("MULTI", "cpu", "none"), False),
        ("STFT+GL100", model_of("STFT", "cpu"), False),
    ]
    for name, model, with_reference in rows:
        for batch in (1, 16):
            frames, global_scaled = controls(batch)
            wall, cpu = wall_and_cpu(lambda: model.synthesize(frames, global_scaled, batch_size=batch), batch, repeats)
            reference = ""
            ratio = ""
            if with_reference:
                ref_wall, ref_cpu = wall_and_cpu(
                    lambda: literal_synthesis(model, frames, global_scaled), batch, repeats
                )
                reference, ratio = f"{ref_wall * 1e3:.1f} ({ref_cpu * 1e3:.1f})", f"{ref_cpu / cpu:.2f}"
            print(
                f"{name:<12}{batch:>6}{f'{wall * 1e3:.1f} ({cpu * 1e3:.1f})':>16}{reference:>18}{ratio:>10}"
                f"{PAPER_S_PER_LOOP * 1e3:>10.0f}{PAPER_S_PER_LOOP / cpu:>12.1f}{'met' if cpu <= GOAL_S_PER_LOOP else 'MISSED':>14}"
            )
    if torch.cuda.is_available():
        gpu = model_of("MULTI", torch.device("cuda"))
        frames, global_scaled = controls(64)

        def run():
            gpu.synthesize(frames, global_scaled, batch_size=64)
            torch.cuda.synchronize()

        print(
            f"CUDA ({torch.cuda.get_device_name()}): {1 / seconds_per_loop(run, 64, repeats):.0f} loops/s (MULTI, batch 64)"
        )
    else:
        print("CUDA: not available on this machine")


def training_throughput(device, threads: int | None, steps: int, norm: str = "batch") -> float:
    if threads:
        torch.set_num_threads(threads)
    config, spec = loopnet.variant_setup("MULTI", {"norm": norm})
    torch.manual_seed(0)
    model = WaveUNet(config).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    frames, global_scaled = (torch.from_numpy(a).to(device) for a in controls(16))
    target = (torch.randn(16, loopnet.N_SAMPLES, device=device) * 0.1).clamp(-1, 1)

    def step():
        time_varying, g = loopnet.network_inputs(frames, global_scaled, True)
        loss = loopnet.variant_loss(model(time_varying, g), target, spec)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return 1 / seconds_per_loop(step, 16, steps)


def training_table(steps: int) -> None:
    print("\nTraining throughput (MULTI loss, batch 16, paper-size model), segments/s")
    cpu = torch.device("cpu")
    print(f"  CPU, 1 thread : {training_throughput(cpu, 1, steps):6.1f}   (load average {os.getloadavg()[0]:.1f})")
    print(f"  CPU, 1 thread, before (no normalisation): {training_throughput(cpu, 1, steps, 'none'):6.1f}")
    all_threads = len(os.sched_getaffinity(0))
    print(f"  CPU, {all_threads} threads: {training_throughput(cpu, all_threads, steps):6.1f}")
    if torch.cuda.is_available():
        print(f"  CUDA          : {training_throughput(torch.device('cuda'), None, steps * 4):6.1f}")
    else:
        print("  CUDA          : not available on this machine")
    print("  (paper scale: ~44,000 train segments per epoch)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    synthesis_table(args.repeats)
    training_table(max(2, args.repeats // 2))


if __name__ == "__main__":
    main()
