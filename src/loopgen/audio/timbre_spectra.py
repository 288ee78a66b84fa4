"""Spectral helpers of timbre_fast, reproduced exactly from what the package calls: librosa's HPSS
median filters and soft masks, timbral_util's peak picker, bandwidth, centroid and third-octave /
Zwicker loudness, scipy's PSD spectrogram. Per-frame Python loops become whole-array numpy where the
summation order allows (each function says how it keeps the package's rounding). A function named
after a package function reproduces it; the package is the specification (timbre_fast.py says more).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from loopgen.audio import timbre_kernels as kernels
from loopgen.audio.timbral_package import timbral_util
from loopgen.audio.timbre_envelopes import rms_envelope


def median_filter_rows(x: np.ndarray, size: int) -> np.ndarray:
    """scipy.ndimage.median_filter(x, size=(1, size), mode='reflect'), exactly, for rows at least
    `size` long. Shorter rows (HPSS of signals under 0.35 s: fewer than 31 STFT frames) are where
    the package's result is not defined: scipy's edge extension then reads outside its line
    buffer and the medians change from process to process. Here they follow the documented
    'reflect' rule (d c b a | a b c d | d c b a, repeated), the same every time."""
    return kernels.median_rows(np.ascontiguousarray(x, dtype=np.float64), size)


def percussive_ratio(D: np.ndarray) -> float:
    """timbral_util.get_percussive_audio(audio, return_ratio=True) from librosa.stft(audio):
    librosa's HPSS (decompose.hpss: median filters across time and frequency, soft masks of power
    2), both parts back to audio, and the percussive share of their RMS frames. Same operations;
    our median kernel and both masks from one pass."""
    import librosa

    S, phase = librosa.magphase(D)
    harm = median_filter_rows(S, 31)  # kernel (1, 31): along time
    perc = median_filter_rows(S.T, 31).T  # kernel (31, 1): along frequency
    mask_harm, mask_perc = _soft_masks(harm, perc)
    percussive = rms_envelope(librosa.istft((S * mask_perc) * phase), step_size=1024, overlap_step=512, normalise=False)
    harmonic = rms_envelope(librosa.istft((S * mask_harm) * phase), step_size=1024, overlap_step=512, normalise=False)
    sounding = (percussive != 0) | (harmonic != 0)
    if not sounding.any():  # the package returns None, and log10(None) fails
        raise TypeError("no percussive or harmonic energy")
    p, h = percussive[sounding], harmonic[sounding]
    return np.average(p / (p + h), weights=p + h)


def _soft_masks(harm: np.ndarray, perc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """librosa.util.softmask(harm, perc, power=2, split_zeros=True) and the same with the roles
    swapped (what hpss computes with margin 1), sharing their common scale Z."""
    Z = np.maximum(harm, perc)
    tiny = Z < np.finfo(np.float64).tiny
    Z = np.where(tiny, 1.0, Z)
    h, p = (harm / Z) ** 2.0, (perc / Z) ** 2.0
    return np.where(tiny, 0.5, h / (h + p)), np.where(tiny, 0.5, p / (p + h))


def detect_peaks(array, freq, cthr=0.2, unprocessed_array=None):
    """timbral_util.detect_peaks(array, freq=freq, cthr=cthr, unprocessed_array=...): (indices,
    values, interpolated positions) of the peaks, highest first. The candidate scan is a kernel,
    the parabolic interpolation whole-array."""
    array = np.asarray(array, dtype=np.float64).flatten()
    unprocessed = array if unprocessed_array is None else np.asarray(unprocessed_array).flatten()
    appended = np.concatenate(([-2.0], array, [-2.0]))  # so the ends can be peaks
    unprocessed_appended = np.concatenate(([-2.0], unprocessed, [-2.0]))
    freq_appended = np.concatenate(([-1.0], freq, [-1.0]))
    diff = np.diff(appended)
    mx = np.flatnonzero((array >= cthr) & (diff[0:-1] > 0) & (diff[1:] <= 0)) + 1
    if len(mx) == 0:
        return [], [], []
    final = kernels.peak_scan(appended, mx, cthr)
    if len(final) == 0:  # the package indexes with an empty float list here
        raise IndexError("arrays used as indices must be of integer (or boolean) type")
    final = final[np.argsort(appended[final])[::-1]]

    y0, ym, yp = unprocessed_appended[final], unprocessed_appended[final - 1], unprocessed_appended[final + 1]
    f0, fm, fp = freq_appended[final], freq_appended[final - 1], freq_appended[final + 1]
    inner = (1 < final) & (final < (len(unprocessed_appended) - 2))
    with np.errstate(all="ignore"):
        p = (yp - ym) / (2 * (2 * y0 - yp - ym))
        value = np.where(inner, y0 - (0.25 * (ym - yp) * p), y0)
        position = np.where(p >= 0, ((1 - p) * f0) + (p * fp), ((1 + p) * f0) - (p * fm))
    if np.isnan(p[inner]).any():  # a flat top: the package's lists go out of step; let it answer
        return timbral_util().detect_peaks(array, freq=freq, cthr=cthr, unprocessed_array=unprocessed)
    return final - 1, value, np.where(inner, position, f0)


def column_sums(spec: np.ndarray) -> np.ndarray:
    """[np.sum(spec[:, i]) for i ...]: numpy sums a 1-D array pairwise, so each column is summed as
    a contiguous row (np.sum(spec, axis=0) would add the rows in sequence and round differently)."""
    return np.sum(np.ascontiguousarray(spec.T), axis=1)


def rollon_rolloff(
    magnitude: np.ndarray, thresholds: np.ndarray, rolloff_thresh: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per row (non-negative): the package's roll-on, the smallest n >= 1 with
    np.sum(row[:n]) >= threshold (its `while` loop), and its roll-off, the last index with
    row >= rolloff_thresh (-1 if none). A running sum finds n; numpy's pairwise np.sum rounds
    differently, so it decides wherever the two could fall on different sides of the threshold
    (a slack far above that rounding gap)."""
    rollon, uncertain, rolloff = kernels.rollon_rolloff(
        magnitude, thresholds, rolloff_thresh, 1e-8 * np.max(thresholds)
    )
    for r in np.flatnonzero(uncertain):
        row, threshold, n = magnitude[r], thresholds[r], rollon[r]
        while n > 1 and np.sum(row[: n - 1]) >= threshold:
            n -= 1
        while np.sum(row[:n]) < threshold:
            n += 1
        rollon[r] = n
    return rollon, rolloff


