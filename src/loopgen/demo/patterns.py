"""Musical building blocks of the demo corpus: keys, grooves, bass lines and chords on a 16th grid.

Everything is in *steps* (sixteenth notes) counted from the first beat, so a pattern repeats
exactly on the grid the MIDI stage uses. Both demo dumps (MIDI songs and audio loops) are built
from these pieces; all randomness comes from the numpy Generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

STEPS_PER_BEAT = 4


class Note(NamedTuple):
    """One note: start and end in steps from the first beat (end exclusive), GM pitch, velocity."""

    start: int
    end: int
    pitch: int
    velocity: int


def shifted(notes: list[Note], steps: int) -> list[Note]:
    return [note._replace(start=note.start + steps, end=note.end + steps) for note in notes]


# --- General MIDI drum notes ----------------------------------------------------------------
KICK, SIDE_STICK, SNARE, CLAP = 36, 37, 38, 39
CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 42, 44, 46
FLOOR_TOM, LOW_TOM, MID_TOM, HIGH_TOM = 43, 45, 47, 50
CRASH, RIDE = 49, 51
# Percussion outside the roll's 9 drum columns: varying it changes the sound but not the roll,
# so a song can feel varied while its roll still repeats exactly.
UNMAPPED_PERCUSSION = (54, 56, 62, 64, 70, 75)  # tambourine, cowbell, congas, maracas, claves

# --- keys and chords ------------------------------------------------------------------------
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Key names as MIDI key signatures spell them (mido accepts exactly these).
MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_NAMES = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")
# Common progressions as scale degrees (0 = tonic), by mode.
PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3), (1, 4, 0, 0), (0, 3, 0, 4), (5, 3, 0, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 0, 5, 4), (0, 5, 3, 4)),
}


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class 0..11
    mode: str  # "major" | "minor"

    @property
    def scale(self) -> tuple[int, ...]:
        return MAJOR if self.mode == "major" else MINOR

    @property
    def name(self) -> str:
        """The key as a MIDI key-signature / uploader string: 'Eb', 'F#m'."""
        return (MINOR_NAMES if self.mode == "minor" else MAJOR_NAMES)[self.tonic]

    def degree_pc(self, degree: int) -> int:
        return (self.tonic + self.scale[degree % 7]) % 12

    def triad(self, degree: int) -> tuple[int, int, int]:
        return tuple(self.degree_pc(degree + k) for k in (0, 2, 4))

    def scale_pcs(self) -> set[int]:
        return {(self.tonic + interval) % 12 for interval in self.scale}


def random_key(rng: np.random.Generator) -> Key:
    return Key(int(rng.integers(12)), "minor" if rng.random() < 0.55 else "major")


def progression(rng: np.random.Generator, key: Key, n_chords: int) -> list[int]:
    """Scale degrees of `n_chords` chords: a stock progression, cut or cycled to length."""
    stock = PROGRESSIONS[key.mode][rng.integers(len(PROGRESSIONS[key.mode]))]
    return [stock[i % len(stock)] for i in range(n_chords)]


def bass_root(pc: int) -> int:
    """The chord root in the bass register E1..D#2 (MIDI 28..39), well inside the roll's 24..71."""
    pitch = 24 + pc
    return pitch + 12 if pitch < 28 else pitch


# --- drums ----------------------------------------------------------------------------------
KICK_TEMPLATES = {
    16: ((0, 8), (0, 10), (0, 7, 10), (0, 3, 8, 10), (0, 4, 8, 12), (0, 6, 8, 14), (0, 8, 11), (0, 2, 8, 10)),
    12: ((0,), (0, 6), (0, 7), (0, 3, 6)),
}
SNARE_TEMPLATES = {16: ((4, 12), (4, 12), (8,), (4, 12, 15), (4, 10, 12)), 12: ((6,), (4, 8), (3, 9))}


