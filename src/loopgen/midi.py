"""Phrase extraction from raw MIDI files (SPEC section 1): the production path.

A file is kept when its time signatures are all 4/4; its first drum track and first bass track
(GM programs 32-39) become a (steps, 57) roll on a grid of 16 steps per bar that starts at the
first time-signature event; every 8-bar window with enough drums and bass is a phrase.

The definition of correct phrases is the paper's own pipeline, kept in loopgen.midi_reference
(pretty_midi + pypianoroll.from_pretty_midi(algorithm='strict') + set_resolution(4, 'floor') +
pad_to_same, windows kept only when all 128 steps lie inside the roll), which shares no roll,
window or threshold code with this module.
This module gives the same phrases bit for bit, 20-30x faster, without building their objects:
a lean reader walks the file's bytes as mido does and groups notes into instruments as
pretty_midi does, and only the drum and bass notes go on the grid, with the same arithmetic:
  * beats are quarter notes from the first time signature; a later time-signature event restarts
    the beat grid at its own time; tempo changes move beats in seconds (pretty_midi.get_beats);
  * a note's place is its beat plus the fraction of that beat in seconds; onsets are rounded to
    1/24 beat (pypianoroll's parse resolution), offsets truncated, repeated notes drawn by
    pypianoroll's rules, and the 24-per-beat roll floored to 4 steps per beat: a step is lit when
    any of its six cells is. So an onset up to 1/48 beat early lands on the step it anticipates.

Where the two paths differ on purpose (benchmarks/bench_midi.py counts how often):
  * only the meta events used here are decoded, so a file whose other metas mido cannot decode
    (an invalid key signature, say) is read; the reference rejects it;
  * a note that starts before the first beat and sounds past it starts at the first beat;
    pypianoroll wraps it to within a fraction of a cell of there;
  * pypianoroll fails on a drum hit in the last 1/48 beat of a song; we place it.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from loopgen.roll import DRUM_NOTE_TO_COLUMN, N_DRUM, bar_correlation, pack_rolls

log = logging.getLogger("loopgen.midi")

PHRASE_SCHEMA = pa.schema(
    [
        ("phrase_id", pa.string()),  # "<file_id>:<start_bar>"
        ("file_id", pa.string()),  # md5 of the file's bytes
        ("start_bar", pa.int32()),  # bars counted from the first time-signature event
        ("tempo_bpm", pa.float32()),  # tempo in effect at the window's first beat
        ("roll", pa.binary()),  # loopgen.roll.pack_rolls of the (128, 57) roll: 912 bytes
        ("corr", pa.list_(pa.float32())),  # loopgen.roll.bar_correlation: 28 values
        ("n_drum_cells", pa.int32()),
        ("n_bass_steps", pa.int32()),
    ]
)

FILES_SCHEMA = pa.schema(
    [
        ("relpath", pa.string()),  # path under midi.raw_dir, '/'-separated
        ("file_id", pa.string()),  # md5 of the file's bytes ('' when it cannot be read)
        ("shard", pa.int32()),
        ("status", pa.string()),  # 'accepted' | 'rejected'
        ("reason", pa.string()),  # why a file was rejected ('' when accepted)
        ("n_phrases", pa.int32()),
    ]
)

MIDI_SUFFIXES = (".mid", ".midi")
MAX_TICK = 10_000_000  # pretty_midi refuses files with a later event: they are corrupt
MAX_BARS = 10_000  # a drum or bass note later than this is a corrupt tick, not music


@dataclass(frozen=True)
class MidiParams:
    """The config's `midi:` section, minus the paths (SPEC section 1 defaults)."""

    steps_per_bar: int = 16
    parse_resolution: int = 24
    phrase_bars: int = 8
    hop_bars: int = 1
    min_drum_cells: int = 32
    min_bass_steps: int = 32
    bass_low: int = 24
    bass_high: int = 71
    bass_programs: tuple[int, ...] = tuple(range(32, 40))
    assume_4_4_without_time_signature: bool = False

    @classmethod
    def from_config(cls, section: dict) -> "MidiParams":
        names = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in section.items() if k in names}
        if "bass_programs" in values:
            values["bass_programs"] = tuple(values["bass_programs"])
        params = cls(**values)
        params.check()
        return params

    @property
    def steps_per_beat(self) -> int:
        return self.steps_per_bar // 4

    def check(self) -> None:
        from loopgen.roll import BASS_HIGH, BASS_LOW, N_BARS, STEPS_PER_BAR

        fixed = {"steps_per_bar": STEPS_PER_BAR, "phrase_bars": N_BARS, "bass_low": BASS_LOW, "bass_high": BASS_HIGH}
        for name, value in fixed.items():
            if getattr(self, name) != value:
                raise ValueError(f"midi.{name} must be {value}: the phrase roll format (loopgen.roll) is fixed")
        if self.parse_resolution % self.steps_per_beat:
            raise ValueError(f"midi.parse_resolution must be a multiple of {self.steps_per_beat} (steps per beat)")


