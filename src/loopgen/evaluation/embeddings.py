"""Random, never trained CNN embeddings of phrase rolls, the feature space of the symbolic paper's
precision/recall/density/coverage (S §4.3, SPEC §4; the idea is Naeem et al.'s random embeddings).

    (B, 57, 128) roll, pitch columns as channels
    Conv1d 57 -> 8, k3, stride 2, no bias -> BatchNorm -> LeakyReLU(0.2)     length 128 -> 64
    Conv1d  8 -> 8, k3, stride 4          -> BatchNorm -> LeakyReLU(0.2)     length  64 -> 16
    flatten (8 x 16 = 128) -> Linear 128 -> 128

Padding: SPEC gives none, and it does not matter for the size. With padding p, a k3 convolution
of stride s maps length L to floor((L + 2p - 3) / s) + 1: padding 1 gives 128 -> 64 -> 16 and
padding 0 gives 128 -> 63 -> 16, so either way the flatten is 8 x 16 = 128. We pad by 1 (the
"same" padding of the VQ-VAE's k3 convolutions), so every step of the roll reaches the output.

Each network is built from its seed alone (default PyTorch initialisation under that seed),
frozen and kept in eval mode, so its BatchNorm layers use their initial running statistics and a
seed always gives the same embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from loopgen.roll import N_COLS, N_STEPS, as_packed_array, unpack_rolls


@dataclass
class EmbeddingNetConfig:
    in_channels: int = N_COLS  # 57 pitch columns
    length: int = N_STEPS  # 128 time steps
    channels: int = 8
    padding: int = 1
    negative_slope: float = 0.2
    out_features: int = 128


def conv_output_length(length: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a Conv1d (dilation 1)."""
    return (length + 2 * padding - kernel) // stride + 1


def flattened_size(config: EmbeddingNetConfig) -> int:
    length = conv_output_length(config.length, 3, 2, config.padding)
    length = conv_output_length(length, 3, 4, config.padding)
    return config.channels * length


class RandomEmbeddingNet(nn.Module):
    def __init__(self, config: EmbeddingNetConfig | None = None):
        super().__init__()
        self.config = config = config or EmbeddingNetConfig()
        c = config.channels
        self.features = nn.Sequential(
            nn.Conv1d(config.in_channels, c, 3, stride=2, padding=config.padding, bias=False),
            nn.BatchNorm1d(c),
            nn.LeakyReLU(config.negative_slope),
            nn.Conv1d(c, c, 3, stride=4, padding=config.padding, bias=False),  # CNN_Metric: both convs bias-free
            nn.BatchNorm1d(c),
            nn.LeakyReLU(config.negative_slope),
            nn.Flatten(),
        )
        self.project = nn.Linear(flattened_size(config), config.out_features)

    def forward(self, rolls: torch.Tensor) -> torch.Tensor:
        """(B, 57, 128) float -> (B, out_features)."""
        return self.project(self.features(rolls))


def random_embedding_net(seed: int, config: EmbeddingNetConfig | None = None) -> RandomEmbeddingNet:
    """The network of `seed`: initialised under that seed without touching the global RNG,
    frozen, in eval mode. It is never trained."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = RandomEmbeddingNet(config)
    return net.requires_grad_(False).eval()


@torch.inference_mode()
def embed_rolls(
    net: RandomEmbeddingNet, packed, batch_size: int = 4096, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Embeddings of packed rolls ((N, 912) uint8 or 912-byte strings), float32 (N, out_features).
    Rolls are unpacked one batch at a time."""
    if net.training:
        raise ValueError("the embedding network must stay in eval mode (it is never trained)")
    packed = as_packed_array(packed)
    net = net.to(device)
    out = np.empty((len(packed), net.config.out_features), dtype=np.float32)
    for start in range(0, len(packed), batch_size):
        rolls = torch.from_numpy(unpack_rolls(packed[start : start + batch_size]))
        batch = rolls.to(device=device, dtype=torch.float32).transpose(1, 2)  # (B, 57, 128)
        out[start : start + len(batch)] = net(batch).cpu().numpy()
    return out
