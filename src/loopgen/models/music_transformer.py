"""Music Transformer baseline (S appendix A.2; Huang et al. 2018, arXiv:1809.04281).

Frame-level and multi-hot: each of the 128 time steps is one token, its 57-column binary frame
mapped by nn.Linear(57 -> d) (the appendix's replacement of nn.Embedding). A decoder-only stack of
post-LayerNorm blocks (relative global attention, then a ReLU feed-forward d -> d_ff -> d, as the
probable source jason9693/MusicTransformer-pytorch) predicts each next frame as 57 logits; trained
with BCE and teacher forcing, sampled column by column from Bernoulli(sigmoid).

Relative global attention (Huang et al. section 3.4): logits_ij = (q_i.k_j + q_i.Er[L-1-(i-j)]) / sqrt(d_h),
with one *learned* row of Er per distance 0..max_len-1 and per layer (shared by the heads, as in the
paper). S_rel is computed by the "skewing" trick (pad, reshape, slice) instead of a gather.
Deviation: the probable source kept Er as an untrained, unsaved random tensor; here it is an
nn.Parameter (as the paper and gwinndr/MusicTransformer-Pytorch).

`step` decodes one frame at a time with a key/value cache, so sampling costs one pass over the
sequence instead of one per generated frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class MusicTransformerConfig:
    n_cols: int = 57  # frame width (input and output)
    max_len: int = 128  # frames per loop = relative distances learned
    n_layers: int = 4
    d_model: int = 128
    n_heads: int = 2
    d_ff: int = 64  # jason9693's FFN is d_model // 2 (the appendix does not say)
    dropout: float = 0.1


def skew(qe: torch.Tensor) -> torch.Tensor:
    """(..., L, L) with column m <-> relative distance m - (L-1) -> S_rel (..., L, L) with
    S_rel[i, j] = qe[i, L-1-(i-j)] for j <= i (entries above the diagonal are meaningless: masked
    later). Pad one zero column on the left, view as (L+1, L), drop the first row."""
    length = qe.shape[-1]
    # Zero the upper-left triangle (distances beyond the start of the sequence) so that no garbage
    # lands anywhere: after the skew it sits above the diagonal, where the causal mask is.
    padded = F.pad(qe * _lower_right(length, qe), (1, 0))
    return padded.reshape(*qe.shape[:-2], length + 1, length)[..., 1:, :]


def _lower_right(length: int, like: torch.Tensor) -> torch.Tensor:
    """1 where column m >= L-1-i (a real distance for query i), else 0."""
    i = torch.arange(length, device=like.device)[:, None]
    m = torch.arange(length, device=like.device)[None, :]
    return (m >= length - 1 - i).to(like.dtype)


class RelativeGlobalAttention(nn.Module):
    def __init__(self, config: MusicTransformerConfig):
        super().__init__()
        if config.d_model % config.n_heads:
            raise ValueError(f"d_model {config.d_model} is not divisible by n_heads {config.n_heads}")
        self.n_heads, self.d_head = config.n_heads, config.d_model // config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        # Row max_len-1-d holds distance d (row order as in the paper: -(L-1) ... 0).
        self.relative = nn.Parameter(torch.randn(config.max_len, self.d_head) * self.d_head**-0.5)
        self.dropout = nn.Dropout(config.dropout)

    def _heads(self, x: torch.Tensor):
        b, length, _ = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)
        return q, k, v  # each (B, H, L, d_h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, d) -> (B, L, d), causal."""
        b, length, d = x.shape
        q, k, v = self._heads(x)
        er = self.relative[self.relative.shape[0] - length :]  # distances L-1 ... 0
        logits = (q @ k.transpose(-1, -2) + skew(q @ er.t())) / math.sqrt(self.d_head)
        future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        attention = self.dropout(logits.masked_fill(future, float("-inf")).softmax(-1))
        return self.out((attention @ v).transpose(1, 2).reshape(b, length, d))

    def step(self, x: torch.Tensor, cache: dict) -> torch.Tensor:
        """One new frame (B, 1, d) attending to the cached keys/values and itself."""
        q, k, v = self._heads(x)
        cache["k"] = k if "k" not in cache else torch.cat([cache["k"], k], dim=2)
        cache["v"] = v if "v" not in cache else torch.cat([cache["v"], v], dim=2)
        t = cache["k"].shape[2]  # keys 0..t-1; the query is at position t-1
        er = self.relative[self.relative.shape[0] - t :]  # key j <-> distance t-1-j
        logits = (q @ cache["k"].transpose(-1, -2) + q @ er.t()) / math.sqrt(self.d_head)
        out = logits.softmax(-1) @ cache["v"]
        return self.out(out.transpose(1, 2).reshape(len(x), 1, -1))


