"""MuseGAN baseline, jamming model with temporal generators (S appendix A.3; Dong et al. AAAI 2018).

"Two generators and two discriminators responsible for the two instruments": every track (drums:
9 columns, bass: 48 pitches) has its own generator and its own critic and nothing is shared, so the
two tracks are generated independently (MuseGAN's jamming model). Data live in {-1, 1}; the
generator ends in tanh and a cell is on when its output is > 0. BatchNorm only in the generators
(WGAN-GP critics must not normalise over the batch).

Our adaptation of MuseGAN's 4-bar x 96-step x 84-pitch shapes to 8 bars x 16 steps x (9 | 48)
(no source says how the paper's authors did it; see README, baselines):

    generator of a track   z_i (z_dim, whole loop) and z_t (z_dim) -> temporal generator
        (ConvTranspose1d k2 s2: 1 -> 2 -> 4 -> 8 bars) -> one z_t per bar; the bar generator maps
        concat(z_i, z_t[bar]) -> (1 x 1) -> time x2 four times (16 steps) -> pitch by the track's
        factors (drums 3 x 3 = 9, bass 4 x 12 = 48) -> 1 channel -> + column bias -> tanh
    critic of a track      per bar: pitch convs (the factors reversed, strided), then time convs
        16 -> 8 -> 4 -> 2 -> 1 -> one feature per bar; over the 8 bars Conv1d k2 s2 twice -> Linear -> 1

Sizes (channels) are config keys; the defaults follow MuseGAN v1's widths loosely (G 256/128, D 128).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from loopgen.roll import N_BARS, N_BASS, N_DRUM, STEPS_PER_BAR


@dataclass
class MuseGANConfig:
    n_bars: int = N_BARS
    steps_per_bar: int = STEPS_PER_BAR
    # (name, roll columns, pitch up-sampling factors whose product is the column count)
    tracks: list = field(default_factory=lambda: [["drums", N_DRUM, [3, 3]], ["bass", N_BASS, [4, 12]]])
    z_dim: int = 64  # per z; z_i + z_t = 128 inputs per generator, as MuseGAN
    g_channels: int = 256  # widest generator layer (halved once along the way)
    d_channels: int = 128
    negative_slope: float = 0.2  # critic LeakyReLU

    def __post_init__(self):
        for name, columns, factors in self.tracks:
            product = 1
            for f in factors:
                product *= f
            if product != columns:
                raise ValueError(f"musegan track {name}: pitch factors {factors} multiply to {product}, not {columns}")
        if self.steps_per_bar != 16 or self.n_bars != 8:
            raise ValueError("musegan: the layer plan is for 8 bars of 16 steps")


def _up(n_in, n_out, kernel, dims=2):
    """ConvTranspose (stride = kernel) -> BatchNorm -> ReLU: grows one axis by the kernel."""
    conv = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose1d
    norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return nn.Sequential(conv(n_in, n_out, kernel, stride=kernel), norm(n_out), nn.ReLU())


class TrackGenerator(nn.Module):
    """z_i (B, z) and z_t (B, z) -> one track (B, n_bars * steps, columns) in (-1, 1)."""

    def __init__(self, config: MuseGANConfig, columns: int, factors: list[int]):
        super().__init__()
        z, c = config.z_dim, config.g_channels
        self.config = config
        # temporal generator: 1 -> 2 -> 4 -> 8 bar latents
        self.temporal = nn.Sequential(_up(z, c, 2, dims=1), _up(c, c // 2, 2, dims=1), _up(c // 2, z, 2, dims=1))
        # bar generator: time first (1 -> 16), then pitch (1 -> columns)
        layers = [_up(2 * z, c, (2, 1)), _up(c, c, (2, 1)), _up(c, c // 2, (2, 1)), _up(c // 2, c // 2, (2, 1))]
        width = c // 2
        for i, factor in enumerate(factors):
            last = i == len(factors) - 1
            out = 1 if last else width // 2
            layers.append(
                nn.ConvTranspose2d(width, out, (1, factor), stride=(1, factor))
                if last
                else _up(width, out, (1, factor))
            )
            width = out
        self.bar = nn.Sequential(*layers)
        # Not in MuseGAN: a per-column bias before the tanh, started at the data's density by
        # init_output_bias (as our VQ-VAE's head). Without it an untrained generator turns about
        # half the cells on (the data: ~4 %), and short trainings spend their steps undoing that.
        self.column_bias = nn.Parameter(torch.zeros(columns))

    def forward(self, z_loop: torch.Tensor, z_time: torch.Tensor) -> torch.Tensor:
        b, n_bars = len(z_loop), self.config.n_bars
        bars = self.temporal(z_time[:, :, None])  # (B, z, 8)
        inputs = torch.cat([z_loop[:, :, None].expand(-1, -1, n_bars), bars], dim=1)  # (B, 2z, 8)
        inputs = inputs.transpose(1, 2).reshape(b * n_bars, -1, 1, 1)
        out = self.bar(inputs)  # (B*8, 1, 16, columns)
        return torch.tanh(out.reshape(b, n_bars * self.config.steps_per_bar, -1) + self.column_bias)

    @torch.no_grad()
    def init_output_bias(self, density: torch.Tensor) -> None:
        """tanh(bias) = 2 * density - 1: the untrained generator's cells are on about as often as the data's."""
        self.column_bias.copy_(torch.atanh((2 * density - 1).clamp(-0.999, 0.999)))


class TrackCritic(nn.Module):
    """One track (B, n_bars * steps, columns) -> a score (B,): higher means "real"."""

    def __init__(self, config: MuseGANConfig, factors: list[int]):
        super().__init__()
        c, slope = config.d_channels, config.negative_slope
        self.config = config
        layers, width = [], 1
        for factor in reversed(factors):  # pitch first
            layers += [nn.Conv2d(width, c, (1, factor), stride=(1, factor)), nn.LeakyReLU(slope)]
            width = c
        for _ in range(4):  # time 16 -> 1
            layers += [nn.Conv2d(c, c, (2, 1), stride=(2, 1)), nn.LeakyReLU(slope)]
        self.bar = nn.Sequential(*layers)
        self.phrase = nn.Sequential(
            nn.Conv1d(c, c, 2, stride=2),
            nn.LeakyReLU(slope),
            nn.Conv1d(c, 2 * c, 2, stride=2),
            nn.LeakyReLU(slope),
            nn.Flatten(),
            nn.Linear(2 * c * (config.n_bars // 4), 1),
        )

    def forward(self, track: torch.Tensor) -> torch.Tensor:
        b, n_bars = len(track), self.config.n_bars
        bars = track.reshape(b * n_bars, 1, self.config.steps_per_bar, -1)
        features = self.bar(bars).reshape(b, n_bars, -1).transpose(1, 2)  # (B, c, 8)
        return self.phrase(features)[:, 0]


class MuseGAN(nn.Module):
    """Per track one generator and one critic; no parameter is shared between tracks."""

    def __init__(self, config: MuseGANConfig):
        super().__init__()
        self.config = config
        self.generators = nn.ModuleList(TrackGenerator(config, cols, factors) for _name, cols, factors in config.tracks)
        self.critics = nn.ModuleList(TrackCritic(config, factors) for _name, _cols, factors in config.tracks)

    @property
    def track_slices(self) -> list[slice]:
        """Roll columns of each track ([0:9] drums, [9:57] bass)."""
        slices, start = [], 0
        for _name, columns, _factors in self.config.tracks:
            slices.append(slice(start, start + columns))
            start += columns
        return slices

    def init_output_bias(self, density: torch.Tensor) -> None:
        """Each track generator's column bias from the data's column densities (57,)."""
        for generator, cols in zip(self.generators, self.track_slices):
            generator.init_output_bias(density[cols])

    def noise(self, n: int, generator: torch.Generator | None = None, device="cpu") -> torch.Tensor:
        """(n, tracks, 2, z_dim) standard normal: per track its own z_i and z_t (jamming)."""
        return torch.randn(n, len(self.generators), 2, self.config.z_dim, generator=generator, device=device)

    def generate(self, noise: torch.Tensor) -> torch.Tensor:
        """noise (B, tracks, 2, z) -> rolls (B, 128, 57) in (-1, 1)."""
        return torch.cat([g(noise[:, i, 0], noise[:, i, 1]) for i, g in enumerate(self.generators)], dim=2)
