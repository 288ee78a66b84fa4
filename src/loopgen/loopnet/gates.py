"""Gates against trivial outputs (issue 10; SPEC §7): is a variant's output better than silence,
as loud as the real bars, and closer to its own target than another real loop is?

Per variant, on the test bars (outputs as waveforms, the STFT variant through Griffin-Lim):
- test_loss / silence_loss: the variant's own training loss (without the optional log-magnitude
  term, under which silence is so costly that the ratio means nothing) of the output and of an
  all-zero output, for the same bars; loss_ratio = their quotient. The STFT variant's loss is its
  log1p-magnitude L1, here computed from the synthesized waveform's STFT.
- rms_db_diff: median over bars of 20 log10(AC RMS of the output / AC RMS of the target).
- mrstft_to_target / mrstft_other_real: median multi-resolution log-magnitude STFT distance (DDSP
  form, n_fft 2048..64, hop n/4) of each output to its own target, and of a real bar of another
  loop to that target (the "plausible but wrong" answer). `share_closer` is the share of bars
  whose output beats that real bar.
- lsd_{low,mid,high}_db: log-spectral distance (dB) of output vs target per band (0-1, 1-4,
  4-8 kHz), beside the same for another real bar: where the content is missing.
"""

from __future__ import annotations

import numpy as np

GATE_RESOLUTIONS = tuple((n, n // 4) for n in (2048, 1024, 512, 256, 128, 64))
LSD_BANDS_HZ = {"low": (0, 1000), "mid": (1000, 4000), "high": (4000, 8000)}


def ac_rms(audio: np.ndarray) -> np.ndarray:
    """RMS of each row after removing its mean (a DC offset is not loudness)."""
    audio = np.asarray(audio, np.float64)
    return np.sqrt(np.mean(np.square(audio - audio.mean(axis=-1, keepdims=True)), axis=-1))


def other_loop_index(loop_ids: list[str]) -> np.ndarray:
    """For each bar, the next bar (cyclically) that comes from another loop; itself if none does."""
    n = len(loop_ids)
    out = np.arange(n)
    for i in range(n):
        for step in range(1, n):
            j = (i + step) % n
            if loop_ids[j] != loop_ids[i]:
                out[i] = j
                break
    return out


def _mr_log_distance(a, b):
    """Per-row sum over resolutions of mean |log(|A| + 1e-5) - log(|B| + 1e-5)|."""
    from loopgen.loopnet.losses import stft

    total = 0.0
    for n_fft, hop in GATE_RESOLUTIONS:
        la = (stft(a, n_fft, hop).abs() + 1e-5).log()
        lb = (stft(b, n_fft, hop).abs() + 1e-5).log()
        total = total + (la - lb).abs().mean(dim=(1, 2))
    return total


def _band_lsd(a, b, sample_rate: int, n_fft: int = 1024, hop: int = 256) -> dict[str, object]:
    """Per-row log-spectral distance (dB) in each band: mean over frames of the RMS over the band's
    bins of the difference of 10 log10 power spectra (floor 1e-10)."""
    from loopgen.loopnet.losses import stft

    db_a, db_b = (stft(x, n_fft, hop).abs().square().clamp_min(1e-10).log10() * 10 for x in (a, b))
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    out = {}
    for band, (lo, hi) in LSD_BANDS_HZ.items():
        rows = np.flatnonzero((freqs >= lo) & (freqs < hi))
        diff = db_a[:, rows] - db_b[:, rows]
        out[band] = diff.square().mean(dim=1).sqrt().mean(dim=1)
    return out


def gate_row(
    variant: str,
    spec,
    output: np.ndarray,
    target: np.ndarray,
    loop_ids: list[str],
    max_loss_ratio: float = 0.8,
    max_rms_db: float = 6.0,
    sample_rate: int = 16000,
    batch_size: int = 16,
) -> dict:
    """The gates of one variant; `output` and `target` are (N, samples) waveforms, float or int16
    PCM (converted a batch at a time: at paper scale a float32 set is 580 MB), row i of `output`
    synthesized from the controls of target bar i."""
    import torch

    from loopgen.audio.segments import float_audio
    from loopgen.loopnet.losses import waveform_loss
    from loopgen.memory import trim_heap

    if len(output) != len(target) or len(target) < 2:
        raise ValueError(f"{variant}: {len(output)} outputs for {len(target)} test bars (need equal counts, >= 2)")
    other = other_loop_index(loop_ids)
    losses, silences, own, wrong, rms_out, rms_target = [], [], [], [], [], []
    lsd = {f"lsd_{band}_db": [] for band in LSD_BANDS_HZ}
    lsd.update({f"lsd_{band}_db_other_real": [] for band in LSD_BANDS_HZ})
    with torch.inference_mode():
        for start in range(0, len(target), batch_size):
            rows = slice(start, start + batch_size)
            out = torch.from_numpy(float_audio(output[rows]))
            tgt = torch.from_numpy(float_audio(target[rows]))
            alt = torch.from_numpy(float_audio(target[other[rows]]))
            rms_out.append(ac_rms(out.numpy()))
            rms_target.append(ac_rms(tgt.numpy()))
            for i in range(len(out)):  # per bar: the losses are means over a batch
                losses.append(float(waveform_loss(out[i : i + 1], tgt[i : i + 1], spec)))
                silences.append(float(waveform_loss(torch.zeros_like(tgt[i : i + 1]), tgt[i : i + 1], spec)))
            own.append(_mr_log_distance(out, tgt).numpy())
            wrong.append(_mr_log_distance(alt, tgt).numpy())
            for name, values in _band_lsd(out, tgt, sample_rate).items():
                lsd[f"lsd_{name}_db"].append(values.numpy())
            for name, values in _band_lsd(alt, tgt, sample_rate).items():
                lsd[f"lsd_{name}_db_other_real"].append(values.numpy())
            trim_heap()  # the batch's STFT buffers are freed: without this RSS grows ~0.3 MB a bar
    own, wrong = np.concatenate(own), np.concatenate(wrong)
    test_loss, silence_loss = float(np.mean(losses)), float(np.mean(silences))
    rms_out, rms_target = np.concatenate(rms_out), np.concatenate(rms_target)
    rms_db = 20 * np.log10(np.maximum(rms_out, 1e-8) / np.maximum(rms_target, 1e-8))
    row = {
        "variant": variant,
        "n_bars": len(target),
        "test_loss": test_loss,
        "silence_loss": silence_loss,
        "loss_ratio": test_loss / silence_loss,
        "rms_db_diff": float(np.median(rms_db)),
        "mrstft_to_target": float(np.median(own)),
        "mrstft_other_real": float(np.median(wrong)),
        "share_closer": float(np.mean(own < wrong)),
        **{name: float(np.median(np.concatenate(values))) for name, values in lsd.items()},
    }
    row["passes_loss_gate"] = row["loss_ratio"] <= max_loss_ratio
    row["passes_rms_gate"] = abs(row["rms_db_diff"]) <= max_rms_db
    row["passes"] = row["passes_loss_gate"] and row["passes_rms_gate"]
    return row
