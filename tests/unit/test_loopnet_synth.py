"""`loopgen synth`: rhythm from a MIDI drum pattern or a loop, timbre from another loop."""

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from loopgen import cli, loopnet
from loopgen.audio.synth import drum_loop, write_wav
from loopgen.models.wave_unet import WaveUNet

FRAMES = 1 + 29538 // 256  # 116 feature frames a bar


def _drum_midi(path, bpm=100.0, bars=2):
    """Kick on beats 1 and 3, snare on 2 and 4, closed hi-hat on eighths, a crash on bar 1 (ignored)."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    beat = 60.0 / bpm
    for bar in range(bars):
        for eighth in range(8):
            start = (bar * 4 + eighth / 2) * beat
            drums.notes.append(pretty_midi.Note(80, 42, start, start + 0.05))
            if eighth in (0, 4):
                drums.notes.append(pretty_midi.Note(127, 36, start, start + 0.05))
            if eighth in (2, 6):
                drums.notes.append(pretty_midi.Note(100, 38, start, start + 0.05))
    drums.notes.append(pretty_midi.Note(127, 49, 0.0, 0.1))
    midi.instruments.append(drums)
    midi.write(str(path))


def test_midi_drums_land_on_the_130_bpm_time_grid(tmp_path):
    """Beats map to the bar's grid whatever the file's tempo: beat b of 4 -> frame b/4 * 29538 / 256."""
    _drum_midi(tmp_path / "drums.mid", bpm=100.0)
    frames = loopnet.rhythm_from_midi(tmp_path / "drums.mid", envelope_peak=0.3)
    assert frames.shape == (2, 4, FRAMES)
    for bar in range(2):
        assert np.flatnonzero(frames[bar, 0]).tolist() == [0, 58]  # kick on beats 1 and 3
        assert np.flatnonzero(frames[bar, 1]).tolist() == [29, 87]  # snare on 2 and 4
        assert len(np.flatnonzero(frames[bar, 2])) == 8  # eighth-note hi-hats
        assert frames[bar, 0, 0] == pytest.approx(1.0) and frames[bar, 1, 29] == pytest.approx(100 / 127)
        assert frames[bar, 3].max() == pytest.approx(0.3) and frames[bar, 3].min() > 0  # decaying hits, never silent


def test_a_midi_file_without_drums_is_refused(tmp_path):
    midi = pretty_midi.PrettyMIDI()
    bass = pretty_midi.Instrument(program=33)
    bass.notes.append(pretty_midi.Note(100, 40, 0, 1))
    midi.instruments.append(bass)
    midi.write(str(tmp_path / "bass.mid"))
    with pytest.raises(ValueError, match="no kick, snare or hi-hat"):
        loopnet.drum_onsets_from_midi(tmp_path / "bass.mid")


def test_rhythm_from_audio_finds_the_kicks(tmp_path):
    bars = drum_loop(["k.......k.......", "k...k...k...k..."], 130.0, 16000)[: 2 * 29538].reshape(2, 29538)
    frames = loopnet.rhythm_from_audio(bars)
    assert frames.shape == (2, 4, FRAMES)
    kick_peaks = [np.flatnonzero(frames[b, 0] > 0.5) for b in range(2)]
    assert len(kick_peaks[0]) < len(kick_peaks[1])  # 2 kicks vs 4 kicks
    assert np.allclose(frames[:, :3].max(axis=-1), 1.0)  # activations divided by their max


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    config, _ = loopnet.variant_setup("MULTI", {"base_filters": 4})
    stats = {"hpcp": {"min": [0.0] * 12, "max": [1.0] * 12}, "timbre": {"min": [0.0] * 21, "max": [100.0] * 21}}
    history = {"probe_loss": [1.0], "train_loss": [], "seconds": []}
    loopnet.save_loopnet(folder, WaveUNet(config), "MULTI", {"base_filters": 4}, loopnet.GlobalScaler(stats), history)
    return folder


def test_synth_cli_plays_a_midi_pattern_with_a_loops_timbre(tmp_path, tiny_model, capsys):
    _drum_midi(tmp_path / "drums.mid", bars=2)
    write_wav(tmp_path / "timbre.wav", drum_loop(["k.h.s.h.k.h.s.h."], 130.0, 16000), 16000)
    out = tmp_path / "out.wav"
    code = cli.main(
        [
            "synth",
            "--model",
            str(tiny_model),
            "--midi",
            str(tmp_path / "drums.mid"),
            "--timbre",
            str(tmp_path / "timbre.wav"),
            "-o",
            str(out),
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    audio, sr = sf.read(out)
    assert sr == 16000 and audio.shape == (2 * 29538,)
    assert "2 bar(s)" in capsys.readouterr().out


def test_synth_cli_reports_a_missing_model(tmp_path, capsys):
    code = cli.main(
        ["synth", "--model", str(tmp_path / "nothing"), "--rhythm", "a.wav", "--timbre", "b.wav", "-o", "c.wav"]
    )
    assert code == 2 and "no LoopNet model" in capsys.readouterr().err
