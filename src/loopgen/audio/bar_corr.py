"""Bar-to-bar correlation of an audio loop: the loop detector's training data (SPEC section 2).

Per bar one mel spectrum, the mean of the mel frames whose centres fall inside the bar (the whole
bar, not one frame at its start), computed with the file's real sample rate; then the Pearson
correlation between every pair of bars, upper triangle in loopgen.roll.BAR_PAIRS order.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

BAR_CORR_SCHEMA = pa.schema([("loop_id", pa.string()), ("file", pa.string()), ("corr", pa.list_(pa.float32()))])


def bar_mel_spectra(
    audio: np.ndarray, sr: int, n_bars: int, n_mels: int = 128, n_fft: int = 2048, hop: int = 512, log: bool = False
) -> np.ndarray:
    """(n_bars, n_mels): mean mel power of each bar (in dB when `log`); the loop is n_bars long."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.asarray(audio, dtype=np.float32), sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, center=True
    )
    centres = np.arange(mel.shape[1]) * hop  # frame k is centred on sample k*hop
    bar_of_frame = np.minimum((centres * n_bars) // max(len(audio), 1), n_bars - 1)
    bars = np.stack([mel[:, bar_of_frame == b].mean(axis=1) for b in range(n_bars)])
    return librosa.power_to_db(bars, ref=np.max(bars) if bars.max() > 0 else 1.0) if log else bars


def bar_correlation(spectra: np.ndarray) -> np.ndarray:
    """28 (for 8 bars) Pearson correlations of the bars' spectra, float32. A flat (e.g. silent) bar
    has no correlation: NaN, which the detector reports and leaves out."""
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.corrcoef(spectra)
    i, j = np.triu_indices(len(spectra), 1)  # row-major pairs: loopgen.roll.BAR_PAIRS for 8 bars
    return matrix[i, j].astype(np.float32)


def loop_bar_correlation(audio: np.ndarray, sr: int, n_bars: int = 8, **mel) -> np.ndarray:
    return bar_correlation(bar_mel_spectra(audio, sr, n_bars, **mel))
