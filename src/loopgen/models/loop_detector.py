"""One-Class Deep SVDD loop detector (SPEC section 2; S section 3.2.2).

An autoencoder on the 28 upper-triangle values of a bar-to-bar correlation matrix. Every layer is
bias-free with LeakyReLU(0.1): with no bias the encoder cannot map every input to the centre by a
constant (the "hypersphere collapse" of Deep SVDD), and it maps 0 to 0.

The centre and the threshold are buffers, so the state dict alone scores phrases; training
(loopgen.detector) fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LoopDetectorConfig:
    n_inputs: int = 28  # upper triangle of the 8 x 8 bar correlation matrix
    hidden: int = 14
    n_latent: int = 7
    negative_slope: float = 0.1  # LeakyReLU


def _mlp(sizes: list[int], negative_slope: float) -> nn.Sequential:
    """Bias-free linear layers with LeakyReLU between them (none after the last one)."""
    layers: list[nn.Module] = []
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        if k:
            layers.append(nn.LeakyReLU(negative_slope))
        layers.append(nn.Linear(n_in, n_out, bias=False))
    return nn.Sequential(*layers)


class LoopDetector(nn.Module):
    def __init__(self, config: LoopDetectorConfig):
        super().__init__()
        self.config = config
        c = config
        self.encoder = _mlp([c.n_inputs, c.hidden, c.hidden, c.n_latent], c.negative_slope)
        self.decoder = _mlp([c.n_latent, c.hidden, c.hidden, c.n_inputs], c.negative_slope)
        self.register_buffer("centre", torch.zeros(c.n_latent))
        # Scores strictly below the threshold are loops; +inf until training sets it.
        self.register_buffer("threshold", torch.tensor(float("inf")))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The autoencoder used for pretraining."""
        return self.decoder(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Loop score: mean over the latent dims of (f(x) - c)^2; lower = more loop-like."""
        return (self.encoder(x) - self.centre).pow(2).mean(dim=-1)
