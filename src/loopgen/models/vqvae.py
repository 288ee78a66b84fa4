"""VQ-VAE over phrase rolls (SPEC section 3; S section 3.3.1).

Input (B, 57, 128): the 57 roll columns (9 drums + 48 bass pitches) are channels, Conv1d runs over
the 128 time steps. Two stride-2 stages give S = 32 latent steps of D = 16 dimensions, each
quantised to one of K = 512 codebook vectors. The codebook is learned by exponential moving
averages (decay 0.99, Laplace smoothing with eps 1e-5), and a code whose EMA count falls below 1 is
restarted at a random encoding of the current batch. Gradients pass the quantiser straight through.

The decoder mirrors the encoder (nearest x2 upsampling; as released, one more LeakyReLU after its
first block) and ends in logits; sigmoid(logit) >= 0.5
(logit >= 0) is an active cell. The model returns logits so the loss can use the numerically safe
BCE-with-logits; `probabilities` applies the sigmoid of the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class VQVAEConfig:
    n_cols: int = 57  # roll columns = input channels
    n_steps: int = 128  # roll time steps
    channels: int = 128
    code_dim: int = 16  # D
    codebook_size: int = 512  # K
    n_down: int = 2  # stride-2 stages: S = n_steps / 2**n_down = 32
    beta: float = 0.25  # commitment weight
    ema_decay: float = 0.99
    ema_eps: float = 1e-5  # Laplace smoothing of the EMA counts
    restart_threshold: float = 1.0  # codes with an EMA count below this are restarted
    negative_slope: float = 0.2  # LeakyReLU

    @property
    def n_latent(self) -> int:
        return self.n_steps // 2**self.n_down


class CNNBlock(nn.Sequential):
    """Conv1d (no bias) -> BatchNorm -> LeakyReLU."""

    def __init__(self, n_in: int, n_out: int, slope: float, stride: int = 1):
        super().__init__(
            nn.Conv1d(n_in, n_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm1d(n_out),
            nn.LeakyReLU(slope),
        )


class ResBlock(nn.Module):
    """x + (conv-BN-LReLU-conv-BN)(x); no activation after the sum (as the released code)."""

    def __init__(self, channels: int, slope: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm1d(channels),
            nn.LeakyReLU(slope),
            nn.Conv1d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm1d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class EMACodebook(nn.Module):
    """K codebook vectors of dimension D, updated as running cluster means (no gradients).

    Buffers: `embedding` (K, D), `count` (K,) the EMA of how many vectors each code received,
    `vector_sum` (K, D) the EMA of their sum. embedding = vector_sum / smoothed count.
    """

    def __init__(self, config: VQVAEConfig):
        super().__init__()
        self.config = config
        self.register_buffer("embedding", torch.randn(config.codebook_size, config.code_dim))
        # Counts start at 0, so every code is "dead" at the first training step and restarted at
        # a batch encoding: the codebook starts on the data instead of on random noise.
        self.register_buffer("count", torch.zeros(config.codebook_size))
        self.register_buffer("vector_sum", torch.zeros(config.codebook_size, config.code_dim))
        # codes restarted by the latest update (dead before it); a 0-d tensor, read it with int()
        self.last_restarts: torch.Tensor | int = 0

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the closest code for each row of (N, D), by squared Euclidean distance."""
        distance = (
            flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embedding.t() + self.embedding.pow(2).sum(1)[None, :]
        )
        return distance.argmin(dim=1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        return F.embedding(codes, self.embedding)

    @torch.no_grad()
    def ema_update(self, flat: torch.Tensor, codes: torch.Tensor) -> None:
        """Move each code towards the mean of the vectors assigned to it, then restart dead codes."""
        c = self.config
        onehot = F.one_hot(codes, c.codebook_size).to(flat.dtype)
        self.count.mul_(c.ema_decay).add_(onehot.sum(0), alpha=1 - c.ema_decay)
        self.vector_sum.mul_(c.ema_decay).add_(onehot.t() @ flat, alpha=1 - c.ema_decay)
        total = self.count.sum()
        smoothed = (self.count + c.ema_eps) / (total + c.codebook_size * c.ema_eps) * total
        self.embedding.copy_(self.vector_sum / smoothed.clamp_min(c.ema_eps)[:, None])
        self.restart_dead(flat)

    @torch.no_grad()
    def restart_dead(self, flat: torch.Tensor) -> torch.Tensor:
        """Put every code with count < restart_threshold on a random encoding of the batch.

        Its count is set to the threshold and its sum to vector * threshold, so the restarted code
        stays where it was put (embedding = sum / count) until data moves it or it dies again.
        The k-th dead code (in code order) takes row k of a random permutation of the batch, or,
        when the batch has fewer rows than there are dead codes, a row drawn with replacement.

        Every shape here is fixed by K and the batch, never by how many codes are dead: a
        selection like torch.nonzero(dead) would make the host wait for the GPU every training
        step (issue 13). So a replacement is drawn for every code and kept only where it is dead.
        Returns the number of restarted codes as a 0-d tensor on the codebook's device (also kept
        in `last_restarts`); reading it with int() is the one sync, left to the caller.
        """
        c, n_rows = self.config, len(flat)
        dead = self.count < c.restart_threshold
        n_dead = dead.sum()
        rank = (dead.cumsum(0) - 1).clamp_min(0)  # k for the k-th dead code
        order = torch.randperm(n_rows, device=flat.device)
        if n_rows >= c.codebook_size:  # always enough rows for the dead codes: no replacement
            picks = order[rank]
        else:
            with_replacement = torch.randint(n_rows, (c.codebook_size,), device=flat.device)
            picks = torch.where(n_dead <= n_rows, order[rank.clamp_max(n_rows - 1)], with_replacement[rank])
        vectors = flat[picks]
        self.embedding.copy_(torch.where(dead[:, None], vectors, self.embedding))
        self.count.copy_(torch.where(dead, torch.full_like(self.count, c.restart_threshold), self.count))
        self.vector_sum.copy_(torch.where(dead[:, None], vectors * c.restart_threshold, self.vector_sum))
        self.last_restarts = n_dead
        return n_dead


class VQVAE(nn.Module):
    def __init__(self, config: VQVAEConfig):
        super().__init__()
        self.config = config
        c, slope = config, config.negative_slope
        encoder: list[nn.Module] = [CNNBlock(c.n_cols, c.channels, slope)]
        for _ in range(c.n_down):
            encoder += [CNNBlock(c.channels, c.channels, slope, stride=2), ResBlock(c.channels, slope)]
        encoder.append(nn.Conv1d(c.channels, c.code_dim, 3, padding=1))
        self.encoder = nn.Sequential(*encoder)
        self.codebook = EMACodebook(config)
        # As released (VQVAE_Decoder.forward): one more LeakyReLU after the first block.
        decoder: list[nn.Module] = [CNNBlock(c.code_dim, c.channels, slope), nn.LeakyReLU(slope)]
        for _ in range(c.n_down):
            decoder += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                CNNBlock(c.channels, c.channels, slope),
                ResBlock(c.channels, slope),
            ]
        decoder.append(nn.Conv1d(c.channels, c.n_cols, 3, padding=1))
        self.decoder = nn.Sequential(*decoder)

    @torch.no_grad()
    def init_output_bias(self, density: torch.Tensor) -> None:
        """Start the last layer's bias at the log-odds of each column's density in the data.

        Not in the paper, and only an initialisation: the untrained decoder then predicts the
        data's base rate instead of p = 0.5 everywhere, which saves the first epochs (rolls are
        ~4 % active) and matters on small corpora."""
        p = density.clamp(1e-4, 1 - 1e-4)
        self.decoder[-1].bias.copy_(torch.log(p / (1 - p)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 57, 128) -> continuous encodings (B, D, S)."""
        return self.encoder(x)

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, D, S) -> (straight-through quantised (B, D, S), codes (B, S), commitment loss).

        In training mode the codebook takes its EMA step (and restarts dead codes) here, after the
        codes and their vectors are taken from the codebook as it was (as the released Quantize).
        """
        # The codebook and its EMA statistics stay fp32 under bf16 autocast (config precision).
        flat = z.transpose(1, 2).reshape(-1, self.config.code_dim).float()
        with torch.autocast(z.device.type, enabled=False):
            codes = self.codebook.nearest(flat.detach())
            quantised = self.codebook.lookup(codes)  # a copy: the EMA step below does not move it
            if self.training:
                self.codebook.ema_update(flat.detach(), codes)
            commitment = F.mse_loss(flat, quantised.detach())
            # Straight-through: the forward pass sees the code vectors, the backward pass the identity.
            quantised = flat + (quantised - flat).detach()
        batch = z.shape[0]
        return (quantised.view(batch, -1, self.config.code_dim).transpose(1, 2), codes.view(batch, -1), commitment)

    def decode(self, zq: torch.Tensor) -> torch.Tensor:
        """Quantised latents (B, D, S) -> logits (B, 57, 128)."""
        return self.decoder(zq)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Code indices (B, S) -> logits (B, 57, 128)."""
        return self.decode(self.codebook.lookup(codes).transpose(1, 2))

    def encode_codes(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 57, 128) -> code indices (B, S), without touching the codebook."""
        z = self.encode(x)
        return self.codebook.nearest(z.transpose(1, 2).reshape(-1, self.config.code_dim)).view(len(x), -1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 57, 128) -> (logits (B, 57, 128), codes (B, S), commitment loss)."""
        zq, codes, commitment = self.quantize(self.encode(x))
        return self.decode(zq), codes, commitment

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """BCE per cell + beta * commitment (S eq. 3-4); returns (loss, parts for logging)."""
        logits, codes, commitment = self(x)
        bce = F.binary_cross_entropy_with_logits(logits, x)
        total = bce + self.config.beta * commitment
        return total, {
            "bce": bce.detach(),
            "commitment": commitment.detach(),
            "logits": logits.detach(),
            "codes": codes,
        }

    @staticmethod
    def probabilities(logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits)

    @staticmethod
    def active(logits: torch.Tensor) -> torch.Tensor:
        """sigmoid >= 0.5, i.e. logit >= 0: the decoded roll."""
        return logits >= 0
