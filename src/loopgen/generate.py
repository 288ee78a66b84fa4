"""`loopgen generate`: new loops for a musician, without running the workflow.

    loopgen generate --models results/models --n 10 --mode top_k --max-loop-score 0.01 --bpm 124 -o loops/

writes loop-000.mid ... (drums on channel 10, bass as notes, exactly 8 bars at the tempo), their
WAV renders and generated.csv (file, model, mode, seed, loop score, tries). Every loop has its own
seed (--seed + its index), so `--seed <its seed> --n 1` draws that loop again.

Nothing here samples, scores or writes MIDI by itself: the generator comes from GENERATORS, the
rejection loop is loopgen.symbolic.rejection_sample, the loop score loopgen.detector.loop_scores, the
MIDI loopgen.midi_write.roll_to_midi, the WAV loopgen.render (FluidSynth) or the functions of `loopgen synth` (LoopNet).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import importlib.util
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Model name -> its loader, "module:function" (imported lazily). A loader is called as
# load(models_dir, seed, device, batch_size) and returns an object with draw(n, mode) -> (n, 912)
# uint8 packed rolls (loopgen.roll layout; `mode` is a loopgen.sampling.SamplingMode the model may
# ignore), a torch.Generator attribute `rng` that generate() reseeds before each loop (all of
# draw's randomness must come from it), an int attribute `batch_size` (loops per draw() call of
# loopgen.symbolic.rejection_sample) and optionally `mode_name` (its sampling scheme, for the CSV).
# It raises FileNotFoundError naming the missing file when the model is not trained.
GENERATORS: dict[str, str] = {
    "vqvae_lstm": "loopgen.generate:load_vqvae_lstm",
}
# The symbolic paper's baselines, once loopgen.baselines is there (loopgen.baselines.BaselineSampler
# has the interface above; each is trained into <models>/<name>/).
BASELINES = ("cnn_vae", "musegan", "music_transformer")
if importlib.util.find_spec("loopgen.baselines") is not None:
    GENERATORS.update({name: f"loopgen.generate:load_{name}" for name in BASELINES})
# The sampling modes of the paper (config.yaml sampling.modes defaults); flags override the numbers.
MODES = {"temperature": {}, "top_k": {"top_k": 30}, "top_p": {"top_p": 0.08}}
DETECTOR_DIR = "loop_detector"  # under --models, as the workflow writes it
LOOPNET_BPM = 130.0  # loopgen.loopnet.TARGET_BPM (not imported here: `loopgen --help` stays fast)


class GenerateError(ValueError):
    """A bad option or an unmet request; cli.py prints it as one line."""


def load_vqvae_lstm(models_dir, seed: int, device, batch_size: int):
    """The paper's generator: the VQ-VAE decoder driven by the LSTM prior."""
    from loopgen.symbolic import LoopSampler

    models_dir = Path(models_dir)
    for folder in ("vqvae", "lstm_prior"):
        if not (models_dir / folder / "model.pt").is_file():
            raise FileNotFoundError(f"no trained model at {models_dir / folder / 'model.pt'} (run the workflow first)")
    return LoopSampler.load(models_dir / "vqvae", models_dir / "lstm_prior", seed, device, batch_size)


def load_baseline(name: str, models_dir, seed: int, device, batch_size: int):
    """A trained baseline (results/models/<name>/) drawing loops with loopgen.baselines."""
    from loopgen import baselines

    folder = Path(models_dir) / name
    if not (folder / "model.pt").is_file():
        raise FileNotFoundError(f"no trained model at {folder / 'model.pt'} (run the workflow first)")
    sampler = baselines.BaselineSampler(name, folder, seed, device, batch_size)
    sampler.mode_name = baselines.SAMPLING_MODE.get(name, "")
    return sampler


def load_cnn_vae(*args):
    return load_baseline("cnn_vae", *args)


def load_musegan(*args):
    return load_baseline("musegan", *args)


def load_music_transformer(*args):
    return load_baseline("music_transformer", *args)


