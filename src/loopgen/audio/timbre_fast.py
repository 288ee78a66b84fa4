"""The seven AudioCommons timbral models of `timbral_models` 0.4.0, reproduced for speed.

Same algorithms, constants and floating-point operations in the same order wherever the result
depends on it (summation order included), so the values equal the package's: bit-identical on every
demo segment checked (tests/unit/test_audio_timbre.py allows 1e-9 relative; benchmarks/bench_audio.py
prints both engines side by side). ~5.5x faster on the demo's 1-bar segments at 44.1 kHz, from:

- work the models share, done once per signal: the package re-reads and loudness-normalises the
  signal in each of the 7 models, computes the same 20 windows of Zwicker loudness 5 times (in 4
  models), librosa's onset strength twice per model, and the same 20 Hz high-pass in two models;
- sequential Python loops compiled (timbre_kernels.py, numba): the sample-and-hold envelope, the
  31-point median filters of librosa's HPSS (scipy's generic rank filter was a third of the
  hardness model), the Zwicker loudness pattern, the peak picker's candidate scan, the roll-on;
- per-frame loops as whole-array numpy: spectrogram statistics (bandwidth, depth, brightness),
  RMS envelopes, the third-octave filter bank over all windows, roughness over all peak pairs
  (lower triangle only: the package's np.tril zeroes the rest);
- builtin max/min over long numpy arrays (a Python loop per element) -> numpy reductions;
- scipy's spectrogram and sklearn's LinearRegression replaced by their few operations, without
  their per-call set-up and validation.

One deviation: the package's HPSS median filter (scipy.ndimage) is undefined on spectrograms with
fewer than 31 frames (signals under 0.35 s at 44.1 kHz: it reads outside its buffer and changes
from run to run); ours reflects the edges there as scipy documents. Pipeline segments are 1 bar.

Still called from the package (through timbre.py's shims): file_read (loudness normalisation,
up-sampling below 44.1 kHz), window_audio, the filter helpers, the sharpness / booming weightings.
A function named after a package function reproduces it; the package is the specification.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from loopgen.audio import timbre_kernels as kernels
from loopgen.audio.timbre import TIMBRE_MODELS, models

# The loudness-window models: every one of them windows the normalised signal into 4096 samples.
LOUDNESS_WINDOW = 4096


def _util():
    """The package's timbral_util, shimmed (timbre.models() installs the shims once)."""
    models()
    from timbral_models import timbral_util

    return timbral_util


def sample_and_hold_envelope(audio: np.ndarray, fs: float, decay_time: float = 0.2, hold_time: float = 0.01) -> np.ndarray:
    """timbral_util.sample_and_hold_envelope_calculation."""
    abs_samples = np.abs(np.asarray(audio, dtype=np.float64))
    decay = np.max(abs_samples) / (decay_time * fs)
    return kernels.sample_and_hold(abs_samples, decay, hold_time * fs)


def median_filter_rows(x: np.ndarray, size: int) -> np.ndarray:
    """scipy.ndimage.median_filter(x, size=(1, size), mode='reflect'), exactly, for rows at least
    `size` long. Shorter rows (HPSS of signals under 0.35 s: fewer than 31 STFT frames) are where
    the package's result is not defined: scipy's edge extension then reads outside its line
    buffer and the medians change from process to process. Here they follow the documented
    'reflect' rule (d c b a | a b c d | d c b a, repeated), the same every time."""
    return kernels.median_rows(np.ascontiguousarray(x, dtype=np.float64), size)


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
        return _util().detect_peaks(array, freq=freq, cthr=cthr, unprocessed_array=unprocessed)
    return final - 1, value, np.where(inner, position, f0)


# ----------------------------------------------------------------------------------------------
# exact whole-array versions of per-frame loops


def column_sums(spec: np.ndarray) -> np.ndarray:
    """[np.sum(spec[:, i]) for i ...]: numpy sums a 1-D array pairwise, so each column is summed as
    a contiguous row (np.sum(spec, axis=0) would add the rows in sequence and round differently)."""
    return np.sum(np.ascontiguousarray(spec.T), axis=1)


def rms_rows(frames: np.ndarray) -> np.ndarray:
    """[np.sqrt(np.mean(f * f)) for f in frames] (row-wise reductions are pairwise too)."""
    return np.sqrt(np.mean(frames * frames, axis=1))