class MidiError(ValueError):
    """A file that yields no phrases; the message is the reason a person reads in files.parquet."""


# --------------------------------------------------------------------------------------------
# Reading: a lean Standard MIDI File reader with pretty_midi's note and instrument semantics.
# --------------------------------------------------------------------------------------------


# Notes of one instrument, in the order pretty_midi lists them (order of their note-offs):
# (start tick, end tick, pitch, velocity) each.
Notes = list[tuple[int, int, int, int]]


@dataclass
class Song:
    """What phrase extraction needs from a file, in ticks."""

    ticks_per_beat: int
    time_signatures: list[tuple[int, int, int]]  # (tick, numerator, denominator), first track only
    tempos: list[tuple[int, int]]  # (tick, microseconds per beat) as pretty_midi keeps them
    drums: Notes  # the first drum instrument
    bass: Notes  # the first non-drum instrument with a bass program
    end_tick: int  # where pretty_midi's get_end_time puts the end of the song


# Data bytes that follow the status byte of system messages (mido's table).
_SYSTEM_DATA = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}
_MAX_META_LENGTH = 1_000_000  # mido refuses longer messages


def _track_chunks(data: bytes) -> tuple[int, list[tuple[int, int]]]:
    """Check the file's chunk structure; return ticks per beat and each track's byte range."""
    if not data:
        raise MidiError("empty file")
    if data[:4] != b"MThd":
        raise MidiError(f"not a MIDI file: starts with {data[:4]!r}, not the MThd header")
    if len(data) < 14:
        raise MidiError("not a MIDI file: header is truncated")
    header_size = int.from_bytes(data[4:8], "big")
    n_tracks = int.from_bytes(data[10:12], "big", signed=True)
    division = int.from_bytes(data[12:14], "big", signed=True)
    if header_size < 6:
        raise MidiError(f"not a MIDI file: header of {header_size} bytes (expected 6)")
    if division <= 0:
        raise MidiError("SMPTE time division (frames per second instead of ticks per beat) is not supported")
    if n_tracks <= 0:
        raise MidiError("no tracks")
    pos = 8 + header_size
    chunks = []
    for index in range(n_tracks):
        if pos + 8 > len(data):
            raise MidiError(f"truncated MIDI file: track {index + 1} of {n_tracks} is missing")
        chunk_id = data[pos : pos + 4]
        if chunk_id != b"MTrk":
            raise MidiError(f"not a MIDI file: chunk {chunk_id!r} where track {index + 1} should start")
        size = int.from_bytes(data[pos + 4 : pos + 8], "big")
        start, end = pos + 8, pos + 8 + size
        if end > len(data):
            raise MidiError(f"truncated MIDI file: track {index + 1} of {n_tracks} ends {end - len(data)} bytes past the end")
        chunks.append((start, end))
        pos = end
    return division, chunks


