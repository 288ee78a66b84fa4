"""Timbre transfer and MIDI control (`loopgen synth`, L §7)."""

from __future__ import annotations

import logging

import numpy as np

from loopgen.loopnet.synth import LoopNet
from loopgen.loopnet.variants import DEFAULTS, FEATURE_HOP, N_SAMPLES, SAMPLE_RATE, TIME_VARYING

log = logging.getLogger("loopgen.loopnet")

TARGET_BPM = 130.0  # the tempo every training segment was stretched to
MIDI_DRUM_CHANNEL = {0: 0, 1: 1, 2: 2, 4: 2}  # roll drum column -> activation: kick, snare, closed + open hi-hat
MIDI_DECAY_S = 0.1
# The schema's audio.segments / audio.features defaults, for models saved without their settings
# (library callers, old models); the workflow stores the config's values in model.json.
DEFAULT_AUDIO = {
    "segments": {"sample_rate": SAMPLE_RATE, "target_bpm": TARGET_BPM, "beats_per_bar": 4, "crispness": 6},
    "features": {
        "hop": FEATURE_HOP,
        "n_fft": 1024,
        "kick_hz": [20, 150],
        "snare_hz": [150, 2500],
        "hihat_hz": [5000, 8000],
        "hpcp_frame": 4096,
        "hpcp_hop": 1024,
        "lowpass_hz": 90,
        "bandpass_hz": 280,
        "bandpass_octaves": 1,
        "highpass_hz": 9000,
    },
}  # time constant of the envelope drawn for MIDI drum hits


def n_feature_frames() -> int:
    return 1 + N_SAMPLES // FEATURE_HOP


def feature_extractor(audio_settings: dict | None):
    """The audio stage's feature extractor with the settings the model was trained with (stored in
    model.json as `audio`: the config's audio.segments and audio.features); None (a model saved
    without them) falls back to the library defaults, with a warning."""
    from loopgen.audio.pipeline import SegmentFeatures

    if not audio_settings:
        log.warning(
            "the model stores no audio settings; features use the schema's defaults (crispness %d)",
            DEFAULT_AUDIO["segments"]["crispness"],
        )
        audio_settings = DEFAULT_AUDIO
    return SegmentFeatures(audio_settings["segments"], audio_settings["features"])