def rollon_rolloff(magnitude: np.ndarray, thresholds: np.ndarray, rolloff_thresh: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row (non-negative): the package's roll-on, the smallest n >= 1 with
    np.sum(row[:n]) >= threshold (its `while` loop), and its roll-off, the last index with
    row >= rolloff_thresh (-1 if none). A running sum finds n; numpy's pairwise np.sum rounds
    differently, so it decides wherever the two could fall on different sides of the threshold
    (a slack far above that rounding gap)."""
    rollon, uncertain, rolloff = kernels.rollon_rolloff(magnitude, thresholds, rolloff_thresh, 1e-8 * np.max(thresholds))
    for r in np.flatnonzero(uncertain):
        row, threshold, n = magnitude[r], thresholds[r], rollon[r]
        while n > 1 and np.sum(row[: n - 1]) >= threshold:
            n -= 1
        while np.sum(row[:n]) < threshold:
            n += 1
        rollon[r] = n
    return rollon, rolloff


def rms_envelope(audio: np.ndarray, step_size: int = 256, overlap_step: int = 256, normalise: bool = True) -> np.ndarray:
    """timbral_util.calculate_rms_enveope."""
    starts = np.arange(0, max(len(audio) - step_size, 0), overlap_step)
    frames = audio[starts[:, None] + np.arange(step_size)] if len(starts) else np.zeros((0, step_size))
    last = audio[starts[-1] + overlap_step if len(starts) else 0 :]
    envelope = np.append(rms_rows(frames), np.sqrt(np.mean(last * last)))
    return envelope * (1.0 / max(abs(envelope))) if normalise else envelope


def _nonempty(values):
    """The package takes builtin max/min of numpy arrays; numpy's are the same value, minus the
    Python loop. This keeps the builtins' error on an empty sequence (the model then fails)."""
    if len(values) == 0:
        raise ValueError("max() arg is an empty sequence")
    return values


# ----------------------------------------------------------------------------------------------
# Zwicker loudness of the 4096-sample windows (sharpness, booming, warmth, weighted bark levels)


def third_octave_levels(windows: np.ndarray, Pref: float, fs: float, Fmin=25, Fmax=12500, N=4) -> np.ndarray:
    """timbral_util.filter_third_octaves_downsample(...)[1] of every window (rows) at once."""
    import scipy.signal

    util = _util()
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


# ----------------------------------------------------------------------------------------------
# onsets and attacks (timbral_util.calculate_onsets / return_loop / calculate_attack_time)


def onset_strength(audio: np.ndarray, fs: float, stft: np.ndarray | None = None) -> np.ndarray:
    """librosa.onset.onset_strength(y=audio, sr=fs), with the mel filter bank built once per rate
    (librosa builds it on every call) and optionally the signal's default librosa.stft given."""
    import librosa

    if stft is None:
        stft = librosa.stft(audio, n_fft=2048, hop_length=512, center=True, window="hann", pad_mode="constant")
    power = np.abs(stft) ** 2.0
    mel = np.einsum("...ft,mf->...mt", power, _mel_basis(fs), optimize=True)
    return librosa.onset.onset_strength(S=librosa.power_to_db(np.abs(mel)), sr=fs)


@functools.cache
def _mel_basis(fs: float) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=fs, n_fft=2048, fmax=0.5 * fs)


def return_loop(onset_loc, envelope, function_time_thresh, hist_threshold, hist_time_samples, nperseg=512):
    """timbral_util.return_loop with numpy reductions."""
    while True:
        current_sample = envelope[int(onset_loc)]
        if onset_loc - function_time_thresh > 0:
            evaluation_array = envelope[onset_loc - function_time_thresh - 1 : onset_loc]
        else:
            evaluation_array = envelope[: onset_loc - 1]
        if np.min(_nonempty(evaluation_array)) - current_sample <= 0:
            new_onset_loc = np.argmin(evaluation_array) + onset_loc - function_time_thresh - 1
            if new_onset_loc > nperseg:
                onset_loc = new_onset_loc
            else:
                return 0
        else:
            if (onset_loc - hist_time_samples - 1) > 0:
                hyst_evaluation_array = envelope[onset_loc - hist_time_samples - 1 : onset_loc]
            else:
                hyst_evaluation_array = envelope[:onset_loc]
            all_match = np.where(hyst_evaluation_array < envelope[onset_loc])
            if len(all_match[0]) == 0:
                return onset_loc
            last_min = all_match[0][-1]
            last_idx = int(onset_loc - len(hyst_evaluation_array) + last_min)
            tail = hyst_evaluation_array[last_min:]
            if np.max(tail) - np.min(tail) >= hist_threshold:
                return onset_loc
            if last_idx >= nperseg:
                onset_loc = last_idx
            else:
                return 0