class DecoderBlock(nn.Module):
    """Post-LN: x = LN(x + attn(x)); x = LN(x + ffn(x))."""

    def __init__(self, config: MusicTransformerConfig):
        super().__init__()
        self.attention = RelativeGlobalAttention(config)
        self.norm1 = nn.LayerNorm(config.d_model, eps=1e-6)
        self.ffn = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff), nn.ReLU(), nn.Linear(config.d_ff, config.d_model)
        )
        self.norm2 = nn.LayerNorm(config.d_model, eps=1e-6)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        attended = self.attention(x) if cache is None else self.attention.step(x, cache)
        x = self.norm1(x + self.dropout(attended))
        return self.norm2(x + self.dropout(self.ffn(x)))


class MusicTransformer(nn.Module):
    def __init__(self, config: MusicTransformerConfig):
        super().__init__()
        self.config = config
        self.frame_in = nn.Linear(config.n_cols, config.d_model)
        self.register_buffer("position", sinusoid(config.max_len, config.d_model), persistent=False)
        self.blocks = nn.ModuleList(DecoderBlock(config) for _ in range(config.n_layers))
        self.frame_out = nn.Linear(config.d_model, config.n_cols)
        self.dropout = nn.Dropout(config.dropout)

    @torch.no_grad()
    def init_output_bias(self, density: torch.Tensor) -> None:
        """Start the output bias at each column's log-odds (as our VQ-VAE; not in the paper)."""
        p = density.clamp(1e-4, 1 - 1e-4)
        self.frame_out.bias.copy_(torch.log(p / (1 - p)))

    def _embed(self, frames: torch.Tensor, start: int) -> torch.Tensor:
        # jason9693: scale by sqrt(d) before adding the absolute sinusoid.
        x = self.frame_in(frames) * math.sqrt(self.config.d_model)
        return self.dropout(x + self.position[start : start + frames.shape[1]])

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (B, L, 57) float -> logits (B, L, 57) of the frame after each position."""
        if frames.shape[1] > self.config.max_len:
            raise ValueError(f"{frames.shape[1]} frames, the model knows at most {self.config.max_len}")
        x = self._embed(frames, 0)
        for block in self.blocks:
            x = block(x)
        return self.frame_out(x)

    def step(self, frame: torch.Tensor, caches: list[dict]) -> torch.Tensor:
        """The next frame's logits (B, 57) from one new frame (B, 57); `caches` (one dict per
        layer, empty at the start) hold the keys and values of the frames before."""
        position = caches[0]["k"].shape[2] if "k" in caches[0] else 0
        x = self._embed(frame[:, None], position)
        for block, cache in zip(self.blocks, caches):
            x = block(x, cache)
        return self.frame_out(x)[:, 0]

    def teacher_forcing(self, rolls: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rolls (B, 128, 57) -> (logits (B, 127, 57) predicting frames 1.., targets (B, 127, 57))."""
        return self(rolls[:, :-1]), rolls[:, 1:]


def sinusoid(length: int, d_model: int) -> torch.Tensor:
    """The absolute sinusoidal position code of Vaswani et al. (length, d_model)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate[: d_model // 2])
    return table
