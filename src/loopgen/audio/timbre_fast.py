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

Here: the shared analysis of one signal and the seven models. Their building blocks are in
timbre_envelopes.py (envelopes, onsets, attacks) and timbre_spectra.py (spectrogram statistics,
HPSS, peaks, loudness); the package itself, shimmed, is timbral_package.py.
"""

from __future__ import annotations

import functools

import numpy as np

from loopgen.audio.timbral_package import TIMBRE_MODELS, timbral_util
from loopgen.audio.timbre_envelopes import (
    NoAttack,
    attack_time,
    calculate_onsets,
    nonempty,
    onset_strength,
    rms_envelope,
    rms_rows,
    sample_and_hold_envelope,
)
from loopgen.audio.timbre_spectra import (
    bandwidth_array,
    column_sums,
    detect_peaks,
    line_fit_r2,
    percussive_ratio,
    psd_spectrogram,
    specific_loudness,
    spectral_centroid,
    third_octave_levels,
    vassilakis_roughness,
)

# The loudness-window models: every one of them windows the normalised signal into 4096 samples.
LOUDNESS_WINDOW = 4096


class Analysis:
    """One mono signal as every model sees it after timbral_util.file_read (loudness-normalised to
    -24 LUFS, up-sampled to 44.1 kHz if below), and the results several models share."""

    def __init__(self, audio: np.ndarray, fs: float):
        self.audio, self.fs = timbral_util().file_read(audio, fs)

    @functools.cached_property
    def stft(self) -> np.ndarray:
        """librosa.stft with its defaults: the HPSS (hardness) and warmth's onset strength both take it."""
        import librosa

        return librosa.stft(self.audio)

    @functools.cached_property
    def highpassed_20hz(self) -> np.ndarray:
        """Depth's and brightness's first step: three 2nd-order 20 Hz Butterworth high-passes."""
        return _filtered(timbral_util(), self.audio, self.fs, "high", 20)

    @functools.cached_property
    def loudness(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N_entire (n,), N_single (n, 240), rms (n,)) of the 4096-sample windows."""
        windows = timbral_util().window_audio(self.audio, window_length=LOUDNESS_WINDOW)
        N_entire, N_single = specific_loudness(third_octave_levels(windows, 100.0, self.fs))
        return N_entire, N_single, rms_rows(windows)

    def weighted_bark_level(self, low_bark_band=0, upper_bark_band=240) -> tuple[float, float]:
        """timbral_util.weighted_bark_level."""
        _, N_single, rms = self.loudness
        weighted = np.sum(_bark_weights(low_bark_band, upper_bark_band) * N_single, axis=1)
        return np.mean(weighted), np.average(weighted, weights=rms)


@functools.cache
def _bark_weights(low: int, upper: int) -> np.ndarray:
    util = timbral_util()
    x = util.normal_dist(np.arange(low, upper), theta=0.01, mean=(low + upper) / 2.0)
    x -= np.min(x)
    x /= np.max(x)
    weights = np.zeros(240)
    weights[low:upper] = x
    return weights


def hardness(a: Analysis, max_attack_time=0.1, bandwidth_thresh_db=-75) -> float:
    util, fs = timbral_util(), a.fs
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

    all_bandwidth_max, all_attack_time, all_max_strength, all_max_strength_bandwidth, all_attack_centroid = (
        [],
        [],
        [],
        [],
        [],
    )
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
        except NoAttack:  # the package indexes its error value 0 here
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

    metrics = np.array(
        [
            log_weighted_bandwidth_max,
            log_attack_centroid,
            log_weighted_midband_level,
            log_HP_ratio,
            log_mean_max_strength,
            mean_attack_time,
            1.0,
        ]
    )
    coefficients = np.array(
        [
            12.079781720638145,
            18.52100377170042,
            14.139883645260355,
            5.567690321917516,
            3.9346817690405635,
            -4.326890461087848,
            -85.60352209068202,
        ]
    )
    return np.sum(metrics * coefficients)


def _attack_bandwidth(segment: np.ndarray, bandwidth_fs: float, max_attack_time: float):
    """Hardness: the largest bandwidth within an onset's attack (fixed 20-90% thresholds), or None
    where the package finds no attack."""
    if not np.max(nonempty(segment)) > 0:
        return None
    try:
        start = attack_time(segment, bandwidth_fs, fixed_threshold=True, max_attack_time=max_attack_time)[1]
    except NoAttack:
        return None
    limit = int(max_attack_time * bandwidth_fs)
    if max_attack_time > 0 and len(segment[start:]) > start + limit:
        return np.max(nonempty(segment[start : start + limit]))
    return np.max(nonempty(segment[start:]))


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
    return psd_spectrogram(
        audio, fs, "hamming", nfft, int(3 * nfft / 4), nfft, "spectrum"
    )  # the package's "hop_size" is the overlap


def _filtered(util, audio, fs, kind, crossover, times=3):
    """The package's cascade of 2nd-order Butterworth filters (it avoids unstable higher orders)."""
    filter_ = util.filter_audio_highpass if kind == "high" else util.filter_audio_lowpass
    for _ in range(times):
        audio = filter_(audio, crossover, fs)
    return audio