def loop_bars(path, bpm: float, crispness: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """An audio loop at `bpm` -> (its 1-bar segments at 130 BPM and 16 kHz (n, N_SAMPLES), the
    stretched loop at its own rate, that rate), cut as the audio stage cuts training loops
    (rubberband at the training data's crispness)."""
    from loopgen.audio.dump import AudioError, load_audio
    from loopgen.audio.segments import bar_length, cut_bars
    from loopgen.audio.stretch import beats_to_samples, resample, stretch_to_beats

    try:
        audio = load_audio(path)
    except AudioError as error:
        raise ValueError(f"{path}: {error}") from None
    n_beats = max(1, round(len(audio.samples) / audio.sr * bpm / 60.0))
    crispness = DEFAULT_AUDIO["segments"]["crispness"] if crispness is None else crispness
    native = stretch_to_beats(audio.samples, audio.sr, n_beats, TARGET_BPM, crispness=crispness)
    at_16k = resample(native, audio.sr, SAMPLE_RATE, n=beats_to_samples(n_beats, TARGET_BPM, SAMPLE_RATE))
    bars = cut_bars(at_16k, bar_length(TARGET_BPM, SAMPLE_RATE), 0.5)
    if len(bars) == 0:
        raise ValueError(f"{path}: shorter than half a bar at {bpm:g} BPM")
    return bars[:, :N_SAMPLES], native, audio.sr


def rhythm_from_audio(bars: np.ndarray, extractor=None) -> np.ndarray:
    """Drum activations and envelope of 16 kHz bars, as the audio stage computed them for the
    model's training data: (n, 4, F)."""
    extractor = extractor or feature_extractor(None)
    frames = []
    for bar in bars:
        values = extractor.frame_features(bar)
        frames.append(np.vstack([values[name] for name in TIME_VARYING]))
    return np.stack(frames).astype(np.float32)


def globals_from_audio(bar_16k: np.ndarray, native: np.ndarray, native_rate: int, extractor=None) -> np.ndarray:
    """Raw HPCP (from the 16 kHz bar) and 21 timbral values (from the same bar at the loop's own
    rate, as in training) of a loop's first bar: (33,), NaN where a band cannot be analysed."""
    from loopgen.audio.segments import bar_length

    extractor = extractor or feature_extractor(None)
    native_bar = native[: int(bar_length(TARGET_BPM, native_rate))]
    timbre_values, problems = extractor.timbre_bands(native_rate)(native_bar)
    for problem in problems:
        log.warning("timbre source: %s (left at 0 after scaling)", problem)
    return np.concatenate([extractor.hpcp(bar_16k), timbre_values]).astype(np.float32)


def drum_onsets_from_midi(path) -> list[tuple[int, float, int, float]]:
    """(bar, position in the bar 0..1, activation channel, velocity 0..1) of every kick, snare and
    hi-hat hit of the MIDI file's drum tracks; bars of 4 beats counted from the file's start."""
    import pretty_midi

    from loopgen.roll import DRUM_NOTE_TO_COLUMN

    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # noqa: BLE001 -- pretty_midi raises many types on broken files
        raise ValueError(f"{path}: not a readable MIDI file ({type(error).__name__}: {error})") from None
    onsets = []
    for instrument in midi.instruments:
        if not instrument.is_drum:
            continue
        for note in instrument.notes:
            channel = MIDI_DRUM_CHANNEL.get(DRUM_NOTE_TO_COLUMN.get(note.pitch, -1))
            if channel is None:
                continue
            beats = midi.time_to_tick(note.start) / midi.resolution
            bar, within = divmod(beats, 4.0)
            onsets.append((int(bar), within / 4.0, channel, note.velocity / 127.0))
    if not onsets:
        raise ValueError(f"{path}: no kick, snare or hi-hat notes on a drum track")
    return onsets


def rhythm_from_midi(path, envelope_peak: float) -> np.ndarray:
    """The MIDI drum pattern on LoopNet's time grid: (n_bars, 4, F) frames with a velocity peak at
    each hit's frame in its activation channel, and an envelope of exponentially decaying hits
    scaled to `envelope_peak` (there is no audio to measure one from)."""
    onsets = drum_onsets_from_midi(path)
    n_frames = n_feature_frames()
    frames = np.zeros((max(bar for bar, *_ in onsets) + 1, 4, n_frames), np.float32)
    decay = np.exp(-np.arange(n_frames) * FEATURE_HOP / SAMPLE_RATE / MIDI_DECAY_S)
    for bar, position, channel, velocity in onsets:
        frame = min(int(round(position * N_SAMPLES / FEATURE_HOP)), n_frames - 1)
        frames[bar, channel, frame] = max(frames[bar, channel, frame], velocity)
        frames[bar, 3, frame:] = np.maximum(frames[bar, 3, frame:], velocity * decay[: n_frames - frame])
    peak = frames[:, 3].max(axis=-1, keepdims=True)
    frames[:, 3] *= envelope_peak / np.where(peak > 0, peak, 1.0)
    return frames


def add_synth_args(parser) -> None:
    parser.add_argument("--model", required=True, help="a trained variant's folder, e.g. results/models/loopnet-MULTI")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--rhythm", metavar="WAV", help="audio loop whose drum pattern (and envelope) to use")
    source.add_argument(
        "--midi", metavar="MID", help="MIDI file whose drum track gives the pattern (e.g. a generated loop)"
    )
    parser.add_argument(
        "--timbre", required=True, metavar="WAV", help="audio loop whose timbre and harmony (HPCP) to use"
    )
    parser.add_argument("--rhythm-bpm", type=float, default=TARGET_BPM, help="tempo of the --rhythm loop (default 130)")
    parser.add_argument("--timbre-bpm", type=float, default=TARGET_BPM, help="tempo of the --timbre loop (default 130)")
    parser.add_argument("--bars", type=int, default=None, help="synthesize at most this many bars (default: all)")
    parser.add_argument(
        "--griffin-lim-iters", type=int, default=DEFAULTS["griffin_lim_iters"], help="STFT variant only"
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("-o", "--out", required=True, help="output WAV (16 kHz, 130 BPM)")


def timbre_of(path, bpm: float, extractor) -> tuple[np.ndarray, float]:
    """An audio loop as a timbre source: its first bar's raw global features (33,) and envelope
    peak (what a MIDI drum pattern's envelope is scaled to), analysed as the training data was.
    `loopgen synth` and `loopgen generate --audio loopnet` both use it."""
    bars, native, native_rate = loop_bars(path, bpm, extractor.segments["crispness"])
    raw_globals = globals_from_audio(bars[0], native, native_rate, extractor)
    return raw_globals, float(rhythm_from_audio(bars[:1], extractor)[0, 3].max())


def run_synth(args) -> int:
    """Rhythm from one loop (or a MIDI drum pattern), timbre and harmony from another -> WAV."""
    import soundfile as sf

    from loopgen.training import pick_device

    model = LoopNet.load(args.model, pick_device(args.device), args.griffin_lim_iters)
    extractor = feature_extractor(model.audio_settings)
    raw_globals, envelope_peak = timbre_of(args.timbre, args.timbre_bpm, extractor)
    if args.midi:
        frames = rhythm_from_midi(args.midi, envelope_peak)
    else:
        frames = rhythm_from_audio(
            loop_bars(args.rhythm, args.rhythm_bpm, extractor.segments["crispness"])[0], extractor
        )
    frames = frames[: args.bars]
    scaled = model.scaler.scale(np.repeat(raw_globals[None], len(frames), axis=0))
    audio = model.synthesize(frames, scaled)
    sf.write(args.out, audio.reshape(-1), SAMPLE_RATE, subtype="PCM_16")
    print(
        f"{args.out}: {len(frames)} bar(s) at {TARGET_BPM:g} BPM by {model.variant}; rhythm from "
        f"{args.midi or args.rhythm}, timbre and harmony from {args.timbre}"
    )
    return 0
