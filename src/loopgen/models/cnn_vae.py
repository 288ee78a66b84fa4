"""CNN-VAE baseline (S appendix A.1; the released `CNN_VAE` of sjhan91/Loop_VQVAE_Official).

The VQ-VAE's conv encoder and decoder (loopgen.models.vqvae: CNNBlock, ResBlock) around a 1-D
Gaussian latent of 512 dimensions instead of the codebook:

    encoder  CNNBlock 57->C (k3) -> 2 x [CNNBlock C->C k3 stride 2 -> ResBlock] -> flatten (C*32)
             -> mu = Linear(C*32 -> 512), std = Softplus(Linear(C*32 -> 512))   (no floor, as released)
    decoder  Linear(512 -> C*32) -> LeakyReLU -> (C, 32) -> 2 x [nearest x2 -> CNNBlock -> ResBlock]
             -> Conv1d(C -> 57, **k7**, p3) -> logits      (the released head is kernel 7, not 3)

Loss (released `vae_loss`): (BCE_sum + beta * KL_sum) / (B * 57 * 128), beta = 1 - 0.9^epoch.
With C = 128 the model has 6,962,745 parameters (tests pin it). Sampling: z ~ N(0, I), a cell is on
when sigmoid(logit) >= 0.5. The model returns logits (BCE-with-logits is the numerically safe form of
the released sigmoid + BCE).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from loopgen.models.vqvae import CNNBlock, ResBlock


@dataclass
class CNNVAEConfig:
    n_cols: int = 57  # roll columns = input channels
    n_steps: int = 128  # roll time steps
    channels: int = 128  # C (the VQ-VAE notebook's width; the appendix: "same as the VQ-VAE")
    latent_dim: int = 512
    n_down: int = 2  # stride-2 stages: 128 -> 32 steps
    head_kernel: int = 7  # the released decoder's last Conv1d
    negative_slope: float = 0.2  # LeakyReLU

    @property
    def n_latent_steps(self) -> int:
        return self.n_steps // 2**self.n_down


class CNNVAE(nn.Module):
    def __init__(self, config: CNNVAEConfig):
        super().__init__()
        self.config = config
        c, slope = config, config.negative_slope
        flat = c.channels * c.n_latent_steps
        encoder: list[nn.Module] = [CNNBlock(c.n_cols, c.channels, slope)]
        for _ in range(c.n_down):
            encoder += [CNNBlock(c.channels, c.channels, slope, stride=2), ResBlock(c.channels, slope)]
        self.encoder = nn.Sequential(*encoder, nn.Flatten())
        self.to_mu = nn.Linear(flat, c.latent_dim)
        self.to_std = nn.Sequential(nn.Linear(flat, c.latent_dim), nn.Softplus())
        self.from_latent = nn.Sequential(nn.Linear(c.latent_dim, flat), nn.LeakyReLU(slope))
        decoder: list[nn.Module] = []
        for _ in range(c.n_down):
            decoder += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                CNNBlock(c.channels, c.channels, slope),
                ResBlock(c.channels, slope),
            ]
        decoder.append(nn.Conv1d(c.channels, c.n_cols, c.head_kernel, padding=c.head_kernel // 2))
        self.decoder = nn.Sequential(*decoder)

    @torch.no_grad()
    def init_output_bias(self, density: torch.Tensor) -> None:
        """Start the head's bias at each column's log-odds (as our VQ-VAE; not in the release)."""
        p = density.clamp(1e-4, 1 - 1e-4)
        self.decoder[-1].bias.copy_(torch.log(p / (1 - p)))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 57, 128) -> (mu, std), each (B, latent_dim)."""
        h = self.encoder(x)
        return self.to_mu(h), self.to_std(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim) -> logits (B, 57, 128)."""
        h = self.from_latent(z).view(len(z), self.config.channels, self.config.n_latent_steps)
        return self.decoder(h)

    def forward(self, x: torch.Tensor, sample: bool = True):
        """(B, 57, 128) -> (logits, mu, std); z = mu + eps * std (z = mu when sample is False)."""
        mu, std = self.encode(x)
        z = mu + torch.randn_like(std) * std if sample else mu
        return self.decode(z), mu, std

    def loss(self, x: torch.Tensor, beta: float) -> tuple[torch.Tensor, dict]:
        """The released vae_loss: (BCE_sum + beta * KL_sum) / number of cells."""
        logits, mu, std = self(x)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = kl_divergence(mu, std)
        cells = x.numel()
        return (bce + beta * kl) / cells, {
            "bce": bce.detach() / cells,
            "kl": kl.detach() / cells,
            "logits": logits.detach(),
        }


def kl_divergence(mu: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, std^2) || N(0, I)) summed over the batch: -0.5 * sum(1 + log var - mu^2 - var)."""
    var = std.pow(2)
    return -0.5 * (1 + torch.log(var.clamp_min(1e-12)) - mu.pow(2) - var).sum()
