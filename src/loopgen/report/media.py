"""The page's pictures and sounds: pianoroll and spectrogram PNGs, WAV files.

Images are written with matplotlib's imsave (no figure, no axes): a few milliseconds each, so a
page of a hundred cells costs nothing next to the FluidSynth renders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from loopgen.roll import N_DRUM, STEPS_PER_BAR, unpack_rolls

# Pianoroll colours (RGB 0-1): drums, bass, bar lines, background.
DRUM_RGB = (0.85, 0.33, 0.10)
BASS_RGB = (0.00, 0.45, 0.70)
BAR_RGB = (0.80, 0.80, 0.80)
BACKGROUND_RGB = (1.0, 1.0, 1.0)
PIXELS = 2  # each roll cell is PIXELS x PIXELS


def pianoroll_rgb(roll: np.ndarray) -> np.ndarray:
    """(128, 57) bool roll (or 912 packed bytes) -> (rows, steps, 3) image: bass pitches rising
    upwards above the 9 drum rows, grey bar lines, PIXELS per cell."""
    roll = unpack_rolls(np.asarray(roll, np.uint8)[None])[0] if roll.dtype == np.uint8 else np.asarray(roll, bool)
    image = np.empty((*roll.T.shape, 3))
    image[:] = BACKGROUND_RGB
    image[:, ::STEPS_PER_BAR] = BAR_RGB
    drums, bass = roll[:, :N_DRUM].T, roll[:, N_DRUM:].T
    image[:N_DRUM][drums] = DRUM_RGB
    image[N_DRUM:][bass] = BASS_RGB
    image = image[::-1]  # highest bass pitch on top, drums at the bottom
    return np.repeat(np.repeat(image, PIXELS, axis=0), PIXELS, axis=1)


def write_pianoroll(roll: np.ndarray, path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, pianoroll_rgb(roll))
    return path


def log_spectrogram(audio: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """(frequencies, frames) dB magnitude, 0 dB at the loudest bin, floored at -80 dB."""
    from scipy.signal import stft

    _f, _t, spec = stft(np.asarray(audio, np.float32), nperseg=n_fft, noverlap=n_fft - hop, boundary=None)
    magnitude = np.abs(spec)
    db = 20 * np.log10(np.maximum(magnitude, 1e-10) / max(magnitude.max(), 1e-10))
    return np.maximum(db, -80.0)


def write_spectrogram(audio: np.ndarray, path, height: int = 96, max_width: int = 256) -> Path:
    """A small spectrogram picture (low frequencies at the bottom), `height` pixels tall and at
    most `max_width` wide (frames picked evenly), so a long loop fits a grid cell."""
    import matplotlib.pyplot as plt

    spec = log_spectrogram(audio)[::-1]
    rows = np.linspace(0, len(spec) - 1, height).round().astype(int)
    spec = spec[:, np.linspace(0, spec.shape[1] - 1, min(spec.shape[1], max_width)).round().astype(int)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, spec[rows], cmap="magma", vmin=-80, vmax=0)
    return path


def write_wav(audio: np.ndarray, sample_rate: int, path) -> Path:
    """Float audio in [-1, 1] or int16 PCM -> a 16-bit WAV (the format every browser plays)."""
    from loopgen.render import write_wav as write_float_wav

    audio = np.asarray(audio)
    write_float_wav(path, audio / 32768.0 if audio.dtype == np.int16 else audio, sample_rate)
    return Path(path)


def read_audio(path) -> tuple[np.ndarray, int]:
    """(mono float32 audio, sample rate) of a sound file."""
    import soundfile

    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


def copy_figure(source, out) -> str:
    """Copy a workflow figure into out/img/ under a name made of its path; return the page's
    relative path to it."""
    import shutil

    source = Path(source)
    name = "-".join(source.parts[-3:]) if len(source.parts) >= 3 else source.name
    target = Path(out) / "img" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return f"img/{name}"
