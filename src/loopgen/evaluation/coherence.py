"""Timbral feature coherence of LoopNet (L §5.3.2, table 2; SPEC §7).

For each of n test loops (16 in the paper) and each of the 21 timbral features, the feature's
scaled input is set to 0.2, 0.5 and 0.8 with every other input unchanged; the feature is
re-extracted from each output, and
    E1 = P(f_high > f_low),  E2 = P(f_high > f_mid),  E3 = P(f_mid > f_low)
over all (loop, feature) pairs. A failed extraction (NaN) counts as a failed comparison.

Re-extraction and the 9 kHz band. The training features were computed at each loop's own sample
rate (44.1 kHz for Looperman), because a 9 kHz high-pass does not exist at 16 kHz (SPEC §6
decision). LoopNet's outputs are 16 kHz, so `TimbreMeter` resamples them to the analysis rate of
the training features (config `loopnet.coherence_sample_rate`, 44.1 kHz) and runs the audio
stage's own band filters and timbral models there. The output holds nothing above 8 kHz, so the
high-pass band measures the skirt of the 1st-order 9 kHz filter over 0-8 kHz (-6 dB/octave
below the cut-off): a legitimate, but weaker, view of the high band. Scores are also reported
per band, so the high band can be read apart from the other two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

LEVELS = ("low", "mid", "high")
# One row per synthesized output of the coherence grid.
COHERENCE_SCHEMA = pa.schema(
    [
        ("variant", pa.string()),
        ("loop", pa.int32()),  # index of the loop among those picked
        ("segment_id", pa.string()),
        ("loop_id", pa.string()),
        ("feature", pa.string()),  # a name of loopgen.audio.features.TIMBRE_NAMES
        ("column", pa.int32()),  # its column among the 33 global features (12 + index)
        ("level", pa.string()),  # low | mid | high
        ("value", pa.float32()),  # the scaled input it was set to
        ("measured", pa.float64()),  # the raw feature re-extracted from the output (NaN: model failed)
    ]
)


def pick_loops(loop_ids: list[str], bars: np.ndarray | None, n_loops: int, seed: int) -> np.ndarray:
    """Indices of one segment (the first bar) from each of `n_loops` distinct loops, chosen by a
    seeded permutation of the sorted loop ids (all loops when there are fewer)."""
    first = {}
    for i, loop_id in enumerate(loop_ids):
        bar = 0 if bars is None else int(bars[i])
        if loop_id not in first or bar < first[loop_id][0]:
            first[loop_id] = (bar, i)
    names = sorted(first)
    order = np.random.default_rng(seed).permutation(len(names))[:n_loops]
    return np.array(sorted(first[names[k]][1] for k in order), dtype=int)


def coherence_grid(
    global_scaled: np.ndarray, feature_columns: list[int], values=(0.2, 0.5, 0.8)
) -> tuple[np.ndarray, list[dict]]:
    """Every (loop, feature, value) input: (n_loops * n_features * n_values, 33) globals and a
    description row for each (loop index, feature column, value, level)."""
    inputs, rows = [], []
    for loop in range(len(global_scaled)):
        for column in feature_columns:
            for level, value in zip(LEVELS, values):
                changed = np.array(global_scaled[loop], dtype=np.float32, copy=True)
                changed[column] = value
                inputs.append(changed)
                rows.append({"loop": loop, "column": column, "value": float(value), "level": level})
    return np.stack(inputs) if inputs else np.zeros((0, global_scaled.shape[1]), np.float32), rows


def run_coherence(
    synthesize,
    measure,
    frames: np.ndarray,
    global_scaled: np.ndarray,
    feature_columns: list[int],
    values=(0.2, 0.5, 0.8),
    progress=None,
) -> list[dict]:
    """Synthesize the grid and measure the changed feature of each output.

    synthesize(frames (N, 4, F), globals (N, 33)) -> (N, samples) audio;
    measure(audio (samples,), column) -> the feature's raw value re-extracted from the audio."""
    grid, rows = coherence_grid(global_scaled, feature_columns, values)
    audio = synthesize(frames[[row["loop"] for row in rows]], grid)
    for i, row in enumerate(progress(rows) if progress else rows):
        row["measured"] = float(measure(audio[i], row["column"]))
    return rows