def calculate_onsets(audio, envelope, fs, strength, look_back_time=20, hysteresis_time=300, hysteresis_percent=10,
                     onset_in_noise_threshold=10, minimum_onset_time_separation=100, nperseg=512) -> list:
    """timbral_util.calculate_onsets given librosa's onset strength of `audio` (computed once by the
    caller; the package computes it twice). Same statements, numpy reductions for builtin max/min."""
    import librosa

    onsets = librosa.onset.onset_detect(onset_envelope=strength, sr=fs, backtrack=True, units="samples")
    time_thresh = int(look_back_time * 0.001 * fs)
    hysteresis_samples = int(hysteresis_time * fs * 0.001)
    envelope_dyn_range = np.max(envelope) - np.min(envelope)
    hysteresis_thresh = envelope_dyn_range * hysteresis_percent * 0.01
    if not np.size(onsets):
        return [0]

    corrected_onsets = []
    for onset_idx in onsets:
        if onset_idx > 0:
            onset_loc = np.array(onset_idx).astype("int")
            if not corrected_onsets or (onset_loc + 511) < len(envelope):
                corrected_onsets.append(return_loop(onset_loc, envelope, time_thresh, hysteresis_thresh,
                                                    hysteresis_samples, nperseg=nperseg))
        else:
            corrected_onsets.append(0)

    # drop the zeros (no valid onset) except a first one, then duplicates
    zero_loc = np.where(np.array(corrected_onsets) == 0)[0]
    if list(zero_loc) and zero_loc[0] == 0:
        zero_loc = zero_loc[1:]
    corrected_onsets = np.delete(corrected_onsets, zero_loc)
    hold_onsets = []
    for i in corrected_onsets:
        if i not in hold_onsets:
            hold_onsets.append(i)
    corrected_onsets = hold_onsets

    # drop onsets whose attack spans less than 10% of the envelope's range (noise)
    if len(corrected_onsets) > 1:
        threshold = onset_in_noise_threshold * envelope_dyn_range * 0.01
        for i in reversed(range(len(corrected_onsets))):
            if corrected_onsets[i] == corrected_onsets[-1]:
                segment = envelope[corrected_onsets[i] :]
            else:
                segment = envelope[corrected_onsets[i] : corrected_onsets[i + 1]]
            keep = False
            if len(segment) > 1:
                peak_idx = np.argmax(segment)
                keep = peak_idx > 0 and np.max(segment) - np.min(segment[:peak_idx]) >= threshold
            if not keep:
                corrected_onsets = np.delete(corrected_onsets, i)

    # drop onsets too close to the previous one
    if len(corrected_onsets) > 1:
        minimum_separation = fs * 0.001 * minimum_onset_time_separation
        time_separation = np.diff(corrected_onsets)
        while len(corrected_onsets) > 1 and min(time_separation) < minimum_separation:
            onsets_to_remove = [i + 1 for i in range(len(corrected_onsets) - 1)
                                if abs(corrected_onsets[i + 1] - corrected_onsets[i]) < minimum_separation]
            corrected_onsets = np.delete(corrected_onsets, onsets_to_remove)
            time_separation = np.diff(corrected_onsets)

    # keep onsets followed by an onset strength of at least 3
    thd_corrected_onsets = []
    strength_onset_times = np.array(np.array(corrected_onsets) / 512).astype("int")
    for onset_idx in reversed(range(len(corrected_onsets))):
        current = strength_onset_times[onset_idx]
        if current == strength_onset_times[-1]:
            strength_segment = strength[current:]
        else:
            strength_segment = strength[current : strength_onset_times[onset_idx + 1]]
        if max(strength_segment) < 3:
            strength_onset_times = np.delete(strength_onset_times, onset_idx)
        else:
            thd_corrected_onsets.append(corrected_onsets[onset_idx])
    thd_corrected_onsets.sort()
    return thd_corrected_onsets if thd_corrected_onsets else [0]


class _NoAttack(Exception):
    """calculate_attack_time returned its error value 0 (the peak is the segment's first sample)."""


