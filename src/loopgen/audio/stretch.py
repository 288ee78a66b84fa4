"""Time-stretching a loop to the target tempo (rubberband, crisp setting) and resampling.

The stretch is to an exact length: a loop that passed the tempo check is n whole beats long, so it
is stretched to n beats at the target tempo, to the sample. Bars then start where they should,
and the tiny tempo error the confidence threshold allows (< 1% of a beat) is absorbed.
"""

from __future__ import annotations

import numpy as np


def beats_to_samples(n_beats: float, bpm: float, sr: int) -> int:
    return int(round(n_beats * 60.0 * sr / bpm))


def fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad to exactly n samples (rubberband and resamplers may be off by a few)."""
    if len(audio) >= n:
        return audio[:n]
    return np.pad(audio, (0, n - len(audio)))


def stretch_to_beats(audio: np.ndarray, sr: int, n_beats: int, target_bpm: float, crispness: int) -> np.ndarray:
    """`audio` (n_beats long at some tempo) as n_beats at `target_bpm`, same sample rate, float32."""
    import pyrubberband

    target = beats_to_samples(n_beats, target_bpm, sr)
    rate = len(audio) / target  # > 1 speeds up
    audio = np.asarray(audio, dtype=np.float32)
    if abs(rate - 1.0) > 1e-9:
        audio = pyrubberband.time_stretch(audio, sr, rate, rbargs={"--crisp": str(crispness)})
    return fit_length(np.asarray(audio, dtype=np.float32), target)


def resample(audio: np.ndarray, sr: int, target_sr: int, n: int | None = None) -> np.ndarray:
    """Band-limited resampling (soxr, high quality); `n` fixes the output length."""
    import librosa

    if sr != target_sr:
        audio = librosa.resample(
            np.asarray(audio, dtype=np.float32), orig_sr=sr, target_sr=target_sr, res_type="soxr_hq"
        )
    return audio if n is None else fit_length(audio, n)
