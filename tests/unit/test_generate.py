"""`loopgen generate`: files a DAW opens, 8 bars at the asked tempo, the rejection limit, the model
lookup and one-line errors. The models are untrained tiny ones (the plumbing is under test)."""

import csv

import mido
import numpy as np
import pretty_midi
import pytest
import soundfile
import torch

import loopgen
from loopgen import cli, detector, generate
from loopgen.detector import TrainSettings, train_detector
from loopgen.models.lstm_prior import LSTMPrior, PriorConfig
from loopgen.models.vqvae import VQVAE, VQVAEConfig
from loopgen.roll import N_DRUM, ROLL_SHAPE, STEPS_PER_BAR, bar_correlation, pack_rolls, unpack_rolls
from loopgen.training import save_model

pytestmark = pytest.mark.usefixtures("one_thread")


def eight_bars_s(bpm):
    return 8 * 4 * 60 / bpm  # 8 bars of 4/4 at bpm: written out, not loopgen.symbolic.loop_seconds


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """results/models as the workflow lays it out: vqvae/, lstm_prior/, loop_detector/."""
    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    vqvae = VQVAE(VQVAEConfig(channels=8, codebook_size=512)).eval()
    save_model(folder / "vqvae", vqvae, vqvae.config)
    prior = LSTMPrior(PriorConfig(embed_dim=8, hidden=16, n_layers=1)).eval()
    save_model(folder / "lstm_prior", prior, prior.config, {"first_code_probs": [1 / 512] * 512})
    rng = np.random.default_rng(0)
    loops = np.tile(rng.random((40, STEPS_PER_BAR, ROLL_SHAPE[1])) < 0.08, (1, 8, 1))
    trained = train_detector(bar_correlation(pack_rolls(loops)), TrainSettings(epochs=2), folder / "ckpt")
    detector.save_detector(folder / "loop_detector", trained)
    return folder


