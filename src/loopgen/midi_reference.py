"""The paper's MIDI pipeline, kept as the definition of correct phrases (SPEC section 1).

Written from the released notebook (preprocess_midi.ipynb and utils/common_utils.py of
sjhan91/Loop_VQVAE_Official) with pretty_midi, pypianoroll and numpy only. It shares NO roll,
window or threshold code with the fast path (loopgen.midi), so agreement between the two means
something; only the result containers (FilePhrases, Windows), MidiParams, MidiError and the
wording of rejection reasons come from there. The notebook's operations, in order:

  * keep a file only if every time signature is 4/4 (and there is one);
  * pypianoroll.from_pretty_midi(algorithm='strict'): 24 cells per beat from the first time
    signature, computed over the whole song;
  * a multitrack of just the first drum track and the first bass track (GM 32-39);
    set_resolution(4, 'floor'), which also cuts each track after its last lit cell (any pitch);
    pad_to_same(); binarize();
  * drums: the 9-column map merged by OR (standarize_drum); bass: pitches 24..71, keeping only the
    lowest where several sound at one step (remove_dup_step);
  * windows at range(0, T, 16), kept when the window has all 128 steps, >= 32 drum cells and
    >= 32 bass cells.

Where this reference departs from the notebook, each time to reject a file the notebook would also
have dropped, with a reason a person can read (the accept/reject decision is the same):
  * the notebook's get_inst could take a *drum* track with a bass program as its bass; SPEC
    section 1 says the first non-drum bass track, and so does this;
  * a track with no cell after the first beat stays un-resampled in pypianoroll; the file is
    rejected here before that ("no drum note sounds after the first beat");
  * pypianoroll cannot read a drum track all of whose notes end by the first beat: such tracks
    other than the chosen two are read as non-drum tracks (they stay empty either way).
Slow (parsing is pure Python): used by the tests and benchmarks/bench_midi.py, never by the workflow.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import numpy as np

from loopgen.midi import FilePhrases, MidiError, MidiParams, Windows, _programs_text

# standarize_drum: GM drum notes merged into each of the 9 columns (SPEC section 1), in column order.
NOTEBOOK_DRUM_MAP = ((35, 36), (37, 38, 39, 40), (42, 44), (41, 43, 45), (46,), (47, 48), (49, 55, 57), (50,), (51, 59))
NOTEBOOK_BASS_PITCHES = (24, 72)  # inst.pianoroll[:, 24:72]: C1..B4
BAR = 16  # num_bar_unit: steps per bar at 4 steps per beat
PHRASE_BARS = 8


def reference_phrases(data: bytes, params: MidiParams) -> FilePhrases:
    """Phrases of one MIDI file's bytes by the released notebook's operations; MidiError when none."""
    import pypianoroll

    midi = _parse(data)
    _check_time_signatures(midi, params)
    drums = next((inst for inst in midi.instruments if inst.is_drum), None)
    bass = next((inst for inst in midi.instruments if not inst.is_drum and inst.program in params.bass_programs), None)
    if drums is None and bass is None:
        raise MidiError(f"no drum track and no bass track (programs {_programs_text(params)})")
    if drums is None:
        raise MidiError("no drum track")
    if bass is None:
        raise MidiError(f"no bass track (programs {_programs_text(params)})")

    if midi.time_signature_changes:
        first_beat = min(ts.time for ts in midi.time_signature_changes)
        options = {"algorithm": "strict"}
    else:  # only with assume_4_4_without_time_signature
        first_beat = 0.0
        options = {"algorithm": "custom", "first_beat_time": 0.0}
    _unflag_drum_tracks_pypianoroll_cannot_read(midi, first_beat, keep=(drums, bass))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            multitrack = pypianoroll.from_pretty_midi(midi, resolution=params.parse_resolution, **options)
        except (ValueError, IndexError) as error:  # no beats, or a note pypianoroll cannot place
            raise MidiError(f"pypianoroll cannot read it: {error}") from None
    tracks = dict(zip(map(id, midi.instruments), multitrack.tracks))
    multitrack.tracks = [tracks[id(drums)], tracks[id(bass)]]
    for name, track in zip(("drum", "bass"), multitrack.tracks):
        if not track.pianoroll.any():
            raise MidiError(f"no {name} note sounds after the first beat")
    multitrack.set_resolution(4, "floor")  # 16th-note steps; each track now ends at its last lit cell
    multitrack.pad_to_same()
    multitrack.binarize()
    drum_roll, bass_roll = (track.pianoroll for track in multitrack.tracks)

    drum = np.stack([drum_roll[:, list(notes)].any(axis=1) for notes in NOTEBOOK_DRUM_MAP], axis=1)
    bass = bass_roll[:, NOTEBOOK_BASS_PITCHES[0] : NOTEBOOK_BASS_PITCHES[1]].copy()
    for step in np.flatnonzero(bass.sum(axis=1) > 1):  # remove_dup_step: keep the lowest pitch
        bass[step, np.flatnonzero(bass[step])[1:]] = False
    roll = np.concatenate([drum, bass], axis=1)

    starts, loops, drum_cells, bass_cells = [], [], [], []
    best = (0, 0)
    for j in range(0, roll.shape[0], BAR * params.hop_bars):
        loop = roll[j : j + BAR * PHRASE_BARS]
        if loop.shape[0] != BAR * PHRASE_BARS:
            continue
        n_drum, n_bass = int(np.sum(loop[:, :9])), int(np.sum(loop[:, 9:]))
        best = max(best, (n_drum, n_bass))
        if n_drum >= params.min_drum_cells and n_bass >= params.min_bass_steps:
            starts.append(j // BAR)
            loops.append(loop)
            drum_cells.append(n_drum)
            bass_cells.append(n_bass)
    if roll.shape[0] < BAR * PHRASE_BARS:
        raise MidiError(f"drums and bass span only {roll.shape[0] // BAR} bars (a phrase needs {PHRASE_BARS})")
    if not loops:
        raise MidiError(
            f"no {PHRASE_BARS}-bar window passes the thresholds (drum cells ≥ {params.min_drum_cells} and bass steps "
            f"≥ {params.min_bass_steps}; best window: {best[0]} drum cells, {best[1]} bass steps)"
        )
    packed = np.packbits(np.stack(loops).reshape(len(loops), -1), axis=1)
    windows = Windows(
        np.array(starts, np.int32), packed, np.array(drum_cells, np.int32), np.array(bass_cells, np.int32)
    )
    return FilePhrases(windows, _tempo_at_bars(midi, first_beat, windows.start_bar))


def _check_time_signatures(midi, params: MidiParams) -> None:
    """check_time_sign: at least one time signature (unless assumed), and every one 4/4."""
    changes = midi.time_signature_changes
    if not changes:
        if params.assume_4_4_without_time_signature:
            return
        raise MidiError("no time signature (midi.assume_4_4_without_time_signature is off)")
    ticks = [(midi.time_to_tick(ts.time), ts.numerator, ts.denominator) for ts in changes]
    first = min(tick for tick, _, _ in ticks)
    for tick, numerator, denominator in sorted(ticks, key=lambda ts: ts[0]):
        if (numerator, denominator) != (4, 4):
            raise MidiError(
                f"time signature {numerator}/{denominator} at bar {1 + (tick - first) // (4 * midi.resolution)}"
            )


def _tempo_at_bars(midi, first_beat: float, start_bars) -> np.ndarray:
    """The tempo in effect at each window's first beat (pretty_midi's beats and tempo changes; a
    change on that very beat counts, with 1 µs of slack for summed beat times)."""
    beats = midi.get_beats(first_beat)
    change_times, tempi = midi.get_tempo_changes()
    times = beats[np.asarray(start_bars, dtype=np.int64) * 4]
    return tempi[np.searchsorted(change_times, times + 1e-6, side="right") - 1].astype(np.float32)


def _parse(data: bytes):
    import pretty_midi

    if not data:
        raise MidiError("empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pretty_midi.PrettyMIDI(io.BytesIO(data))
        except Exception as error:  # noqa: BLE001 -- mido and pretty_midi raise many types on broken files
            raise MidiError(f"not a MIDI file: {type(error).__name__}: {error}") from None


def _unflag_drum_tracks_pypianoroll_cannot_read(midi, first_beat: float, keep) -> None:
    """pypianoroll indexes a drum track's roll with an empty float array when none of its notes
    ends after the first beat, which numpy refuses. Such a track stays empty either way: read it
    as a non-drum track, which pypianoroll handles (removing it could move the song's end)."""
    for inst in midi.instruments:
        if inst.is_drum and not any(note.end > first_beat for note in inst.notes) and not any(inst is k for k in keep):
            inst.is_drum = False


# --------------------------------------------------------------------------------------------
# Awkward LMD-like files to compare the two paths on (tests and benchmarks/bench_midi.py).
# Written byte by byte: mido is too slow to generate hundreds.
# --------------------------------------------------------------------------------------------


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _track(events: list[tuple[int, bytes]]) -> bytes:
    """A track chunk from (tick, message bytes); channel messages use running status."""
    body, last_tick, running = bytearray(), 0, None
    for tick, message in sorted(events, key=lambda e: e[0]):
        body += _varlen(tick - last_tick)
        last_tick = tick
        if message[0] < 0xF0 and message[0] == running:
            body += message[1:]
        else:
            body += message
            running = message[0] if message[0] < 0xF0 else None
    body += b"\x00\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def _meta(kind: int, payload: bytes) -> bytes:
    return bytes([0xFF, kind]) + _varlen(len(payload)) + payload


def _time_signature(num: int, den: int) -> bytes:
    return _meta(0x58, bytes([num, den.bit_length() - 1, 24, 8]))


def _tempo(bpm: float) -> bytes:
    return _meta(0x51, int(6e7 / bpm).to_bytes(3, "big"))


def synthetic_song(rng: np.random.Generator) -> bytes:
    """One LMD-like multi-track song, deliberately awkward: humanised timing (notes a few ticks
    off the grid, so many sit on exact half cells), 96 to 1024 ticks per beat, tempo maps with
    changes inside beats, repeated and off-beat time signatures, pickup bars before the first
    time signature, drum or bass parts that stop mid-bar, trailing tempo changes, type-0 files,
    several drum and bass tracks, program changes, overlapping, zero-length and unclosed notes,
    controllers, pitch bends and sysex."""
    tpb = int(rng.choice([96, 120, 192, 220, 384, 480, 960, 1024]))
    bar, n_bars = 4 * tpb, int(rng.integers(24, 100))
    song_end = n_bars * bar
    jitter = tpb // 24 if rng.random() < 0.6 else 0

    def humanise(tick):
        return max(0, tick + int(rng.integers(-jitter, jitter + 1))) if jitter else tick

    first_ts = 0 if rng.random() > 0.03 else bar  # a few files start their meter after a pickup bar
    meter = [(4, 4), (4, 4), (4, 4), (4, 4), (4, 4), (4, 4), (3, 4), (6, 8), None][int(rng.integers(0, 9))]
    meta = [(0, _meta(0x03, b"song")), (0, _tempo(rng.uniform(70, 170))), (0, _meta(0x59, bytes([1, 0])))]
    if meter:
        meta.append((first_ts, _time_signature(*meter)))
        for b in range(8, n_bars, 8):
            r = rng.random()
            if r < 0.2:
                meta.append((b * bar, _time_signature(*meter)))  # repeated, as sequencers write them
            elif r < 0.22:
                meta += [(b * bar, _time_signature(*meter))] * 2  # twice at one tick
            elif r < 0.24:
                meta.append((b * bar + int(rng.integers(1, tpb)), _time_signature(*meter)))  # off the beat
            elif r < 0.25:
                meta.append((b * bar, _time_signature(3, 4)))  # a change of meter
    for _ in range(int(rng.choice([0, 0, 2, 5, 40]))):
        tick = int(rng.integers(1, song_end))
        meta.append((tick if rng.random() < 0.4 else tick // tpb * tpb, _tempo(rng.uniform(70, 170))))
    if rng.random() < 0.1:  # a trailing tempo change, after the last note
        meta.append((song_end + int(rng.integers(1, 4 * bar)), _tempo(rng.uniform(70, 170))))

    parts = ["drums", "bass"] + ["other"] * int(rng.integers(1, 7))
    for part, chance in (("bass", 0.06), ("drums", 0.05)):
        if rng.random() < chance:
            parts.remove(part)
    parts += ["bass"] * (rng.random() < 0.1) + ["drums"] * (rng.random() < 0.05)
    rng.shuffle(parts)
    channels = [c for c in range(16) if c != 9]
    tracks = [meta]
    for k, part in enumerate(parts):
        channel = 9 if part == "drums" else channels[k % 15]
        events = _part_events(rng, part, channel, tpb, n_bars, humanise)
        if part in ("drums", "bass") and rng.random() < 0.3:  # awkward endings: a part stops mid-bar
            stop = song_end - int(rng.integers(1, 2 * bar))
            events = [(tick, message) for tick, message in events if tick < stop or _is_note_off(message)]
        tracks.append(events)
    if rng.random() < 0.1:  # type 0: everything in one track
        tracks = [[event for track in tracks for event in track]]
    header = b"MThd" + (6).to_bytes(4, "big") + (int(len(tracks) > 1)).to_bytes(2, "big")
    header += len(tracks).to_bytes(2, "big") + tpb.to_bytes(2, "big")
    return header + b"".join(_track(events) for events in tracks)


def _is_note_off(message: bytes) -> bool:
    kind = message[0] & 0xF0
    return kind == 0x80 or (kind == 0x90 and message[2] == 0)


def _part_events(rng, part, channel, tpb, n_bars, humanise):
    bar = 4 * tpb
    program = int(rng.integers(32, 40)) if part == "bass" else int(rng.integers(0, 128))
    events = [(0, bytes([0xC0 | channel, program]))]
    if part == "bass" and rng.random() < 0.1:  # a stretch on another program, then back
        events += [(8 * bar, bytes([0xC0 | channel, 0])), (12 * bar, bytes([0xC0 | channel, program]))]
    events += [(b, bytes([0xB0 | channel, 7, int(rng.integers(0, 128))])) for b in range(0, n_bars * bar, bar // 2)]
    if rng.random() < 0.1:
        events.append((0, b"\xf0\x05\x7e\x7f\x09\x01\xf7"))
    grid = 16 if part == "drums" else 8
    step = bar // grid
    pattern = [
        (s, int(p))
        for s in range(grid)
        if rng.random() < 0.5
        for p in rng.choice(_PITCHES[part], 1 + (part == "other"))
    ]
    for b in range(n_bars):
        if rng.random() < 0.1:
            continue
        if rng.random() < 0.2:  # a fill: a bar of its own
            pattern_bar = [(s, int(rng.choice(_PITCHES[part]))) for s in range(grid) if rng.random() < 0.6]
        else:
            pattern_bar = pattern
        for s, pitch in pattern_bar:
            tick = humanise(b * bar + s * step)
            length = step // 2 if part == "drums" else int(step * rng.choice([0.25, 0.5, 1.0, 1.5]))
            r = rng.random()
            if r < 0.01:
                length = 0  # zero-length note
            velocity = int(rng.integers(30, 128))
            events.append((tick, bytes([0x90 | channel, pitch, velocity])))
            if r > 0.995:
                continue  # never closed
            off = bytes([0x80 | channel, pitch, 64]) if r < 0.5 else bytes([0x90 | channel, pitch, 0])
            events.append((tick + length, off))
        if part == "other" and rng.random() < 0.2:
            events += [
                (b * bar + q, bytes([0xE0 | channel, int(rng.integers(0, 128)), 64])) for q in range(0, bar, tpb // 8)
            ]
    return events


_PITCHES = {
    "drums": [35, 36, 36, 38, 38, 40, 42, 42, 42, 44, 46, 49, 51, 45, 47, 48, 50, 39, 54, 56, 57, 59],
    "bass": list(range(20, 60)),
    "other": list(range(48, 90)),
}


def broken_file(rng: np.random.Generator, good: bytes) -> bytes:
    """An empty, truncated, random or RIFF-headed file."""
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return b""
    if kind == 1:
        return good[: int(rng.integers(20, len(good) - 1))]  # truncated
    if kind == 2:
        return bytes(rng.integers(0, 256, 2000, dtype=np.uint8))  # not MIDI
    return b"RIFF" + good[4:]


def make_tree(folder: Path, n_files: int, seed: int = 0) -> Path:
    """n_files LMD-shaped files (<hex>/<md5>.mid) under folder; about 2% broken."""
    rng = np.random.default_rng(seed)
    for _ in range(n_files):
        data = synthetic_song(rng)
        if rng.random() < 0.02:
            data = broken_file(rng, data)
        md5 = hashlib.md5(data).hexdigest()
        path = folder / md5[0] / f"{md5}.mid"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder
