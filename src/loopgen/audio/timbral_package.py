"""The AudioCommons timbral models package (`timbral_models` 0.4.0, the one LoopNet used), run
unmodified on today's numpy and librosa through small shims: the specification timbre_fast.py
reproduces, and the 'reference' engine of timbre.py.

Why the real package and not only our own re-implementation: its models are empirical regressions
with hand-tuned constants; a re-implementation could only be "close" unless checked against it, and
the features would no longer be the paper's. The package fails today for three reasons only, all
fixed here without editing it:
- `np.lib.pad` was removed in numpy 2 (hardness, roughness) -> its modules see a numpy with `lib.pad`;
- librosa >= 0.10 takes audio and rate as keywords only (`onset_detect(y, sr)`, `onset_strength`,
  `resample(y, a, b)`) -> its modules see a librosa whose functions accept the old positional calls;
- its setup.py requires the withdrawn `sklearn` PyPI name, so `pip install timbral_models` fails
  -> set-up installs it with `pip install --no-deps timbral_models==0.4.0`; its real dependencies
  (scikit-learn, pyloudnorm, six) are ordinary dependencies in pyproject.toml.
The shims replace module globals of the package's modules only; numpy and librosa stay untouched
for everyone else. One speed shim: its loudness model designs the same ~700 IIR filters on every
call, so `butter`/`cheby1` are memoised (same coefficients, ~25% faster).
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


def timbral_util():
    """The package's timbral_util, shimmed (models() installs the shims once)."""
    models()
    from timbral_models import timbral_util

    return timbral_util
