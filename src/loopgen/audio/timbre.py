"""The seven AudioCommons timbral models (`timbral_models` 0.4.0, the package LoopNet used): one
call, two engines that compute the same numbers (timbre(..., engine=...)):
- 'fast' (default): timbre_fast.py, our reproduction of the seven models: the package's algorithms
  and floating-point operations, with the work they share done once and their Python loops
  vectorised or compiled; 5.5x faster. On all 408 demo segments its 8,568 values are bit-identical
  to the package's (tests/unit/test_audio_timbre.py checks real segments within 1e-9 relative).
  One deviation, for signals under 0.35 s only: see timbre_fast.py.
- 'reference': the package's own functions, run unmodified through the shims of
  timbral_package.py: the specification, kept callable for the tests and benchmarks/bench_audio.py,
  which print both side by side.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from loopgen.audio.timbral_package import TIMBRE_MODELS, models


class TimbreError(ValueError):
    """A timbral model could not analyse a signal (e.g. a silent band)."""


ENGINES = ("fast", "reference")


def timbre(audio: np.ndarray, sr: int, names: tuple[str, ...] = TIMBRE_MODELS, engine: str = "fast") -> np.ndarray:
    """The timbral models' raw scores (float64, in the order of `names`) for one mono signal.

    engine 'fast': our reproduction of the package (timbre_fast.py, same values);
    'reference': the package's own functions through timbral_package.py's shims.
    A model that fails gives NaN; the first failure's message is raised as TimbreError only when
    every model fails (a silent signal), so callers can log one line per segment and band.
    """
    if engine not in ENGINES:
        raise ValueError(f"timbre engine {engine!r}: expected one of {ENGINES}")
    audio = np.ascontiguousarray(audio, dtype=np.float64)
    values, errors = [], []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        functions = _fast_functions(audio, sr) if engine == "fast" else _reference_functions(audio, sr)
        for name in names:
            try:
                values.append(float(functions[name]()))
            except Exception as error:  # noqa: BLE001 - the package raises bare ValueError/IndexError on degenerate input
                values.append(np.nan)
                errors.append(f"{name}: {type(error).__name__}: {error}")
    if len(errors) == len(names):
        raise TimbreError(errors[0])
    return np.array(values, dtype=np.float64)


def _reference_functions(audio: np.ndarray, sr: int) -> dict:
    return {name: functools.partial(function, audio, fs=sr) for name, function in models().items()}


def _fast_functions(audio: np.ndarray, sr: int) -> dict:
    """name -> call; the models share one timbre_fast.Analysis of the signal (read and
    loudness-normalised once). If that fails (silence), every model fails with its error."""
    from loopgen.audio import timbre_fast  # here, not at the top: numba and librosa take ~0.6 s to import

    try:
        analysis = timbre_fast.Analysis(audio, sr)
    except Exception as error:  # noqa: BLE001 - e.g. the package's "Input file is silence, cannot be analysed."
        return dict.fromkeys(TIMBRE_MODELS, functools.partial(_reraise, error))
    return {name: functools.partial(model, analysis) for name, model in timbre_fast.MODELS.items()}


def _reraise(error: Exception):
    raise error


def band_filters(sr: int, lowpass_hz: float, bandpass_hz: float, bandpass_octaves: float, highpass_hz: float) -> dict:
    """name -> second-order sections of the three analysis bands of L section 4.2: a 1st-order
    low-pass, a 2nd-order band-pass (1st-order Butterworth band-pass `bandpass_octaves` wide around
    its centre) and a 1st-order high-pass. A band reaching Nyquist at `sr` maps to None."""
    from scipy.signal import butter

    half = 2.0 ** (bandpass_octaves / 2)
    nyquist = sr / 2
    return {
        "lowpass": butter(1, lowpass_hz, "lowpass", fs=sr, output="sos") if lowpass_hz < nyquist else None,
        "bandpass": (
            butter(1, [bandpass_hz / half, bandpass_hz * half], "bandpass", fs=sr, output="sos")
            if bandpass_hz * half < nyquist
            else None
        ),
        "highpass": butter(1, highpass_hz, "highpass", fs=sr, output="sos") if highpass_hz < nyquist else None,
    }