def attack_time(envelope: np.ndarray, fs: float, fixed_threshold: bool = False, max_attack_time: float = -1) -> tuple:
    """(log10 attack time, attack start index) of timbral_util.calculate_attack_time with the
    defaults the models use (normalise, attack segment, 'min_effort' or 'fixed_threshold', gradient
    'all'). Raises _NoAttack where the package returns 0, and IndexError where the package's
    gradient look-up (whose value no model uses) runs past the segment."""
    envelope = envelope / float(np.max(_nonempty(envelope)))
    peak_idx = np.argmax(envelope)
    if peak_idx == 0:
        raise _NoAttack
    before_peak = envelope[:peak_idx]
    min_pre_peak_idx = np.where(before_peak == np.min(before_peak))[-1][-1]
    envelope = envelope[min_pre_peak_idx : peak_idx + 1]
    low, high = np.min(envelope), np.max(envelope)
    dyn_range = high - low
    if fixed_threshold:
        th_start_idx = np.argmax(envelope >= (20 * dyn_range * 0.01) + low)
        th_end_idx = np.argmax(envelope[th_start_idx:] >= (90 * dyn_range * 0.01) + low) + th_start_idx
    else:
        thresh_no, m = 8, 3
        threshold_step = 1.0 / (thresh_no + 2)
        thresh_level = np.linspace(threshold_step, (1 - threshold_step), thresh_no + 1) * dyn_range + low
        threshold_idxs = np.argmax(envelope[None, :] >= thresh_level[:, None], axis=1).astype(np.float64)
        effort = np.diff(threshold_idxs)
        effort_threshold = np.mean(effort) * m
        th_start = np.argmax(effort <= effort_threshold)
        th_end = np.argmax(effort[th_start:] >= effort_threshold)
        if th_end == 0:
            th_end = len(effort[th_start:]) - 1
        th_end = th_end + th_start
        th_start_idx, th_end_idx = threshold_idxs[th_start], threshold_idxs[th_end]
        if th_start_idx == th_end_idx:
            th_start_idx, th_end_idx = threshold_idxs[0], threshold_idxs[-1]
    attack = 1.0 / fs if th_start_idx == th_end_idx else (th_end_idx - th_start_idx + 1.0) / fs
    if max_attack_time > 0 and attack > max_attack_time:
        th_end_idx = th_start_idx + int(fs * max_attack_time)
        attack = (th_end_idx - th_start_idx + 1.0) / fs
    envelope[int(th_start_idx)], envelope[int(th_end_idx)]  # the package's start/end levels: may raise IndexError
    return np.log10(attack), int(th_start_idx + min_pre_peak_idx)


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


# ----------------------------------------------------------------------------------------------
# the shared analysis of one signal


