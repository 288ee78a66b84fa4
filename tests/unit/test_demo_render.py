"""loopgen.render: FluidSynth rendering of PrettyMIDI objects (the demo's loops, later generated loops)."""

import numpy as np
import pretty_midi
import pytest
import soundfile

from loopgen import render

RATE = render.SAMPLE_RATE


def one_note(pitch=36, start=0.5, end=0.6, is_drum=True, program=0):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    instrument = pretty_midi.Instrument(program=program, is_drum=is_drum)
    instrument.notes.append(pretty_midi.Note(110, pitch, start, end))
    pm.instruments.append(instrument)
    return pm


def bass_riff(seconds=2.0):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    bass = pretty_midi.Instrument(program=33)
    bass.notes += [pretty_midi.Note(100, 40 + (i % 3), 0.25 * i, 0.25 * i + 0.24) for i in range(int(seconds * 4))]
    pm.instruments.append(bass)
    return pm


def test_note_sounds_from_its_start_time_and_silence_before():
    audio = render.render(one_note(start=0.5), duration=1.0)
    assert audio.shape == (RATE, 2) and audio.dtype == np.float32
    first = np.flatnonzero(np.abs(audio).max(axis=1) > 1e-3)[0]
    assert 0.5 * RATE <= first <= 0.5 * RATE + 2 * 64  # FluidSynth applies events per 64-sample block


def test_drum_kit_and_melodic_program_sound_different():
    drum = render.render(one_note(is_drum=True), duration=1.0)
    piano = render.render(one_note(is_drum=False), duration=1.0)
    assert np.abs(drum).max() > 0.01 and np.abs(piano).max() > 0.01
    assert not np.allclose(drum, piano, atol=1e-3)


def test_rendering_is_deterministic():
    assert np.array_equal(render.render(bass_riff(), duration=2.0), render.render(bass_riff(), duration=2.0))


def test_duration_cuts_exactly_and_wrap_adds_the_tail_onto_the_start():
    riff = bass_riff(2.0)
    n = round(1.5 * RATE)
    full = render.render(riff)  # up to the last note-off plus the tail, as wrap_tail renders it
    cut = render.render(riff, duration=1.5)
    wrapped = render.render(riff, duration=1.5, wrap_tail=True)
    assert len(cut) == len(wrapped) == n
    assert np.array_equal(cut, full[:n])
    expected = full[:n].copy()
    expected[: len(full) - n] += full[n:][:n]
    expected[: max(0, len(full) - 2 * n)] += full[2 * n :]  # a tail longer than the loop wraps twice
    assert np.array_equal(wrapped, np.clip(expected, -1, 1))


def test_default_length_covers_the_release_tail():
    audio = render.render(one_note(start=0.0, end=0.5, is_drum=False))
    assert len(audio) == round((0.5 + render.TAIL_SECONDS) * RATE)


@pytest.mark.parametrize("channels", [1, 2])
def test_render_to_wav_writes_16_bit_pcm(tmp_path, channels):
    path = tmp_path / "riff.wav"
    audio = render.render_to_wav(bass_riff(), path, channels=channels, duration=2.0, peak=0.5)
    info = soundfile.info(path)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (RATE, channels, 2 * RATE, "PCM_16")
    assert np.abs(audio).max() == pytest.approx(0.5)
    written, _ = soundfile.read(path, dtype="int16", always_2d=True)
    expected = render.to_int16(audio, channels).reshape(len(written), channels)
    assert np.array_equal(written, expected)


def test_render_reads_a_midi_file_path(tmp_path):
    path = tmp_path / "riff.mid"
    bass_riff().write(str(path))
    audio = render.render(path, duration=2.0)
    assert len(audio) == 2 * RATE and np.abs(audio).max() > 0.01
