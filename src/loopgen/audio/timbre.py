"""The seven AudioCommons timbral models (`timbral_models` 0.4.0, the package LoopNet used), run
unmodified on today's numpy and librosa through small shims.

Why the real package and not our own re-implementation: its models are empirical regressions with
hand-tuned constants; a re-implementation could only be "close", and the features would no longer be
the paper's. The package fails today for three reasons only, all fixed here without editing it:
- `np.lib.pad` was removed in numpy 2 (hardness, roughness) -> its modules see a numpy with `lib.pad`;
- librosa >= 0.10 takes audio and rate as keywords only (`onset_detect(y, sr)`, `onset_strength`,
  `resample(y, a, b)`) -> its modules see a librosa whose functions accept the old positional calls;
- its setup.py requires the withdrawn `sklearn` PyPI name, so `pip install timbral_models` fails
  -> set-up installs it with `pip install --no-deps timbral_models==0.4.0`; its real dependencies
  (scikit-learn, pyloudnorm, six) are ordinary dependencies in pyproject.toml.
The shims replace module globals of the package's modules only; numpy and librosa stay untouched
for everyone else. One speed shim: its loudness model designs the same ~700 IIR filters on every
call, so `butter`/`cheby1` are memoised (same coefficients, ~25% faster).

Two engines compute the same numbers (timbre(..., engine=...)):
- 'fast' (default): timbre_fast.py, our reproduction of the seven models: the package's algorithms
  and floating-point operations, with the work they share done once and their Python loops
  vectorised or compiled; 5.5x faster. On all 408 demo segments its 8,568 values are bit-identical
  to the package's (tests/unit/test_audio_timbre.py checks real segments within 1e-9 relative).
  One deviation, for signals under 0.35 s only: see timbre_fast.py.
- 'reference': the package's own functions through the shims above: the specification, kept
  callable for the tests and benchmarks/bench_audio.py, which print both side by side.
"""

from __future__ import annotations

import functools
import types
import warnings

import numpy as np

# The order of the seven models inside each band (band-major layout: see features.TIMBRE_NAMES).
TIMBRE_MODELS = ("hardness", "depth", "brightness", "roughness", "warmth", "sharpness", "boominess")
# timbral_models names boominess "booming".
_FUNCTION_NAMES = {name: "booming" if name == "boominess" else name for name in TIMBRE_MODELS}


def _forward(target, **overrides):
    """A module that answers like `target` except for `overrides`. A copy of the namespace rather
    than a __getattr__ proxy: the package calls numpy functions ~10^5 times per segment."""
    module = types.ModuleType(target.__name__)
    module.__dict__.update(vars(target))
    module.__dict__.update(overrides)
    module.__getattr__ = lambda name: getattr(target, name)  # lazily loaded submodules
    return module


def _memoised(design):
    """Cache a scipy filter-design function; lists in the arguments become tuples for the key."""

    @functools.lru_cache(maxsize=8192)
    def cached(args, kwargs):
        return design(*[list(a) if isinstance(a, tuple) else a for a in args], **dict(kwargs))

    def call(*args, **kwargs):
        key = tuple(tuple(np.ravel(a).tolist()) if isinstance(a, (list, np.ndarray)) else a for a in args)
        return cached(key, tuple(sorted(kwargs.items())))

    return call


def _positional(function, *names):
    """librosa >= 0.10 wants keywords; accept the old positional call `function(y, sr, ...)`."""

    def call(*args, **kwargs):
        kwargs.update(zip(names, args))
        return function(**kwargs)

    return call


@functools.cache
def models() -> dict:
    """name -> timbral_models function, with the package's modules shimmed (done once)."""
    import librosa
    import scipy.signal
    import scipy.stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import timbral_models
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                "timbral_models is not installed: run `pip install --no-deps timbral_models==0.4.0` "
                "(--no-deps because its setup.py requires the withdrawn 'sklearn' package name)"
            ) from error
        from timbral_models import Timbral_Hardness, Timbral_Roughness, timbral_util

    numpy_compat = _forward(np, lib=_forward(np.lib, pad=np.pad))
    librosa_compat = _forward(
        librosa,
        onset=_forward(
            librosa.onset,
            onset_detect=_positional(librosa.onset.onset_detect, "y", "sr"),
            onset_strength=_positional(librosa.onset.onset_strength, "y", "sr"),
        ),
        core=_forward(librosa.core, resample=_positional(librosa.resample, "y", "orig_sr", "target_sr")),
    )
    butter, cheby1 = _memoised(scipy.signal.butter), _memoised(scipy.signal.cheby1)
    for module in (timbral_util, Timbral_Hardness, Timbral_Roughness):
        module.np = numpy_compat
    for module in (timbral_util, Timbral_Hardness):
        module.librosa = librosa_compat
    timbral_util.butter = butter
    timbral_util.scipy = _forward(scipy, signal=_forward(scipy.signal, butter=butter, cheby1=cheby1), stats=scipy.stats)
    return {name: getattr(timbral_models, f"timbral_{fn}") for name, fn in _FUNCTION_NAMES.items()}


class TimbreError(ValueError):
    """A timbral model could not analyse a signal (e.g. a silent band)."""


ENGINES = ("fast", "reference")


def timbre(audio: np.ndarray, sr: int, names: tuple[str, ...] = TIMBRE_MODELS, engine: str = "fast") -> np.ndarray:
    """The timbral models' raw scores (float64, in the order of `names`) for one mono signal.

    engine 'fast': our reproduction of the package (timbre_fast.py, same values);
    'reference': the package's own functions through the shims above.
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
            except Exception as error:  # the package raises bare ValueError/IndexError on degenerate input
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
    from loopgen.audio import timbre_fast

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
        "bandpass": (butter(1, [bandpass_hz / half, bandpass_hz * half], "bandpass", fs=sr, output="sos")
                     if bandpass_hz * half < nyquist else None),
        "highpass": butter(1, highpass_hz, "highpass", fs=sr, output="sos") if highpass_hz < nyquist else None,
    }