class Analysis:
    """One mono signal as every model sees it after timbral_util.file_read (loudness-normalised to
    -24 LUFS, up-sampled to 44.1 kHz if below), and the results several models share."""

    def __init__(self, audio: np.ndarray, fs: float):
        self.audio, self.fs = _util().file_read(audio, fs)

    @functools.cached_property
    def stft(self) -> np.ndarray:
        """librosa.stft with its defaults: the HPSS (hardness) and warmth's onset strength both take it."""
        import librosa

        return librosa.stft(self.audio)

    @functools.cached_property
    def highpassed_20hz(self) -> np.ndarray:
        """Depth's and brightness's first step: three 2nd-order 20 Hz Butterworth high-passes."""
        return _filtered(_util(), self.audio, self.fs, "high", 20)

    @functools.cached_property
    def loudness(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N_entire (n,), N_single (n, 240), rms (n,)) of the 4096-sample windows."""
        windows = _util().window_audio(self.audio, window_length=LOUDNESS_WINDOW)
        N_entire, N_single = specific_loudness(third_octave_levels(windows, 100.0, self.fs))
        return N_entire, N_single, rms_rows(windows)

    def weighted_bark_level(self, low_bark_band=0, upper_bark_band=240) -> tuple[float, float]:
        """timbral_util.weighted_bark_level."""
        _, N_single, rms = self.loudness
        weighted = np.sum(_bark_weights(low_bark_band, upper_bark_band) * N_single, axis=1)
        return np.mean(weighted), np.average(weighted, weights=rms)


@functools.cache
def _bark_weights(low: int, upper: int) -> np.ndarray:
    util = _util()
    x = util.normal_dist(np.arange(low, upper), theta=0.01, mean=(low + upper) / 2.0)
    x -= np.min(x)
    x /= np.max(x)
    weights = np.zeros(240)
    weights[low:upper] = x
    return weights


# ----------------------------------------------------------------------------------------------
# the seven models (the package's timbral_<name> with default arguments, no clipping)


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


def bandwidth_array(audio: np.ndarray, fs: float, nperseg: int, overlap_step: int, rolloff_thresh: float,
                    block: int = 64) -> np.ndarray:
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


def hardness(a: Analysis, max_attack_time=0.1, bandwidth_thresh_db=-75) -> float:
    util, fs = _util(), a.fs
    _, weighed_midband_level = a.weighted_bark_level(70, 140)
    log_weighted_midband_level = np.log10(weighed_midband_level)
    log_HP_ratio = np.log10(percussive_ratio(a.stft))

    nperseg = 4096
    audio = np.pad(a.audio, (nperseg + 1, 0), "constant", constant_values=(0.0, 0.0))
    envelope = sample_and_hold_envelope(audio, fs, decay_time=0.1)
    strength = onset_strength(audio, fs)
    original_onsets = calculate_onsets(audio, envelope, fs, strength, nperseg=nperseg)
    if len(original_onsets) == 1:
        original_onsets = [0]
    onsets = np.array(original_onsets) - nperseg
    onsets[onsets < 0] = 0

    step = 128
    bandwidth = bandwidth_array(audio, fs, nperseg, step, util.db2mag(bandwidth_thresh_db))
    bandwidth_fs = fs / float(step)
    bandwidth_onset = np.array(onsets / float(step)).astype("int")

    all_bandwidth_max, all_attack_time, all_max_strength, all_max_strength_bandwidth, all_attack_centroid = [], [], [], [], []
    for count in range(len(bandwidth_onset)):
        onset = bandwidth_onset[count]
        segment = bandwidth[onset:] if onset == bandwidth_onset[-1] else bandwidth[onset : bandwidth_onset[count + 1]]
        bandwidth_max = _attack_bandwidth(segment, bandwidth_fs, max_attack_time)
        if bandwidth_max is not None:
            all_bandwidth_max.append(bandwidth_max)

        onset = original_onsets[count]
        following = None if onset == original_onsets[-1] else original_onsets[count + 1]
        strength_seg = strength[int(onset / 512) : None if following is None else int(following / 512)]
        try:
            log_attack, th_start_idx = attack_time(envelope[onset:following], fs, max_attack_time=max_attack_time)
        except _NoAttack:  # the package indexes its error value 0 here
            raise TypeError("'int' object is not subscriptable") from None
        all_attack_time.append(log_attack)
        all_max_strength.append(max(strength_seg))
        if bandwidth_max is not None:
            all_max_strength_bandwidth.append(max(strength_seg))
        centroid = _attack_centroid(audio[onset:following], th_start_idx, fs)
        if centroid is not None:
            all_attack_centroid.append(centroid)

    mean_attack_time = np.mean(all_attack_time)
    if len(all_bandwidth_max):
        mean_weighted_bandwidth_max = np.average(all_bandwidth_max, weights=all_max_strength_bandwidth)
        if mean_weighted_bandwidth_max <= 512.0:
            mean_weighted_bandwidth_max = fs / 512.0
    else:
        mean_weighted_bandwidth_max = fs / 512.0
    log_weighted_bandwidth_max = np.log10(mean_weighted_bandwidth_max)
    log_mean_max_strength = np.log10(np.mean(all_max_strength))
    mean_attack_centroid = np.mean(all_attack_centroid) if all_attack_centroid else 200.0
    if mean_attack_centroid <= 200:
        mean_attack_centroid = 200.0
    log_attack_centroid = np.log10(mean_attack_centroid)

    metrics = np.array([log_weighted_bandwidth_max, log_attack_centroid, log_weighted_midband_level, log_HP_ratio,
                        log_mean_max_strength, mean_attack_time, 1.0])
    coefficients = np.array([12.079781720638145, 18.52100377170042, 14.139883645260355, 5.567690321917516,
                             3.9346817690405635, -4.326890461087848, -85.60352209068202])
    return np.sum(metrics * coefficients)


def psd_spectrogram(x: np.ndarray, fs: float, window, nperseg: int, noverlap: int, nfft: int,
                    scaling: str = "density") -> tuple[np.ndarray, np.ndarray]:
    """(freqs, Sxx) of scipy.signal.spectrogram(x, fs, window, nperseg, noverlap, nfft,
    detrend='constant', return_onesided=True, scaling, mode='psd') by its operations in its order,
    Sxx with its memory layout (which decides how later sums round), without its per-call set-up
    (window design, checks): 4x faster on the models' few-frame spectrograms."""
    import scipy.fft
    from numpy.lib.stride_tricks import sliding_window_view

    if len(x) == 0 or nperseg > len(x):
        raise ValueError(f"{len(x)} samples: spectrogram of {nperseg}-sample frames")  # not reached by the models
    win = _window(window, nperseg)
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
def _window(window, n: int) -> np.ndarray:
    from scipy.signal import get_window

    return get_window(window, n)


def _attack_bandwidth(segment: np.ndarray, bandwidth_fs: float, max_attack_time: float):
    """Hardness: the largest bandwidth within an onset's attack (fixed 20-90% thresholds), or None
    where the package finds no attack."""
    if not np.max(_nonempty(segment)) > 0:
        return None
    try:
        start = attack_time(segment, bandwidth_fs, fixed_threshold=True, max_attack_time=max_attack_time)[1]
    except _NoAttack:
        return None
    limit = int(max_attack_time * bandwidth_fs)
    if max_attack_time > 0 and len(segment[start:]) > start + limit:
        return np.max(_nonempty(segment[start : start + limit]))
    return np.max(_nonempty(segment[start:]))