class _TrackReader:
    """Reads track chunks in order; keeps the first drum and first bass instrument, and the tick at
    which pretty_midi says the song ends.

    pretty_midi's rules, which decide which notes exist and which instrument is "first":
      * a note-on with velocity > 0 opens a note on (channel, pitch); a note-off (or note-on with
        velocity 0) closes every open note of that key that began at an earlier tick; if it closes
        none, the open notes of that key are forgotten; notes never closed do not exist;
      * a closed note belongs to the instrument (program at the note-off, channel, track), and an
        instrument comes into being with its first closed note: that is the order of the list;
      * channel 10 (index 9) is drums whatever the program; programs reset to 0 in every track.
    The song's end (PrettyMIDI.get_end_time) decides where its last beat falls: the latest note
    end, time signature, key signature, text, lyric, tempo change, or controller or pitch bend
    that pretty_midi files under an instrument (one on the channel's current instrument, or on a
    channel whose earlier "straggler" controllers an instrument has adopted).
    """

    def __init__(self, bass_programs: frozenset[int]):
        self.bass_programs = bass_programs
        self.drums: Notes | None = None
        self.bass: Notes | None = None
        self.time_signatures: list[tuple[int, int, int]] = []
        self.tempo_events: list[tuple[int, int]] = []
        self.end_tick = 0

    def read(self, data: bytes, start: int, end: int, index: int, with_meta: bool) -> int:
        """Read events data[start:end]; return the track's last tick."""
        programs = [0] * 16
        open_notes: dict[int, list[tuple[int, int]]] = {}
        created: set[int] = set()  # instruments of this track: program << 4 | channel
        candidates: dict[int, Notes] = {}  # the drum and bass ones among them, in creation order
        straggler = [0] * 16  # per channel: 0 none, 1 controllers before any instrument, 2 adopted
        bass_programs = self.bass_programs
        pos, tick, running, end_tick = start, 0, -1, 0
        try:
            while pos < end:
                byte = data[pos]
                pos += 1
                delta = byte & 0x7F
                while byte & 0x80:
                    byte = data[pos]
                    pos += 1
                    delta = (delta << 7) | (byte & 0x7F)
                tick += delta
                status = data[pos]
                pos += 1
                if status < 0x80:  # running status: this byte is the first data byte
                    if not 0x80 <= running < 0xF0:
                        raise MidiError(f"not a MIDI file: a data byte without a status byte in track {index + 1}")
                    first = status
                    status = running
                elif status < 0xF0:
                    running = status
                    first = data[pos]
                    pos += 1
                else:
                    if status != 0xFF:  # mido keeps running status after system messages too
                        running = status
                    pos = self._skip_system(data, pos, status, tick, index, with_meta)
                    continue
                kind = status & 0xF0
                if kind == 0xC0 or kind == 0xD0:
                    if first > 0x7F:
                        raise MidiError(f"not a MIDI file: data byte {first:#x} in track {index + 1}")
                    if kind == 0xC0:
                        programs[status & 0x0F] = first
                    continue
                second = data[pos]
                pos += 1
                if (first | second) > 0x7F:
                    raise MidiError(f"not a MIDI file: data byte out of range in track {index + 1}")
                if kind == 0x90 and second:
                    key = ((status & 0x0F) << 7) | first
                    opened = open_notes.get(key)
                    if opened is None:
                        open_notes[key] = [(tick, second)]
                    else:
                        opened.append((tick, second))
                elif kind == 0x80 or kind == 0x90:
                    key = ((status & 0x0F) << 7) | first
                    opened = open_notes.pop(key, None)
                    if opened is None:
                        continue
                    if len(opened) == 1:  # the common case, without building lists
                        if opened[0][0] == tick:
                            continue  # pretty_midi drops a key whose only notes began at this tick
                        closing = opened
                    else:
                        closing = [note for note in opened if note[0] != tick]
                        if not closing:
                            continue
                        if len(closing) < len(opened):
                            open_notes[key] = [note for note in opened if note[0] == tick]
                    end_tick = tick
                    channel = status & 0x0F
                    program = programs[channel]
                    instrument = (program << 4) | channel
                    if instrument not in created:
                        created.add(instrument)
                        if straggler[channel] == 1:
                            straggler[channel] = 2
                        if channel == 9 or program in bass_programs:
                            candidates[instrument] = []
                    notes = candidates.get(instrument)
                    if notes is not None:
                        for note_start, velocity in closing:
                            notes.append((note_start, tick, first, velocity))
                elif kind == 0xB0 or kind == 0xE0:  # controllers and pitch bends count for the end
                    channel = status & 0x0F
                    if straggler[channel] == 2 or ((programs[channel] << 4) | channel) in created:
                        end_tick = tick
                    elif straggler[channel] == 0:
                        straggler[channel] = 1
        except IndexError:
            raise MidiError(f"truncated MIDI file: track {index + 1} ends in the middle of an event") from None
        if pos != end:
            raise MidiError(f"not a MIDI file: the last event of track {index + 1} runs past its chunk")
        for instrument, notes in candidates.items():
            if instrument & 0x0F == 9:
                self.drums = self.drums or notes
            else:
                self.bass = self.bass or notes
        self.end_tick = max(self.end_tick, end_tick)
        return tick

    def _skip_system(self, data: bytes, pos: int, status: int, tick: int, index: int, with_meta: bool) -> int:
        """Skip a meta, sysex or system message starting after its status byte; keep the
        first track's time signatures and tempos, and the ticks of metas that end a song."""
        if status == 0xFF:
            meta_type = data[pos]
            pos += 1
        elif status not in (0xF0, 0xF7):
            if status not in _SYSTEM_DATA:
                raise MidiError(f"not a MIDI file: undefined status byte {status:#x} in track {index + 1}")
            return pos + _SYSTEM_DATA[status]
        length, pos = _read_varlen(data, pos)
        if length > _MAX_META_LENGTH:
            raise MidiError(f"not a MIDI file: a message of {length} bytes in track {index + 1}")
        if pos + length > len(data):
            raise IndexError
        if status == 0xFF:
            if meta_type in (0x01, 0x05) or (with_meta and meta_type in (0x58, 0x59)):  # text, lyric; TS, key
                self.end_tick = max(self.end_tick, tick)
            if with_meta and meta_type == 0x58:
                if length < 2:
                    raise MidiError(f"broken time signature event: {length} data bytes at tick {tick}")
                self.time_signatures.append((tick, data[pos], 2 ** data[pos + 1]))
            elif with_meta and meta_type == 0x51:
                if length < 3:
                    raise MidiError(f"broken tempo event: {length} data bytes at tick {tick}")
                self.tempo_events.append((tick, int.from_bytes(data[pos : pos + 3], "big")))
        return pos + length