@dataclass(frozen=True)
class Groove:
    """One bar of drums as step sets per instrument; `notes()` turns it into MIDI notes."""

    steps: int  # steps per bar: 16 (4/4) or 12 (3/4, 6/8)
    kick: tuple[int, ...]
    snare: tuple[int, ...]
    hats: tuple[int, ...]
    hat_note: int  # closed hi-hat, pedal hi-hat or ride
    open_hats: tuple[int, ...] = ()
    ghosts: tuple[int, ...] = ()
    percussion: tuple[tuple[int, int], ...] = ()  # (step, unmapped GM note)

    def notes(self, bar_start: int, rng: np.random.Generator) -> list[Note]:
        hits = [(s, KICK, 105, 122) for s in self.kick]
        hits += [(s, SNARE, 100, 120) for s in self.snare]
        on_beat, off_beat = (95, 100), (60, 85)  # velocity ranges: accented hats on the beat
        hits += [
            (s, self.hat_note, *(on_beat if s % 4 == 0 else off_beat)) for s in self.hats if s not in self.open_hats
        ]
        hits += [(s, OPEN_HAT, 80, 100) for s in self.open_hats]
        hits += [(s, SNARE, 28, 45) for s in self.ghosts]
        hits += [(s, note, 50, 90) for s, note in self.percussion]
        return sorted(
            Note(bar_start + s, bar_start + s + 1, note, int(rng.integers(low, high))) for s, note, low, high in hits
        )


def random_groove(rng: np.random.Generator, steps: int = 16) -> Groove:
    pick = lambda options: options[rng.integers(len(options))]
    hat_every = pick((1, 2, 2, 2, 4)) if steps == 16 else pick((1, 2))
    hat_note = pick((CLOSED_HAT, CLOSED_HAT, CLOSED_HAT, PEDAL_HAT, RIDE))
    open_hats = (steps - 2,) if steps == 16 and rng.random() < 0.3 else ()
    hats = tuple(range(0, steps, hat_every))
    return Groove(steps, pick(KICK_TEMPLATES[steps]), pick(SNARE_TEMPLATES[steps]), hats, hat_note, open_hats)


def mutate(groove: Groove, rng: np.random.Generator) -> Groove:
    """A groove that differs from `groove` on the roll: one kick, ghost note, open hat or snare toggled."""
    toggle = lambda steps, step: tuple(sorted(set(steps) ^ {step}))
    while True:
        step = int(rng.integers(groove.steps))
        change = rng.integers(4)
        if change == 0:  # kicks move on off-beat sixteenths, so the downbeat kick stays
            new = replace(groove, kick=toggle(groove.kick, step | 1))
        elif change == 1:
            new = replace(groove, ghosts=toggle(groove.ghosts, step))
        elif change == 2:
            new = replace(groove, open_hats=toggle(groove.open_hats, step - step % 2))
        else:
            new = replace(groove, snare=toggle(groove.snare, step))
        if drum_cells(new) != drum_cells(groove) and new.kick and new.snare:
            return new


def with_percussion(groove: Groove, rng: np.random.Generator) -> Groove:
    """Add or re-draw unmapped percussion (tambourine, congas...): a variation invisible to the roll."""
    note = UNMAPPED_PERCUSSION[rng.integers(len(UNMAPPED_PERCUSSION))]
    steps = rng.choice(groove.steps, size=int(rng.integers(2, 6)), replace=False)
    return replace(groove, percussion=tuple(sorted((int(s), int(note)) for s in steps)))


def drum_cells(groove: Groove) -> set[tuple[int, str]]:
    """The roll cells of a groove (open hi-hat replaces the closed one on its step)."""
    hats = {(s, "hat") for s in groove.hats if s not in groove.open_hats}
    named = {(s, "kick") for s in groove.kick} | {(s, "snare") for s in groove.snare + groove.ghosts}
    return named | hats | {(s, "open") for s in groove.open_hats}