def depth(
    a: Analysis,
    threshold_db=-60,
    low_frequency_limit=20,
    centroid_crossover_frequency=2000,
    ratio_crossover_frequency=500,
    db_decay_threshold=-40,
) -> float:
    util, fs = timbral_util(), a.fs
    audio = (
        a.highpassed_20hz if low_frequency_limit == 20 else _filtered(util, a.audio, fs, "high", low_frequency_limit)
    )
    lowpass_centroid = _filtered(util, audio, fs, "low", centroid_crossover_frequency)
    lowpass_ratio = _filtered(util, audio, fs, "low", ratio_crossover_frequency)
    lowpass_ratio *= 1.0 / np.max(np.abs(audio))
    lowpass_centroid *= 1.0 / np.max(np.abs(audio))
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
        if np.min(nonempty(post_max_segment)) >= decay_threshold:
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
    coefficients = np.array(
        [
            -0.0043703565847874465,
            32.83743202462131,
            4.750862716905235,
            -14.217438690256062,
            3.8782339862813924,
            -0.8544826091735516,
            66.69534393444391,
        ]
    )
    return np.sum(metrics * coefficients)


def brightness(a: Analysis, ratio_crossover=2000, centroid_crossover=100, blockSize=2048, minFreq=20) -> float:
    util, fs = timbral_util(), a.fs
    audio = a.highpassed_20hz if minFreq == 20 else _filtered(util, a.audio, fs, "high", minFreq)
    ratio_highpass = _filtered(util, audio, fs, "high", ratio_crossover)
    centroid_highpass = _filtered(util, audio, fs, "high", centroid_crossover)
    ratio_highpass *= 1.0 / np.max(np.abs(audio))
    centroid_highpass *= 1.0 / np.max(np.abs(audio))
    audio = audio * (1.0 / np.max(np.abs(audio)))

    whole = not len(audio) >= blockSize
    _, all_spec = _fixed_spectrogram(audio, fs, blockSize, whole)
    _, hp_spec = _fixed_spectrogram(ratio_highpass, fs, blockSize, whole)
    centroid_freq, centroid_spec = _fixed_spectrogram(centroid_highpass, fs, blockSize, whole)

    tpower, hp_tpower = column_sums(all_spec), column_sums(hp_spec)
    centroid_tpower = column_sums(centroid_spec)
    sounding, centroid_sounding = tpower > 0, centroid_tpower > 0.0
    ratio = hp_tpower[sounding] / tpower[sounding]
    centroid = (
        column_sums(centroid_spec[:, centroid_sounding] * centroid_freq[:, None]) / centroid_tpower[centroid_sounding]
    )
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

    peaks = [
        detect_peaks(norm_spec[:, frame], freq, cthr=peak_picking_threshold, unprocessed_array=spec[:, frame])[1:]
        for frame in range(spec.shape[1])
    ]
    all_roughness = vassilakis_roughness([np.asarray(levels) for levels, _ in peaks], [np.asarray(f) for _, f in peaks])
    mean_roughness = np.mean(all_roughness)
    if mean_roughness < 0.01:
        return 0
    return np.log10(mean_roughness) * 13.98779569 + 48.97606571545886


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
        spec /= np.max(np.abs(nonempty(spec)))

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

    metrics = np.array(
        [
            np.log10(np.mean(all_SC)),
            weighted_hf,
            mean_wr,
            np.mean(all_decay_score),
            np.average(all_ratio, weights=all_rms),
            1.0,
        ]
    )
    coefficients = np.array(
        [
            -4.464258317026696,
            -0.08819320850778556,
            0.29156539973575546,
            17.274733561081554,
            8.403340066029507,
            45.21212125085579,
        ]
    )
    return np.sum(metrics * coefficients)


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


MODELS = {
    "hardness": hardness,
    "depth": depth,
    "brightness": brightness,
    "roughness": roughness,
    "warmth": warmth,
    "sharpness": sharpness,
    "boominess": boominess,
}
assert tuple(MODELS) == TIMBRE_MODELS
