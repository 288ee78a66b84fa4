"""Multi-track demo songs: loop sections, through-composed sections, meters and tempo maps.

A song is composed on the step grid (16 steps per 4/4 bar, 12 per 3/4 or 6/8 bar) as a list of
sections. Loop sections repeat a 1-, 2- or 4-bar pattern (sometimes with a crash on their first
bar, a fill on their last bar or a varied bar in the middle); through-composed sections give every
bar its own drums and bass. `midi_corpus` writes the result as a Standard MIDI File.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from loopgen.demo import patterns as pt
from loopgen.demo.patterns import Key, Note

BASS_PROGRAMS = range(32, 40)  # the GM bass family the MIDI stage looks for
CHORD_PROGRAMS = (0, 2, 4, 5, 16, 24, 25, 27, 48, 49, 50, 61, 88, 89, 91)
LEAD_PROGRAMS = (11, 56, 64, 65, 66, 71, 73, 80, 81)
NOT_BASS_LOW_PROGRAMS = (0, 42, 43, 58, 70)  # piano left hand, cello, contrabass, tuba, bassoon


@dataclass
class Track:
    name: str
    program: int
    is_drum: bool
    notes: list[Note] = field(default_factory=list)


@dataclass
class Song:
    """Everything `midi_corpus.song_to_midi` needs; steps count from the first time signature."""

    title: str
    key: Key
    tracks: list[Track]
    bar_steps: list[int]  # length in steps of every bar, in order
    time_signatures: list[tuple[int, int, int]]  # (step, numerator, denominator); [] = none in the file
    tempos: list[tuple[float, float]]  # (step, bpm); steps may be fractional (changes on beats)
    ticks_per_beat: int = 480
    pickup_beats: int = 0  # beats of (non-roll) music before the first time signature
    humanize: bool = False  # late offsets below a quarter step: on the grid they floor to the same step

    @property
    def n_steps(self) -> int:
        return sum(self.bar_steps)

    def track(self, name: str) -> Track | None:
        return next((t for t in self.tracks if t.name == name), None)


ENDINGS = ("held", "cut", "drums_stop", "bass_rings_on")  # see _Builder.ending
ENDING_SHARES = (0.55, 0.15, 0.15, 0.15)


@dataclass(frozen=True)
class SongOptions:
    meter: str = "4/4"  # "4/4" | "3/4" | "6/8" | "4/4+3/4" (a 3/4 section inside a 4/4 song)
    time_signature_event: bool = True
    drums: bool = True
    bass_tracks: int = 1  # 0 = the low line is played by a non-bass program
    n_bars: int = 48


class _Builder:
    """Appends sections bar by bar to the song's tracks."""

    def __init__(self, rng: np.random.Generator, key: Key, options: SongOptions):
        self.rng, self.key, self.options = rng, key, options
        self.bar_steps: list[int] = []
        self.notes = {name: [] for name in ("drums", "bass", "bass2", "chords", "lead")}
        self.chord_style = ("pad", "stabs", "arp")[rng.integers(3)]

    @property
    def step(self) -> int:
        return sum(self.bar_steps)

    def add_bar(self, steps: int, drums: list[Note], bass: list[Note], degree: int, lead: bool) -> None:
        start = self.step
        self.notes["drums"] += pt.shifted(drums, start)
        self.notes["bass"] += pt.shifted(bass, start)
        self.notes["chords"] += pt.chord_bar(self.rng, self.key, degree, start, steps, self.chord_style)
        if lead:
            self.notes["lead"] += pt.melody_bar(self.rng, self.key, start, steps)
        if self.rng.random() < 0.5:  # the second bass doubles an octave up, loosely: never in the roll
            self.notes["bass2"] += [
                n._replace(start=n.start + start, end=n.end + start, pitch=n.pitch + 12) for n in bass[:2]
            ]
        self.bar_steps.append(steps)

    def loop_section(self, n_bars: int, period: int, steps: int) -> None:
        """`n_bars` bars repeating a `period`-bar pattern, with the usual decorations."""
        rng = self.rng
        groove = pt.random_groove(rng, steps)
        grooves = [groove if k == 0 or rng.random() < 0.5 else pt.mutate(groove, rng) for k in range(period)]
        degrees = pt.progression(rng, self.key, period)
        rhythm = pt.random_bass_rhythm(rng, steps)
        double_stop = rng.random() < 0.15
        bass = [pt.bass_bar(rng, self.key, d, rhythm, 0, double_stop) for d in degrees]
        drums = [g.notes(0, rng) for g in grooves]
        lead = rng.random() < 0.4
        varied = int(rng.integers(period, n_bars - 1)) if n_bars > 8 and rng.random() < 0.3 else None
        for i in range(n_bars):
            bar_drums, bar_bass = drums[i % period], bass[i % period]
            if i == varied:  # one changed bar in the middle: windows across it are not loops
                bar_drums = pt.mutate(grooves[i % period], rng).notes(0, rng)
            if i == n_bars - 1 and rng.random() < 0.5:
                bar_drums = pt.fill(grooves[i % period], 0, rng)
            if rng.random() < 0.3:  # percussion outside the roll: heard, yet the roll still repeats
                bar_drums = bar_drums + _percussion(grooves[i % period], rng)
            if i == 0 and rng.random() < 0.5:
                bar_drums = bar_drums + [pt.crash(0)]
            self.add_bar(steps, bar_drums, bar_bass, degrees[i % period], lead)

    def through_section(self, n_bars: int, steps: int) -> None:
        """Bars that never repeat: each has its own groove variant, chord and bass rhythm."""
        rng = self.rng
        groove = pt.random_groove(rng, steps)
        seen: list[tuple] = []
        degree = 0
        for _ in range(n_bars):
            for _attempt in range(20):
                groove = pt.mutate(groove, rng)
                degree = (degree + int(rng.choice((1, 2, 3, 4, 5, 6)))) % 7
                bass = pt.bass_bar(rng, self.key, degree, pt.random_bass_rhythm(rng, steps), 0, rng.random() < 0.1)
                signature = (pt.drum_cells(groove), _bass_cells(bass))
                if signature not in seen:
                    break
            seen.append(signature)
            self.add_bar(steps, groove.notes(0, rng), bass, degree, lead=True)

    def intro(self, n_bars: int, steps: int) -> None:
        """Drums alone for a few bars before the band comes in."""
        groove = pt.random_groove(self.rng, steps)
        for _ in range(n_bars):
            self.add_bar(steps, groove.notes(0, self.rng), [], 0, lead=False)

    def breakdown(self, n_bars: int, steps: int) -> None:
        """Drums drop out over held bass notes: windows here fail the stage's drum threshold."""
        degrees = pt.progression(self.rng, self.key, n_bars)
        for degree in degrees:
            self.add_bar(steps, [], pt.bass_bar(self.rng, self.key, degree, ((0, steps),), 0), degree, lead=True)

    def ending(self, steps: int, shape: str = "held") -> None:
        """The song's last bar: a crash and a held tonic, in one of four shapes (ENDINGS). Where the
        drums and the bass both stop mid-bar, the last bar is partial on the roll: no phrase ends
        there (SPEC section 1, "roll end")."""
        rng = self.rng
        tonic = pt.bass_root(self.key.tonic)
        drums = [pt.crash(0), pt.Note(0, 1, pt.KICK, 115)]
        bass = [Note(0, steps, tonic, 100)]  # "held": ends exactly on the song's last bar line
        if shape == "cut":  # the band stops together half-way through the bar
            drums += [pt.Note(s, s + 1, pt.SNARE, 110) for s in (4, 6)]
            bass = [Note(0, 7, tonic, 100)]
        elif shape == "drums_stop":  # drums stop after beat two, the bass holds to the bar line
            drums += [pt.Note(4, 5, pt.SNARE, 110)]
        elif shape == "bass_rings_on":  # the bass outlasts the drums and the last bar line
            bass = [Note(0, steps + steps // 2, tonic, 100)]
        self.add_bar(steps, drums, bass, 0, lead=rng.random() < 0.5)


def _percussion(groove: pt.Groove, rng: np.random.Generator) -> list[Note]:
    return [n for n in pt.with_percussion(groove, rng).notes(0, rng) if n.pitch in pt.UNMAPPED_PERCUSSION]


def _bass_cells(notes: list[Note]) -> tuple:
    return tuple(sorted((n.start, n.end, n.pitch) for n in notes))


def compose(rng: np.random.Generator, options: SongOptions, title: str) -> Song:
    """A song of about `options.n_bars` bars in the given meter, with the asked-for tracks."""
    key = pt.random_key(rng)
    builder = _Builder(rng, key, options)
    steps = 16 if options.meter.startswith("4/4") else 12
    if rng.random() < 0.5:
        builder.intro(int(rng.choice((2, 4))), steps)
    odd_section_done = breakdown_done = False
    while len(builder.bar_steps) < options.n_bars - 1:
        if options.meter == "4/4+3/4" and not odd_section_done and len(builder.bar_steps) >= 8:
            builder.through_section(int(rng.choice((2, 4))), 12)
            odd_section_done = True
        elif not breakdown_done and len(builder.bar_steps) >= 8 and rng.random() < 0.1:
            builder.breakdown(int(rng.choice((4, 8))), steps)
            breakdown_done = True
        elif rng.random() < 0.6:
            builder.loop_section(int(rng.choice((8, 12, 16, 16))), int(rng.choice((1, 2, 2, 4, 4))), steps)
        else:
            builder.through_section(int(rng.choice((4, 6, 8))), steps)
    # The ending's shape and a trailing tempo change come from a spawned generator, which leaves
    # the song's own random stream (and so every other bar of the corpus) as it was.
    ending_rng = rng.spawn(1)[0]
    builder.ending(steps, str(ending_rng.choice(ENDINGS, p=ENDING_SHARES)))
    pickup_beats = int(rng.choice((1, 2))) if options.meter == "4/4" and rng.random() < 0.06 else 0
    if pickup_beats:  # an anacrusis before the first time signature, on a track outside the roll
        builder.notes["chords"] += pt.melody_bar(
            rng, key, -pickup_beats * pt.STEPS_PER_BEAT, pickup_beats * pt.STEPS_PER_BEAT
        )
    return Song(
        title=title,
        key=key,
        tracks=_tracks(rng, builder, options),
        bar_steps=builder.bar_steps,
        time_signatures=_time_signatures(rng, builder.bar_steps, options),
        tempos=_tempo_map(rng, builder.bar_steps) + _trailing_tempo(ending_rng, builder.bar_steps),
        ticks_per_beat=int(rng.choice((96, 120, 192, 220, 384, 480, 480, 960))),
        pickup_beats=pickup_beats,
        humanize=bool(rng.random() < 0.4),
    )


def _tracks(rng, builder: _Builder, options: SongOptions) -> list[Track]:
    """Track order matters: the MIDI stage takes the first drum and the first bass track."""
    tracks = []
    if options.drums:
        tracks.append(Track("Drums", 0, True, builder.notes["drums"]))
    if options.bass_tracks >= 1:
        tracks.append(Track("Bass", int(rng.choice(BASS_PROGRAMS)), False, builder.notes["bass"]))
    else:
        tracks.append(Track("Low strings", int(rng.choice(NOT_BASS_LOW_PROGRAMS)), False, builder.notes["bass"]))
    tracks.append(Track("Chords", int(rng.choice(CHORD_PROGRAMS)), False, builder.notes["chords"]))
    if builder.notes["lead"]:
        tracks.append(Track("Lead", int(rng.choice(LEAD_PROGRAMS)), False, builder.notes["lead"]))
    if options.bass_tracks >= 2:
        tracks.append(Track("Synth bass", int(rng.choice(BASS_PROGRAMS)), False, builder.notes["bass2"]))
    return tracks


def _time_signatures(rng, bar_steps: list[int], options: SongOptions) -> list[tuple[int, int, int]]:
    """One event per meter change; some 4/4 songs restate 4/4 later (still a valid 4/4 file)."""
    if not options.time_signature_event:
        return []
    meter_of = {16: (4, 4), 12: (6, 8) if options.meter == "6/8" else (3, 4)}
    events, step, previous = [], 0, None
    for steps in bar_steps:
        if meter_of[steps] != previous:
            events.append((step, *meter_of[steps]))
            previous = meter_of[steps]
        step += steps
    if options.meter == "4/4" and rng.random() < 0.15:
        bar = int(rng.integers(4, len(bar_steps)))
        events.append((16 * bar, 4, 4))
    return events


def _trailing_tempo(rng, bar_steps: list[int]) -> list[tuple[float, float]]:
    """Some files carry a tempo event after the music, as sequencers leave them: it moves the
    song's end (pretty_midi), never the roll's."""
    if rng.random() >= 0.15:
        return []
    return [(float(sum(bar_steps) + 16 * int(rng.integers(1, 4))), float(np.round(rng.uniform(80, 160), 1)))]


def _tempo_map(rng, bar_steps: list[int]) -> list[tuple[float, float]]:
    """80-160 BPM; some songs change tempo at a bar line, some slow down over the last bars."""
    bpm = float(np.round(rng.uniform(80, 160), 1))
    tempos = [(0.0, bpm)]
    n_bars = len(bar_steps)
    bar_start = np.concatenate([[0], np.cumsum(bar_steps)])
    if rng.random() < 0.3:
        bar = int(rng.integers(n_bars // 4, 3 * n_bars // 4))
        tempos.append((float(bar_start[bar]), float(np.clip(np.round(bpm * rng.uniform(0.8, 1.25), 1), 80, 160))))
    if rng.random() < 0.1:  # ritardando: a tempo event on every beat of the last two bars
        current = tempos[-1][1]
        for beat_step in range(int(bar_start[n_bars - 2]), int(bar_start[n_bars]), pt.STEPS_PER_BEAT):
            current = max(80.0, round(current * 0.97, 1))
            tempos.append((float(beat_step), current))
    return tempos
