"""The symbolic paper's three baselines (S appendix A; SPEC section 3): CNN-VAE, MuseGAN and
Music Transformer, trained on the same loops and split as our VQ-VAE (the VQ-VAE's training songs)
and sampled into the same SAMPLE_SCHEMA sets as the VQ-VAE + LSTM.

One module per baseline (loopgen.baselines.<name>) with the same three entry points:
    train(loops, section, split, seed, checkpoint_dir, device, run_key) -> TrainedBaseline
    Sampler.load(model_dir, device)            a trained model ready to draw loops
    Sampler.draw(n, generator) -> (n, 912)     packed rolls
and here, for every caller (workflow scripts, `loopgen generate`, benchmarks):
    sample_rolls(name, model_dir, n, seed)     n loops of a trained baseline as packed rolls
    BaselineSampler                            the same, drawn batch by batch (the rejection sampler's interface)

This file imports no torch, so the Snakefile can read the names below cheaply.
"""

from __future__ import annotations

import importlib

import numpy as np

BASELINES = ("cnn_vae", "musegan", "music_transformer")
# The name of each baseline's sampling scheme: the `mode` of its rows in the evaluation tables.
SAMPLING_MODE = {"cnn_vae": "threshold", "musegan": "threshold", "music_transformer": "bernoulli"}
# Names in the paper's tables.
PAPER_NAME = {"cnn_vae": "CNN-VAE", "musegan": "MuseGAN", "music_transformer": "Music Transformer"}


def module(name: str):
    """loopgen.baselines.<name>, with a one-line error for an unknown name."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    return importlib.import_module(f"loopgen.baselines.{name}")


class BaselineSampler:
    """A trained baseline with a seeded generator, drawing `batch_size` loops at a time.
    `draw(n, mode)` ignores mode: it has the interface loopgen.symbolic.rejection_sample expects."""

    def __init__(self, name: str, model_dir, seed: int, device="cpu", batch_size: int = 512):
        import torch

        device = torch.device(device)
        self.name, self.batch_size = name, batch_size
        self.sampler = module(name).Sampler.load(model_dir, device)
        self.rng = torch.Generator(device).manual_seed(seed)

    def draw(self, n: int, mode=None) -> np.ndarray:
        from loopgen.roll import PACKED_BYTES

        parts = [self.sampler.draw(min(self.batch_size, n - start), self.rng) for start in range(0, n, self.batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, PACKED_BYTES), np.uint8)


def sample_rolls(name: str, model_dir, n: int, seed: int, device="cpu", batch_size: int = 512) -> np.ndarray:
    """n loops of the trained baseline `name` in model_dir, as packed rolls (n, 912) uint8.
    The same seed (on the same device) gives the same loops."""
    return BaselineSampler(name, model_dir, seed, device, batch_size).draw(n)