def _attack_centroid(audio_seg: np.ndarray, start: int, fs: float):
    """Hardness: the spectral centroid of an onset's first 125 ms from its attack start (None if
    that is 512 samples or fewer, or silent)."""
    length = int(0.125 * fs)
    audio_seg = audio_seg[start:] if start + length >= len(audio_seg) else audio_seg[start : start + length]
    return spectral_centroid(audio_seg, fs) if len(audio_seg) > 512 else None


def _fixed_spectrogram(audio, fs, nfft, whole):
    """The spectrogram of depth and brightness (Hamming, 75% overlap, 'spectrum' scaling); `whole`:
    the packages' branch for audio shorter than a frame (one frame of it all, zero-padded)."""
    if whole:
        return psd_spectrogram(audio, fs, "hamming", len(audio), len(audio) - 1, nfft, "spectrum")
    return psd_spectrogram(audio, fs, "hamming", nfft, int(3 * nfft / 4), nfft, "spectrum")  # the package's "hop_size" is the overlap


def _filtered(util, audio, fs, kind, crossover, times=3):
    """The package's cascade of 2nd-order Butterworth filters (it avoids unstable higher orders)."""
    filter_ = util.filter_audio_highpass if kind == "high" else util.filter_audio_lowpass
    for _ in range(times):
        audio = filter_(audio, crossover, fs)
    return audio


def depth(a: Analysis, threshold_db=-60, low_frequency_limit=20, centroid_crossover_frequency=2000,
          ratio_crossover_frequency=500, db_decay_threshold=-40) -> float:
    util, fs = _util(), a.fs
    audio = a.highpassed_20hz if low_frequency_limit == 20 else _filtered(util, a.audio, fs, "high", low_frequency_limit)
    lowpass_centroid = _filtered(util, audio, fs, "low", centroid_crossover_frequency)
    lowpass_ratio = _filtered(util, audio, fs, "low", ratio_crossover_frequency)
    lowpass_ratio *= (1.0 / np.max(np.abs(audio)))
    lowpass_centroid *= (1.0 / np.max(np.abs(audio)))
    audio = audio * (1.0 / np.max(np.abs(audio)))

    nfft = 4096
    whole = not len(audio) > nfft
    freq, spec = _fixed_spectrogram(audio, fs, nfft, whole)
    lp_centroid_freq, lp_centroid_spec = _fixed_spectrogram(lowpass_centroid, fs, nfft, whole)
    _, lp_ratio_spec = _fixed_spectrogram(lowpass_ratio, fs, nfft, whole)
    threshold = util.db2mag(threshold_db)

    # metric 1: power-weighted mean of the low-passed spectral centroid
    tpower = column_sums(spec)
    sounding = tpower > threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        lower_centroid = column_sums(lp_centroid_spec * lp_centroid_freq[:, None]) / column_sums(lp_centroid_spec)
        lower_ratio = column_sums(lp_ratio_spec) / tpower
    weighted_mean_lower_centroid = np.average(np.where(sounding, lower_centroid, 0.0), weights=tpower)
    if weighted_mean_lower_centroid > centroid_crossover_frequency:
        weighted_mean_lower_centroid = np.float64(centroid_crossover_frequency)
    # metric 2: power-weighted mean of the low-frequency energy ratio
    weighted_mean_lower_ratio = np.average(np.where(sounding, lower_ratio, 0.0), weights=tpower)

    # metric 3: mean decay time after each onset
    envelope = sample_and_hold_envelope(audio, fs)
    onsets = calculate_onsets(audio, envelope, fs, onset_strength(audio, fs))
    rms_step_size = 256
    rms = rms_envelope(audio, step_size=rms_step_size)
    decay_threshold = util.db2mag(db_decay_threshold)
    time_convert = fs / float(rms_step_size)
    onsets = (np.array(onsets) / float(rms_step_size)).astype("int")
    durations = []
    for idx, onset in enumerate(onsets):
        segment = rms[onset:] if onset == onsets[-1] else rms[onset : onsets[idx + 1]]
        post_max_segment = segment[np.argmax(segment) :]
        if np.min(_nonempty(post_max_segment)) >= decay_threshold:
            durations.append(len(post_max_segment) / time_convert)
        else:
            durations.append(np.where(post_max_segment < decay_threshold)[0][0] / time_convert)
    mean_duration = np.log10(np.mean(durations))

    # metric 4: lowest spectral peak
    all_spectrum = np.sum(spec, axis=1)
    norm_spec = (all_spectrum - np.min(all_spectrum)) / (np.max(all_spectrum) - np.min(all_spectrum))
    _, _, peak_freq = detect_peaks(norm_spec, freq, cthr=0.01)
    pitch_estimate = np.log10(min(peak_freq)) if peak_freq[0] > 0 else 0

    m2, m3 = weighted_mean_lower_ratio, mean_duration
    metrics = np.array([weighted_mean_lower_centroid, m2, m3, pitch_estimate, m2 * m3, util.sigmoid(m2) * m3, 1.0])
    coefficients = np.array([-0.0043703565847874465, 32.83743202462131, 4.750862716905235, -14.217438690256062,
                             3.8782339862813924, -0.8544826091735516, 66.69534393444391])
    return np.sum(metrics * coefficients)