def bandwidth_array(
    audio: np.ndarray, fs: float, nperseg: int, overlap_step: int, rolloff_thresh: float, block: int = 64
) -> np.ndarray:
    """timbral_util.get_bandwidth_array(..., normalisation_method='none'): per frame of the boxcar
    magnitude spectrogram with enough power, the distance from the 5% roll-on (cumulative power)
    to the last bin above `rolloff_thresh`; 0 elsewhere.

    The spectrogram is scipy.signal.spectrogram's (window='boxcar', scaling='density',
    mode='magnitude', detrend='constant') by the same operations, minus the boxcar's
    multiplication by 1.0 and a complex copy; `block` frames at a time, each block reduced to its
    frames' statistics while in cache (together 2-3x faster than scipy's spectrogram alone)."""
    import scipy.fft
    from numpy.lib.stride_tricks import sliding_window_view

    f = scipy.fft.rfftfreq(nperseg, 1 / fs)
    frames = sliding_window_view(audio, nperseg)[::overlap_step]
    scale = np.sqrt(1.0 / (fs * float(nperseg)))
    tpower, rollon, rolloff = np.empty(len(frames)), np.empty(len(frames), int), np.empty(len(frames), int)
    for start in range(0, len(frames), block):
        chunk = frames[start : start + block]
        spectrum = scipy.fft.rfft(chunk - np.mean(chunk, axis=-1, keepdims=True), n=nperseg)
        spectrum *= scale
        magnitude = np.abs(spectrum)
        power = np.sum(magnitude, axis=1)
        done = slice(start, start + len(chunk))
        tpower[done] = power
        rollon[done], rolloff[done] = rollon_rolloff(magnitude, power * 0.05, rolloff_thresh)
    min_tpower = (0.1 * (np.max(tpower) - np.min(tpower))) + np.min(tpower)
    return np.where((tpower > min_tpower) & (rolloff >= 0), f[rolloff] - f[rollon - 1], 0.0)