def run(capsys, *args):
    code = cli.main(["generate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def median_score(models, n=64):
    """A limit about half the tiny model's loops meet: the median score of n of its loops."""
    sampler = generate.load_vqvae_lstm(models, 99, "cpu", n)
    from loopgen.sampling import SamplingMode

    packed = sampler.draw(n, SamplingMode(top_k=30))
    return float(np.median(detector.loop_scores(detector.load_detector(models / "loop_detector"), packed)))


def test_writes_loopable_midi_and_wav_at_the_tempo_below_the_limit(models, tmp_path, capsys):
    limit = median_score(models)
    code, out, err = run(
        capsys,
        "--models",
        models,
        "--n",
        3,
        "--mode",
        "top_k",
        "--max-loop-score",
        limit,
        "--bpm",
        124,
        "--seed",
        5,
        "-o",
        tmp_path,
    )
    assert code == 0, err
    assert "3 loops" in out
    rows = read_csv(tmp_path / "generated.csv")
    assert [r["file"] for r in rows] == ["loop-000.mid", "loop-001.mid", "loop-002.mid"]
    assert [int(r["seed"]) for r in rows] == [5, 6, 7]
    assert all(float(r["loop_score"]) < limit and int(r["tries"]) >= 1 for r in rows)
    assert {r["mode"] for r in rows} == {"top_k"} and {r["top_k"] for r in rows} == {"30"}
    for row in rows:
        path = tmp_path / row["file"]
        midi = mido.MidiFile(str(path))
        # Exactly 8 bars, so a DAW loops it at the bar line: every track ends at tick 8 x 4 beats; in
        # seconds up to MIDI's tempo resolution (whole microseconds per beat).
        assert {sum(m.time for m in track) for track in midi.tracks} == {8 * 4 * midi.ticks_per_beat}
        assert midi.length == pytest.approx(eight_bars_s(124), abs=1e-4)
        tempos = [m.tempo for track in midi.tracks for m in track if m.type == "set_tempo"]
        assert [mido.tempo2bpm(t) for t in tempos] == [pytest.approx(124, abs=1e-3)]
        notes = [m for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0]
        assert notes and {m.channel for m in notes} >= {9}  # drums on MIDI channel 10
        pm = pretty_midi.PrettyMIDI(str(path))
        assert any(i.is_drum for i in pm.instruments) and pm.get_end_time() <= eight_bars_s(124) + 1e-6
        audio, rate = soundfile.read(path.with_suffix(".wav"))
        assert len(audio) == round(eight_bars_s(124) * rate) and np.abs(audio).max() > 0


def test_a_loops_seed_draws_it_again(models, tmp_path, capsys):
    limit = median_score(models)
    options = ("--models", models, "--mode", "temperature", "--max-loop-score", limit, "--audio", "none")
    assert run(capsys, *options, "--n", 3, "--seed", 10, "-o", tmp_path / "three")[0] == 0
    assert run(capsys, *options, "--n", 1, "--seed", 12, "-o", tmp_path / "one")[0] == 0
    assert (tmp_path / "three" / "loop-002.mid").read_bytes() == (tmp_path / "one" / "loop-000.mid").read_bytes()
    assert (
        read_csv(tmp_path / "three" / "generated.csv")[2]["tries"]
        == read_csv(tmp_path / "one" / "generated.csv")[0]["tries"]
    )


def test_impossible_limit_stops_after_max_tries_and_says_how_many_it_kept(models, tmp_path, capsys):
    import logging

    level = logging.getLogger("loopgen.symbolic").level
    code, _out, err = run(
        capsys,
        "--models",
        models,
        "--n",
        4,
        "--max-loop-score",
        1e-12,
        "--max-tries",
        40,
        "--audio",
        "none",
        "-o",
        tmp_path,
    )
    assert code == 2
    assert err.count("\n") == 1 and "kept only 0 of 4 loops" in err and "after 40 tries" in err
    assert read_csv(tmp_path / "generated.csv") == []
    assert logging.getLogger("loopgen.symbolic").level == level  # quietened while generating, not after


class ConstantGenerator:
    """A baseline stand-in: always the same roll, whatever the mode."""

    def __init__(self, roll):
        self.packed = pack_rolls(roll[None])
        self.rng = torch.Generator()
        self.batch_size = 4

    def draw(self, n, mode):
        return np.repeat(self.packed, n, axis=0)


def one_kick_roll():
    roll = np.zeros(ROLL_SHAPE, bool)
    roll[[0, 126], 0] = True  # kicks on the first and the last but one step: the drum track ends before bar 8 does
    roll[64:80, N_DRUM + 12] = True  # one bass note through bar 5
    roll[120:128, N_DRUM + 5] = True  # one to the end (the MIDI reader counts whole bars up to the last note)
    return roll


def load_constant(models_dir, seed, device, batch_size):
    return ConstantGenerator(one_kick_roll())


def test_a_baseline_plugs_in_by_name_and_its_roll_reaches_the_midi_file(models, tmp_path, capsys, monkeypatch):
    from loopgen.midi import MidiParams, extract_phrases

    monkeypatch.setitem(generate.GENERATORS, "constant", f"{__name__}:load_constant")
    code, _out, err = run(
        capsys, "--models", models, "--model", "constant", "--n", 2, "--bpm", 90, "--audio", "none", "-o", tmp_path
    )
    assert code == 0, err
    path = tmp_path / "loop-001.mid"
    midi = mido.MidiFile(str(path))
    assert midi.length == pytest.approx(eight_bars_s(90), abs=1e-4)
    assert {sum(m.time for m in track) for track in midi.tracks} == {8 * 4 * midi.ticks_per_beat}
    windows = extract_phrases(path.read_bytes(), MidiParams(min_drum_cells=0, min_bass_steps=0)).windows
    assert np.array_equal(unpack_rolls(windows.packed[:1])[0], one_kick_roll())
    assert {r["model"] for r in read_csv(tmp_path / "generated.csv")} == {"constant"}


@pytest.mark.parametrize(
    "args, message",
    [
        (("--models", "{empty}"), "no loop detector at"),
        (("--model", "nope"), "unknown model 'nope'; known: vqvae_lstm"),
        (("--mode", "beam"), "unknown mode 'beam'"),
        (("--mode", "top_p", "--top-k", "5"), "--top-k goes with --mode top_k"),
        (("--max-loop-score", "0"), "--max-loop-score must be > 0"),
        (("--n", "0"), "--n must be >= 1"),
        (("--n", "5", "--max-tries", "3"), "--max-tries (3) must be at least --n (5)"),
        (("--audio", "loopnet"), "--audio loopnet needs --loopnet-model DIR and --timbre WAV"),
        (("--timbre", "x.wav"), "--loopnet-model and --timbre go with --audio loopnet"),
        (("--audio", "loopnet", "--loopnet-model", "{empty}", "--timbre", "x.wav"), "model.pt does not exist"),
    ],
)
def test_bad_input_is_one_line_naming_the_problem(models, tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    args = [a.format(empty=tmp_path / "empty") for a in args]
    if "--models" not in args:
        args = ["--models", str(models), *args]
    code, _out, err = run(capsys, *args, "-o", tmp_path / "out")
    assert code == 2
    assert err.startswith("loopgen generate: error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists()


def test_missing_generator_model_is_named(models, tmp_path, capsys):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "loop_detector").symlink_to(models / "loop_detector")
    code, _out, err = run(capsys, "--models", tmp_path / "models", "-o", tmp_path / "out")
    assert code == 2 and err.count("\n") == 1 and "vqvae/model.pt" in err and "run the workflow first" in err


@pytest.fixture(scope="module")
def tiny_loopnet(tmp_path_factory):
    """An untrained quarter-width LoopNet (MULTI) saved as the workflow saves one."""
    from loopgen import loopnet
    from loopgen.models.wave_unet import WaveUNet

    folder = tmp_path_factory.mktemp("loopnet")
    config, _ = loopnet.variant_setup("MULTI", {"base_filters": 4})
    stats = {"hpcp": {"min": [0.0] * 12, "max": [1.0] * 12}, "timbre": {"min": [0.0] * 21, "max": [100.0] * 21}}
    history = {"probe_loss": [1.0], "train_loss": [], "seconds": []}
    loopnet.save_loopnet(folder, WaveUNet(config), "MULTI", {"base_filters": 4}, loopnet.GlobalScaler(stats), history)
    return folder


def load_empty(models_dir, seed, device, batch_size):
    return ConstantGenerator(np.zeros(ROLL_SHAPE, bool))


def test_loopnet_audio_plays_the_drums_for_8_bars_at_130_bpm(models, tiny_loopnet, tmp_path, capsys, monkeypatch):
    from loopgen.audio.synth import drum_loop, write_wav

    monkeypatch.setitem(generate.GENERATORS, "constant", f"{__name__}:load_constant")
    monkeypatch.setitem(generate.GENERATORS, "empty", f"{__name__}:load_empty")
    write_wav(tmp_path / "timbre.wav", drum_loop(["k.h.s.h.k.h.s.h."], 130.0, 16000), 16000)
    options = (
        "--models",
        models,
        "--n",
        1,
        "--bpm",
        100,
        "--audio",
        "loopnet",
        "--loopnet-model",
        tiny_loopnet,
        "--timbre",
        tmp_path / "timbre.wav",
        "--device",
        "cpu",
    )
    code, _out, err = run(capsys, *options, "--model", "constant", "-o", tmp_path / "drums")
    assert code == 0, err
    audio, rate = soundfile.read(tmp_path / "drums" / "loop-000.wav")
    assert rate == 16000 and len(audio) == 8 * 29538  # 8 LoopNet bars (one bar at 130 BPM is 29,538 samples)
    assert read_csv(tmp_path / "drums" / "generated.csv")[0]["audio"] == "loopnet"

    code, _out, err = run(capsys, *options, "--model", "empty", "-o", tmp_path / "empty")
    assert code == 0 and "no LoopNet WAV for 1 loop(s) without kick, snare or hi-hat: loop-000.mid" in err
    assert not (tmp_path / "empty" / "loop-000.wav").exists()
    assert read_csv(tmp_path / "empty" / "generated.csv")[0]["audio"].startswith("none")


def test_a_trained_baseline_is_drawn_through_loopgen_baselines(models, tmp_path, capsys, monkeypatch):
    """The hook for the symbolic paper's baselines: <models>/<name>/ loaded by
    loopgen.baselines.BaselineSampler(name, folder, seed, device, batch_size) (a stand-in here)."""
    import sys
    import types

    made = []

    def baseline_sampler(name, folder, seed, device, batch_size):
        made.append((name, folder.name, seed, batch_size))
        return ConstantGenerator(one_kick_roll())

    fake = types.SimpleNamespace(BaselineSampler=baseline_sampler, SAMPLING_MODE={"cnn_vae": "threshold"})
    monkeypatch.setitem(sys.modules, "loopgen.baselines", fake)
    # `from loopgen import baselines` reads the package attribute first, set once the real one was imported.
    monkeypatch.setattr(loopgen, "baselines", fake, raising=False)
    monkeypatch.setitem(generate.GENERATORS, "cnn_vae", "loopgen.generate:load_cnn_vae")
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "loop_detector").symlink_to(models / "loop_detector")
    code, _out, err = run(
        capsys, "--models", folder, "--model", "cnn_vae", "--n", 1, "--audio", "none", "-o", tmp_path / "a"
    )
    assert code == 2 and "no trained model at" in err and "cnn_vae/model.pt" in err
    (folder / "cnn_vae").mkdir()
    (folder / "cnn_vae" / "model.pt").write_bytes(b"")
    code, out, err = run(
        capsys,
        "--models",
        folder,
        "--model",
        "cnn_vae",
        "--n",
        2,
        "--seed",
        3,
        "--batch-size",
        8,
        "--audio",
        "none",
        "-o",
        tmp_path / "b",
    )
    assert code == 0, err
    assert made == [("cnn_vae", "cnn_vae", 3, 8)]
    rows = read_csv(tmp_path / "b" / "generated.csv")
    assert [(r["model"], r["mode"], r["temperature"], r["top_k"]) for r in rows] == [
        ("cnn_vae", "threshold", "", "")
    ] * 2
    assert "from cnn_vae (threshold)" in out
