"""STFT helpers and the variants' training losses (L Eq. 2, 3)."""

from __future__ import annotations


def _window(n_fft: int, device, dtype):
    # Not cached: a window made under inference_mode could not be used in training afterwards.
    import torch

    return torch.hann_window(n_fft, device=device, dtype=dtype)


def stft(x, n_fft: int, hop: int):
    """Complex STFT (B, n_fft//2+1, frames) of (B, samples): Hann window, centred frames."""
    import torch

    return torch.stft(x, n_fft, hop, window=_window(n_fft, x.device, x.dtype), center=True, return_complex=True)


def istft(spec, n_fft: int, hop: int, length: int):
    import torch

    return torch.istft(
        spec, n_fft, hop, window=_window(n_fft, spec.device, spec.real.dtype), center=True, length=length
    )


def spectral_l1(pred, target, n_fft: int, hop: int):
    """Mean |(|STFT(pred)| - |STFT(target)|)|: one term of L Eq. 2/3, as written (no rescaling;
    the first implementation divided it by sqrt(n_fft), which made silence the optimum)."""
    return (stft(pred, n_fft, hop).abs() - stft(target, n_fft, hop).abs()).abs().mean()


def log_spectral_l1(pred, target, n_fft: int, hop: int, eps: float = 1e-5):
    """Mean |log(|STFT(pred)| + eps) - log(|STFT(target)| + eps)|: DDSP's log-magnitude term."""
    return ((stft(pred, n_fft, hop).abs() + eps).log() - (stft(target, n_fft, hop).abs() + eps).log()).abs().mean()


def multi_resolution_stft_loss(pred, target, resolutions) -> object:
    """Sum over (n_fft, hop) resolutions of the spectral L1 (Eq. 3 of L without the waveform term)."""
    return sum(spectral_l1(pred, target, n_fft, hop) for n_fft, hop in resolutions)


def log_magnitude(x, n_fft: int, hop: int):
    """log1p|STFT(x)|: the STFT variant's target (compressed so quiet bins count)."""
    return stft(x, n_fft, hop).abs().log1p()


def variant_loss(output, target, spec, with_log: bool = True):
    """The training loss of a variant (a LossSpec). `output` is the WaveUNet output (waveform or
    log1p magnitudes). with_log=False leaves out the optional log-magnitude term: silence costs so
    much under it that a loss ratio to silence would mean nothing (the gates use with_log=False)."""
    if spec.log_magnitude is not None:
        return (output - log_magnitude(target, *spec.log_magnitude)).abs().mean()
    loss = spec.waveform_weight * (output - target).abs().mean() if spec.waveform_l1 else 0.0
    if spec.resolutions and spec.spectral_weight:
        loss = loss + spec.spectral_weight * multi_resolution_stft_loss(output, target, spec.resolutions)
    if with_log and spec.resolutions and spec.log_spectral_weight:
        loss = loss + spec.log_spectral_weight * sum(log_spectral_l1(output, target, n, h) for n, h in spec.resolutions)
    return loss


def waveform_loss(output, target, spec):
    """A variant's loss (without the log term) on a *waveform* output, for every head: the STFT
    head's log1p-magnitude L1 is computed from the waveform's STFT (what Griffin-Lim made of it)."""
    if spec.log_magnitude is not None:
        return (log_magnitude(output, *spec.log_magnitude) - log_magnitude(target, *spec.log_magnitude)).abs().mean()
    return variant_loss(output, target, spec, with_log=False)