def brightness(a: Analysis, ratio_crossover=2000, centroid_crossover=100, blockSize=2048, minFreq=20) -> float:
    util, fs = _util(), a.fs
    audio = a.highpassed_20hz if minFreq == 20 else _filtered(util, a.audio, fs, "high", minFreq)
    ratio_highpass = _filtered(util, audio, fs, "high", ratio_crossover)
    centroid_highpass = _filtered(util, audio, fs, "high", centroid_crossover)
    ratio_highpass *= (1.0 / np.max(np.abs(audio)))
    centroid_highpass *= (1.0 / np.max(np.abs(audio)))
    audio = audio * (1.0 / np.max(np.abs(audio)))

    whole = not len(audio) >= blockSize
    _, all_spec = _fixed_spectrogram(audio, fs, blockSize, whole)
    _, hp_spec = _fixed_spectrogram(ratio_highpass, fs, blockSize, whole)
    centroid_freq, centroid_spec = _fixed_spectrogram(centroid_highpass, fs, blockSize, whole)

    tpower, hp_tpower = column_sums(all_spec), column_sums(hp_spec)
    centroid_tpower = column_sums(centroid_spec)
    sounding, centroid_sounding = tpower > 0, centroid_tpower > 0.0
    ratio = hp_tpower[sounding] / tpower[sounding]
    centroid = column_sums(centroid_spec[:, centroid_sounding] * centroid_freq[:, None]) / centroid_tpower[centroid_sounding]
    weighted_mean_ratio = np.average(ratio, weights=tpower[sounding])
    weighted_mean_hp_centroid = np.average(centroid, weights=centroid_tpower[centroid_sounding])

    metrics = np.array([np.log10(weighted_mean_ratio), np.log10(weighted_mean_hp_centroid), 1.0])
    return np.sum(metrics * np.array([4.613128018020465, 17.378889309312974, 17.434733750553022]))


def roughness(a: Analysis, peak_picking_threshold=0.01) -> float:
    fs = a.fs
    audio = np.pad(a.audio, (512, 0), "constant", constant_values=(0.0, 0.0))
    audio_len = len(audio)
    step_samples = int(fs * 0.05)  # 50 ms frames, half overlapping, zero-padded to a power of 2
    nfft = step_samples
    window = np.hamming(nfft + 2)[1:-1]
    num_frames = int(audio_len / (step_samples - nfft / 2))
    next_pow_2 = 2 ** int(np.log(step_samples) / np.log(2) + 1)
    reshaped = np.zeros([next_pow_2, num_frames])
    if audio_len > step_samples:
        starts, i = [], 0
        while int(i * (nfft / 2.0)) + step_samples <= audio_len:
            starts.append(int(i * (nfft / 2.0)))
            i += 1
        reshaped[:step_samples, : len(starts)] = (audio[np.array(starts)[:, None] + np.arange(step_samples)] * window).T
    else:
        reshaped[:audio_len, 0] = audio
    spec = np.absolute(np.fft.fft(reshaped, axis=0)[: int(next_pow_2 / 2) + 1, :])
    freq = fs / 2 * np.linspace(0, 1, len(spec))
    norm_spec = (spec - np.min(spec)) / (np.max(spec) - np.min(spec))

    peaks = [detect_peaks(norm_spec[:, frame], freq, cthr=peak_picking_threshold, unprocessed_array=spec[:, frame])[1:]
             for frame in range(spec.shape[1])]
    all_roughness = vassilakis_roughness([np.asarray(levels) for levels, _ in peaks], [np.asarray(f) for _, f in peaks])
    mean_roughness = np.mean(all_roughness)
    if mean_roughness < 0.01:
        return 0
    return np.log10(mean_roughness) * 13.98779569 + 48.97606571545886


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


