"""Envelopes, onsets and attacks of timbre_fast (timbral_util's sample_and_hold_envelope_calculation,
calculate_rms_enveope, calculate_onsets / return_loop, calculate_attack_time), reproduced exactly:
same operations in the same order, loops compiled (timbre_kernels.py) or vectorised. A function named
after a package function reproduces it; the package is the specification (timbre_fast.py says more).
"""

from __future__ import annotations

import functools

import numpy as np

from loopgen.audio import timbre_kernels as kernels


def sample_and_hold_envelope(
    audio: np.ndarray, fs: float, decay_time: float = 0.2, hold_time: float = 0.01
) -> np.ndarray:
    """timbral_util.sample_and_hold_envelope_calculation."""
    abs_samples = np.abs(np.asarray(audio, dtype=np.float64))
    decay = np.max(abs_samples) / (decay_time * fs)
    return kernels.sample_and_hold(abs_samples, decay, hold_time * fs)


def rms_rows(frames: np.ndarray) -> np.ndarray:
    """[np.sqrt(np.mean(f * f)) for f in frames] (row-wise reductions are pairwise too)."""
    return np.sqrt(np.mean(frames * frames, axis=1))


def rms_envelope(
    audio: np.ndarray, step_size: int = 256, overlap_step: int = 256, normalise: bool = True
) -> np.ndarray:
    """timbral_util.calculate_rms_enveope."""
    starts = np.arange(0, max(len(audio) - step_size, 0), overlap_step)
    frames = audio[starts[:, None] + np.arange(step_size)] if len(starts) else np.zeros((0, step_size))
    last = audio[starts[-1] + overlap_step if len(starts) else 0 :]
    envelope = np.append(rms_rows(frames), np.sqrt(np.mean(last * last)))
    return envelope * (1.0 / max(abs(envelope))) if normalise else envelope


def nonempty(values):
    """The package takes builtin max/min of numpy arrays; numpy's are the same value, minus the
    Python loop. This keeps the builtins' error on an empty sequence (the model then fails)."""
    if len(values) == 0:
        raise ValueError("max() arg is an empty sequence")
    return values


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
        if np.min(nonempty(evaluation_array)) - current_sample <= 0:
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


def calculate_onsets(
    audio,
    envelope,
    fs,
    strength,
    look_back_time=20,
    hysteresis_time=300,
    hysteresis_percent=10,
    onset_in_noise_threshold=10,
    minimum_onset_time_separation=100,
    nperseg=512,
) -> list:
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
                corrected_onsets.append(
                    return_loop(
                        onset_loc, envelope, time_thresh, hysteresis_thresh, hysteresis_samples, nperseg=nperseg
                    )
                )
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
            onsets_to_remove = [
                i + 1
                for i in range(len(corrected_onsets) - 1)
                if abs(corrected_onsets[i + 1] - corrected_onsets[i]) < minimum_separation
            ]
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


class NoAttack(Exception):
    """calculate_attack_time returned its error value 0 (the peak is the segment's first sample)."""


def attack_time(envelope: np.ndarray, fs: float, fixed_threshold: bool = False, max_attack_time: float = -1) -> tuple:
    """(log10 attack time, attack start index) of timbral_util.calculate_attack_time with the
    defaults the models use (normalise, attack segment, 'min_effort' or 'fixed_threshold', gradient
    'all'). Raises NoAttack where the package returns 0, and IndexError where the package's
    gradient look-up (whose value no model uses) runs past the segment."""
    envelope = envelope / float(np.max(nonempty(envelope)))
    peak_idx = np.argmax(envelope)
    if peak_idx == 0:
        raise NoAttack
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