def load_generator(name: str, models_dir, seed: int, device, batch_size: int):
    if name not in GENERATORS:
        raise GenerateError(f"unknown model {name!r}; known: {', '.join(GENERATORS)}")
    module, function = GENERATORS[name].split(":")
    return getattr(importlib.import_module(module), function)(models_dir, seed, device, batch_size)


def sampling_mode(name: str, temperature: float, top_k: int | None, top_p: float | None):
    """SamplingMode from --mode and its parameters; a parameter of another mode is an error."""
    from loopgen.sampling import SamplingMode

    if name not in MODES:
        raise GenerateError(f"unknown mode {name!r}; known: {', '.join(MODES)}")
    if (top_k is not None and name != "top_k") or (top_p is not None and name != "top_p"):
        raise GenerateError(f"--top-k goes with --mode top_k and --top-p with --mode top_p (mode is {name})")
    options = dict(MODES[name])
    options.update({k: v for k, v in (("top_k", top_k), ("top_p", top_p)) if v is not None})
    return SamplingMode(temperature=temperature, **options)


@dataclass
class Generated:
    """One kept loop: its packed roll and where it came from."""

    roll: np.ndarray  # (912,) uint8
    seed: int
    loop_score: float
    tries: int  # loops drawn for this one, itself included


def generate(
    sampler, mode, score, n: int, seed: int, max_loop_score: float | None, max_tries: int, progress=None
) -> tuple[list[Generated], int]:
    """Up to n loops below max_loop_score (None keeps all), drawing at most max_tries loops in all.

    Loop i is drawn from seed + i: loopgen.symbolic.rejection_sample asked for one loop at a time,
    which also counts the tries each loop took. Returns (kept loops, total tries)."""
    import torch

    from loopgen.symbolic import rejection_sample

    kept, total = [], 0
    for index in range(n):
        if total >= max_tries:
            break
        sampler.rng = torch.Generator(sampler.rng.device).manual_seed(seed + index)
        if max_loop_score is None:  # every loop is kept: draw one, not a batch of which one is kept
            sampler.batch_size = 1
        packed, scores, stats = rejection_sample(sampler, mode, score, max_loop_score, 1, max_tries - total)
        total += stats["tried"]
        if len(packed):
            kept.append(Generated(packed[0], seed + index, float(scores[0]), stats["tried"]))
        if progress is not None:
            progress.update(1)
            progress.set_postfix(kept=len(kept), tries=total)
    return kept, total


