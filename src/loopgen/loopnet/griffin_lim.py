"""Fast Griffin-Lim (the STFT variant's synthesis and the paper's FAD baseline)."""

from __future__ import annotations

import math

from loopgen.loopnet.losses import istft, stft


def griffin_lim(magnitude, n_fft: int, hop: int, n_iter: int, length: int, momentum: float = 0.99, seed: int = 0):
    """Waveforms (B, length) whose STFT magnitude approximates `magnitude` (B, bins, frames).

    Fast Griffin-Lim (Perraudin et al. 2013): the phase estimate is a unit phasor per bin,
    multiplied with the magnitude (the released LoopNet code passed the complex phasors as angles).
    Random initial phase from a seeded generator, so results are reproducible."""
    import torch

    generator = torch.Generator(device="cpu").manual_seed(seed)
    phase = torch.rand(magnitude.shape, generator=generator, dtype=magnitude.dtype) * (2 * math.pi)
    angles = torch.polar(torch.ones_like(phase), phase).to(magnitude.device)
    previous = None
    for _ in range(n_iter):
        rebuilt = stft(istft(magnitude * angles, n_fft, hop, length), n_fft, hop)
        angles = rebuilt if previous is None else rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / (angles.abs() + 1e-12)
        previous = rebuilt
    return istft(magnitude * angles, n_fft, hop, length)


def spectral_convergence(waveform, magnitude, n_fft: int, hop: int) -> float:
    """‖|STFT(waveform)| - magnitude‖_F / ‖magnitude‖_F (0 = the magnitude is met exactly)."""
    rebuilt = stft(waveform, n_fft, hop).abs()
    return float((rebuilt - magnitude).norm() / magnitude.norm().clamp_min(1e-12))
