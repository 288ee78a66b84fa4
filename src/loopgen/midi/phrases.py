"""One file's bytes -> its phrases: the reader, the grid and the windows in order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loopgen.midi.grid import TempoMap, beat_times, note_cells
from loopgen.midi.params import MAX_BARS, MidiError, MidiParams
from loopgen.midi.parser import read_song
from loopgen.midi.windows import Windows, build_roll, tempo_at_bars, window_phrases


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
