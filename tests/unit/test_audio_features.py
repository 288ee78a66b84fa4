"""LoopNet features and the audio bar correlation on rendered signals with known answers."""

import numpy as np
import pytest

from loopgen.audio import synth
from loopgen.audio.bar_corr import bar_correlation, bar_mel_spectra, loop_bar_correlation
from loopgen.audio.features import (
    HPCP_NAMES,
    TIMBRE_NAMES,
    BandFluxTranscriber,
    Hpcp,
    TimbreBands,
    envelope,
    feature_stats,
    n_frames,
    normalise_by_max,
    scale_global,
)
from loopgen.audio.timbre import TIMBRE_MODELS, models, timbre
from loopgen.roll import BAR_PAIRS

SR = 16000
BPM = 130


def test_timbre_names_are_band_major():
    assert len(TIMBRE_NAMES) == 21
    assert TIMBRE_NAMES[:7] == tuple(f"lowpass90_{m}" for m in TIMBRE_MODELS)
    assert TIMBRE_NAMES[7] == "bandpass280_hardness" and TIMBRE_NAMES[-1] == "highpass9k_boominess"
    assert TIMBRE_MODELS == ("hardness", "depth", "brightness", "roughness", "warmth", "sharpness", "boominess")


@pytest.mark.parametrize("notes", [(60, 64, 67), (57, 61, 64, 69), (62, 65, 69)])  # C major, A major, D minor
def test_hpcp_of_a_chord_peaks_at_its_pitch_classes(notes):
    hpcp = Hpcp(SR)(synth.chord(notes, 1.85, SR))
    expected = {
        HPCP_NAMES.index(("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")[n % 12]) for n in notes
    }
    top = set(np.argsort(hpcp)[-len(expected) :])
    assert top == expected
    assert hpcp.max() == pytest.approx(1.0)


def test_hpcp_uses_the_real_sample_rate():
    # at 16 kHz with essentia's 44.1 kHz default a C major chord would land on other bins
    hpcp = Hpcp(SR)(synth.chord((60, 64, 67), 1.85, SR))
    assert HPCP_NAMES[int(np.argmax(hpcp))] in {"C", "E", "G"}


def test_brighter_noise_has_higher_brightness():
    brightness = models()["brightness"]
    dark = brightness(synth.noise(1.85, 44100, lowpass_hz=1500).astype(np.float64), fs=44100)
    bright = brightness(synth.noise(1.85, 44100, lowpass_hz=None).astype(np.float64), fs=44100)
    assert bright > dark + 5


def test_timbral_models_run_on_todays_numpy_and_librosa_and_memoising_changes_no_value():
    import scipy
    import scipy.signal
    from timbral_models import timbral_util

    # hardness and roughness call np.lib.pad; depth, warmth, hardness call librosa positionally
    loop = synth.drum_loop(["k.h.s.h.k.hks.h."], 130, 44100) + synth.chord((50, 57, 66), 2, 44100)[:81415]
    shimmed = timbre(loop, 44100, engine="reference")
    assert shimmed.shape == (7,) and np.isfinite(shimmed).all()
    saved = timbral_util.butter, timbral_util.scipy
    timbral_util.butter, timbral_util.scipy = scipy.signal.butter, scipy
    try:
        plain = timbre(loop, 44100, engine="reference")
    finally:
        timbral_util.butter, timbral_util.scipy = saved
    np.testing.assert_array_equal(shimmed, plain)


def test_timbre_bands_of_16k_audio_leave_the_high_band_empty():
    bands = TimbreBands(16000)
    assert bands.missing_bands == ["highpass9k"]
    assert TimbreBands(44100).missing_bands == []