def coherence_scores(rows: list[dict]) -> dict:
    """E1, E2, E3 (fractions) over every (loop, feature) pair in `rows`, the pair count and the
    number of outputs whose re-extraction failed (NaN, e.g. a near-silent band)."""
    by_pair: dict[tuple, dict] = {}
    for row in rows:
        by_pair.setdefault((row["loop"], row["column"]), {})[row["level"]] = row["measured"]
    pairs = [p for p in by_pair.values() if all(level in p for level in LEVELS)]
    if not pairs:
        return {"E1": float("nan"), "E2": float("nan"), "E3": float("nan"), "n_pairs": 0, "n_failed": 0}
    low, mid, high = (np.array([p[level] for p in pairs], dtype=np.float64) for level in LEVELS)
    failed = int(np.isnan(np.stack([low, mid, high])).sum())
    with np.errstate(invalid="ignore"):  # NaN compares False: a failed extraction is a failure
        return {
            "E1": float(np.mean(high > low)),
            "E2": float(np.mean(high > mid)),
            "E3": float(np.mean(mid > low)),
            "n_pairs": len(pairs),
            "n_failed": failed,
        }


@dataclass
class TimbreMeter:
    """Re-extracts one timbral feature from a 16 kHz output with the audio stage's band filters and
    timbral models, at the analysis rate of the training features (see the module note)."""

    band_settings: dict  # lowpass_hz, bandpass_hz, bandpass_octaves, highpass_hz (config audio.features)
    analysis_rate: int = 44100
    input_rate: int = 16000

    def __post_init__(self):
        from loopgen.audio.features import TIMBRE_BANDS, TimbreBands

        bands = TimbreBands(
            self.analysis_rate,
            *(self.band_settings[k] for k in ("lowpass_hz", "bandpass_hz", "bandpass_octaves", "highpass_hz")),
        )
        if bands.missing_bands:
            raise ValueError(
                f"coherence_sample_rate {self.analysis_rate} Hz is too low for the {', '.join(bands.missing_bands)} band"
            )
        self.filters = dict(zip(TIMBRE_BANDS, bands.filters.values()))  # TIMBRE_BANDS order

    def __call__(self, audio: np.ndarray, column: int) -> float:
        """Raw value of global feature `column` (12 + index in TIMBRE_NAMES) of `audio`; NaN when
        the model fails (e.g. a silent band)."""
        from scipy.signal import sosfilt

        from loopgen.audio.features import TIMBRE_BANDS
        from loopgen.audio.stretch import resample
        from loopgen.audio.timbre import TIMBRE_MODELS, TimbreError, timbre

        index = column - 12
        band, model = TIMBRE_BANDS[index // len(TIMBRE_MODELS)], TIMBRE_MODELS[index % len(TIMBRE_MODELS)]
        upsampled = resample(np.asarray(audio, np.float32), self.input_rate, self.analysis_rate)
        try:
            return float(
                timbre(sosfilt(self.filters[band], upsampled.astype(np.float64)), self.analysis_rate, (model,))[0]
            )
        except TimbreError:
            return float("nan")


def timbre_columns(names: list[str] | None = None) -> list[int]:
    """Global-feature columns (12 + i) of the named timbral features (all 21 when None)."""
    from loopgen.audio.features import TIMBRE_NAMES

    names = list(TIMBRE_NAMES) if names is None else names
    unknown = [n for n in names if n not in TIMBRE_NAMES]
    if unknown:
        raise ValueError(f"unknown timbral feature(s) {unknown}; known: {', '.join(TIMBRE_NAMES)}")
    return [12 + TIMBRE_NAMES.index(n) for n in names]


def scores_table(rows: list[dict]) -> list[dict]:
    """Scores overall, per band and per feature (rows with scope, name, E1, E2, E3, n_pairs)."""
    from loopgen.audio.features import TIMBRE_NAMES

    def name_of(row):
        return TIMBRE_NAMES[row["column"] - 12]

    table = [{"scope": "all", "name": "all", **coherence_scores(rows)}]
    for band in dict.fromkeys(name_of(r).split("_")[0] for r in rows):
        table.append(
            {"scope": "band", "name": band, **coherence_scores([r for r in rows if name_of(r).startswith(band + "_")])}
        )
    for feature in dict.fromkeys(name_of(r) for r in rows):
        table.append(
            {"scope": "feature", "name": feature, **coherence_scores([r for r in rows if name_of(r) == feature])}
        )
    return table
