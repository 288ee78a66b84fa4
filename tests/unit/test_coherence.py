"""Feature coherence (E1/E2/E3) of LoopNet outputs."""

import numpy as np
import pytest

from loopgen.audio.features import TIMBRE_NAMES
from loopgen.evaluation import coherence

SR = 16000
N = 8000
BRIGHTNESS = [name for name in TIMBRE_NAMES if name.endswith("_brightness")]


def _centroid(audio, _column):
    spectrum = np.abs(np.fft.rfft(audio))
    return float((np.fft.rfftfreq(len(audio), 1 / SR) * spectrum).sum() / spectrum.sum())


def _copies_brightness(frames, global_scaled):
    """A mock model whose output is brighter the higher its brightness inputs: noise low-passed at
    a cut-off that rises with the mean of the three brightness inputs; other inputs are ignored."""
    from scipy.signal import butter, sosfilt

    columns = coherence.timbre_columns(BRIGHTNESS)
    out = []
    for i, g in enumerate(global_scaled):
        cutoff = 300 + 7000 * float(np.mean(g[columns]))
        noise = np.random.default_rng(i).standard_normal(N)
        out.append(sosfilt(butter(4, min(cutoff, 7900), "lowpass", fs=SR, output="sos"), noise))
    return np.stack(out).astype(np.float32)


def test_the_grid_changes_one_feature_at_a_time():
    globals_ = np.full((2, 33), 0.4, np.float32)
    grid, rows = coherence.coherence_grid(globals_, [12, 20], values=(0.2, 0.5, 0.8))
    assert grid.shape == (2 * 2 * 3, 33) and len(rows) == 12
    for changed, row in zip(grid, rows):
        expected = globals_[row["loop"]].copy()
        expected[row["column"]] = row["value"]
        np.testing.assert_array_equal(changed, expected)
    assert [r["level"] for r in rows[:3]] == ["low", "mid", "high"]


def test_a_model_that_copies_brightness_is_fully_coherent_in_brightness():
    frames = np.zeros((4, 4, 10), np.float32)
    globals_ = np.random.default_rng(0).random((4, 33), dtype=np.float32)
    rows = coherence.run_coherence(
        _copies_brightness, _centroid, frames, globals_, coherence.timbre_columns(BRIGHTNESS)
    )
    assert coherence.coherence_scores(rows) == {"E1": 1.0, "E2": 1.0, "E3": 1.0, "n_pairs": 12, "n_failed": 0}
    # The same mock ignores hardness: its outputs do not follow that feature.
    ignored = coherence.run_coherence(
        _copies_brightness, _centroid, frames, globals_, coherence.timbre_columns(["lowpass90_hardness"])
    )
    assert coherence.coherence_scores(ignored)["E1"] < 1.0


def test_scores_count_each_test_and_a_failed_extraction_fails():
    rows = []
    for loop, (low, mid, high) in enumerate([(1, 2, 3), (1, 3, 2), (2, 1, 3), (np.nan, 1, 2)]):
        rows += [
            {"loop": loop, "column": 12, "level": lv, "measured": v}
            for lv, v in zip(coherence.LEVELS, (low, mid, high))
        ]
    scores = coherence.coherence_scores(rows)
    # E1 high>low: yes, yes, yes, NaN -> 3/4; E2 high>mid: yes, no, yes, yes -> 3/4; E3 mid>low: yes, yes, no, NaN -> 2/4
    assert scores == {"E1": 0.75, "E2": 0.75, "E3": 0.5, "n_pairs": 4, "n_failed": 1}


def test_scores_table_reports_overall_bands_and_features():
    rows = [
        {"loop": 0, "column": c, "level": lv, "measured": v}
        for c in coherence.timbre_columns(BRIGHTNESS)
        for lv, v in zip(coherence.LEVELS, (1, 2, 3))
    ]
    table = coherence.scores_table(rows)
    assert [(r["scope"], r["name"]) for r in table][:4] == [
        ("all", "all"),
        ("band", "lowpass90"),
        ("band", "bandpass280"),
        ("band", "highpass9k"),
    ]
    assert all(r["E1"] == 1.0 for r in table) and len(table) == 1 + 3 + 3


def test_loops_are_picked_by_their_first_bar_and_distinct():
    loop_ids = ["b", "a", "a", "c", "b", "c"]
    bars = np.array([1, 1, 0, 0, 0, 2])
    picked = coherence.pick_loops(loop_ids, bars, n_loops=3, seed=0)
    assert sorted(picked.tolist()) == [2, 3, 4]
    assert len(coherence.pick_loops(loop_ids, bars, n_loops=2, seed=0)) == 2


def test_unknown_feature_names_are_refused():
    with pytest.raises(ValueError, match="unknown timbral feature"):
        coherence.timbre_columns(["brightness"])


def test_the_timbre_meter_measures_brightness_of_16k_audio_in_every_band():
    """Real re-extraction (audio stage's filters and timbral model at 44.1 kHz): brighter noise
    measures brighter, the 9 kHz band included (it sees the filter's skirt below 8 kHz)."""
    meter = coherence.TimbreMeter(
        {"lowpass_hz": 90, "bandpass_hz": 280, "bandpass_octaves": 1, "highpass_hz": 9000}, 44100
    )
    dark, bright = _copies_brightness(None, np.array([np.full(33, 0.1), np.full(33, 0.9)], np.float32))
    for column in coherence.timbre_columns(BRIGHTNESS):
        assert meter(bright, column) > meter(dark, column)
    with pytest.raises(ValueError, match="too low"):
        coherence.TimbreMeter({"lowpass_hz": 90, "bandpass_hz": 280, "bandpass_octaves": 1, "highpass_hz": 9000}, 16000)