@contextlib.contextmanager
def quiet(logger_name: str):
    """Only errors from this logger for a while: rejection_sample logs each call, and generate()
    calls it once per loop (the progress bar says the same once)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def pad_to_bars(path, n_bars: int = 8) -> None:
    """Move each track's end-of-track to exactly n_bars (4/4), so players and DAWs loop the file
    at its bar line rather than at its last note-off."""
    import mido

    midi = mido.MidiFile(str(path))
    end_tick = n_bars * 4 * midi.ticks_per_beat
    for track in midi.tracks:
        tick = sum(message.time for message in track[:-1])
        if track and track[-1].type == "end_of_track" and tick <= end_tick:
            track[-1].time = end_tick - tick
    midi.save(str(path))


def write_loop(loop: Generated, path: Path, bpm: float) -> None:
    from loopgen.midi_write import roll_to_midi
    from loopgen.roll import N_BARS

    roll_to_midi(loop.roll, bpm).write(str(path))
    pad_to_bars(path, N_BARS)


def render_fluidsynth(midi_path: Path, wav_path: Path, bpm: float) -> None:
    from loopgen.render import render_to_wav
    from loopgen.symbolic import loop_seconds

    render_to_wav(midi_path, wav_path, duration=loop_seconds(bpm), wrap_tail=True)


class LoopNetRenderer:
    """The drum track of MIDI files through a LoopNet variant, with the timbre and harmony of one
    audio loop: `loopgen synth --midi` (the same loopgen.loopnet functions), with the model and the
    timbre analysed once for all files. LoopNet plays one bar at 130 BPM: each WAV is 8 bars at
    130 BPM (16 kHz) whatever --bpm says; only the drum pattern is taken from the MIDI file."""

    def __init__(self, model_dir, timbre, timbre_bpm: float, device, griffin_lim_iters: int):
        from loopgen.loopnet import LoopNet, transfer

        self.model = LoopNet.load(model_dir, device, griffin_lim_iters)
        raw_globals, self.envelope_peak = transfer.timbre_of(
            timbre, timbre_bpm, transfer.feature_extractor(self.model.audio_settings)
        )
        self.globals = self.model.scaler.scale(raw_globals[None])

    def render(self, midi_path: Path, wav_path: Path, n_bars: int = 8) -> None:
        """Raises ValueError when the file has no kick, snare or hi-hat (nothing for LoopNet to play)."""
        import soundfile as sf

        from loopgen import loopnet

        frames = loopnet.rhythm_from_midi(midi_path, self.envelope_peak)[:n_bars]
        bars = self.model.synthesize(frames, np.repeat(self.globals, len(frames), axis=0))
        audio = np.zeros(n_bars * bars.shape[1], np.float32)  # bars after the last hit stay silent
        audio[: bars.size] = bars.reshape(-1)
        sf.write(str(wav_path), audio, loopnet.SAMPLE_RATE, subtype="PCM_16")


CSV_COLUMNS = [
    "file",
    "model",
    "mode",
    "temperature",
    "top_k",
    "top_p",
    "seed",
    "loop_score",
    "max_loop_score",
    "tries",
    "bpm",
    "audio",
]


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def add_generate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models", default="results/models", help="the workflow's trained models (default results/models)"
    )
    parser.add_argument(
        "--model", default="vqvae_lstm", help=f"generator by name: {', '.join(GENERATORS)} (default vqvae_lstm)"
    )
    parser.add_argument("--n", type=int, default=10, help="loops to write (default 10)")
    parser.add_argument("--mode", default="top_k", help=f"sampling mode: {', '.join(MODES)} (default top_k)")
    parser.add_argument("--temperature", type=float, default=0.7, help="softmax temperature (default 0.7)")
    parser.add_argument("--top-k", type=int, default=None, help="k of --mode top_k (default 30)")
    parser.add_argument("--top-p", type=float, default=None, help="p of --mode top_p (default 0.08)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first loop; loop i uses seed + i (default 0)")
    parser.add_argument(
        "--max-loop-score",
        type=float,
        default=None,
        help="keep only loops the detector scores below this (default: keep all)",
    )
    parser.add_argument("--max-tries", type=int, default=None, help="loops drawn at most, in all (default 1000 x --n)")
    parser.add_argument("--batch-size", type=int, default=64, help="loops drawn per try batch (default 64)")
    parser.add_argument("--bpm", type=float, default=120.0, help="tempo of the MIDI files (default 120)")
    parser.add_argument(
        "--audio",
        choices=["fluidsynth", "loopnet", "none"],
        default="fluidsynth",
        help="WAV renders: FluidSynth (GM SoundFont), the drums through LoopNet, or none",
    )
    parser.add_argument(
        "--loopnet-model", help="with --audio loopnet: a variant's folder, e.g. results/models/loopnet-MULTI"
    )
    parser.add_argument("--timbre", metavar="WAV", help="with --audio loopnet: the audio loop whose timbre to use")
    parser.add_argument(
        "--timbre-bpm", type=float, default=LOOPNET_BPM, help="tempo of the --timbre loop (default 130)"
    )
    parser.add_argument("--griffin-lim-iters", type=int, default=100, help="LoopNet STFT variant only (default 100)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("-o", "--out", required=True, help="output folder")


def check_args(args: argparse.Namespace) -> None:
    """Every bad option as one GenerateError, before any model is loaded."""
    if args.n < 1:
        raise GenerateError(f"--n must be >= 1, got {args.n}")
    if args.bpm <= 0:
        raise GenerateError(f"--bpm must be > 0, got {args.bpm:g}")
    if args.max_loop_score is not None and args.max_loop_score <= 0:
        raise GenerateError(f"--max-loop-score must be > 0 (loop scores are >= 0), got {args.max_loop_score:g}")
    if args.max_tries is not None and args.max_tries < args.n:
        raise GenerateError(f"--max-tries ({args.max_tries}) must be at least --n ({args.n})")
    if args.batch_size < 1:
        raise GenerateError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.audio == "loopnet":
        if not args.loopnet_model or not args.timbre:
            raise GenerateError("--audio loopnet needs --loopnet-model DIR and --timbre WAV")
        for path in (Path(args.loopnet_model) / "model.pt", Path(args.timbre)):
            if not path.is_file():
                raise FileNotFoundError(f"{path} does not exist")
    elif args.loopnet_model or args.timbre:
        raise GenerateError("--loopnet-model and --timbre go with --audio loopnet")


def run_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from loopgen import detector
    from loopgen.training import pick_device

    check_args(args)
    mode = sampling_mode(args.mode, args.temperature, args.top_k, args.top_p)
    try:
        device = pick_device(args.device)
    except RuntimeError as error:
        raise GenerateError(str(error)) from None
    models = Path(args.models)
    if not (models / DETECTOR_DIR / "model.pt").is_file():
        raise FileNotFoundError(f"no loop detector at {models / DETECTOR_DIR / 'model.pt'} (run the workflow first)")
    sampler = load_generator(args.model, models, args.seed, device, args.batch_size)
    scorer = detector.load_detector(models / DETECTOR_DIR, device)
    max_tries = args.max_tries or 1000 * args.n
    with quiet("loopgen.symbolic"), tqdm(total=args.n, desc="loops", unit="loop", disable=None) as bar:
        kept, tries = generate(
            sampler,
            mode,
            lambda packed: detector.loop_scores(scorer, packed),
            args.n,
            args.seed,
            args.max_loop_score,
            max_tries,
            bar,
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # A model with its own sampling scheme (a baseline) ignores --mode: the CSV says what it did.
    mode_name = getattr(sampler, "mode_name", None) or args.mode
    mode_columns = (
        {"temperature": mode.temperature, "top_k": mode.top_k, "top_p": mode.top_p}
        if mode_name == args.mode
        else {"temperature": None, "top_k": None, "top_p": None}
    )
    renderer = None
    if args.audio == "loopnet" and kept:
        renderer = LoopNetRenderer(args.loopnet_model, args.timbre, args.timbre_bpm, device, args.griffin_lim_iters)
    rows, silent = [], []
    for index, loop in enumerate(tqdm(kept, desc="files", unit="loop", disable=None)):
        midi_path = out / f"loop-{index:03d}.mid"
        write_loop(loop, midi_path, args.bpm)
        audio = args.audio
        if args.audio == "fluidsynth":
            render_fluidsynth(midi_path, midi_path.with_suffix(".wav"), args.bpm)
        elif renderer is not None:
            try:
                renderer.render(midi_path, midi_path.with_suffix(".wav"))
            except ValueError:  # no kick, snare or hi-hat: no WAV, said in the CSV and at the end
                audio = "none (no kick, snare or hi-hat for LoopNet)"
                silent.append(midi_path.name)
        rows.append(
            {
                "file": midi_path.name,
                "model": args.model,
                "mode": mode_name,
                **mode_columns,
                "seed": loop.seed,
                "loop_score": f"{loop.loop_score:.6g}",
                "max_loop_score": args.max_loop_score,
                "tries": loop.tries,
                "bpm": args.bpm,
                "audio": audio,
            }
        )
    write_csv(rows, out / "generated.csv")
    limit = "" if args.max_loop_score is None else f" below loop score {args.max_loop_score:g}"
    if silent:
        print(
            f"no LoopNet WAV for {len(silent)} loop(s) without kick, snare or hi-hat: {', '.join(silent)}",
            file=sys.stderr,
        )
    if len(kept) < args.n:
        written = f"those are in {out}" if kept else "nothing written"
        raise GenerateError(
            f"kept only {len(kept)} of {args.n} loops{limit} after {tries} tries (--max-tries "
            f"{max_tries}); {written}. Raise --max-loop-score or --max-tries"
        )
    print(
        f"{out}: {len(kept)} loops{limit} from {args.model} ({mode_name}) in {tries} tries, "
        f"MIDI at {args.bpm:g} BPM{'' if args.audio == 'none' else ' + WAV (' + args.audio + ')'}; see generated.csv"
    )
    return 0
