"""Grid: notes -> fine cells, with the reference's own float arithmetic.

Beat times, note times and in-beat fractions are computed with the same float64 operations, in
the same order, as pretty_midi (tick -> seconds, get_beats) and pypianoroll (from_pretty_midi),
so rounding at exact half cells -- common: a note 1/48 beat off the grid -- falls the same way.
(A pure tick formula, floor((tick - first_tick) * 4 / ticks_per_beat), would be simpler but
places onsets that sit less than 1/48 beat before a step one step earlier than the reference.)
"""

from __future__ import annotations

import numpy as np

from loopgen.midi.params import MidiParams
from loopgen.midi.parser import Notes


class TempoMap:
    """Tick -> seconds and tempo changes, computed as pretty_midi does."""

    def __init__(self, tempos: list[tuple[int, int]], ticks_per_beat: int):
        self.ticks = np.array([t for t, _ in tempos], dtype=np.int64)
        # pretty_midi's "tick scale" (seconds per tick) and tempo (BPM), same float operations
        self.scale = np.array([60.0 / ((6e7 / micros) * ticks_per_beat) for _, micros in tempos])
        self.tempi = 60.0 / (self.scale * ticks_per_beat)
        change_times = [0.0]
        for i in range(1, len(tempos)):
            change_times.append(change_times[-1] + self.scale[i - 1] * (self.ticks[i] - self.ticks[i - 1]))
        self.change_times = np.array(change_times)

    def seconds(self, ticks) -> np.ndarray:
        ticks = np.asarray(ticks, dtype=np.int64)
        seg = np.searchsorted(self.ticks, ticks, side="right") - 1
        return self.change_times[seg] + self.scale[seg] * (ticks - self.ticks[seg])


def _close_or_after(a: float, b: float) -> bool:
    """pretty_midi's gt_or_close: a > b or np.isclose(a, b)."""
    return a > b or abs(a - b) <= 1e-8 + 1e-5 * abs(b)


