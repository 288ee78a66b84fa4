"""Listening files: generated loops as MIDI (and WAV) a DAW or a browser can play."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from loopgen.roll import packed_column


def loop_seconds(tempo_bpm: float) -> float:
    """Length of one 8-bar 4/4 loop at tempo_bpm."""
    from loopgen.roll import N_BARS

    return N_BARS * 4 * 60.0 / tempo_bpm


def write_listening_files(table: pa.Table, folder, n: int, tempo_bpm: float, render_wav: bool = True) -> list[Path]:
    """The first n loops of a SAMPLE_SCHEMA table as <sample_id>.mid (and .wav rendered with
    FluidSynth and the GM SoundFont, exactly 8 bars long with the release tail wrapped around so it
    loops). Returns the MIDI paths."""
    from loopgen.midi_write import roll_to_midi

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    packed = packed_column(table.column("roll").slice(0, n))
    paths = []
    for sample_id, roll in zip(table.column("sample_id").to_pylist()[:n], packed):
        midi = roll_to_midi(roll, tempo_bpm)
        paths.append(folder / f"{sample_id}.mid")
        midi.write(str(paths[-1]))
        if render_wav:
            from loopgen.render import render_to_wav

            render_to_wav(midi, folder / f"{sample_id}.wav", duration=loop_seconds(tempo_bpm), wrap_tail=True)
    return paths
