"""LoopNet's Wave-U-Net (SPEC §6; Ramires et al., ICASSP 2021, §4.3).

Input: (B, channels, n_samples) = the time-varying controls (kick, snare, hi-hat activations and,
except in MULTI_NOENV, the amplitude envelope) stacked with the 33 global features (12 HPCP + 21
timbral) broadcast over time. Encoder: `n_layers` stride-2 Conv1d of kernel 5, `base_filters`
filters doubling every `double_every` layers (paper text: 32, doubling every 3). Decoder: linear
interpolation back to each encoder level's exact length (so odd lengths line up), concatenation
with that level's encoder features (the input itself at level 0), a kernel-5 conv.

Two heads:
- "wave": the decoder climbs to the sample rate; a 1x1 conv and tanh give the waveform (B, n_samples).
- "stft": the decoder stops at the encoder level whose length matches the STFT frame count (hop 256
  -> level 8, 116 frames for one bar); a 1x1 conv gives log1p-compressed magnitudes
  (B, n_fft // 2 + 1, n_frames). Griffin-Lim (loopgen.loopnet) turns them into a waveform.

Normalisation (SPEC §6 decision; reviews/loopnet-2026-11.md A3): every conv is followed by a
BatchNorm (the released model's choice) or GroupNorm, the 1x1 head starts at zero and the waveform
head removes each output's mean (DC). Without them the gradient reaching the bottleneck at
initialisation is ~6 orders of magnitude below the last layer's and the network settles on
"output silence" plus a DC offset; tests/unit/test_loopnet.py checks the gradient ratio.

Broadcast global features are constant over time, so a kernel-5 conv over them is a per-channel
constant except within two samples of the edges (zero padding). `forward` computes exactly that
(a small matmul instead of convolving 33 constant channels of 29,538 samples in the first encoder
and the last decoder layer: ~10% less CPU time per loop, and no broadcast tensor in memory);
`forward_stacked` is the literal version, and the tests check that both agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

N_ACTIVATIONS = 3  # kick, snare, hi-hat
N_HPCP = 12
N_TIMBRE = 21
N_GLOBAL = N_HPCP + N_TIMBRE


@dataclass
class LoopNetConfig:
    n_samples: int = 29538  # one bar at 130 BPM, 16 kHz
    use_envelope: bool = True  # False in MULTI_NOENV
    n_global: int = N_GLOBAL
    n_layers: int = 10
    base_filters: int = 32
    double_every: int = 3
    kernel_size: int = 5
    negative_slope: float = 0.2
    head: str = "wave"  # "wave" | "stft"
    n_fft: int = 1024  # stft head only
    hop: int = 256  # stft head only
    norm: str = "batch"  # "batch" | "group" | "none": normalisation after every conv
    zero_head: bool = True  # the 1x1 head starts at zero: the untrained output is silence, not a DC offset
    dc_block: bool = True  # wave head: subtract each output's mean (drum loops have no DC)

    @property
    def n_time_varying(self) -> int:
        return N_ACTIVATIONS + int(self.use_envelope)

    @property
    def in_channels(self) -> int:
        return self.n_time_varying + self.n_global

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def n_frames(self) -> int:
        """Frames of a centred STFT (torch.stft center=True) of one segment."""
        return 1 + self.n_samples // self.hop

    def filters(self, layer: int) -> int:
        """Filters of encoder layer `layer` (0-based)."""
        return self.base_filters * 2 ** (layer // self.double_every)

    def level_lengths(self) -> list[int]:
        """Length at each encoder level: [n_samples, ceil(n/2), ceil(n/4), ...] (n_layers + 1 values).

        A stride-2 conv with kernel 5 and padding 2 maps length L to ceil(L / 2)."""
        lengths = [self.n_samples]
        for _ in range(self.n_layers):
            lengths.append(math.ceil(lengths[-1] / 2))
        return lengths

    def stft_level(self) -> int:
        """The encoder level the STFT head decodes to: the deepest one still at least n_frames long."""
        lengths = self.level_lengths()
        return max(k for k, length in enumerate(lengths) if length >= self.n_frames)


NORMS = ("batch", "group", "none")


def _norm(kind: str, channels: int) -> nn.Module:
    """The normalisation after a conv: BatchNorm1d, GroupNorm (groups of 4 channels; for batches
    too small for batch statistics), or nothing."""
    if kind == "batch":
        return nn.BatchNorm1d(channels)
    if kind == "group":
        return nn.GroupNorm(max(1, channels // 4), channels)
    return nn.Identity()


class WaveUNet(nn.Module):
    def __init__(self, config: LoopNetConfig):
        super().__init__()
        if config.head not in ("wave", "stft"):
            raise ValueError(f"head must be 'wave' or 'stft', got {config.head!r}")
        if config.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {config.norm!r}")
        self.config = config
        k, pad = config.kernel_size, config.kernel_size // 2
        level_channels = [config.in_channels] + [config.filters(i) for i in range(config.n_layers)]
        self.encoder = nn.ModuleList(
            nn.Conv1d(level_channels[i], level_channels[i + 1], k, stride=2, padding=pad)
            for i in range(config.n_layers)
        )
        # Decoder convs from the bottom up: each makes `level` from the level below (upsampled) + the
        # skip at `level` (the stacked input at level 0). The STFT head stops at its frame level.
        self.top_level = config.stft_level() if config.head == "stft" else 0
        self.decoder = nn.ModuleList()
        for level in range(config.n_layers - 1, self.top_level - 1, -1):
            below = level_channels[level + 1] if level == config.n_layers - 1 else self._decoder_out(level + 1)
            self.decoder.append(nn.Conv1d(below + level_channels[level], self._decoder_out(level), k, padding=pad))
        self.encoder_norms = nn.ModuleList(_norm(config.norm, conv.out_channels) for conv in self.encoder)
        self.decoder_norms = nn.ModuleList(_norm(config.norm, conv.out_channels) for conv in self.decoder)
        top_channels = self._decoder_out(self.top_level)
        self.head = nn.Conv1d(top_channels, 1 if config.head == "wave" else config.n_bins, 1)
        if config.zero_head:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def _decoder_out(self, level: int) -> int:
        """Channels the decoder produces at `level`: those of the encoder there (level 0 gets the first layer's)."""
        return self.config.filters(max(level - 1, 0))

    # -- input assembly ---------------------------------------------------------------------------
    def stack_inputs(self, time_varying: torch.Tensor, global_features: torch.Tensor) -> torch.Tensor:
        """(B, n_time_varying, L) + (B, n_global) -> (B, in_channels, L): globals broadcast over time."""
        length = time_varying.shape[-1]
        return torch.cat([time_varying, global_features[:, :, None].expand(-1, -1, length)], dim=1)

    def _first_conv(self, time_varying: torch.Tensor, global_features: torch.Tensor) -> torch.Tensor:
        """Encoder layer 0 on the stacked input, without materialising the broadcast channels."""
        conv = self.encoder[0]
        n_tv = self.config.n_time_varying
        out = F.conv1d(time_varying, conv.weight[:, :n_tv], conv.bias, stride=2, padding=conv.padding)
        return out + self._constant_conv(conv.weight[:, n_tv:], global_features, time_varying.shape[-1], stride=2)

    @staticmethod
    def _constant_conv(weight: torch.Tensor, values: torch.Tensor, length: int, stride: int) -> torch.Tensor:
        """conv1d(`values` broadcast to `length` samples, `weight`, zero padding, no bias), exactly.

        Output j sees the taps whose input position j*stride - pad + t lies inside the signal, so it
        is (sum of those taps) @ values: a (B, out, k) x (k, J) product instead of a full conv."""
        k = weight.shape[-1]
        pad = k // 2
        out_length = (length + 2 * pad - k) // stride + 1
        positions = (
            torch.arange(out_length, device=weight.device)[:, None] * stride
            - pad
            + torch.arange(k, device=weight.device)
        )
        inside = ((positions >= 0) & (positions < length)).to(weight.dtype)  # (J, k)
        per_tap = torch.einsum("oik,bi->bok", weight, values)  # (B, out, k)
        return per_tap @ inside.T

    # -- network ----------------------------------------------------------------------------------
    def forward(self, time_varying: torch.Tensor, global_features: torch.Tensor) -> torch.Tensor:
        """wave head: (B, n_samples) in [-1, 1]; stft head: (B, n_bins, n_frames) log1p magnitudes
        (unconstrained; synthesis clamps them at 0)."""
        slope = self.config.negative_slope
        skips = [None]  # level 0's skip is the stacked input, handled below without broadcasting
        h = F.leaky_relu(self.encoder_norms[0](self._first_conv(time_varying, global_features)), slope)
        skips.append(h)
        for conv, norm in zip(self.encoder[1:], self.encoder_norms[1:]):
            h = F.leaky_relu(norm(conv(h)), slope)
            skips.append(h)
        return self._decode(h, skips, time_varying, global_features)

    def forward_stacked(self, inputs: torch.Tensor) -> torch.Tensor:
        """The literal network on the stacked (B, in_channels, n_samples) input (reference for tests)."""
        slope = self.config.negative_slope
        skips = [inputs]
        h = inputs
        for conv, norm in zip(self.encoder, self.encoder_norms):
            h = F.leaky_relu(norm(conv(h)), slope)
            skips.append(h)
        n_tv = self.config.n_time_varying
        return self._decode(h, skips, inputs[:, :n_tv], None, stacked=inputs)

    def _decode(self, h, skips, time_varying, global_features, stacked=None):
        slope = self.config.negative_slope
        level = self.config.n_layers - 1
        for conv, norm in zip(self.decoder, self.decoder_norms):
            skip = skips[level]
            length = (skip if skip is not None else time_varying).shape[-1]
            h = F.interpolate(h, size=length, mode="linear", align_corners=True)
            if level == 0 and stacked is None:
                h = self._level0_conv(conv, h, time_varying, global_features)
            else:
                h = conv(torch.cat([h, skip if skip is not None else stacked], dim=1))
            h = F.leaky_relu(norm(h), slope)
            level -= 1
        out = self.head(h)
        if self.config.head == "wave":
            wave = torch.tanh(out[:, 0])
            # The DC block can push a sample past +-1 by the mean's size; synthesis clips to int16.
            return wave - wave.mean(dim=-1, keepdim=True) if self.config.dc_block else wave
        if out.shape[-1] != self.config.n_frames:
            out = F.interpolate(out, size=self.config.n_frames, mode="linear", align_corners=True)
        # Linear, not softplus: a saturated softplus stops the gradient where the target is silent.
        # Synthesis clamps negative values to 0 (magnitude expm1(0) = 0).
        return out

    def _level0_conv(self, conv, h, time_varying, global_features):
        """Last decoder conv on cat([h, time-varying, broadcast globals]) without the broadcast."""
        n_h, n_tv = h.shape[1], time_varying.shape[1]
        w = conv.weight
        out = F.conv1d(torch.cat([h, time_varying], dim=1), w[:, : n_h + n_tv], conv.bias, padding=conv.padding)
        return out + self._constant_conv(w[:, n_h + n_tv :], global_features, h.shape[-1], stride=1)
