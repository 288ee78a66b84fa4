"""Rolls back to MIDI (loopgen.midi_write) and the `loopgen to-midi` command."""

from __future__ import annotations

import hashlib
import io

import mido
import numpy as np
import pytest

from loopgen.cli import main
from loopgen.midi import MidiParams, extract_phrases, extract_shard
from loopgen.midi_reference import reference_phrases
from loopgen.midi_write import bass_notes, roll_to_midi, write_midi
from loopgen.roll import DRUM_COLUMNS, N_DRUM, pack_rolls, unpack_rolls


def random_roll(seed: int, n_steps: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    roll = np.zeros((n_steps, 57), dtype=bool)
    roll[:, :N_DRUM] = rng.random((n_steps, N_DRUM)) < 0.25
    step = 0
    while step < n_steps:  # a monophonic bass line with rests, repeated pitches and long notes
        length = int(rng.integers(1, 6))
        if rng.random() < 0.8:
            roll[step : step + length, N_DRUM + int(rng.integers(0, 48))] = True
        step += length
    return roll


def to_bytes(midi) -> bytes:
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("seed, tempo", [(0, 120.0), (1, 87.5), (2, 143.2)])
def test_phrase_to_midi_to_phrase_is_the_same_phrase(seed, tempo):
    roll = random_roll(seed)
    data = to_bytes(roll_to_midi(roll, tempo))
    loose = MidiParams(min_drum_cells=0, min_bass_steps=0)
    for extract in (extract_phrases, reference_phrases):
        phrases = extract(data, loose)
        assert phrases.windows.start_bar.tolist() == [0]
        assert np.array_equal(unpack_rolls(phrases.windows.packed)[0], roll)
        assert phrases.tempo_bpm[0] == pytest.approx(tempo, rel=1e-5)


def test_packed_roll_is_accepted_too():
    roll = random_roll(3)
    assert to_bytes(roll_to_midi(pack_rolls(roll[None])[0].tobytes(), 100.0)) == to_bytes(roll_to_midi(roll, 100.0))


def test_written_file_has_drums_on_channel_10_with_gm_notes_and_a_bass_program():
    roll = np.zeros((128, 57), dtype=bool)
    for col in range(N_DRUM):
        roll[col, col] = True
    roll[20:24, N_DRUM + 16] = True  # one note, pitch 40, four steps
    roll[30:32, N_DRUM + 16] = True
    midi = mido.MidiFile(file=io.BytesIO(to_bytes(roll_to_midi(roll, 120.0))))
    on = [m for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0]
    drums = [m for m in on if m.channel == 9]
    assert [m.note for m in drums] == [DRUM_COLUMNS[col][0] for col in range(N_DRUM)]
    bass = [m for m in on if m.channel != 9]
    assert [m.note for m in bass] == [40, 40]
    programs = {m.channel: m.program for track in midi.tracks for m in track if m.type == "program_change"}
    assert 32 <= programs[bass[0].channel] <= 39
    assert any(m.type == "time_signature" and (m.numerator, m.denominator) == (4, 4) for m in midi.tracks[0])


def test_bass_runs_of_one_pitch_are_one_note():
    roll = np.zeros((16, 57), dtype=bool)
    roll[0:3, N_DRUM + 5] = True
    roll[3:5, N_DRUM + 7] = True  # a different pitch right after: a new note
    roll[7:8, N_DRUM + 5] = True
    assert bass_notes(roll) == [(29, 0, 2), (31, 3, 4), (29, 7, 7)]


def test_to_midi_command_writes_any_phrase_of_a_shard(tmp_path, capsys):
    tree = tmp_path / "raw"
    rolls = [random_roll(seed, n_steps=160) for seed in (4, 5)]
    for i, roll in enumerate(rolls):
        write_midi(roll, tree / f"song{i}.mid", 110.0)
    params = MidiParams(min_drum_cells=0, min_bass_steps=0)
    extract_shard(
        tree, ["song0.mid", "song1.mid"], 0, params, tmp_path / "p.parquet", tmp_path / "f.parquet", progress=False
    )
    data = (tree / "song1.mid").read_bytes()
    phrase = extract_phrases(data, params)
    phrase_id = f"{hashlib.md5(data).hexdigest()}:2"
    out = tmp_path / "phrase.mid"
    assert main(["to-midi", str(tmp_path / "p.parquet"), phrase_id, "-o", str(out)]) == 0
    back = extract_phrases(out.read_bytes(), params)
    assert np.array_equal(back.windows.packed[0], phrase.windows.packed[2])
    assert np.array_equal(unpack_rolls(back.windows.packed)[0], rolls[1][32:160])
    assert "wrote" in capsys.readouterr().out

    assert main(["to-midi", str(tmp_path / "p.parquet"), "nope:0"]) == 2
    assert "is not in" in capsys.readouterr().err
