"""The demo's Lakh-MIDI-shaped tree (`<hex>/<md5>.mid`) and its loop labels.

`write_midi_corpus` writes a few hundred multi-track songs (see `songs.compose`), some deliberately
awkward for the MIDI stage (3/4, 6/8, a meter change, no time signature, no bass, no drums, two
bass tracks) and a few broken files (zero bytes, truncated, not MIDI at all). Each file is named by
the md5 of its bytes, as in LMD. Ground truth goes to a separate Parquet file: one row per 8-bar
window (hop one bar) of every 4/4 song that has drums and bass, saying whether the window exactly
repeats a 1-, 2- or 4-bar pattern in both bass and drums on the 16-steps-per-bar grid.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections import Counter
from pathlib import Path

import mido
import numpy as np
import pyarrow as pa

from loopgen.demo.plans import shuffled_plan
from loopgen.demo.songs import BASS_PROGRAMS, Song, SongOptions, compose
from loopgen.roll import BASS_HIGH, BASS_LOW, DRUM_NOTE_TO_COLUMN, N_BARS, N_COLS, N_DRUM, STEPS_PER_BAR
from loopgen.tables import temporary_path, write_table

log = logging.getLogger(__name__)

MIDI_WINDOW_SCHEMA = pa.schema(
    [
        ("file_id", pa.string()),  # md5 hex of the file's bytes (= its name)
        ("relpath", pa.string()),  # '<hex>/<md5>.mid', relative to the tree
        ("start_bar", pa.int32()),  # bars from the first 4/4 time-signature event (tick 0 if none)
        ("is_loop", pa.bool_()),  # the 8-bar window repeats a 1-, 2- or 4-bar pattern exactly
    ]
)

# Kinds of file besides plain 4/4 songs, with their share of the corpus (see plans.shuffled_plan).
SPECIAL_KINDS = {
    "zero_bytes": 0.004,  # only ever one: a second empty file would have the same name (md5 of no bytes)
    "truncated": 0.0125,
    "not_midi": 0.0125,
    "three_four": 0.04,
    "six_eight": 0.03,
    "meter_change": 0.025,
    "no_time_signature": 0.04,
    "no_bass": 0.04,
    "no_drums": 0.035,
    "two_bass": 0.06,
}
BROKEN_KINDS = ("zero_bytes", "truncated", "not_midi")
SONG_OPTIONS = {
    "song": SongOptions(),
    "three_four": SongOptions(meter="3/4"),
    "six_eight": SongOptions(meter="6/8"),
    "meter_change": SongOptions(meter="4/4+3/4"),
    "no_time_signature": SongOptions(time_signature_event=False),
    "no_bass": SongOptions(bass_tracks=0),
    "no_drums": SongOptions(drums=False),
    "two_bass": SongOptions(bass_tracks=2),
}
MIN_BARS, MAX_BARS = 24, 64


def file_plan(n_files: int, seed: int) -> list[str]:
    """The kind of every file, shuffled, with exact shares (small corpora still get each kind)."""
    return shuffled_plan(n_files, SPECIAL_KINDS, "song", np.random.default_rng([seed, 1]), at_most={"zero_bytes": 1})


# --- Standard MIDI File writing -------------------------------------------------------------
_ORDER = {
    "track_name": 0,
    "key_signature": 0,
    "set_tempo": 0,
    "time_signature": 0,
    "program_change": 1,
    "control_change": 1,
    "note_off": 2,
    "note_on": 3,
}
Event = tuple[int, str, dict]  # (absolute tick, message type, message fields)


def song_to_midi(song: Song, rng: np.random.Generator) -> bytes:
    """A type-1 MIDI file: a conductor track (tempo, meter, key) and one track per instrument."""
    tpb = song.ticks_per_beat
    step_ticks = tpb // 4
    origin = song.pickup_beats * tpb

    def tick(step: float) -> int:
        return origin + round(step * step_ticks)

    conductor: list[Event] = [(0, "track_name", {"name": song.title}), (0, "key_signature", {"key": song.key.name})]
    conductor += [
        (0 if step == 0 else tick(step), "set_tempo", {"tempo": mido.bpm2tempo(bpm)}) for step, bpm in song.tempos
    ]
    conductor += [
        (
            tick(step),
            "time_signature",
            {"numerator": num, "denominator": den, "clocks_per_click": 24 if den == 4 else 36},
        )
        for step, num, den in song.time_signatures
    ]
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    midi.tracks.append(_track(conductor))
    melodic_channels = iter(c for c in range(16) if c != 9)
    for track in song.tracks:
        channel = 9 if track.is_drum else next(melodic_channels)
        events: list[Event] = [(0, "track_name", {"name": track.name})]
        if not track.is_drum:
            events.append((0, "program_change", {"channel": channel, "program": track.program}))
        events.append((0, "control_change", {"channel": channel, "control": 7, "value": int(rng.integers(85, 115))}))
        for note in track.notes:
            # Humanised starts are late by less than a quarter step: they floor to the same step.
            late = int(rng.integers(0, max(1, step_ticks // 4))) if song.humanize else 0
            start = tick(note.start) + late
            end = start + max(1, step_ticks // 2) if track.is_drum else max(tick(note.end), start + 1)
            events.append((start, "note_on", {"channel": channel, "note": note.pitch, "velocity": note.velocity}))
            events.append((end, "note_off", {"channel": channel, "note": note.pitch, "velocity": 0}))
        midi.tracks.append(_track(events))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _track(events: list[Event]) -> mido.MidiTrack:
    """Absolute-tick events -> a track with delta times (note-offs before note-ons at one tick)."""
    track, previous = mido.MidiTrack(), 0
    for time, kind, fields in sorted(events, key=lambda e: (e[0], _ORDER[e[1]])):
        message = (
            mido.Message if kind in ("program_change", "control_change", "note_on", "note_off") else mido.MetaMessage
        )
        track.append(message(kind, time=time - previous, **fields))
        previous = time
    return track


# --- broken files ---------------------------------------------------------------------------
def truncated(data: bytes, rng: np.random.Generator) -> bytes:
    """Cut a MIDI file inside one of its instrument tracks, so the chunk claims more bytes than remain."""
    starts = [i for i in range(len(data)) if data.startswith(b"MTrk", i)]
    chunk = starts[int(rng.integers(1, len(starts)))]
    length = int.from_bytes(data[chunk + 4 : chunk + 8], "big")
    return data[: chunk + 8 + int(length * rng.uniform(0.2, 0.8))]


def not_midi(title: str, rng: np.random.Generator) -> bytes:
    """What a scrape saves under a .mid name: an error page, a lyrics text, or random bytes."""
    choice = rng.integers(3)
    if choice == 0:
        page = f"<html><head><title>404 Not Found</title></head><body><h1>{title}.mid not found</h1></body></html>"
        return f"<!DOCTYPE html>\n{page}\n".encode()
    if choice == 1:
        return f"{title}\n\nVerse 1\nla la la, the loop goes round\n\nChorus\noh oh oh\n".encode()
    return b"\x00\x01" + rng.bytes(int(rng.integers(200, 2000)))


# --- ground truth ---------------------------------------------------------------------------
def labelled(kind: str) -> bool:
    """Songs the MIDI stage can read: 4/4 with drums and bass. Files without a time signature are
    labelled as 4/4 from tick 0 too (for the stage's option that treats them as 4/4)."""
    return kind in ("song", "two_bass", "no_time_signature")


def song_roll(song: Song) -> np.ndarray:
    """The (n_steps, 57) roll the MIDI stage sees: first drum track's onsets in the 9 columns, first
    bass track's lowest sounding pitch in 24..71. Steps count from the first time signature."""
    n_steps = song.n_steps
    roll = np.zeros((n_steps, N_COLS), dtype=bool)
    drums = next((t for t in song.tracks if t.is_drum), None)
    bass = next((t for t in song.tracks if not t.is_drum and t.program in BASS_PROGRAMS), None)
    for note in drums.notes if drums else []:
        column = DRUM_NOTE_TO_COLUMN.get(note.pitch)
        if column is not None and 0 <= note.start < n_steps:
            roll[note.start, column] = True
    lowest = np.full(n_steps, 128)
    for note in bass.notes if bass else []:
        if BASS_LOW <= note.pitch <= BASS_HIGH:
            span = slice(max(note.start, 0), min(note.end, n_steps))
            lowest[span] = np.minimum(lowest[span], note.pitch)
    steps = np.flatnonzero(lowest < 128)
    roll[steps, N_DRUM + lowest[steps] - BASS_LOW] = True
    return roll


def roll_end(song: Song) -> int:
    """Where the MIDI stage's roll ends (SPEC section 1, "roll end"): after the last drum onset or
    the last step a bass note sounds in, of the first drum and bass tracks, whatever the pitch.
    Windows past it (a partial last bar) are not phrases, so they get no label."""
    drums = next((t for t in song.tracks if t.is_drum), None)
    bass = next((t for t in song.tracks if not t.is_drum and t.program in BASS_PROGRAMS), None)
    ends = [n.start + 1 for n in (drums.notes if drums else [])] + [n.end for n in (bass.notes if bass else [])]
    return max(ends, default=0)


def window_is_loop(roll: np.ndarray) -> np.ndarray:
    """For every 8-bar window (hop one bar): does it exactly repeat a 1-, 2- or 4-bar pattern?

    A window repeating a 1- or 2-bar pattern also repeats a 4-bar one, so the test is bars 0-3 ==
    bars 4-7 on all 57 columns (bass and drums together).
    """
    n_bars = len(roll) // STEPS_PER_BAR
    bars = roll[: n_bars * STEPS_PER_BAR].reshape(n_bars, -1)
    return np.array(
        [np.array_equal(bars[s : s + 4], bars[s + 4 : s + N_BARS]) for s in range(n_bars - N_BARS + 1)], dtype=bool
    )


# --- the corpus -----------------------------------------------------------------------------
def make_file(kind: str, index: int, seed: int) -> tuple[bytes, np.ndarray | None]:
    """The bytes of file `index` and, for labelled songs, its windows' is_loop flags."""
    rng = np.random.default_rng([seed, 0, index])
    title = f"demo song {index:04d}"
    if kind == "zero_bytes":
        return b"", None
    if kind == "not_midi":
        return not_midi(title, rng), None
    options = SONG_OPTIONS.get(kind, SongOptions())
    song = compose(rng, SongOptions(**{**options.__dict__, "n_bars": int(rng.integers(MIN_BARS, MAX_BARS + 1))}), title)
    data = song_to_midi(song, rng)
    if kind == "truncated":
        return truncated(data, rng), None
    return data, window_is_loop(song_roll(song)[: roll_end(song)]) if labelled(kind) else None


def write_midi_corpus(tree: str | os.PathLike, labels_path: str | os.PathLike, n_files: int, seed: int) -> dict:
    """Write the LMD-shaped tree and its window labels; return counts for the log.

    The tree is built beside its final name and renamed at the end, so a killed run leaves no
    complete-looking tree. `tree` must not exist or be empty.
    """
    tree = Path(tree)
    if tree.exists() and any(tree.iterdir()):
        raise FileExistsError(f"{tree}: demo MIDI tree exists and is not empty; remove it first")
    staging = temporary_path(tree)  # also clears the staging folders of killed runs
    rows, kinds = [], Counter()
    for index, kind in enumerate(file_plan(n_files, seed)):
        data, is_loop = make_file(kind, index, seed)
        file_id = hashlib.md5(data).hexdigest()
        relpath = f"{file_id[0]}/{file_id}.mid"
        (staging / file_id[0]).mkdir(parents=True, exist_ok=True)
        (staging / relpath).write_bytes(data)
        kinds[kind] += 1
        if is_loop is not None:
            rows += [
                {"file_id": file_id, "relpath": relpath, "start_bar": s, "is_loop": bool(v)}
                for s, v in enumerate(is_loop)
            ]
    write_table(rows, labels_path, MIDI_WINDOW_SCHEMA)
    if tree.exists():
        tree.rmdir()
    staging.rename(tree)
    n_loops = sum(r["is_loop"] for r in rows)
    summary = {"files": n_files, "kinds": dict(sorted(kinds.items())), "windows": len(rows), "loop_windows": n_loops}
    log.info(
        "demo MIDI: %d files %s; %d labelled windows, %d loops (%.0f%%)",
        n_files,
        summary["kinds"],
        len(rows),
        n_loops,
        100 * n_loops / max(1, len(rows)),
    )
    return summary
