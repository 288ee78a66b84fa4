"""Training and sampling throughput of the three baselines beside ours (issue 12), on one CPU core.

Training: loops per second through one optimiser step (forward + backward) at the given batch
size, for the paper-size networks and for the demo config's smaller ones; MuseGAN's figure counts
the loops its generator produces per generator step (each step also runs n_critic critic steps on
as many real and fake loops, with the gradient penalty). Ours: the VQ-VAE (one step) and the LSTM
prior (one step on 32-code sequences).
Sampling: loops per second from noise (or a first frame) to packed rolls, through the same
entry point the workflow uses (loopgen.baselines.BaselineSampler); ours: LSTM codes (top-k 30)
+ VQ-VAE decoding (loopgen.sampling). Weights are random: the work does not depend on them.
Per-CPU-second figures are the rate of one dedicated core (the machine may be shared).

    .venv/bin/python benchmarks/bench_baselines.py [--batch 64] [--loops 512]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
import torch.nn.functional as F

from loopgen.baselines import BaselineSampler
from loopgen.baselines.musegan import gradient_penalty
from loopgen.models.cnn_vae import CNNVAE, CNNVAEConfig
from loopgen.models.lstm_prior import LSTMPrior, PriorConfig
from loopgen.models.musegan import MuseGAN, MuseGANConfig
from loopgen.models.music_transformer import MusicTransformer, MusicTransformerConfig
from loopgen.models.vqvae import VQVAE, VQVAEConfig
from loopgen.sampling import SamplingMode, decode_codes, sample_codes
from loopgen.training import save_model

PAPER = {"cnn_vae": CNNVAEConfig(), "musegan": MuseGANConfig(), "music_transformer": MusicTransformerConfig()}
DEMO = {
    "cnn_vae": CNNVAEConfig(channels=32),
    "musegan": MuseGANConfig(g_channels=32, d_channels=32),
    "music_transformer": MusicTransformerConfig(n_layers=2, d_model=64, d_ff=64),
}
MODEL_CLASS = {"cnn_vae": CNNVAE, "musegan": MuseGAN, "music_transformer": MusicTransformer}


def per_cpu_second(n: int, fn, repeats: int = 2) -> tuple[float, float]:
    fn()  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    return n * repeats / (time.perf_counter() - wall), n * repeats / (time.process_time() - cpu)


def train_step_fn(name: str, model, batch: int):
    x = (torch.rand(batch, 57, 128) < 0.04).float()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    if name == "cnn_vae":
        loss_fn = lambda: model.loss(x, 1.0)[0]
    elif name == "music_transformer":
        loss_fn = lambda: F.binary_cross_entropy_with_logits(*model.teacher_forcing(x.transpose(1, 2)))
    elif name == "vqvae":
        loss_fn = lambda: model.loss(x)[0]
    elif name == "lstm_prior":
        codes = torch.randint(model.config.codebook_size, (batch, model.config.seq_len))
        loss_fn = lambda: F.cross_entropy(*(t.reshape(-1, *t.shape[2:]) for t in model.teacher_forcing(codes)))
    else:
        return gan_step_fn(model, x.transpose(1, 2) * 2 - 1)

    def step():
        optimiser.zero_grad()
        loss_fn().backward()
        optimiser.step()

    return step


def gan_step_fn(model: MuseGAN, real: torch.Tensor, n_critic: int = 5):
    opts = [torch.optim.Adam(m.parameters(), lr=1e-4) for m in [*model.generators, *model.critics]]

    def step():
        for _ in range(n_critic):
            fake = model.generate(model.noise(len(real))).detach()
            for critic, cols in zip(model.critics, model.track_slices):
                loss = (
                    critic(fake[:, :, cols]).mean()
                    - critic(real[:, :, cols]).mean()
                    + 10 * gradient_penalty(critic, real[:, :, cols], fake[:, :, cols])
                )
                loss.backward()
        fake = model.generate(model.noise(len(real)))
        sum(-c(fake[:, :, cols]).mean() for c, cols in zip(model.critics, model.track_slices)).backward()
        for opt in opts:
            opt.step()
            opt.zero_grad()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--loops", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(
        f"one CPU thread; load average {os.getloadavg()[0]:.1f}; training batch {args.batch}, sampling {args.loops} loops"
    )
    print("| model | size | training loops/s (per CPU s) | sampling loops/s (per CPU s) |")
    print("| --- | --- | --- | --- |")
    for size, configs in (("paper", PAPER), ("demo", DEMO)):
        for name, config in configs.items():
            model = MODEL_CLASS[name](config)
            train = per_cpu_second(args.batch, train_step_fn(name, model, args.batch), repeats=1)
            with tempfile.TemporaryDirectory() as folder:
                extras = {"first_frames": [[0]], "first_frame_counts": [1]} if name == "music_transformer" else {}
                save_model(folder, model.eval(), config, extras)
                sampler = BaselineSampler(name, folder, seed=0, batch_size=512)
                sample = per_cpu_second(args.loops, lambda: sampler.draw(args.loops), repeats=1)
            n_params = sum(p.numel() for p in model.parameters())
            print(f"| {name} | {size} ({n_params:,} weights) | {train[1]:,.0f} | {sample[1]:,.0f} |")
        vq_config = VQVAEConfig() if size == "paper" else VQVAEConfig(channels=32)
        prior_config = PriorConfig() if size == "paper" else PriorConfig(hidden=256, n_layers=2)
        vqvae, prior = VQVAE(vq_config), LSTMPrior(prior_config)
        train_vq = per_cpu_second(args.batch, train_step_fn("vqvae", vqvae, args.batch), repeats=1)
        train_prior = per_cpu_second(args.batch, train_step_fn("lstm_prior", prior, args.batch), repeats=1)
        vqvae.eval(), prior.eval()
        first = torch.full((vq_config.codebook_size,), 1.0 / vq_config.codebook_size)
        rng = torch.Generator().manual_seed(0)
        ours = lambda: decode_codes(
            vqvae, sample_codes(prior, first, args.loops, SamplingMode(top_k=30), rng, 512), 512
        )
        sample = per_cpu_second(args.loops, ours, repeats=1)
        print(
            f"| VQ-VAE (+ LSTM prior) | {size} | {train_vq[1]:,.0f} (prior: {train_prior[1]:,.0f}) | {sample[1]:,.0f} |"
        )


if __name__ == "__main__":
    main()