def spectral_centroid(audio: np.ndarray, fs: float, lf_limit: float = 20):
    """timbral_util.get_spectral_features(audio, fs)[0], or None where it returns 0 (no energy).
    Its roll-on loop (O(n^2), result unused by hardness) is left out; builtin sum = sequential."""
    n_fft = int(pow(2, np.ceil(np.log2(len(audio)))))
    spectrum = np.fft.fft(np.ones(len(audio)) * audio, n_fft)
    spectrum = np.absolute(spectrum[0 : int(len(spectrum) / 2) + 1])
    if not np.sum(spectrum) > 0:
        return None
    freq = np.arange(0, len(spectrum), 1) * (fs / (2.0 * (len(spectrum) - 1)))
    lf_limit_idx = np.where(freq >= lf_limit)[0][0]
    spectrum, freq = spectrum[lf_limit_idx:], freq[lf_limit_idx:]
    return np.cumsum(spectrum * freq)[-1] / float(np.cumsum(spectrum)[-1])


def psd_spectrogram(
    x: np.ndarray, fs: float, window, nperseg: int, noverlap: int, nfft: int, scaling: str = "density"
) -> tuple[np.ndarray, np.ndarray]:
    """(freqs, Sxx) of scipy.signal.spectrogram(x, fs, window, nperseg, noverlap, nfft,
    detrend='constant', return_onesided=True, scaling, mode='psd') by its operations in its order,
    Sxx with its memory layout (which decides how later sums round), without its per-call set-up
    (window design, checks): 4x faster on the models' few-frame spectrograms."""
    import scipy.fft
    from numpy.lib.stride_tricks import sliding_window_view

    if len(x) == 0 or nperseg > len(x):
        raise ValueError(f"{len(x)} samples: spectrogram of {nperseg}-sample frames")  # not reached by the models
    win = window_of(window, nperseg)
    frames = sliding_window_view(x, nperseg)[:: nperseg - noverlap]
    frames = win * (frames - np.mean(frames, axis=-1, keepdims=True))
    result = scipy.fft.rfft(frames, n=nfft)
    result = np.conjugate(result) * result
    result *= 1.0 / win.sum() ** 2 if scaling == "spectrum" else 1.0 / (fs * (win * win).sum())
    if nfft % 2:
        result[..., 1:] *= 2
    else:
        result[..., 1:-1] *= 2
    return scipy.fft.rfftfreq(nfft, 1 / fs), result.real.T


@functools.cache
def window_of(window, n: int) -> np.ndarray:
    from scipy.signal import get_window

    return get_window(window, n)


def third_octave_levels(windows: np.ndarray, Pref: float, fs: float, Fmin=25, Fmax=12500, N=4) -> np.ndarray:
    """timbral_util.filter_third_octaves_downsample(...)[1] of every window (rows) at once."""
    import scipy.signal

    util = timbral_util()
    ff, _F, j = util.midbands(Fmin, Fmax, fs)
    x = np.asarray(windows, dtype=np.float64)
    P = np.zeros((len(x), len(j)))
    k = np.where(j == 7)[0][0]
    m = x.shape[1]
    designs = {}
    for i in range(len(j) - 1, k, -1):  # 6300 Hz and up: filtered directly
        designs[i - k] = util.filter_design2(ff[i], fs, N)  # the last octave's three designs are reused below
        P[:, i] = _band_levels(scipy.signal.lfilter(*designs[i - k], x, axis=-1), m)
    try:  # 5000 Hz and below: halve the rate, filter with the last octave's designs
        for i in range(k, 1, -3):
            C, D = util.scipy.signal.cheby1(2, 0.1, 0.4)
            x = scipy.signal.lfilter(C, D, x, axis=-1)[:, 1::2]
            fs = fs / 2.0
            m = x.shape[1]
            for band, offset in ((3, 0), (2, 1), (1, 2)):  # upper, centre, lower
                P[:, i - offset] = _band_levels(scipy.signal.lfilter(*designs[band], x, axis=-1), m)
    except Exception:  # noqa: BLE001 - the package's bare except (a design missing at low rates)
        P = P[:, 1 : len(j)]
    return P + Pref


def _band_levels(y: np.ndarray, m: int) -> np.ndarray:
    with np.errstate(divide="ignore"):
        level = 20 * np.log10(np.sqrt(np.sum(y**2.0, axis=1) / m))
    return np.where(np.max(y, axis=1) > 0, level, -1.0 * np.inf)


