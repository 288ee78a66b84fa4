"""Phrase rolls back to MIDI files a DAW opens (SPEC section 3, output).

Drums go to channel 10 with each column's General MIDI note (the first of
loopgen.roll.DRUM_COLUMNS[col]), one short note per lit cell; the bass is one track with a bass
program where consecutive lit steps of one pitch form one note. The file has a 4/4 time signature
at its start, so loopgen.midi reads it back to the same roll. The symbolic stage uses this for
generated loops; `loopgen to-midi` for any phrase of a shard.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from loopgen.roll import BASS_LOW, DRUM_COLUMNS, N_COLS, N_DRUM, PACKED_BYTES, STEPS_PER_BAR, unpack_rolls

TICKS_PER_BEAT = 480
BASS_PROGRAM = 33  # GM "Electric Bass (finger)"
VELOCITY = 100


def roll_to_midi(roll, tempo_bpm: float, bass_program: int = BASS_PROGRAM, velocity: int = VELOCITY):
    """(steps, 57) bool roll (or its 912 packed bytes) -> pretty_midi.PrettyMIDI at tempo_bpm."""
    import pretty_midi

    roll = _as_roll(roll)
    midi = pretty_midi.PrettyMIDI(resolution=TICKS_PER_BEAT, initial_tempo=float(tempo_bpm))
    midi.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    step = 60.0 / float(tempo_bpm) / (STEPS_PER_BAR // 4)

    drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    for t, col in zip(*np.nonzero(roll[:, :N_DRUM])):
        # Half a step long, so a hit on the next step never touches this one's note-off.
        drums.notes.append(pretty_midi.Note(velocity, DRUM_COLUMNS[col][0], t * step, (t + 0.5) * step))

    bass = pretty_midi.Instrument(program=bass_program, is_drum=False, name="bass")
    for pitch, first, last in bass_notes(roll):
        bass.notes.append(pretty_midi.Note(velocity, pitch, first * step, (last + 1) * step))
    midi.instruments.extend([drums, bass])
    return midi


def write_midi(roll, path, tempo_bpm: float, **options) -> Path:
    """Write roll_to_midi(roll, tempo_bpm) to `path` (folders created); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    roll_to_midi(roll, tempo_bpm, **options).write(str(path))
    return path


def bass_notes(roll: np.ndarray) -> list[tuple[int, int, int]]:
    """(MIDI pitch, first step, last step) of each run of consecutive lit steps of one pitch."""
    lit = roll[:, N_DRUM:]
    notes = []
    for col in np.flatnonzero(lit.any(axis=0)):
        edges = np.diff(np.concatenate([[0], lit[:, col].astype(np.int8), [0]]))
        for first, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            notes.append((BASS_LOW + int(col), int(first), int(end) - 1))
    return sorted(notes, key=lambda note: note[1])


def _as_roll(roll) -> np.ndarray:
    """Accept a (steps, 57) bool roll, or a phrase's packed roll (912 bytes or uint8 values)."""
    if isinstance(roll, (bytes, bytearray)):
        return unpack_rolls([bytes(roll)])[0]
    roll = np.asarray(roll)
    if roll.dtype == np.uint8 and roll.shape == (PACKED_BYTES,):
        return unpack_rolls(roll[None])[0]
    if roll.ndim != 2 or roll.shape[1] != N_COLS:
        raise ValueError(f"expected a (steps, 57) roll, got shape {roll.shape}")
    return roll.astype(bool)


# ---- `loopgen to-midi` --------------------------------------------------------------------


def add_to_midi_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("phrases", help="a phrase shard (results/midi/phrases/shard-0.parquet) or a folder of shards")
    parser.add_argument("phrase_id", help="the phrase to write, e.g. 0a1b...:12 (see `loopgen summary`)")
    parser.add_argument("-o", "--output", help="MIDI file to write (default: <phrase_id>.mid here, ':' as '_')")
    parser.add_argument("--tempo", type=float, help="tempo in BPM (default: the phrase's own tempo)")


def run_to_midi(args: argparse.Namespace) -> int:
    import pyarrow.compute as pc

    from loopgen.midi import PHRASE_SCHEMA
    from loopgen.tables import read_table

    for shard in _shard_paths(args.phrases):
        table = read_table(shard, PHRASE_SCHEMA, columns=["phrase_id", "tempo_bpm", "roll"])
        hit = table.filter(pc.equal(table["phrase_id"], args.phrase_id))
        if len(hit):
            break
    else:
        raise ValueError(f"phrase {args.phrase_id!r} is not in {args.phrases}")
    tempo = args.tempo or float(hit["tempo_bpm"][0].as_py())
    output = Path(args.output or args.phrase_id.replace(":", "_") + ".mid")
    write_midi(hit["roll"][0].as_py(), output, tempo)
    print(f"wrote {output} ({args.phrase_id}, 8 bars at {tempo:.1f} BPM)")
    return 0


def _shard_paths(path) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        shards = sorted(path.rglob("*.parquet"))
        if not shards:
            raise FileNotFoundError(f"no .parquet files in {path}")
        return shards
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return [path]