def warmth(a: Analysis, max_FFT_frame_size=8192, max_WR=12000) -> float:
    fs = a.fs
    _, N_single, rms = a.loudness
    mean_wr = np.mean(np.sum(_warmth_weights()[0] * N_single, axis=1))
    weighted_hf = np.average(np.sum(_warmth_weights()[1] * N_single, axis=1), weights=rms)

    audio = a.audio
    envelope = sample_and_hold_envelope(audio, fs, decay_time=0.1)
    original_onsets = calculate_onsets(audio, envelope, fs, onset_strength(audio, fs, a.stft), nperseg=4096)
    if len(original_onsets) == 1:
        original_onsets = [0]

    all_rms, all_ratio, all_SC, all_decay_score = [], [], [], []
    for idx, onset in enumerate(original_onsets):
        segment = audio[onset:] if onset == original_onsets[-1] else audio[onset : original_onsets[idx + 1]]
        all_rms.append(np.sqrt(np.mean(segment * segment)))
        nperseg = min(len(segment), max_FFT_frame_size)  # scipy's default window and overlap
        freq, spec = psd_spectrogram(segment, fs, ("tukey", 0.25), nperseg, nperseg // 8, max_FFT_frame_size)
        if len(segment) >= max_FFT_frame_size and spec.shape[1] > 1:
            spec = np.sum(spec, axis=1).flatten()
        spec = np.array(spec, dtype=np.float64).flatten()
        spec /= np.max(np.abs(_nonempty(spec)))

        peak_idx, _, peak_x = detect_peaks(spec, freq)
        fundamental, fundamental_idx = np.min(peak_x), np.min(peak_idx)
        WR_upper_f_limit = fundamental * 3.5
        if WR_upper_f_limit > max_WR:
            WR_upper_f_limit = 12000
        WR_upper_f_limit_idx = int(np.where(freq > WR_upper_f_limit)[0][0])
        if fundamental < 260:
            top_level_idx = int(np.where(freq > 260)[0][0])
            all_ratio.append(np.sum(spec[fundamental_idx:top_level_idx]) / float(np.sum(spec)))
        else:
            all_ratio.append(0)
        all_SC.append(np.sum(freq * spec) / float(np.sum(spec)))

        # how well a straight line fits the log spectrum above the warmth region
        above_spec, above_freq = np.log10(spec[WR_upper_f_limit_idx:]), np.log10(freq[WR_upper_f_limit_idx:])
        all_decay_score.append(line_fit_r2(above_freq, above_spec))

    metrics = np.array([np.log10(np.mean(all_SC)), weighted_hf, mean_wr, np.mean(all_decay_score),
                        np.average(all_ratio, weights=all_rms), 1.0])
    coefficients = np.array([-4.464258317026696, -0.08819320850778556, 0.29156539973575546, 17.274733561081554,
                             8.403340066029507, 45.21212125085579])
    return np.sum(metrics * coefficients)


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


@functools.cache
def _warmth_weights() -> tuple[np.ndarray, np.ndarray]:
    """Timbral_Warmth.warm_region_cal's Bark weightings: the warmth region and the high frequencies."""
    return _bark_weights(10, 40), _bark_weights(80, 240)


def sharpness(a: Analysis) -> float:
    from timbral_models.Timbral_Sharpness import sharpness_Fastl

    N_entire, N_single, rms = a.loudness
    windowed = np.array([sharpness_Fastl(N) if n > 0 else 0 for n, N in zip(N_entire, N_single)], dtype=np.float64)
    rms_sharpness = np.log10(np.average(windowed, weights=(rms * rms)))
    return np.sum(np.array([rms_sharpness, 1.0]) * [102.50508921364404, 34.432655185001735])


def boominess(a: Analysis) -> float:
    from timbral_models.Timbral_Booming import boominess_calculate

    N_entire, N_single, rms = a.loudness
    windowed = np.array([boominess_calculate(N) if n > 0 else 0 for n, N in zip(N_entire, N_single)], dtype=np.float64)
    ll = np.log10(a.weighted_bark_level(0, 70)[0])
    rms_boom = np.log10(np.average(windowed, weights=(rms * rms)))
    return np.sum(np.array([rms_boom, ll, 1.0]) * np.array([43.67402696195865, -10.90054738389845, 26.836530575185435]))


MODELS = {"hardness": hardness, "depth": depth, "brightness": brightness, "roughness": roughness,
          "warmth": warmth, "sharpness": sharpness, "boominess": boominess}
assert tuple(MODELS) == TIMBRE_MODELS
