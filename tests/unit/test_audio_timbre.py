"""The fast timbre engine (timbre_fast.py) against timbral_models itself: the 21 values of real demo
loops, the NaN behaviour, and the replaced pieces against the functions they reproduce."""

import itertools

import numpy as np
import pytest

from loopgen.audio import timbre_envelopes as envelopes
from loopgen.audio import timbre_spectra as spectra
from loopgen.audio.features import TIMBRE_NAMES, TimbreBands
from loopgen.audio.timbre import TIMBRE_MODELS, TimbreError, models, timbre

SR = 44100
# Stated tolerance of the fast engine (what the test allows); on the demo loops the values are in
# fact bit-identical to the package's.
RTOL = 1e-9


@pytest.fixture(scope="module")
def util():
    models()  # installs the compatibility shims
    from timbral_models import timbral_util

    return timbral_util


@pytest.fixture(scope="module")
def demo_bars() -> list[np.ndarray]:
    """One bar at 130 BPM (81,415 samples at 44.1 kHz, the pipeline's native segment) of three
    loops as the demo generator renders them: drums + bass, and two with chords; mono."""
    from loopgen.demo import audio_corpus as ac

    bars = []
    for seed, chords in ((0, False), (1, True), (2, True)):
        rng = np.random.default_rng([seed, 7])
        _, tracks = ac.loop_score(rng, 1, chords)
        bars.append(ac.render_loop(tracks, 130.0, 1, rng).mean(axis=1).astype(np.float64))
    return bars


def test_fast_engine_gives_the_packages_21_values_on_demo_loops(demo_bars):
    for bar in demo_bars:
        fast, fast_problems = TimbreBands(SR, engine="fast")(bar)
        reference, reference_problems = TimbreBands(SR, engine="reference")(bar)
        assert fast.shape == (len(TIMBRE_NAMES),) and np.isfinite(reference).all()
        np.testing.assert_allclose(fast, reference, rtol=RTOL, atol=0)
        assert fast_problems == reference_problems == []


def test_failures_give_the_same_nans_and_messages():
    silent = np.zeros(20000)
    for engine in ("fast", "reference"):
        with pytest.raises(TimbreError, match="hardness: ValueError: Input file is silence"):
            timbre(silent, SR, engine=engine)
        values, problems = TimbreBands(SR, engine=engine)(silent)
        assert np.isnan(values).all() and len(problems) == 3
    # at 1e-12 the loudness models find no sound (NaN) but roughness still answers 0
    faint = 1e-12 * np.random.default_rng(0).standard_normal(20000)
    fast, reference = timbre(faint, SR, engine="fast"), timbre(faint, SR, engine="reference")
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(reference))
    assert np.isnan(fast).sum() == 6 and fast[TIMBRE_MODELS.index("roughness")] == 0.0
    with pytest.raises(ValueError, match="timbre engine"):
        timbre(faint, SR, engine="quick")


def test_below_44k_the_models_see_the_same_upsampled_signal(demo_bars):
    bar = demo_bars[0][::2].copy()  # 22.05 kHz
    np.testing.assert_allclose(timbre(bar, 22050, engine="fast"), timbre(bar, 22050, engine="reference"), rtol=RTOL)


@pytest.mark.parametrize("shape", [(40, 200), (200, 40), (3, 31)])
def test_median_kernel_equals_scipys_median_filter(shape):
    import scipy.ndimage

    x = np.random.default_rng(1).random(shape) ** 3
    x[::3, ::4] = 0.25  # ties, which the ranks order by age
    np.testing.assert_array_equal(
        spectra.median_filter_rows(x, 31), scipy.ndimage.median_filter(x, size=(1, 31), mode="reflect")
    )


@pytest.mark.parametrize("n", [1, 2, 7, 20])
def test_median_of_rows_shorter_than_the_window_reflects_the_edges(n):
    # scipy (and so the package) reads outside its buffer there; ours repeats the reflection
    from numpy.lib.stride_tricks import sliding_window_view

    x = np.random.default_rng(n).random((2, n))
    expected = np.median(sliding_window_view(np.pad(x, ((0, 0), (15, 15)), mode="symmetric"), 31, axis=1), axis=-1)
    np.testing.assert_array_equal(spectra.median_filter_rows(x, 31), expected)


def test_envelope_onsets_and_attacks_equal_the_packages(util, demo_bars):
    audio, _ = util.file_read(demo_bars[1], SR)
    envelope = envelopes.sample_and_hold_envelope(audio, SR, decay_time=0.1)
    np.testing.assert_array_equal(envelope, util.sample_and_hold_envelope_calculation(audio, SR, decay_time=0.1))
    onsets = envelopes.calculate_onsets(audio, envelope, SR, envelopes.onset_strength(audio, SR), nperseg=4096)
    assert onsets == util.calculate_onsets(audio, envelope, SR, nperseg=4096) and len(onsets) > 2
    for start, stop in itertools.pairwise(onsets):
        expected = util.calculate_attack_time(envelope[start:stop].copy(), SR, max_attack_time=0.1)
        assert envelopes.attack_time(envelope[start:stop], SR, max_attack_time=0.1) == (expected[0], expected[2])