def specific_loudness(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N_entire (n,), N_single (n, 240)) of timbral_util.specific_loudness (free field) from the
    third-octave levels of n windows. The log of the three lowest critical bands is numpy's, as in
    the package (numpy's vectorised log10 may round differently from libm's)."""
    levels = np.ascontiguousarray(levels, dtype=np.float64)
    Gi = kernels.low_band_intensities(levels)
    with np.errstate(divide="ignore"):
        FNGi = 10 * np.log10(Gi)
    return kernels.loudness_patterns(levels, np.where(Gi > 0, FNGi, 0.0))


def vassilakis_roughness(levels: list, freqs: list, batch_pairs: int = 1 << 16) -> list:
    """Per frame, Timbral_Roughness's sum over all pairs of its peaks (levels v, frequencies f) of
    (v1 v2)^0.1 * 0.5 (2 v2 / (v1 + v2))^3.11 * plomp(f1, f2); 0 for frames with one peak or none.

    Same elementwise expressions on the same values, each frame summed as its own contiguous
    n x n grid like the package's np.sum. Faster by evaluating several frames' pairs per numpy
    call (up to `batch_pairs`, so they stay in cache) and only the lower triangle: plomp's np.tril
    makes every other term exactly 0."""
    sizes = [len(f) if len(f) > 1 else 0 for f in freqs]
    sums, batch = {}, []
    for frame in [i for i, n in enumerate(sizes) if n] + [None]:
        if batch and (frame is None or sum(sizes[i] ** 2 for i in batch) + sizes[frame] ** 2 > batch_pairs):
            sums.update(zip(batch, _pair_sums([levels[i] for i in batch], [freqs[i] for i in batch])))
            batch = []
        if frame is not None:
            batch.append(frame)
    return [sums.get(i, 0) for i in range(len(freqs))]


def _pair_sums(levels: list, freqs: list) -> list:
    n = [len(f) for f in freqs]
    grid_start = np.cumsum([0] + [m * m for m in n])  # each frame's n x n grid in one flat array
    peak_start = np.cumsum([0] + n)
    rows = np.concatenate([_lower_triangle(m)[0] + p for m, p in zip(n, peak_start)])
    cols = np.concatenate([_lower_triangle(m)[1] + p for m, p in zip(n, peak_start)])
    flat = np.concatenate([_lower_triangle(m)[2] + g for m, g in zip(n, grid_start)])
    level, freq = np.concatenate(levels), np.concatenate(freqs)
    v1, v2 = level[rows], level[cols]  # the package's kron grids: v1 = v2.T
    f1, f2 = freq[rows], freq[cols]
    X = v1 * v2
    Y = (2 * v2) / (v1 + v2)
    b1, b2, xstar, s1, s2 = 3.51, 5.75, 0.24, 0.0207, 18.96  # Timbral_Roughness.plomp
    s = xstar / ((s1 * np.minimum(f1, f2)) + s2)
    distance = np.abs(f2 - f1)
    Z = np.exp(-b1 * s * distance) - np.exp(-b2 * s * distance)
    rough = np.zeros(grid_start[-1])
    rough[flat] = (X**0.1) * (0.5 * (Y**3.11)) * Z
    return [np.sum(rough[start:stop]) for start, stop in itertools.pairwise(grid_start)]


@functools.cache
def _lower_triangle(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and flat positions of an n x n grid's lower triangle (diagonal included)."""
    rows, cols = np.tril_indices(n)
    return rows, cols, rows * n + cols


def line_fit_r2(x: np.ndarray, y: np.ndarray) -> float:
    """R² of the least-squares line through (x, y): what the package gets from sklearn's
    LinearRegression(fit_intercept=False).fit(X, y).score(X, y) with X = [x, 1], computed as
    sklearn does (LAPACK lstsq, residual and total sums of squares) without its validation
    overhead (two thirds of the warmth model)."""
    import scipy.linalg

    X = np.array([x, np.ones_like(x)]).transpose()
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("Input contains NaN or infinity.")  # sklearn's check (log10 of an empty bin)
    coef = scipy.linalg.lstsq(X, y)[0]
    numerator = np.sum((y - X @ coef) ** 2)
    denominator = np.sum((y - np.mean(y)) ** 2)
    if denominator == 0:  # sklearn's r2_score: a constant target scores 1 if fitted exactly, else 0
        return 1.0 if numerator == 0 else 0.0
    return 1 - numerator / denominator
