"""Reading: a lean Standard MIDI File reader with pretty_midi's note and instrument semantics, and
the 4/4 rule on what it reads."""

from __future__ import annotations

from dataclasses import dataclass

from loopgen.midi.params import MAX_TICK, MidiError, MidiParams, _programs_text

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
            raise MidiError(
                f"truncated MIDI file: track {index + 1} of {n_tracks} ends {end - len(data)} bytes past the end"
            )
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