def test_loudness_of_loud_quiet_and_silent_windows_equals_the_packages(util, demo_bars):
    windows = util.window_audio(util.file_read(demo_bars[2], SR)[0], window_length=4096)[:6]
    windows = np.concatenate([windows, 1e-4 * windows[:2], np.zeros((1, 4096))])
    N_entire, N_single = spectra.specific_loudness(spectra.third_octave_levels(windows, 100.0, SR))
    for i, window in enumerate(windows):
        expected_entire, expected_single = util.specific_loudness(window, Pref=100.0, fs=SR, Mod=0)
        assert N_entire[i] == expected_entire
        np.testing.assert_array_equal(N_single[i], expected_single)
    assert N_entire[-1] == 0 and N_entire[0] > 1


def test_peak_picking_equals_the_packages(util):
    rng = np.random.default_rng(2)
    freq = np.linspace(0, SR / 2, 2049)
    for threshold in (0.01, 0.2):
        spectrum = np.abs(np.fft.rfft(rng.standard_normal(4096)))
        normalised = (spectrum - spectrum.min()) / (spectrum.max() - spectrum.min())
        ours = spectra.detect_peaks(normalised, freq, cthr=threshold, unprocessed_array=spectrum)
        theirs = util.detect_peaks(normalised, cthr=threshold, unprocessed_array=spectrum, freq=freq)
        assert len(ours[0]) > 5
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_roll_on_matches_the_packages_pairwise_sums_at_the_threshold():
    rng = np.random.default_rng(3)
    rows = rng.random((50, 300))
    thresholds = 0.05 * rows.sum(axis=1)
    # thresholds exactly on a prefix sum as numpy's pairwise np.sum rounds it
    thresholds[:25] = [np.sum(row[:k]) for row, k in zip(rows[:25], rng.integers(1, 300, 25))]
    rollon, rolloff = spectra.rollon_rolloff(rows, thresholds, 0.5)
    for row, threshold, n, last in zip(rows, thresholds, rollon, rolloff):
        expected = 1
        while np.sum(row[:expected]) < threshold:  # the package's loop
            expected += 1
        assert n == expected and last == np.flatnonzero(row >= 0.5)[-1]


def test_line_fit_r2_equals_sklearns_score():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(4)
    x = np.log10(np.linspace(200, 20000, 3000))
    y = -2 * x + rng.normal(0, 0.3, x.size)
    X = np.array([x, np.ones_like(x)]).transpose()
    expected = LinearRegression(fit_intercept=False).fit(X, y).score(X, y)
    assert spectra.line_fit_r2(x, y) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="infinity"):
        spectra.line_fit_r2(x, np.append(y[:-1], -np.inf))


@pytest.mark.parametrize(
    "window, nperseg, noverlap, nfft, scaling",
    [
        ("hamming", 4096, 3072, 4096, "spectrum"),
        ("hamming", 2048, 1536, 2048, "spectrum"),
        (("tukey", 0.25), 8192, 1024, 8192, "density"),
        (("tukey", 0.25), 3000, 375, 8192, "density"),
    ],
)
def test_spectrogram_equals_scipys_values_and_summation_order(window, nperseg, noverlap, nfft, scaling):
    from scipy.signal import spectrogram

    x = np.random.default_rng(5).standard_normal(30000)
    freqs, ours = spectra.psd_spectrogram(x, SR, window, nperseg, noverlap, nfft, scaling)
    expected_freqs, _, expected = spectrogram(x, SR, window, nperseg, noverlap, nfft, "constant", True, scaling)
    np.testing.assert_array_equal(freqs, expected_freqs)
    np.testing.assert_array_equal(ours, expected)
    # the models sum these across time: same memory layout, same rounding
    np.testing.assert_array_equal(np.sum(ours, axis=1), np.sum(expected, axis=1))


def test_bandwidth_and_percussive_ratio_equal_the_packages(util, demo_bars):
    audio, _ = util.file_read(demo_bars[0], SR)
    padded = np.pad(audio, (4097, 0))
    expected, _, _ = util.get_bandwidth_array(
        padded, SR, nperseg=4096, overlap_step=128, rolloff_thresh=util.db2mag(-75), normalisation_method="none"
    )
    np.testing.assert_array_equal(spectra.bandwidth_array(padded, SR, 4096, 128, util.db2mag(-75)), expected)
    import librosa

    assert spectra.percussive_ratio(librosa.stft(audio)) == util.get_percussive_audio(audio)


def test_imports_flow_one_way_from_the_entry_point_to_the_engines():
    # timbre.py (the entry point) uses the engines; the engines never import it back.
    import subprocess
    import sys

    code = (
        "import sys, loopgen.audio.timbre_fast, loopgen.audio.timbral_package; "
        "assert 'loopgen.audio.timbre' not in sys.modules, 'timbre_fast imports timbre'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
