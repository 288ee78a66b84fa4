"""Rolls and windows: a track's cells -> the (steps, 57) roll -> 8-bar phrase windows
(loopgen.midi_reference has its own, written from the released notebook)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loopgen.midi.params import MidiError, MidiParams
from loopgen.roll import DRUM_NOTE_TO_COLUMN, N_DRUM, pack_rolls

_DRUM_COLUMN_OF = np.full(128, -1, dtype=np.int64)
for _note, _col in DRUM_NOTE_TO_COLUMN.items():
    _DRUM_COLUMN_OF[_note] = _col


def build_roll(drum_steps, drum_pitches, bass_steps, bass_pitches, params: MidiParams, n_steps: int) -> np.ndarray:
    """(n_steps, 57) bool roll from drum hits and lit bass cells (arrays of step and MIDI pitch).

    Drum notes map to the 9 columns (others are dropped) and merge by OR; bass keeps pitches
    bass_low..bass_high and, where several sound at one step, only the lowest. Every step must be
    below n_steps (the roll's end, which unmapped drum notes and out-of-range bass notes count for).
    """
    drum_steps, drum_pitches = np.asarray(drum_steps, np.int64), np.asarray(drum_pitches, np.int64)
    bass_steps, bass_pitches = np.asarray(bass_steps, np.int64), np.asarray(bass_pitches, np.int64)
    drum_cols = _DRUM_COLUMN_OF[drum_pitches]
    mapped = drum_cols >= 0
    drum_steps, drum_cols = drum_steps[mapped], drum_cols[mapped]
    in_range = (bass_pitches >= params.bass_low) & (bass_pitches <= params.bass_high)
    bass_steps, bass_pitches = bass_steps[in_range], bass_pitches[in_range]
    order = np.lexsort((bass_pitches, bass_steps))
    bass_steps, bass_pitches = bass_steps[order], bass_pitches[order]
    lowest = np.ones(len(bass_steps), dtype=bool)
    lowest[1:] = bass_steps[1:] != bass_steps[:-1]
    roll = np.zeros((n_steps, N_DRUM + params.bass_high - params.bass_low + 1), dtype=bool)
    roll[drum_steps, drum_cols] = True
    roll[bass_steps[lowest], N_DRUM + bass_pitches[lowest] - params.bass_low] = True
    return roll


@dataclass
class Windows:
    """The phrases of one file (parallel arrays)."""

    start_bar: np.ndarray  # int32
    packed: np.ndarray  # (N, 912) uint8
    n_drum_cells: np.ndarray  # int32
    n_bass_steps: np.ndarray  # int32


def window_phrases(roll: np.ndarray, params: MidiParams) -> Windows:
    """All windows of phrase_bars bars, every hop_bars bars, with at least min_drum_cells lit drum
    cells and min_bass_steps steps with a bass note; raise MidiError when none passes.

    Only windows that lie wholly inside the roll count (SPEC section 1, "roll end"): a partial last
    bar is never padded out into a window, as in the released notebook (`loop.shape[0] == 128`)."""
    spb, length = params.steps_per_bar, params.phrase_bars
    n_bars = len(roll) // spb  # whole bars only
    if n_bars < length:
        raise MidiError(f"drums and bass span only {n_bars} bars (a phrase needs {length})")
    padded = roll[: n_bars * spb]
    drum_per_bar = np.concatenate([[0], padded[:, :N_DRUM].reshape(n_bars, -1).sum(axis=1)]).cumsum()
    bass_per_bar = np.concatenate([[0], padded[:, N_DRUM:].any(axis=1).reshape(n_bars, spb).sum(axis=1)]).cumsum()
    starts = np.arange(0, n_bars - length + 1, params.hop_bars)
    drum_cells = drum_per_bar[starts + length] - drum_per_bar[starts]
    bass_steps = bass_per_bar[starts + length] - bass_per_bar[starts]
    keep = (drum_cells >= params.min_drum_cells) & (bass_steps >= params.min_bass_steps)
    if not keep.any():
        raise MidiError(
            f"no {length}-bar window passes the thresholds (drum cells ≥ {params.min_drum_cells} and bass steps "
            f"≥ {params.min_bass_steps}; best window: {drum_cells.max()} drum cells, {bass_steps.max()} bass steps)"
        )
    starts = starts[keep]
    windows = np.stack([padded[s * spb : (s + length) * spb] for s in starts])
    return Windows(
        starts.astype(np.int32),
        pack_rolls(windows),
        drum_cells[keep].astype(np.int32),
        bass_steps[keep].astype(np.int32),
    )


def tempo_at_bars(
    beats: np.ndarray, change_times: np.ndarray, tempi: np.ndarray, start_bars, params: MidiParams
) -> np.ndarray:
    """Tempo (BPM) in effect at the first beat of each bar in `start_bars`. A tempo change on that
    very beat counts (1 µs of slack absorbs the float error of summed beat times)."""
    beats_per_bar = params.steps_per_bar // params.steps_per_beat
    times = beats[np.asarray(start_bars, dtype=np.int64) * beats_per_bar]
    return tempi[np.searchsorted(change_times, times + 1e-6, side="right") - 1].astype(np.float32)
