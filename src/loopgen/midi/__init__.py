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

Modules, in the order data flows through them (each imports only those above it):
    params    MidiParams, MidiError, limits
    parser    bytes -> Song (drum and bass notes, tempos, time signatures); the 4/4 rule
    grid      notes -> cells on the 4-per-beat grid (pretty_midi / pypianoroll arithmetic)
    windows   cells -> the (steps, 57) roll -> 8-bar phrase windows
    phrases   one file's bytes -> FilePhrases (the three above in order)
    files     phrase shards and the files table; shard extraction and merging
    summary   `loopgen summary`
This package re-exports their public names: `from loopgen.midi import extract_phrases` keeps working.
"""

from loopgen.midi.files import (
    FILES_SCHEMA,
    PHRASE_SCHEMA,
    extract_shard,
    file_id_of,
    merge_files_tables,
    phrase_table,
    reason_kind,
    reject_reasons,
)
from loopgen.midi.grid import TempoMap, beat_times, fine_positions, note_cells, sustained_cells
from loopgen.midi.params import MAX_BARS, MAX_TICK, MIDI_SUFFIXES, MidiError, MidiParams, _programs_text
from loopgen.midi.parser import Notes, Song, check_time_signatures, read_song
from loopgen.midi.phrases import FilePhrases, extract_phrases
from loopgen.midi.summary import add_summary_args, run_summary
from loopgen.midi.windows import Windows, build_roll, tempo_at_bars, window_phrases