def _read_varlen(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos


def _pretty_midi_tempos(events: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Tempo changes as pretty_midi keeps them: 120 BPM at tick 0, the last tick-0 event replaces
    it, and a later event that repeats the current tempo is dropped."""
    tempos = [(0, 500_000)]
    for tick, micros in events:
        if micros == 0:
            raise MidiError(f"broken tempo event: 0 microseconds per beat at tick {tick}")
        if tick == 0:
            tempos = [(0, micros)]
        elif micros != tempos[-1][1]:
            tempos.append((tick, micros))
    return tempos


def read_song(data: bytes, params: MidiParams) -> Song:
    """Read what phrase extraction needs; raise MidiError with the reason a file is unusable.

    Time signatures and tempos come from the first track only, as the MIDI standard and
    pretty_midi have it; a file whose time signatures break the 4/4 rule is rejected before its
    other tracks are read.
    """
    ticks_per_beat, chunks = _track_chunks(data)
    reader = _TrackReader(frozenset(params.bass_programs))
    for index, (start, end) in enumerate(chunks):
        last_tick = reader.read(data, start, end, index, with_meta=index == 0)
        if last_tick >= MAX_TICK:
            raise MidiError(f"likely corrupt: an event at tick {last_tick:,}, beyond {MAX_TICK:,}")
        if index == 0:
            check_time_signatures(reader.time_signatures, ticks_per_beat, params)
    if reader.drums is None and reader.bass is None:
        raise MidiError(f"no drum track and no bass track (programs {_programs_text(params)})")
    if reader.drums is None:
        raise MidiError("no drum track")
    if reader.bass is None:
        raise MidiError(f"no bass track (programs {_programs_text(params)})")
    tempos = _pretty_midi_tempos(reader.tempo_events)
    return Song(
        ticks_per_beat,
        sorted(reader.time_signatures, key=lambda ts: ts[0]),
        tempos,
        reader.drums,
        reader.bass,
        max(reader.end_tick, tempos[-1][0]),
    )


def _programs_text(params: MidiParams) -> str:
    programs = sorted(params.bass_programs)
    if programs == list(range(programs[0], programs[-1] + 1)) and len(programs) > 1:
        return f"{programs[0]}–{programs[-1]}"
    return ", ".join(map(str, programs))


def check_time_signatures(time_signatures, ticks_per_beat: int, params: MidiParams) -> None:
    """The 4/4 rule: at least one time-signature event and every one 4/4 (SPEC section 1).

    `time_signatures` are (tick_or_seconds, numerator, denominator); bars for the message are
    counted from the first event, in 4/4, 1-based.
    """
    if not time_signatures:
        if params.assume_4_4_without_time_signature:
            return
        raise MidiError("no time signature (midi.assume_4_4_without_time_signature is off)")
    first = min(ts[0] for ts in time_signatures)
    for when, numerator, denominator in sorted(time_signatures, key=lambda ts: ts[0]):
        if (numerator, denominator) != (4, 4):
            bar = 1 + int((when - first) // (4 * ticks_per_beat))
            raise MidiError(f"time signature {numerator}/{denominator} at bar {bar}")


# --------------------------------------------------------------------------------------------
# Grid: notes -> fine cells, with the reference's own float arithmetic.
#
# Beat times, note times and in-beat fractions are computed with the same float64 operations, in
# the same order, as pretty_midi (tick -> seconds, get_beats) and pypianoroll (from_pretty_midi),
# so rounding at exact half cells -- common: a note 1/48 beat off the grid -- falls the same way.
# (A pure tick formula, floor((tick - first_tick) * 4 / ticks_per_beat), would be simpler but
# places onsets that sit less than 1/48 beat before a step one step earlier than the reference.)
# --------------------------------------------------------------------------------------------


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


def note_cells(notes: Notes, first_beat: int, beats: np.ndarray, n_fine: int | None, tempo: TempoMap, params: MidiParams, onsets_only: bool):
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


# --------------------------------------------------------------------------------------------
# Rolls and windows (loopgen.midi_reference has its own, written from the released notebook).
# --------------------------------------------------------------------------------------------

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
    return Windows(starts.astype(np.int32), pack_rolls(windows), drum_cells[keep].astype(np.int32), bass_steps[keep].astype(np.int32))


def tempo_at_bars(beats: np.ndarray, change_times: np.ndarray, tempi: np.ndarray, start_bars, params: MidiParams) -> np.ndarray:
    """Tempo (BPM) in effect at the first beat of each bar in `start_bars`. A tempo change on that
    very beat counts (1 µs of slack absorbs the float error of summed beat times)."""
    beats_per_bar = params.steps_per_bar // params.steps_per_beat
    times = beats[np.asarray(start_bars, dtype=np.int64) * beats_per_bar]
    return tempi[np.searchsorted(change_times, times + 1e-6, side="right") - 1].astype(np.float32)


# --------------------------------------------------------------------------------------------
# One file, one shard.
# --------------------------------------------------------------------------------------------


@dataclass
class FilePhrases:
    """The phrases of one file and the tempo at each window's first beat."""

    windows: Windows
    tempo_bpm: np.ndarray  # float32


def extract_phrases(data: bytes, params: MidiParams) -> FilePhrases:
    """Phrases of one MIDI file's bytes; raise MidiError with the reason when it has none."""
    song = read_song(data, params)
    tpb = song.ticks_per_beat
    tempo = TempoMap(song.tempos, tpb)
    ts_ticks = [tick for tick, _, _ in song.time_signatures]
    first_beat = ts_ticks[0] if ts_ticks else 0
    last_tick = max(max((n[0] for n in song.drums), default=0), max((n[1] for n in song.bass), default=0), first_beat)
    if last_tick - first_beat > MAX_BARS * 4 * tpb:
        raise MidiError(f"likely corrupt: a drum or bass note beyond bar {MAX_BARS:,}")
    ts_times = tempo.seconds(ts_ticks).tolist()
    start, until, end_time = tempo.seconds([first_beat, last_tick, song.end_tick]).tolist()
    beats, complete = beat_times(start, tempo, ts_times, end_time, until)
    if len(beats) < 2:
        raise MidiError("shorter than two beats")
    n_fine = params.parse_resolution * len(beats) if complete else None
    drum_steps, drum_pitches = note_cells(song.drums, first_beat, beats, n_fine, tempo, params, onsets_only=True)
    bass_steps, bass_pitches = note_cells(song.bass, first_beat, beats, n_fine, tempo, params, onsets_only=False)
    for name, steps in (("drum", drum_steps), ("bass", bass_steps)):
        if len(steps) == 0:
            raise MidiError(f"no {name} note sounds after the first beat")
    # The roll ends where the released notebook's does: at the last lit step of either track, any
    # pitch (pypianoroll's set_resolution cuts each track there, pad_to_same joins the two).
    roll_end = int(max(drum_steps.max(), bass_steps.max())) + 1
    roll = build_roll(drum_steps, drum_pitches, bass_steps, bass_pitches, params, roll_end)
    windows = window_phrases(roll, params)
    tempo_bpm = tempo_at_bars(beats, tempo.change_times, tempo.tempi, windows.start_bar, params)
    return FilePhrases(windows, tempo_bpm)


def file_id_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def phrase_table(file_id: str, phrases: FilePhrases) -> pa.Table:
    """PHRASE_SCHEMA rows of one file."""
    w = phrases.windows
    corr = bar_correlation(w.packed)
    return pa.table(
        {
            "phrase_id": [f"{file_id}:{bar}" for bar in w.start_bar.tolist()],
            "file_id": [file_id] * len(w.start_bar),
            "start_bar": w.start_bar,
            "tempo_bpm": phrases.tempo_bpm,
            "roll": pa.array([row.tobytes() for row in w.packed], pa.binary()),
            "corr": pa.FixedSizeListArray.from_arrays(corr.ravel(), corr.shape[1]).cast(pa.list_(pa.float32())),
            "n_drum_cells": w.n_drum_cells,
            "n_bass_steps": w.n_bass_steps,
        },
        schema=PHRASE_SCHEMA,
    )


class _StreamingTable:
    """Writes row groups as they come to a temporary file renamed on success, so a shard of any
    size is written atomically with bounded memory (loopgen.tables.write_table holds all rows)."""

    def __init__(self, path: str | os.PathLike, schema: pa.Schema, rows_per_group: int = 20_000):
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        from loopgen.tables import temporary_path

        self.tmp = temporary_path(self.path)
        self.schema, self.rows_per_group = schema, rows_per_group
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")
        self.pending: list[pa.Table] = []
        self.n_pending = 0

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.n_pending += len(table)
        if self.n_pending >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.writer.write_table(pa.concat_tables(self.pending))
        self.pending, self.n_pending = [], 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self._flush()
        self.writer.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        self.tmp.unlink(missing_ok=True)


def extract_shard(raw_dir, relpaths: list[str], shard: int, params: MidiParams, phrases_path, files_path, progress=True) -> dict:
    """Extract the phrases of `relpaths` (under raw_dir) into phrases_path and account for every
    file in files_path (FILES_SCHEMA). Each rejected file gets one log line. Returns counts."""
    from tqdm import tqdm

    from loopgen.tables import write_table

    raw_dir = Path(raw_dir)
    file_rows, seen = [], {}
    n_phrases = 0
    with _StreamingTable(phrases_path, PHRASE_SCHEMA) as out:
        for relpath in tqdm(relpaths, desc=f"shard {shard}", mininterval=30, disable=not progress):
            row = {"relpath": relpath, "file_id": "", "shard": shard, "status": "rejected", "reason": "", "n_phrases": 0}
            try:
                data = (raw_dir / relpath).read_bytes()
                row["file_id"] = file_id = file_id_of(data)
                if file_id in seen:
                    raise MidiError(f"duplicate: same content as {seen[file_id]}")
                seen[file_id] = relpath
                phrases = extract_phrases(data, params)
            except MidiError as error:
                row["reason"] = str(error)
            except OSError as error:
                row["reason"] = f"could not be read: {error.strerror or error}"
            except Exception as error:  # a file no rule above foresaw: reject it, keep the shard going
                row["reason"] = f"could not be processed: {type(error).__name__}: {error}"
            else:
                out.write(phrase_table(file_id, phrases))
                row.update(status="accepted", n_phrases=len(phrases.tempo_bpm))
                n_phrases += row["n_phrases"]
            if row["status"] == "rejected":
                log.warning("rejected %s: %s", relpath, row["reason"])
            file_rows.append(row)
    write_table(file_rows, files_path, FILES_SCHEMA)
    n_accepted = sum(row["status"] == "accepted" for row in file_rows)
    counts = {"files": len(file_rows), "accepted": n_accepted, "rejected": len(file_rows) - n_accepted, "phrases": n_phrases}
    log.info("shard %d: %d files in, %d accepted, %d rejected; %d phrases out", shard, *counts.values())
    return counts


def merge_files_tables(paths: list[str]) -> pa.Table:
    """The per-shard files tables as one, sorted by relpath; every file in exactly one row."""
    import pyarrow.compute as pc

    from loopgen.tables import read_tables

    table = read_tables(paths, FILES_SCHEMA)
    table = table.take(pc.sort_indices(table, [("relpath", "ascending")]))
    relpaths = table["relpath"].to_pylist()
    twice = sorted({p for p, n in Counter(relpaths).items() if n > 1})
    if twice:
        raise ValueError(f"{len(twice)} files appear in more than one shard, e.g. {twice[0]}")
    accepted = pc.equal(table["status"], "accepted")
    ids = table.filter(accepted)["file_id"].to_pylist()
    for file_id, n in Counter(ids).items():
        if n > 1:  # files are sharded by path, so two shards can each keep a copy of one file
            log.warning("file %s is accepted %d times under different paths: its phrases repeat", file_id, n)
    n_accepted = pc.sum(accepted.cast(pa.int32())).as_py() or 0
    n_phrases = pc.sum(table["n_phrases"]).as_py() or 0
    log.info("%d files: %d accepted (%d phrases), %d rejected", len(table), n_accepted, n_phrases, len(table) - n_accepted)
    for reason, n in reject_reasons(table).most_common():
        log.info("  %6d rejected: %s", n, reason)
    return table


def reason_kind(reason: str) -> str:
    """A rejection reason without its particulars (bar, tick, track, file), for counting."""
    kind = reason.split(":")[0].split(" (")[0]
    kind = re.sub(r" at (bar|tick) \S+", "", kind)
    return re.sub(r"\b\d+ bars\b", "N bars", kind)


def reject_reasons(files: pa.Table) -> Counter:
    rejected = [r for r, status in zip(files["reason"].to_pylist(), files["status"].to_pylist()) if status == "rejected"]
    return Counter(map(reason_kind, rejected))


# ---- `loopgen summary` --------------------------------------------------------------------


def add_summary_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="+", help="phrase shards, files tables, or folders of them (e.g. results/midi)"
    )
    parser.add_argument("--bin", type=float, default=10.0, help="width of the tempo histogram bins in BPM (default 10)")


def run_summary(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq

    from loopgen.tables import read_tables

    phrase_paths, files_paths = [], []
    for path in _parquet_paths(args.paths):
        names = set(pq.read_schema(path).names)
        if set(PHRASE_SCHEMA.names) <= names:
            phrase_paths.append(path)
        elif set(FILES_SCHEMA.names) <= names:
            files_paths.append(path)
    if not phrase_paths and not files_paths:
        raise ValueError(f"no phrase shard or files table in {' '.join(args.paths)}")
    if files_paths:
        # A merged files.parquet repeats the per-shard tables: count each relpath once.
        files = read_tables(files_paths, FILES_SCHEMA)
        files = files.take(np.unique(files["relpath"].to_numpy(zero_copy_only=False), return_index=True)[1])
        print(_files_summary(files))
    if phrase_paths:
        phrases = read_tables(phrase_paths, PHRASE_SCHEMA, columns=["file_id", "tempo_bpm", "n_drum_cells", "n_bass_steps"])
        print(_phrases_summary(phrases, len(phrase_paths), args.bin))
    return 0


def _parquet_paths(paths) -> list[Path]:
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(path.rglob("*.parquet"))
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path} does not exist")
    return found


def _files_summary(files: pa.Table) -> str:
    status = Counter(files["status"].to_pylist())
    n_phrases = sum(files["n_phrases"].to_pylist())
    lines = [f"files: {len(files)}: {status['accepted']} accepted ({n_phrases} phrases), {status['rejected']} rejected"]
    for reason, n in reject_reasons(files).most_common():
        lines.append(f"  {n:7d}  {reason}")
    return "\n".join(lines)


def _phrases_summary(phrases: pa.Table, n_shards: int, bin_width: float) -> str:
    tempo = phrases["tempo_bpm"].to_numpy()
    n_files = len(set(phrases["file_id"].to_pylist()))
    lines = [f"phrases: {len(phrases)} from {n_files} files in {n_shards} shard(s)"]
    if len(phrases):
        drums, bass = phrases["n_drum_cells"].to_numpy(), phrases["n_bass_steps"].to_numpy()
        lines.append(f"  drum cells per phrase: mean {drums.mean():.1f}; bass steps per phrase: mean {bass.mean():.1f} (of 128)")
        lines.append("tempo (BPM) at phrase start:")
        edges = np.arange(np.floor(tempo.min() / bin_width) * bin_width, tempo.max() + bin_width, bin_width)
        counts, edges = np.histogram(tempo, bins=edges)
        scale = 50 / counts.max()
        for lo, hi, n in zip(edges[:-1], edges[1:], counts):
            lines.append(f"  {lo:6.0f}-{hi:<4.0f} {'#' * int(np.ceil(n * scale)):<50} {n}")
    return "\n".join(lines)
