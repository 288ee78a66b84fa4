"""Rendered test signals with known answers: click and drum loops, chords, noise, a tiny dump.

Used by the unit tests and the benchmark (the demo corpus has its own, richer generator).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

NOTE_FREQ_A4 = 440.0


def hit(kind: str, sr: int, rng: np.random.Generator, length_s: float = 0.12) -> np.ndarray:
    """One drum hit: 'kick' (a 55 Hz decaying sine), 'snare' (mid-band noise + 190 Hz tone),
    'hihat' (high-passed noise), 'click' (a short broadband tick)."""
    from scipy.signal import butter, sosfilt

    n = int(length_s * sr)
    t = np.arange(n) / sr
    if kind == "kick":
        return np.sin(2 * np.pi * 55 * t) * np.exp(-t * 25)
    if kind == "snare":
        noise = sosfilt(butter(2, [300, 2000], "bandpass", fs=sr, output="sos"), rng.standard_normal(n))
        return (0.6 * noise / np.abs(noise).max() + 0.4 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 30)
    if kind == "hihat":
        noise = sosfilt(butter(4, min(6000, 0.4 * sr), "highpass", fs=sr, output="sos"), rng.standard_normal(n))
        return 0.5 * noise / np.abs(noise).max() * np.exp(-t * 60)
    if kind == "click":
        return np.sin(2 * np.pi * 1000 * t[: int(0.01 * sr)]) * np.hanning(int(0.01 * sr))
    raise ValueError(f"unknown hit {kind!r}")


def render(events, n_samples: int, sr: int, seed: int = 0) -> np.ndarray:
    """Mix hits: `events` = [(time in s, kind, gain)]."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n_samples)
    for time, kind, gain in events:
        sound = gain * hit(kind, sr, rng)
        start = int(round(time * sr))
        end = min(n_samples, start + len(sound))
        if start < n_samples:
            out[start:end] += sound[: end - start]
    return out.astype(np.float32)


def click_loop(
    bpm: float, n_beats: int, sr: int, lead_s: float = 0.0, trail_s: float = 0.0, bed: float = 0.01
) -> np.ndarray:
    """A click on every beat over a quiet 220 Hz bed (so sound lasts to the loop's end, as in real
    loops), exactly n_beats long at bpm, with optional digital silence before and after."""
    beat = 60.0 / bpm
    n = int(round(n_beats * beat * sr))
    body = render([(i * beat, "click", 0.8) for i in range(n_beats)], n, sr)
    body += (bed * np.sin(2 * np.pi * 220 * np.arange(n) / sr)).astype(np.float32)
    return np.concatenate(
        [np.zeros(int(round(lead_s * sr)), np.float32), body, np.zeros(int(round(trail_s * sr)), np.float32)]
    )


def drum_bar(pattern: str, bpm: float, sr: int, bar_index: int = 0) -> list[tuple[float, str, float]]:
    """Events of one 4/4 bar from a 16-step pattern string per line: 'k...s...' style, keyed by
    the first letter (k kick, s snare, h hihat), bar_index places it in time."""
    step = 60.0 / bpm / 4
    kinds = {"k": "kick", "s": "snare", "h": "hihat"}
    events = []
    for line in pattern.split():
        for i, char in enumerate(line):
            if char != ".":
                events.append(((bar_index * 16 + i) * step, kinds[char], 0.7))
    return events


def drum_loop(bars: list[str], bpm: float, sr: int, seed: int = 0) -> np.ndarray:
    """A loop of len(bars) bars, each given as a pattern for drum_bar."""
    events = [e for i, pattern in enumerate(bars) for e in drum_bar(pattern, bpm, sr, i)]
    return render(events, int(round(len(bars) * 4 * 60.0 / bpm * sr)), sr, seed)


def chord(midi_notes, seconds: float, sr: int) -> np.ndarray:
    """Sum of sawtooth-ish tones (5 harmonics) at the given MIDI notes."""
    t = np.arange(int(seconds * sr)) / sr
    out = np.zeros_like(t)
    for note in midi_notes:
        f0 = NOTE_FREQ_A4 * 2 ** ((note - 69) / 12)
        for k in range(1, 6):
            if k * f0 < sr / 2:
                out += np.sin(2 * np.pi * k * f0 * t) / k
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def noise(seconds: float, sr: int, lowpass_hz: float | None = None, seed: int = 0) -> np.ndarray:
    """White noise, optionally low-passed (4th order) — darker noise."""
    from scipy.signal import butter, sosfilt

    x = np.random.default_rng(seed).standard_normal(int(seconds * sr))
    if lowpass_hz:
        x = sosfilt(butter(4, lowpass_hz, "lowpass", fs=sr, output="sos"), x)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def write_wav(path: str | Path, audio: np.ndarray, sr: int) -> None:
    import soundfile

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, audio, sr, subtype="PCM_16")


def write_metadata(path: str | Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "bpm", "key", "genre", "category"])
        writer.writeheader()
        for row in rows:
            writer.writerow({"key": "", "genre": "", "category": "drums", **row})