def test_activations_peak_at_the_rendered_hits():
    hop = 256
    events = [(0.10, "kick", 0.8), (0.60, "snare", 0.8), (1.10, "hihat", 0.8), (1.40, "kick", 0.8)]
    audio = synth.render(events, 29538, SR)
    act = normalise_by_max(BandFluxTranscriber().activations(audio, SR, hop))
    assert act.shape == (3, n_frames(29538, hop)) == (3, 116)
    assert act.max(axis=1).tolist() == [1.0, 1.0, 1.0]
    frame = lambda t: t * SR / hop
    for row, times in zip(act, ([0.10, 1.40], [0.60], [1.10])):
        near = np.zeros(row.shape, bool)
        for t in times:  # each hit gives a strong activation within two frames (32 ms) of it
            window = slice(int(frame(t)) - 2, int(frame(t)) + 3)
            assert row[window].max() > 0.7
            near[window] = True
        # the other instruments' spill into this band stays well below this instrument's hits
        assert row[~near].max() < min(row[int(frame(t)) - 2 : int(frame(t)) + 3].max() for t in times) - 0.2


def test_envelope_follows_the_level():
    audio = np.concatenate([np.zeros(8000), 0.5 * np.ones(8000)]).astype(np.float32)
    env = envelope(audio, 256, 1024)
    assert len(env) == n_frames(16000, 256)
    assert env[5] == pytest.approx(0.0) and env[-5] == pytest.approx(0.5, rel=1e-3)


def _pattern_loop(sr):
    # bars A B A B ... : A = kick/snare groove, B = hi-hats and snare rolls
    a = "k.......k.k..... ....s.......s..."
    b = "h.h.h.h.h.h.h.h. ..s.s.s...s.s.s."
    return synth.drum_loop([a, b] * 4, 120, sr)


def test_bar_correlation_shows_a_two_bar_repeat():
    corr = loop_bar_correlation(_pattern_loop(22050), 22050, 8)
    assert corr.shape == (28,) and corr.dtype == np.float32
    matrix = dict(zip(BAR_PAIRS, corr))
    same = [matrix[i, j] for i, j in BAR_PAIRS if (j - i) % 2 == 0]  # A-A and B-B
    different = [matrix[i, j] for i, j in BAR_PAIRS if (j - i) % 2 == 1]
    assert min(same) > 0.9 and max(different) < 0.6
    for i in range(6):
        assert matrix[i, i + 2] > matrix[i, i + 1] + 0.3


def test_bar_spectra_average_the_whole_bar():
    # bar 3 sounds only in its second half: one frame at the bar's start would see silence there
    sr, bar = 22050, 22050
    audio = np.zeros(8 * bar, np.float32)
    audio[3 * bar + bar // 2 : 4 * bar - 2048] = synth.noise(1.0, sr)[: bar // 2 - 2048]
    spectra = bar_mel_spectra(audio, sr, 8)
    assert spectra[3].sum() > 100 * (spectra[2].sum() + 1e-12)
    assert np.isnan(bar_correlation(np.zeros((8, 4)))).all()  # flat bars have no correlation


@pytest.mark.parametrize("sr", [16000, 22050, 44100])
def test_bar_spectra_use_the_real_sample_rate(sr):
    import librosa

    tone = np.sin(2 * np.pi * 1000 * np.arange(8 * sr) / sr).astype(np.float32)
    spectra = bar_mel_spectra(tone, sr, 8)
    centres = librosa.mel_frequencies(128 + 2, fmax=sr / 2)[1:-1]
    assert abs(centres[np.argmax(spectra[0])] - 1000) < 60  # the 1 kHz tone lands on the 1 kHz band


def test_feature_stats_and_scaling():
    hpcp = np.array([[0.0] * 12, [1.0] * 12])
    timbre_values = np.array([[10.0] * 21, [30.0] * 21])
    timbre_values[0, 20] = np.nan
    stats = feature_stats(hpcp, timbre_values)
    assert stats["n_segments"] == 2 and stats["timbre"]["min"][0] == 10 and stats["timbre"]["max"][0] == 30
    assert stats["timbre"]["n_missing"][20] == 1 and stats["timbre"]["min"][20] == 30
    scaled = scale_global(np.full(21, 20.0), stats, "timbre")
    assert scaled[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no train segments"):
        feature_stats(np.zeros((0, 12)), np.zeros((0, 21)))