def fill(groove: Groove, bar_start: int, rng: np.random.Generator) -> list[Note]:
    """The groove's first half, then a tom/snare fill over the second half of the bar."""
    half = groove.steps // 2
    notes = [n for n in groove.notes(bar_start, rng) if n.start < bar_start + half]
    toms = (HIGH_TOM, MID_TOM, LOW_TOM, FLOOR_TOM) if rng.random() < 0.6 else (SNARE,)
    for i, step in enumerate(range(half, groove.steps, 1 if rng.random() < 0.5 else 2)):
        drum = toms[min(i * len(toms) // half, len(toms) - 1)]
        notes.append(Note(bar_start + step, bar_start + step + 1, drum, int(rng.integers(90, 125))))
    notes.append(Note(bar_start + half, bar_start + half + 1, KICK, 110))
    return sorted(notes)


def crash(bar_start: int) -> Note:
    return Note(bar_start, bar_start + 1, CRASH, 115)


# --- bass -----------------------------------------------------------------------------------
# Rhythms as (onset, duration) in steps; each keeps >= 8 of 16 steps sounding so an 8-bar window
# has far more than the stage's 32 active bass steps.
BASS_RHYTHMS = {
    16: (
        ((0, 4), (4, 4), (8, 4), (12, 4)),
        tuple((s, 2) for s in range(0, 16, 2)),
        ((0, 3), (3, 3), (6, 2), (8, 3), (11, 3), (14, 2)),
        ((0, 6), (6, 2), (8, 6), (14, 2)),
        ((0, 8), (8, 8)),
        ((0, 16),),
        ((0, 2), (3, 1), (6, 2), (8, 2), (10, 2), (12, 1), (14, 2)),
        ((0, 3), (4, 2), (8, 3), (12, 2), (14, 2)),
    ),
    12: (((0, 4), (4, 4), (8, 4)), tuple((s, 2) for s in range(0, 12, 2)), ((0, 6), (6, 6)), ((0, 5), (6, 3), (9, 3))),
}


def random_bass_rhythm(rng: np.random.Generator, steps: int = 16) -> tuple[tuple[int, int], ...]:
    options = BASS_RHYTHMS[steps]
    return options[rng.integers(len(options))]


def bass_bar(rng, key: Key, degree: int, rhythm, bar_start: int, double_stop: bool = False) -> list[Note]:
    """A bass bar on the chord of `degree`: mostly roots, some octaves, fifths and passing tones."""
    root = bass_root(key.degree_pc(degree))
    # Passing tones stay at or above E1 (28): no bass note leaves the roll's 24..71.
    scale = sorted(p for p in range(max(root - 5, 28), root + 13) if p % 12 in key.scale_pcs())
    notes = []
    for i, (onset, duration) in enumerate(rhythm):
        roll = rng.random()
        if i == 0 or roll < 0.5:
            pitch = root
        elif roll < 0.65:
            pitch = root + 12
        elif roll < 0.8:
            pitch = root + 7
        else:
            pitch = int(scale[rng.integers(len(scale))])
        velocity = int(rng.integers(85, 115))
        notes.append(Note(bar_start + onset, bar_start + onset + duration, pitch, velocity))
        if double_stop and i == 0:  # an octave above the root: the stage keeps the lowest note
            notes.append(Note(bar_start + onset, bar_start + onset + duration, pitch + 12, velocity - 10))
    return notes


# --- chords and melody (other instruments: heard, not in the roll) ---------------------------
def chord_bar(rng, key: Key, degree: int, bar_start: int, steps: int, style: str) -> list[Note]:
    """A triad voiced in G3..G5 as a held pad, off-beat stabs or an arpeggio."""
    pitches = sorted(55 + (pc - 55) % 12 for pc in key.triad(degree))
    velocity = int(rng.integers(60, 95))
    if style == "pad":
        return [Note(bar_start, bar_start + steps, p, velocity) for p in pitches]
    if style == "stabs":
        return [Note(bar_start + s, bar_start + s + 2, p, velocity) for s in range(2, steps, 4) for p in pitches]
    arpeggio = [pitches[i % 3] + 12 * (i // 3 % 2) for i in range(steps // 2)]  # up the triad, an octave up, again
    return [Note(bar_start + 2 * i, bar_start + 2 * i + 2, pitch, velocity) for i, pitch in enumerate(arpeggio)]


def melody_bar(rng, key: Key, bar_start: int, steps: int) -> list[Note]:
    """A free melodic bar (never repeated on purpose) in C4..C6."""
    scale = [p for p in range(60, 85) if p % 12 in key.scale_pcs()]
    notes, step = [], int(rng.integers(0, 3))
    while step < steps:
        duration = int(rng.choice((1, 2, 2, 3, 4)))
        if rng.random() < 0.8:  # else a rest
            pitch, velocity = int(rng.choice(scale)), int(rng.integers(70, 110))
            notes.append(Note(bar_start + step, bar_start + min(step + duration, steps), pitch, velocity))
        step += duration
    return notes