def beat_times(start: float, tempo: TempoMap, ts_times: list[float], end_time: float, until: float):
    """pretty_midi.PrettyMIDI.get_beats(start) for a file whose time signatures are all 4/4
    (beats are quarter notes) and that ends at `end_time`, computed no further than the first beat
    after `until`. Returns the beats and whether they are all of them (the last one is the song's).

    Runs of beats without a tempo or time-signature change are summed with np.add.accumulate,
    which adds in order exactly like get_beats' loop; the beat at a change takes the loop's path.
    """
    changes, tempi = tempo.change_times, tempo.tempi
    n_changes, n_ts = len(changes), len(ts_times)
    tempo_idx = 0
    while tempo_idx < n_changes - 1 and start > changes[tempo_idx + 1]:
        tempo_idx += 1
    ts_idx = 0
    while ts_idx < n_ts - 1 and start >= ts_times[ts_idx + 1]:
        ts_idx += 1
    runs, last = [np.array([start])], start
    while last < end_time and last <= until:
        period = 60.0 / tempi[tempo_idx]
        next_change = changes[tempo_idx + 1] if tempo_idx < n_changes - 1 else np.inf
        next_ts = ts_times[ts_idx + 1] if ts_idx < n_ts - 1 else np.inf
        if not (n_ts and ts_idx == 0 and ts_times[0] > last):
            # Regular beats, while none reaches a tempo change, the next time signature or the end.
            n = int((min(min(end_time, until) + period, next_change, next_ts) - last) // period) + 1
            run = np.add.accumulate(np.concatenate([[last], np.full(max(n, 1), period)]))[1:]
            ok = run <= next_change
            if next_ts < np.inf:  # np.isclose, without its overhead
                ok &= (run < next_ts) & (next_ts - run > 1e-8 + 1e-5 * abs(next_ts))
            n_ok = len(run) if ok.all() else int(np.argmin(ok))
            if n_ok:
                runs.append(run[:n_ok])
                last = run[n_ok - 1]
                continue
        # The loop body of get_beats, for the beat that reaches a change.
        next_beat = last + period
        if tempo_idx < n_changes - 1 and next_beat > changes[tempo_idx + 1]:
            next_beat, remaining = last, 1.0
            while tempo_idx < n_changes - 1 and next_beat + remaining * period >= changes[tempo_idx + 1]:
                overshot = (changes[tempo_idx + 1] - next_beat) / period
                next_beat += overshot * period
                remaining -= overshot
                tempo_idx += 1
                period = 60.0 / tempi[tempo_idx]
            next_beat += remaining * period
        if n_ts and ts_idx == 0 and ts_times[0] > last and _close_or_after(next_beat, ts_times[0]):
            next_beat = ts_times[0]
        if ts_idx < n_ts - 1 and _close_or_after(next_beat, ts_times[ts_idx + 1]):
            next_beat = ts_times[ts_idx + 1]
            ts_idx += 1
        runs.append(np.array([next_beat]))
        last = next_beat
    beats = np.sort(np.concatenate(runs))
    complete = last >= end_time
    return (beats[beats < end_time] if complete else beats), complete


def fine_positions(times: np.ndarray, beats: np.ndarray, resolution: int) -> np.ndarray:
    """Position of each time in cells of 1/resolution beat, unrounded (pypianoroll's formula:
    the beat strictly before the time, plus the fraction of that beat, in seconds)."""
    beats_one_more = np.append(beats, 2 * beats[-1] - beats[-2])
    index = np.searchsorted(beats, times) - 1
    ratios = (times - beats[index]) / (beats_one_more[index + 1] - beats[index])
    return (index + ratios) * resolution


def note_cells(
    notes: Notes,
    first_beat: int,
    beats: np.ndarray,
    n_fine: int | None,
    tempo: TempoMap,
    params: MidiParams,
    onsets_only: bool,
):
    """Cells (step, pitch) a track fills on the 4-per-beat grid, as pypianoroll draws them.

    Every pitch is returned (the roll's end counts them all; build_roll keeps the 57 columns).
    Notes that end by the first beat are dropped. A note that starts before the first beat and
    sounds past it starts at the first beat (pypianoroll puts it within a fraction of a cell of
    there: it wraps to the last beat of the song). Drums are onsets only; other notes are drawn at
    the parse resolution (onset rounded, offset truncated, pypianoroll's rules for repeated notes)
    and then floored to steps. n_fine: cells in pypianoroll's roll (None: more than any note needs).
    """
    start, end, pitch, all_velocities = np.array(notes, dtype=np.int64).reshape(-1, 4).T
    sounding = end > first_beat
    # pypianoroll takes velocities from the unfiltered note list by the filtered index (it only
    # matters where repeated notes' velocities wrap past 255)
    velocity = all_velocities[: int(sounding.sum())]
    start, end, pitch = start[sounding], end[sounding], pitch[sounding]
    # Every pitch is drawn, in range or not: the track's last lit cell (any pitch) ends the roll.
    sub = params.parse_resolution // params.steps_per_beat  # fine cells per step
    position = fine_positions(tempo.seconds(start), beats, params.parse_resolution)
    onset = np.where(start >= first_beat, np.round(position), 0).astype(np.int64)
    if onsets_only:
        return onset // sub, pitch
    offset = fine_positions(tempo.seconds(end), beats, params.parse_resolution).astype(np.int64)
    return sustained_cells(onset, offset, pitch, velocity, sub, n_fine)


def sustained_cells(onset, offset, pitch, velocity, sub: int, n_fine: int | None):
    """pypianoroll's drawing of sustained notes on its roll of n_fine cells, then floored to steps.

    In note order: a note clears the fine cell just before its onset if another note of its pitch
    lit it, stops one cell early if the cell at its offset is lit (both only inside the roll), and
    adds its velocity to the uint8 cells it covers (wrapping past 255, as pypianoroll does).
    Returns (steps, pitches).
    """
    if len(onset) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    needed = int(max(onset.max(), offset.max())) + 2
    n = needed if n_fine is None else n_fine
    pitches, column = np.unique(pitch, return_inverse=True)
    fine = np.zeros((min(n, needed), len(pitches)), dtype=np.uint8)
    for on, off, col, vel in zip(onset.tolist(), offset.tolist(), column.tolist(), velocity.tolist()):
        if 0 < on < n and fine[on - 1, col]:
            fine[on - 1, col] = 0
        if off < n - 1 and fine[off, col]:
            off -= 1
        if on < off:
            fine[on:off, col] += np.uint8(vel)
    n_steps = -(-len(fine) // sub)
    fine = np.concatenate([fine, np.zeros((n_steps * sub - len(fine), len(pitches)), np.uint8)])
    steps, cols = fine.reshape(n_steps, sub, len(pitches)).any(axis=1).nonzero()  # set_resolution's floor
    return steps, pitches[cols]
