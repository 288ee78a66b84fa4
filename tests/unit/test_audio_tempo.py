"""Tempo confidence, stretching, segmenting and the split of the audio stage (SPEC section 5)."""

import numpy as np
import pytest

from loopgen.audio import synth
from loopgen.audio.segments import bar_length, cut_bars, n_segments, split_of
from loopgen.audio.stretch import beats_to_samples, resample, stretch_to_beats
from loopgen.audio.tempo import check_tempo, length_confidence

SR = 22050


def test_exact_eight_bar_click_loop_is_confident_at_its_bpm():
    loop = synth.click_loop(128, 32, SR)
    check = check_tempo(loop, SR, 128)
    assert check.confidence > 0.99
    assert check.n_beats == 32 and check.trim == "none"


@pytest.mark.parametrize("wrong_bpm", [121, 125, 133, 139])
def test_wrong_bpm_scores_low(wrong_bpm):
    loop = synth.click_loop(128, 32, SR)
    assert check_tempo(loop, SR, wrong_bpm).confidence < 0.9


def test_confidence_formula():
    beat = 60 * 16000 / 120  # 8000 samples
    assert length_confidence(4 * beat, 16000, 120) == (1.0, 4.0, 4)
    confidence, beats, n = length_confidence(4 * beat + 0.25 * beat, 16000, 120)  # δ = λ/2
    assert confidence == pytest.approx(0.5) and n == 4 and beats == pytest.approx(4.25)
    # beyond the longest candidate the distance grows past λ: confidence 0
    assert length_confidence(130 * beat, 16000, 120, max_beats=127)[0] == 0.0


@pytest.mark.parametrize("lead,trail,trim", [(0.3, 0.0, "leading"), (0.0, 0.7, "trailing"), (0.21, 0.45, "both")])
def test_leading_and_trailing_silence_are_trimmed(lead, trail, trim):
    loop = synth.click_loop(124, 16, SR, lead_s=lead, trail_s=trail)
    assert length_confidence(len(loop), SR, 124)[0] < 0.5  # the whole file is off the beat grid
    check = check_tempo(loop, SR, 124)
    assert check.trim == trim and check.confidence > 0.99 and check.n_beats == 16
    assert abs(check.start - lead * SR) <= 5  # the first audible sample (the bed rises from 0)


@pytest.mark.parametrize("bpm,n_beats,sr", [(120, 32, 44100), (137, 16, 22050), (130, 8, 16000)])
def test_stretch_gives_exact_bar_lengths(bpm, n_beats, sr):
    loop = synth.click_loop(bpm, n_beats, sr)
    stretched = stretch_to_beats(loop, sr, n_beats, 130, crispness=5)
    assert len(stretched) == beats_to_samples(n_beats, 130, sr)
    at16k = resample(stretched, sr, 16000, n=beats_to_samples(n_beats, 130, 16000))
    bar = bar_length(130, 16000)
    assert int(bar) == 29538
    assert len(at16k) == round(n_beats / 4 * bar)
    # the clicks land on the beat grid of 130 BPM: energy peaks at beat starts
    beat16 = bar / 4
    onsets = [int(round(i * beat16)) for i in range(n_beats)]
    energy = np.abs(at16k)
    for onset in onsets[1:4]:
        window = energy[onset - 400 : onset + 400]
        assert 0 <= np.argmax(window) - 400 < 200  # the 10 ms click starts at the beat


@pytest.mark.parametrize("n_beats,expected", [(32, 8), (16, 4), (30, 7), (31, 8), (4, 1), (2, 0), (3, 1)])
def test_segment_count_follows_from_length(n_beats, expected):
    bar = bar_length(130, 16000)
    n = beats_to_samples(n_beats, 130, 16000)
    assert n_segments(n, bar) == expected  # 30 beats: 7 bars + half a bar (not more): dropped
    bars = cut_bars(np.ones(n, np.float32), bar)
    assert bars.shape == (expected, 29538)
    if n_beats == 31:  # 7 bars + 3/4: the tail is zero-padded
        assert bars[-1, : n - int(round(7 * bar))].all() and not bars[-1, n - int(round(7 * bar)) :].any()


def test_bars_start_on_the_exact_grid():
    bar = bar_length(130, 16000)
    audio = np.arange(8 * 29539, dtype=np.float64)
    bars = cut_bars(audio, bar)
    assert [int(b[0]) for b in bars] == [int(round(i * bar)) for i in range(len(bars))]


def test_split_is_by_loop_stable_and_near_the_fraction():
    ids = [f"{i:032x}" for i in range(4000)]
    splits = [split_of(i, seed=1, test_fraction=0.1) for i in ids]
    assert splits == [split_of(i, seed=1, test_fraction=0.1) for i in ids]
    assert 0.08 < splits.count("test") / len(ids) < 0.12
    assert splits != [split_of(i, seed=2, test_fraction=0.1) for i in ids]
