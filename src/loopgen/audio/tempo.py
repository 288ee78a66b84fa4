"""Tempo confidence of an annotated loop (Font & Serra 2016, "Tempo estimation for music loops and
a simple confidence measure"; SPEC section 5).

A loop annotated with `bpm` should last a whole number of beats. With beat = 60·sr/bpm samples,
the candidate lengths are n·beat (n = 1..max_beats); δ = distance from the loop's length to the
nearest one, λ = tolerance·beat, and confidence = 1 − δ/λ (0 when δ > λ). Files often carry
silence before the first or after the last sound, so the confidence is the maximum over four
spans: the whole file, without the leading silence, without the trailing silence, without both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRIMS = ("none", "leading", "trailing", "both")


@dataclass(frozen=True)
class TempoCheck:
    confidence: float
    trim: str  # the best-scoring span (the first of TRIMS on ties)
    start: int  # that span in samples: audio[start:end]
    end: int
    beats: float  # its length in beats
    n_beats: int  # the nearest candidate n


def silence_bounds(audio: np.ndarray, silence_db: float) -> tuple[int, int]:
    """First and one-past-last sample whose magnitude is within `silence_db` of the peak."""
    magnitude = np.abs(audio)
    loud = np.flatnonzero(magnitude >= magnitude.max() * 10.0 ** (silence_db / 20.0))
    return int(loud[0]), int(loud[-1]) + 1


def length_confidence(n_samples: float, sr: float, bpm: float, max_beats: int = 127, tolerance: float = 0.5):
    """(confidence, length in beats, nearest whole number of beats n in 1..max_beats)."""
    beat = 60.0 * sr / bpm
    beats = n_samples / beat
    n = int(np.clip(np.rint(beats), 1, max_beats))
    delta = abs(n_samples - n * beat)
    confidence = max(0.0, 1.0 - delta / (tolerance * beat))
    return confidence, beats, n


def check_tempo(
    audio: np.ndarray, sr: int, bpm: float, max_beats: int = 127, tolerance: float = 0.5, silence_db: float = -60.0
) -> TempoCheck:
    """The best of the four spans (see the module docstring)."""
    first, last = silence_bounds(audio, silence_db)
    spans = {"none": (0, len(audio)), "leading": (first, len(audio)), "trailing": (0, last), "both": (first, last)}
    best = None
    for trim in TRIMS:
        start, end = spans[trim]
        confidence, beats, n = length_confidence(end - start, sr, bpm, max_beats, tolerance)
        if best is None or confidence > best.confidence:
            best = TempoCheck(confidence, trim, start, end, beats, n)
    return best
