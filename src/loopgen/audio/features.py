"""LoopNet's conditioning features of a 1-bar segment (SPEC section 6, L section 4).

Time-varying, at frame rate (frame k centred on sample k·hop, 1 + len // hop frames):
  kick / snare / hihat activations, each divided by its per-segment max; the envelope (frame RMS).
Global: HPCP (12 bins, essentia, the real sample rate, averaged over frames, divided by its max)
  and 21 timbral values (TIMBRE_NAMES), raw; feature_stats() gives the train split's min/max for
  scaling them to [0, 1].

The drum activations come from a DrumTranscriber. The paper's neural transcriber (ADTLib,
TensorFlow 1) cannot be installed today, so the default is BandFluxTranscriber (spectral flux in a
low, a mid and a high band); anything with the same `activations` method can replace it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa

from loopgen.audio.timbre import TIMBRE_MODELS, TimbreError, band_filters, timbre

DRUM_NAMES = ("kick", "snare", "hihat")
TIMBRE_BANDS = ("lowpass90", "bandpass280", "highpass9k")
# Band-major: [lowpass90, bandpass280, highpass9k] x [hardness, depth, brightness, roughness, warmth, sharpness, boominess].
TIMBRE_NAMES = tuple(f"{band}_{model}" for band in TIMBRE_BANDS for model in TIMBRE_MODELS)
# essentia's HPCP with its default reference frequency (440 Hz): bin 0 is A.
HPCP_NAMES = ("A", "A#", "B", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#")
GLOBAL_FEATURES = {"hpcp": HPCP_NAMES, "timbre": TIMBRE_NAMES}

FEATURE_SCHEMA = pa.schema(
    [
        ("segment_id", pa.string()),
        ("loop_id", pa.string()),
        ("split", pa.string()),
        *[(name, pa.list_(pa.float32())) for name in (*DRUM_NAMES, "envelope")],
        ("hpcp", pa.list_(pa.float32())),  # 12, HPCP_NAMES order
        ("timbre", pa.list_(pa.float32())),  # 21 raw values, TIMBRE_NAMES order (NaN where a model failed)
    ]
)


def n_frames(n_samples: int, hop: int) -> int:
    return 1 + n_samples // hop


class DrumTranscriber(Protocol):
    names: tuple[str, ...]  # DRUM_NAMES

    def activations(self, audio: np.ndarray, sr: int, hop: int) -> np.ndarray:
        """(len(names), n_frames(len(audio), hop)) non-negative onset activations, unnormalised."""


@dataclass
class BandFluxTranscriber:
    """Half-wave rectified spectral flux of the log-compressed magnitude, summed per band."""

    bands_hz: dict = field(default_factory=lambda: {"kick": (20, 150), "snare": (150, 2500), "hihat": (5000, 8000)})
    n_fft: int = 1024
    # log(1 + compression·|X|): mild, so a hit's spill into the other bands stays well below its own peak
    compression: float = 1.0
    names: tuple[str, ...] = DRUM_NAMES

    def activations(self, audio: np.ndarray, sr: int, hop: int) -> np.ndarray:
        import librosa

        magnitude = np.abs(
            librosa.stft(np.asarray(audio, dtype=np.float32), n_fft=self.n_fft, hop_length=hop, center=True)
        )
        compressed = np.log1p(self.compression * magnitude)
        flux = np.maximum(0.0, np.diff(compressed, axis=1, prepend=compressed[:, :1]))
        freqs = librosa.fft_frequencies(sr=sr, n_fft=self.n_fft)
        rows = []
        for name in self.names:
            low, high = self.bands_hz[name]
            rows.append(flux[(freqs >= low) & (freqs < high)].sum(axis=0))
        return np.stack(rows)


def normalise_by_max(rows: np.ndarray) -> np.ndarray:
    """Each row divided by its max (a row of zeros stays zeros)."""
    peak = rows.max(axis=-1, keepdims=True)
    return np.divide(rows, peak, out=np.zeros_like(rows, dtype=np.float64), where=peak > 0)


def envelope(audio: np.ndarray, hop: int, frame: int) -> np.ndarray:
    """Frame RMS, frames centred on k·hop."""
    import librosa

    return librosa.feature.rms(y=np.asarray(audio, dtype=np.float32), frame_length=frame, hop_length=hop, center=True)[
        0
    ]


class Hpcp:
    """essentia HPCP averaged over frames and divided by its max; `sr` goes to every algorithm
    that needs it (essentia's defaults assume 44.1 kHz)."""

    def __init__(self, sr: int, frame_size: int = 4096, hop: int = 1024):
        import essentia
        import essentia.standard as es

        essentia.log.infoActive = False
        self.frame_size, self.hop = frame_size, hop
        self.window = es.Windowing(type="blackmanharris62", size=frame_size)
        self.spectrum = es.Spectrum(size=frame_size)
        self.peaks = es.SpectralPeaks(sampleRate=sr)
        self.hpcp = es.HPCP(sampleRate=sr, size=12)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        half = self.frame_size // 2
        padded = np.pad(np.asarray(audio, dtype=np.float32), (half, half))
        total = np.zeros(12)
        starts = range(0, len(padded) - self.frame_size + 1, self.hop)
        for start in starts:
            frequencies, magnitudes = self.peaks(self.spectrum(self.window(padded[start : start + self.frame_size])))
            total += self.hpcp(frequencies, magnitudes)
        mean = total / max(len(starts), 1)
        return mean / mean.max() if mean.max() > 0 else mean


class TimbreBands:
    """The 21 timbral values of one segment at its original sample rate (before down-sampling, so
    the 9 kHz high-pass band holds real content: SPEC section 6 decision). `engine`: 'fast' (our
    reproduction of timbral_models, same values) or 'reference' (the package itself); see timbre.py."""

    def __init__(
        self,
        sr: int,
        lowpass_hz=90.0,
        bandpass_hz=280.0,
        bandpass_octaves=1.0,
        highpass_hz=9000.0,
        engine: str = "fast",
    ):
        self.sr, self.engine = sr, engine
        # band -> second-order sections, or None where the band lies above Nyquist at this rate
        self.filters = band_filters(sr, lowpass_hz, bandpass_hz, bandpass_octaves, highpass_hz)

    @property
    def missing_bands(self) -> list[str]:
        return [band for band, sos in zip(TIMBRE_BANDS, self.filters.values()) if sos is None]

    def __call__(self, audio: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(21 values, problems); a band the models cannot analyse (silent, or above Nyquist) gives
        7 NaNs and a problem."""
        from scipy.signal import sosfilt

        values, problems = [], []
        for band, sos in zip(TIMBRE_BANDS, self.filters.values()):
            try:
                if sos is None:
                    raise TimbreError(f"band above Nyquist at {self.sr} Hz")
                values.append(timbre(sosfilt(sos, np.asarray(audio, dtype=np.float64)), self.sr, engine=self.engine))
            except TimbreError as error:
                values.append(np.full(len(TIMBRE_MODELS), np.nan))
                problems.append(f"{band}: {error}")
        return np.concatenate(values), problems


def feature_stats(hpcp: np.ndarray, timbre_values: np.ndarray) -> dict:
    """Train-split min/max of each global feature dimension (NaNs ignored), for [0, 1] scaling."""
    if len(hpcp) == 0:
        raise ValueError("no train segments: cannot compute feature statistics")
    stats = {"n_segments": int(len(hpcp))}
    for name, values, names in (("hpcp", hpcp, HPCP_NAMES), ("timbre", timbre_values, TIMBRE_NAMES)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column stays NaN (reported below)
            low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        stats[name] = {
            "names": list(names),
            "min": _json_floats(low),
            "max": _json_floats(high),
            "n_missing": [int(n) for n in np.isnan(values).sum(axis=0)],
        }
    return stats


def _json_floats(values) -> list:
    return [None if not np.isfinite(v) else float(v) for v in values]


def scale_global(values: np.ndarray, stats: dict, name: str) -> np.ndarray:
    """Scale raw `hpcp` or `timbre` values to [0, 1] with feature_stats (clipped); NaN stays NaN."""
    low = np.array([np.nan if v is None else v for v in stats[name]["min"]])
    high = np.array([np.nan if v is None else v for v in stats[name]["max"]])
    span = np.where(high > low, high - low, 1.0)
    return np.clip((np.asarray(values) - low) / span, 0.0, 1.0)
