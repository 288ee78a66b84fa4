"""Render MIDI to audio with FluidSynth and the General MIDI SoundFont pretty_midi ships (TimGM6mb.sf2).

Used by the demo corpus (audio loops) and by the symbolic stage (listening to generated loops):

    audio = render(pretty_midi_object_or_path)              # (frames, 2) float32, 44.1 kHz
    render_to_wav(midi, "loop.wav", duration=7.385, wrap_tail=True)

One synthesizer per call, fed the notes event by event, so the result is deterministic (same MIDI ->
same samples) and the SoundFont is loaded once, not once per instrument as pretty_midi.fluidsynth does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from loopgen.tables import temporary_path

SAMPLE_RATE = 44100
DRUM_CHANNEL = 9
GAIN = 0.5  # FluidSynth's master gain: dense GM mixes stay well below int16 clipping
TAIL_SECONDS = 2.0  # rendered after the last note-off, for release and reverb tails
_ORDER = {"program": 0, "control": 1, "bend": 2, "off": 3, "on": 4}  # at one sample: offs before ons


def default_soundfont() -> Path:
    import pretty_midi

    return Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")


def load_midi(midi):
    """A pretty_midi.PrettyMIDI as is, or one read from a path."""
    import pretty_midi

    return midi if isinstance(midi, pretty_midi.PrettyMIDI) else pretty_midi.PrettyMIDI(str(midi))


def _events(pm) -> list[tuple[float, str, int, int, int]]:
    """(time, kind, channel, a, b) for every program, control change, pitch bend and note."""
    melodic = [c for c in range(16) if c != DRUM_CHANNEL]
    events = []
    for index, instrument in enumerate(pm.instruments):
        # More than 15 melodic instruments share channels (round robin): rare, and only the
        # later program of a shared channel is heard.
        channel = DRUM_CHANNEL if instrument.is_drum else melodic[index % len(melodic)]
        events.append((0.0, "program", channel, int(instrument.program), int(instrument.is_drum)))
        events += [(c.time, "control", channel, c.number, c.value) for c in instrument.control_changes]
        events += [(b.time, "bend", channel, b.pitch, 0) for b in instrument.pitch_bends]
        for note in instrument.notes:
            events.append((note.start, "on", channel, note.pitch, note.velocity))
            events.append((note.end, "off", channel, note.pitch, 0))
    return sorted(events, key=lambda e: (e[0], _ORDER[e[1]], e[2], e[3]))


def render(
    midi,
    sample_rate: int = SAMPLE_RATE,
    duration: float | None = None,
    wrap_tail: bool = False,
    soundfont: str | os.PathLike | None = None,
    gain: float = GAIN,
) -> np.ndarray:
    """Stereo float32 audio (frames, 2) in [-1, 1] of a PrettyMIDI (or MIDI file path).

    duration None: until the last event plus TAIL_SECONDS. Otherwise exactly round(duration * rate)
    frames: what sounds after that (release tails) is cut, or with `wrap_tail` added onto the start,
    as a DAW renders a loop so that it plays seamlessly when repeated.
    """
    import fluidsynth

    pm = load_midi(midi)
    events = _events(pm)
    last = max((e[0] for e in events), default=0.0)
    n_frames = round((last + TAIL_SECONDS if duration is None else duration) * sample_rate)
    total = max(n_frames, round((last + TAIL_SECONDS) * sample_rate)) if wrap_tail else n_frames
    synth = fluidsynth.Synth(gain=gain, samplerate=float(sample_rate))
    try:
        font = synth.sfload(str(soundfont or default_soundfont()))
        chunks, done = [], 0
        for time, kind, channel, a, b in events:
            at = min(round(time * sample_rate), total)
            if at > done:
                chunks.append(synth.get_samples(at - done))
                done = at
            _send(synth, font, kind, channel, a, b)
        if total > done:
            chunks.append(synth.get_samples(total - done))
    finally:
        synth.delete()
    audio = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).reshape(-1, 2).astype(np.float32) / 32768.0
    if wrap_tail:
        looped = audio[:n_frames].copy()
        tail = audio[n_frames:]
        for start in range(0, len(tail), max(n_frames, 1)):  # a tail longer than the loop wraps again
            piece = tail[start : start + n_frames]
            looped[: len(piece)] += piece
        audio = np.clip(looped, -1.0, 1.0)
    return audio


def _send(synth, font: int, kind: str, channel: int, a: int, b: int) -> None:
    if kind == "on":
        synth.noteon(channel, a, b)
    elif kind == "off":
        synth.noteoff(channel, a)
    elif kind == "program":  # drums: bank 128 holds the GM drum kits
        synth.program_select(channel, font, 128 if b else 0, a)
    elif kind == "control":
        synth.cc(channel, a, b)
    else:
        synth.pitch_bend(channel, a)


def to_int16(audio: np.ndarray, channels: int = 1) -> np.ndarray:
    """float [-1, 1] (frames, 2) -> int16 (frames,) mono (mean of the two sides) or (frames, 2)."""
    if channels == 1 and audio.ndim == 2:
        audio = audio.mean(axis=1)
    return np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, channels: int = 1) -> None:
    """Write float audio as 16-bit PCM WAV (mono unless channels=2), via a temporary name."""
    import soundfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        soundfile.write(tmp, to_int16(audio, channels), sample_rate, subtype="PCM_16", format="WAV")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def render_to_wav(
    midi,
    path: str | os.PathLike,
    sample_rate: int = SAMPLE_RATE,
    channels: int = 1,
    duration: float | None = None,
    wrap_tail: bool = False,
    peak: float | None = None,
) -> np.ndarray:
    """Render a PrettyMIDI or MIDI file to a 16-bit WAV; `peak` normalises the loudest sample to it."""
    audio = render(midi, sample_rate, duration, wrap_tail)
    if peak is not None and np.abs(audio).max() > 0:
        audio = audio * (peak / np.abs(audio).max())
    write_wav(path, audio, sample_rate, channels)
    return audio
