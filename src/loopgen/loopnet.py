"""LoopNet (SPEC §6–§7): data, the five variants' losses, training, Griffin-Lim, synthesis.

Pieces, top to bottom:
- variants: how WAV, WAVSPEC, MULTI, MULTI_NOENV and STFT differ (head, envelope input, loss);
- data: the audio stage's segment + feature shards joined by segment_id, global features scaled to
  [0, 1] with the train-split statistics of feature_stats.json, frame-rate controls interpolated
  to the sample rate;
- spectral helpers: STFT magnitudes, the (multi-resolution) spectral L1 losses, Griffin-Lim;
- training (resumable, deterministic) and `LoopNet`, a loaded model that turns controls into audio;
- the test-set synthesis, the Griffin-Lim baseline, and `loopgen synth` (timbre transfer, MIDI drums).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from loopgen.audio.features import FEATURE_SCHEMA
from loopgen.audio.segments import SEGMENT_SCHEMA, from_pcm, to_pcm
from loopgen.tables import write_table

log = logging.getLogger("loopgen.loopnet")

SAMPLE_RATE = 16000
N_SAMPLES = 29538  # one bar at 130 BPM (SPEC §5)
FEATURE_HOP = 256  # frame hop of the audio stage's time-varying features (data contract)
TIME_VARYING = ("kick", "snare", "hihat", "envelope")
VARIANTS = ("WAV", "WAVSPEC", "MULTI", "MULTI_NOENV", "STFT")
GRIFFIN_LIM = "griffin_lim"  # name of the baseline set (real segments through |STFT| -> Griffin-Lim)

SYNTH_SCHEMA = pa.schema(
    [
        ("segment_id", pa.string()),
        ("loop_id", pa.string()),
        ("set", pa.string()),  # variant name or "griffin_lim"
        ("pcm", pa.list_(pa.int16())),  # N_SAMPLES at 16 kHz
    ]
)

# Defaults of the `loopnet:` config section (the schema holds the same values and the descriptions).
DEFAULTS = {
    "variants": list(VARIANTS),
    "epochs": 100,
    "batch_size": 16,
    "lr": 1e-4,
    "base_filters": 32,
    "wavspec_fft": 1024,
    "wavspec_hop": 512,
    "multi_fft": [2048, 1024, 512, 256, 128, 64],
    "multi_hop_fraction": 0.25,
    "stft_n_fft": 1024,
    "stft_hop": 256,
    "griffin_lim_iters": 100,
    "probe_segments": 64,
}


# The settings a checkpoint depends on (resume only when they are unchanged).
TRAINING_KEYS = ("batch_size", "lr", "base_filters", "wavspec_fft", "wavspec_hop", "multi_fft", "multi_hop_fraction",
                 "stft_n_fft", "stft_hop", "probe_segments")


def settings(section: dict | None) -> dict:
    """The config section with defaults filled in (the workflow validates; library callers may not)."""
    return {**DEFAULTS, **(section or {})}


# ---------------------------------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LossSpec:
    """What a variant is trained on. Resolutions are (n_fft, hop) pairs of the spectral L1 terms."""

    waveform_l1: bool = True
    resolutions: tuple[tuple[int, int], ...] = ()
    log_magnitude: tuple[int, int] | None = None  # STFT head: L1 on log1p|STFT| at (n_fft, hop)


def variant_setup(variant: str, section: dict | None = None):
    """(LoopNetConfig, LossSpec) of a variant under the given `loopnet:` config section."""
    from loopgen.models.wave_unet import LoopNetConfig

    s = settings(section)
    if variant not in VARIANTS:
        raise ValueError(f"unknown LoopNet variant {variant!r} (known: {', '.join(VARIANTS)})")
    multi = tuple((n, max(1, int(n * s["multi_hop_fraction"]))) for n in s["multi_fft"])
    config = LoopNetConfig(
        n_samples=N_SAMPLES,
        use_envelope=variant != "MULTI_NOENV",
        base_filters=s["base_filters"],
        head="stft" if variant == "STFT" else "wave",
        n_fft=s["stft_n_fft"],
        hop=s["stft_hop"],
    )
    losses = {
        "WAV": LossSpec(),
        "WAVSPEC": LossSpec(resolutions=((s["wavspec_fft"], s["wavspec_hop"]),)),
        "MULTI": LossSpec(resolutions=multi),
        "MULTI_NOENV": LossSpec(resolutions=multi),
        "STFT": LossSpec(waveform_l1=False, log_magnitude=(s["stft_n_fft"], s["stft_hop"])),
    }
    return config, losses[variant]


# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------
@dataclass
class SegmentSet:
    """Segments of one split, joined with their features, in a stable order (sorted segment_id)."""

    segment_id: list[str]
    loop_id: list[str]
    frames: np.ndarray  # (N, 4, F) float32: kick, snare, hihat, envelope at frame rate
    global_raw: np.ndarray  # (N, 33) float32: HPCP (12) then timbre (21), unscaled
    pcm: np.ndarray | None = None  # (N, N_SAMPLES) int16
    bar: np.ndarray | None = None  # (N,) int

    def __len__(self) -> int:
        return len(self.segment_id)

    def subset(self, index) -> SegmentSet:
        index = np.asarray(index)
        return SegmentSet(
            segment_id=[self.segment_id[i] for i in index],
            loop_id=[self.loop_id[i] for i in index],
            frames=self.frames[index],
            global_raw=self.global_raw[index],
            pcm=None if self.pcm is None else self.pcm[index],
            bar=None if self.bar is None else self.bar[index],
        )


def _read_split(paths, schema, columns: list[str], split: str | None) -> pa.Table | None:
    """Concatenate shards (checked against `schema`), keep one split, remember each row's file."""
    import pyarrow.compute as pc

    from loopgen.tables import read_table

    tables = []
    for path in paths:
        table = read_table(path, schema, columns)
        if split is not None:
            table = table.filter(pc.equal(table["split"], split))
        tables.append(table.append_column("source", pa.array([str(path)] * table.num_rows, pa.string())))
    return pa.concat_tables(tables) if tables else None


def _drop_bad_lengths(table: pa.Table, lengths: dict[str, int]) -> pa.Table:
    """Leave out rows whose list columns do not have the expected lengths, one warning line each."""
    import pyarrow.compute as pc

    ok = np.ones(table.num_rows, dtype=bool)
    for column, expected in lengths.items():
        found = np.asarray(pc.fill_null(pc.list_value_length(table[column]), -1))
        for i in np.flatnonzero((found != expected) & ok):
            log.warning(
                "%s: segment %s: %s has %d values, expected %d; left out",
                table["source"][i].as_py(), table["segment_id"][i].as_py(), column, found[i], expected,
            )
        ok &= found == expected
    return table.filter(pa.array(ok))


def _matrix(column: pa.ChunkedArray, length: int, dtype=np.float32) -> np.ndarray:
    """A list column whose rows all have `length` values -> (N, length) array."""
    if len(column) == 0:
        return np.zeros((0, length), dtype)
    return np.asarray(column.combine_chunks().flatten(), dtype=dtype).reshape(-1, length)


def _common_length(column: pa.ChunkedArray) -> int:
    """The most frequent list length of a column (the frame count every segment should have)."""
    import pyarrow.compute as pc

    lengths = np.asarray(pc.fill_null(pc.list_value_length(column), -1))
    values, counts = np.unique(lengths[lengths >= 0], return_counts=True)
    return int(values[np.argmax(counts)]) if len(values) else 0


@dataclass
class SegmentAudio:
    """The audio of segments (sorted by segment_id), as read from the segment shards."""

    segment_id: list[str]
    loop_id: list[str]
    bar: np.ndarray  # (N,) int
    pcm: np.ndarray  # (N, N_SAMPLES) int16
    source: list[str]  # the shard each row came from (for messages)

    def __len__(self) -> int:
        return len(self.segment_id)


def read_segment_audio(segment_paths, split: str | None = None) -> SegmentAudio:
    """Segments of one split ('train' | 'test' | None = all), wrong-length rows left out with a warning."""
    table = _read_split(segment_paths, SEGMENT_SCHEMA, ["segment_id", "loop_id", "bar", "split", "pcm"], split)
    if table is None:
        return SegmentAudio([], [], np.zeros(0, int), np.zeros((0, N_SAMPLES), np.int16), [])
    table = _drop_bad_lengths(table, {"pcm": N_SAMPLES})
    ids = table["segment_id"].to_pylist()
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable") if ids else np.zeros(0, int)
    loops, sources = table["loop_id"].to_pylist(), table["source"].to_pylist()
    return SegmentAudio(
        segment_id=[ids[i] for i in order],
        loop_id=[loops[i] for i in order],
        bar=np.asarray(table["bar"].to_numpy(zero_copy_only=False))[order],
        pcm=_matrix(table["pcm"], N_SAMPLES, np.int16)[order],
        source=[sources[i] for i in order],
    )


def load_segments(segment_paths, feature_paths, split: str | None = None, with_pcm: bool = True) -> SegmentSet:
    """Segments of one split joined with their features on segment_id, sorted by segment_id.

    Rows with wrong-length lists, and segments without a feature row, are left out with a warning
    line each that names the file and the segment. with_pcm=False reads only the features."""
    feats = _read_split(feature_paths, FEATURE_SCHEMA, ["segment_id", "loop_id", "split", *TIME_VARYING, "hpcp", "timbre"], split)
    if feats is None or feats.num_rows == 0:
        return _empty_set(with_pcm)
    n_frames = _common_length(feats["kick"])
    if n_frames != 1 + N_SAMPLES // FEATURE_HOP:
        raise ValueError(f"{feature_paths[0]}: {n_frames} feature frames a segment; LoopNet expects "
                         f"{1 + N_SAMPLES // FEATURE_HOP} (hop {FEATURE_HOP}, config audio.features.hop)")
    feats = _drop_bad_lengths(feats, {**{name: n_frames for name in TIME_VARYING}, "hpcp": 12, "timbre": 21})
    feature_ids = feats["segment_id"].to_pylist()
    feature_row = {sid: i for i, sid in enumerate(feature_ids)}
    frames = np.stack([_matrix(feats[name], n_frames) for name in TIME_VARYING], axis=1)
    global_raw = np.concatenate([_matrix(feats["hpcp"], 12), _matrix(feats["timbre"], 21)], axis=1)
    loop_of = feats["loop_id"].to_pylist()
    if not with_pcm:
        ids = sorted(feature_ids)
        rows = np.array([feature_row[sid] for sid in ids], dtype=int)
        return SegmentSet(ids, [loop_of[r] for r in rows], frames[rows], global_raw[rows])
    audio = read_segment_audio(segment_paths, split)
    keep = []
    for i, (sid, source) in enumerate(zip(audio.segment_id, audio.source)):
        if sid in feature_row:
            keep.append(i)
        else:
            log.warning("%s: segment %s has no feature row; left out", source, sid)
    rows = np.array([feature_row[audio.segment_id[i]] for i in keep], dtype=int)
    return SegmentSet(
        segment_id=[audio.segment_id[i] for i in keep],
        loop_id=[audio.loop_id[i] for i in keep],
        frames=frames[rows],
        global_raw=global_raw[rows],
        pcm=audio.pcm[keep],
        bar=audio.bar[keep],
    )


def _empty_set(with_pcm: bool) -> SegmentSet:
    return SegmentSet([], [], np.zeros((0, 4, 1), np.float32), np.zeros((0, 33), np.float32),
                      np.zeros((0, N_SAMPLES), np.int16) if with_pcm else None, np.zeros(0, int) if with_pcm else None)


@dataclass
class GlobalScaler:
    """[0, 1] scaling of the 33 global features (12 HPCP + 21 timbre) with the audio stage's
    train-split statistics (feature_stats.json), clipped as loopgen.audio.features.scale_global
    does. A NaN (a timbral model that failed, e.g. on a silent band) becomes 0: nothing in that band."""

    stats: dict

    def scale(self, raw: np.ndarray) -> np.ndarray:
        from loopgen.audio.features import scale_global

        raw = np.asarray(raw, dtype=np.float64)
        scaled = np.concatenate([scale_global(raw[:, :12], self.stats, "hpcp"), scale_global(raw[:, 12:], self.stats, "timbre")], axis=1)
        return np.nan_to_num(scaled, nan=0.0).astype(np.float32)

    @classmethod
    def from_file(cls, path) -> GlobalScaler:
        stats = json.loads(Path(path).read_text())
        for name, size in (("hpcp", 12), ("timbre", 21)):
            entry = stats.get(name)
            if not isinstance(entry, dict) or len(entry.get("min", ())) != size or len(entry.get("max", ())) != size:
                raise ValueError(f"{path}: expected '{name}' with {size} min and max values")
        return cls({name: {"min": stats[name]["min"], "max": stats[name]["max"]} for name in ("hpcp", "timbre")})


# ---------------------------------------------------------------------------------------------------
# Network inputs
# ---------------------------------------------------------------------------------------------------
def normalise_activations(frames):
    """Divide each drum activation (channels 0-2) by its per-segment max (SPEC §6); keep the envelope."""
    import torch

    activations = frames[:, :3] / frames[:, :3].amax(dim=-1, keepdim=True).clamp_min(1e-8)
    return torch.cat([activations, frames[:, 3:]], dim=1)


def frames_to_samples(frames, n_samples: int = N_SAMPLES, hop: int = FEATURE_HOP):
    """(B, C, F) frame-rate values -> (B, C, n_samples), linear interpolation.

    Frame f describes the sample f * hop (a centred analysis); samples past the last frame keep
    its value. (The paper used a spline; linear interpolation cannot overshoot below zero.)"""
    import torch

    n_frames = frames.shape[-1]
    position = torch.arange(n_samples, device=frames.device, dtype=frames.dtype) / hop
    left = position.floor().long().clamp(max=n_frames - 1)
    right = (left + 1).clamp(max=n_frames - 1)
    weight = (position - left.to(frames.dtype)).clamp(0, 1)
    return frames[..., left] * (1 - weight) + frames[..., right] * weight


def network_inputs(frames, global_scaled, use_envelope: bool):
    """Frame-rate controls (B, 4, F) + scaled globals (B, 33) -> the WaveUNet's two inputs."""
    time_varying = frames_to_samples(normalise_activations(frames))
    if not use_envelope:
        time_varying = time_varying[:, :3]
    return time_varying, global_scaled


# ---------------------------------------------------------------------------------------------------
# Spectral helpers and losses
# ---------------------------------------------------------------------------------------------------
def _window(n_fft: int, device, dtype):
    # Not cached: a window made under inference_mode could not be used in training afterwards.
    import torch

    return torch.hann_window(n_fft, device=device, dtype=dtype)


def stft(x, n_fft: int, hop: int):
    """Complex STFT (B, n_fft//2+1, frames) of (B, samples): Hann window, centred frames."""
    import torch

    return torch.stft(x, n_fft, hop, window=_window(n_fft, x.device, x.dtype), center=True, return_complex=True)


def istft(spec, n_fft: int, hop: int, length: int):
    import torch

    return torch.istft(spec, n_fft, hop, window=_window(n_fft, spec.device, spec.real.dtype), center=True, length=length)


def spectral_l1(pred, target, n_fft: int, hop: int):
    """Mean |(|STFT(pred)| - |STFT(target)|)| with magnitudes divided by sqrt(n_fft), so that the
    six resolutions of the multi-resolution loss weigh alike on broadband signals."""
    scale = 1.0 / math.sqrt(n_fft)
    return (stft(pred, n_fft, hop).abs() - stft(target, n_fft, hop).abs()).abs().mean() * scale


def multi_resolution_stft_loss(pred, target, resolutions) -> object:
    """Sum over (n_fft, hop) resolutions of the spectral L1 (Eq. 3 of L without the waveform term)."""
    return sum(spectral_l1(pred, target, n_fft, hop) for n_fft, hop in resolutions)


def log_magnitude(x, n_fft: int, hop: int):
    """log1p|STFT(x)|: the STFT variant's target (compressed so quiet bins count)."""
    return stft(x, n_fft, hop).abs().log1p()


def variant_loss(output, target, spec: LossSpec):
    """The training loss of a variant. `output` is the WaveUNet output (waveform or log1p magnitudes)."""
    if spec.log_magnitude is not None:
        return (output - log_magnitude(target, *spec.log_magnitude)).abs().mean()
    loss = (output - target).abs().mean() if spec.waveform_l1 else 0.0
    return loss + multi_resolution_stft_loss(output, target, spec.resolutions)


def griffin_lim(magnitude, n_fft: int, hop: int, n_iter: int, length: int, momentum: float = 0.99, seed: int = 0):
    """Waveforms (B, length) whose STFT magnitude approximates `magnitude` (B, bins, frames).

    Fast Griffin-Lim (Perraudin et al. 2013): the phase estimate is a unit phasor per bin,
    multiplied with the magnitude (the released LoopNet code passed the complex phasors as angles).
    Random initial phase from a seeded generator, so results are reproducible."""
    import torch

    generator = torch.Generator(device="cpu").manual_seed(seed)
    phase = torch.rand(magnitude.shape, generator=generator, dtype=magnitude.dtype) * (2 * math.pi)
    angles = torch.polar(torch.ones_like(phase), phase).to(magnitude.device)
    previous = None
    for _ in range(n_iter):
        rebuilt = stft(istft(magnitude * angles, n_fft, hop, length), n_fft, hop)
        angles = rebuilt if previous is None else rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / (angles.abs() + 1e-12)
        previous = rebuilt
    return istft(magnitude * angles, n_fft, hop, length)


def spectral_convergence(waveform, magnitude, n_fft: int, hop: int) -> float:
    """‖|STFT(waveform)| - magnitude‖_F / ‖magnitude‖_F (0 = the magnitude is met exactly)."""
    rebuilt = stft(waveform, n_fft, hop).abs()
    return float((rebuilt - magnitude).norm() / magnitude.norm().clamp_min(1e-12))


# ---------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------
def _batch(data: SegmentSet, scaler: GlobalScaler, index, device, use_envelope: bool):
    """Network inputs and target waveform of the segments at `index`, on `device`."""
    import torch

    frames = torch.from_numpy(data.frames[index]).to(device)
    global_scaled = torch.from_numpy(scaler.scale(data.global_raw[index])).to(device)
    target = torch.from_numpy(from_pcm(data.pcm[index])).to(device)
    time_varying, global_scaled = network_inputs(frames, global_scaled, use_envelope)
    return time_varying, global_scaled, target


def _probe_loss(model, data, scaler, spec, probe, device, batch_size) -> float:
    """Mean loss on a fixed set of training segments, in eval mode (comparable across epochs)."""
    import torch

    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(probe), batch_size):
            index = probe[start : start + batch_size]
            time_varying, global_scaled, target = _batch(data, scaler, index, device, model.config.use_envelope)
            total += float(variant_loss(model(time_varying, global_scaled), target, spec)) * len(index)
    model.train()
    return total / max(len(probe), 1)


def train_loopnet(data: SegmentSet, scaler: GlobalScaler, variant: str, section: dict, seed: int,
                  checkpoint_dir, device, run_key: str = "", precision: str = "fp32") -> tuple[object, dict]:
    """Train one variant on `data` (the train split); resumable from `checkpoint_dir` when the
    variant, the settings that shape training, the seed and `run_key` (the workflow passes its
    code hash) are those of the checkpoint; otherwise training starts over.

    Returns (model, history) where history holds the probe loss before training and after each
    epoch, and the mean training loss of each epoch."""
    import torch
    from tqdm import tqdm

    from loopgen.device import autocast
    from loopgen.models.wave_unet import WaveUNet
    from loopgen.training import Checkpoint, rng_state, seed_everything, set_rng_state

    s = settings(section)
    config, spec = variant_setup(variant, s)
    generator = seed_everything(seed)
    model = WaveUNet(config).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=s["lr"])
    probe = np.arange(min(s["probe_segments"], len(data)))
    checkpoint = Checkpoint(checkpoint_dir)
    state = checkpoint.load()
    # A checkpoint is resumed only when what shapes training is unchanged (more epochs: go on).
    resumable = {"seed": seed, "run_key": run_key, **{key: s[key] for key in TRAINING_KEYS}}
    if state is not None and state.get("variant") == variant and state.get("settings") == resumable:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        generator.set_state(state["generator"])
        set_rng_state(state["rng"])
        history = state["history"]
        log.info("%s: resumed from %s at epoch %d", variant, checkpoint.path, len(history["train_loss"]))
    else:
        if state is not None:
            log.info("%s: %s holds another run (variant, settings, seed or code differ); starting over", variant, checkpoint.path)
        history = {"probe_loss": [_probe_loss(model, data, scaler, spec, probe, device, s["batch_size"])], "train_loss": [], "seconds": []}
        log.info("%s: %d training segments, %d parameters, probe loss before training %.4f",
                 variant, len(data), sum(p.numel() for p in model.parameters()), history["probe_loss"][0])
    model.train()
    for epoch in range(len(history["train_loss"]), s["epochs"]):
        started = time.perf_counter()
        order = torch.randperm(len(data), generator=generator).numpy()
        losses = []
        for start in tqdm(range(0, len(order), s["batch_size"]), desc=f"{variant} epoch {epoch + 1}", mininterval=30):
            index = np.sort(order[start : start + s["batch_size"]])
            time_varying, global_scaled, target = _batch(data, scaler, index, device, config.use_envelope)
            with autocast(device, precision):
                output = model(time_varying, global_scaled)
            loss = variant_loss(output.float(), target, spec)  # STFT losses in fp32
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(loss.detach())  # no .item() here: it would wait for the GPU every step
        history["train_loss"].append(float(torch.stack(losses).mean()))
        history["probe_loss"].append(_probe_loss(model, data, scaler, spec, probe, device, s["batch_size"]))
        history["seconds"].append(time.perf_counter() - started)
        log.info("%s epoch %d/%d: train loss %.4f, probe loss %.4f (%.1f s, %.1f segments/s)", variant, epoch + 1,
                 s["epochs"], history["train_loss"][-1], history["probe_loss"][-1], history["seconds"][-1],
                 len(data) / history["seconds"][-1])
        checkpoint.save({"variant": variant, "settings": resumable, "model": model.state_dict(), "optimiser": optimiser.state_dict(),
                         "generator": generator.get_state(), "rng": rng_state(), "history": history})
    return model.eval(), history


def save_loopnet(folder, model, variant: str, section: dict, scaler: GlobalScaler, history: dict) -> None:
    """DESIGN model contract, with what synthesis needs beside the weights: variant, loss, scaler, GL."""
    from loopgen.training import save_model

    s = settings(section)
    _, spec = variant_setup(variant, s)
    extras = {
        "variant": variant,
        "loss": {"waveform_l1": spec.waveform_l1, "resolutions": spec.resolutions, "log_magnitude": spec.log_magnitude},
        "feature_hop": FEATURE_HOP,
        "sample_rate": SAMPLE_RATE,
        "history": history,
        "feature_stats": scaler.stats,
    }
    save_model(folder, model, model.config, extras)


# ---------------------------------------------------------------------------------------------------
# Synthesis
# ---------------------------------------------------------------------------------------------------
CPU_BATCH = 4  # largest synthesis batch on a CPU (see LoopNet.synthesize)


class LoopNet:
    """A trained variant, ready to turn controls into 16 kHz waveforms."""

    def __init__(self, model, extras: dict, device, griffin_lim_iters: int | None = None):
        self.model = model
        self.config = model.config
        self.variant = extras["variant"]
        self.scaler = GlobalScaler(extras["feature_stats"])
        self.griffin_lim_iters = griffin_lim_iters or DEFAULTS["griffin_lim_iters"]  # STFT variant only
        self.device = device

    @classmethod
    def load(cls, folder, device="cpu", griffin_lim_iters: int | None = None) -> LoopNet:
        from loopgen.models.wave_unet import LoopNetConfig, WaveUNet
        from loopgen.training import load_model

        folder = Path(folder)
        if not (folder / "model.json").is_file():
            raise FileNotFoundError(f"{folder}: no LoopNet model here (expected model.pt and model.json)")
        model, _, extras = load_model(folder, WaveUNet, LoopNetConfig, device=device)
        return cls(model, extras, device, griffin_lim_iters)

    def synthesize(self, frames: np.ndarray, global_scaled: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """(N, 4, F) frame-rate controls + (N, 33) scaled globals -> (N, n_samples) float32 in [-1, 1]."""
        import torch

        if torch.device(self.device).type == "cpu":
            # On a CPU core, 16 loops at once are ~40% slower per loop than 1-4 (the activations of
            # 16 bars fall out of the cache); GPUs want the whole batch.
            batch_size = min(batch_size, CPU_BATCH)
        out = []
        with torch.inference_mode():
            for start in range(0, len(frames), batch_size):
                f = torch.from_numpy(np.ascontiguousarray(frames[start : start + batch_size], np.float32)).to(self.device)
                g = torch.from_numpy(np.ascontiguousarray(global_scaled[start : start + batch_size], np.float32)).to(self.device)
                out.append(self._waveform(self.model(*network_inputs(f, g, self.config.use_envelope))).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.config.n_samples), np.float32)

    def _waveform(self, output):
        if self.config.head == "wave":
            return output
        magnitude = output.clamp_min(0).expm1()  # the head predicts log1p magnitudes
        wave = griffin_lim(magnitude, self.config.n_fft, self.config.hop, self.griffin_lim_iters, self.config.n_samples)
        return wave.clamp(-1, 1)


def safe_name(segment_id: str) -> str:
    """A file name for a segment id (ids hold ':' and may hold '/')."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in segment_id)


def write_set(rows_ids, loop_ids, set_name: str, pcm: np.ndarray, parquet_path, wav_dir, n_wavs: int | None = None) -> None:
    """One synthesized set as Parquet (SYNTH_SCHEMA, every segment) and its first `n_wavs`
    segments (all when None) as 16 kHz WAVs to listen to: thousands of small files are slow on
    cluster file systems and duplicate the table."""
    import soundfile as sf

    write_table(
        pa.table({
            "segment_id": pa.array(rows_ids, pa.string()),
            "loop_id": pa.array(loop_ids, pa.string()),
            "set": pa.array([set_name] * len(rows_ids), pa.string()),
            "pcm": pa.array(list(pcm), pa.list_(pa.int16())),
        }),
        parquet_path,
        SYNTH_SCHEMA,
    )
    wav_dir = Path(wav_dir)
    wav_dir.mkdir(parents=True, exist_ok=True)
    for segment_id, samples in list(zip(rows_ids, pcm))[:n_wavs]:
        sf.write(wav_dir / f"{safe_name(segment_id)}.wav", samples, SAMPLE_RATE, subtype="PCM_16")


def synthesize_test(loopnet: LoopNet, test: SegmentSet, batch_size: int = 16) -> np.ndarray:
    """Every test segment resynthesised from its own features: (N, n_samples) int16."""
    audio = loopnet.synthesize(test.frames, loopnet.scaler.scale(test.global_raw), batch_size)
    return to_pcm(audio)


def griffin_lim_baseline(pcm: np.ndarray, n_fft: int, hop: int, n_iter: int, device="cpu", batch_size: int = 16) -> np.ndarray:
    """The paper's Griffin-Lim baseline: real segments -> |STFT| -> Griffin-Lim -> int16."""
    import torch

    out = []
    for start in range(0, len(pcm), batch_size):
        x = torch.from_numpy(from_pcm(pcm[start : start + batch_size])).to(device)
        wave = griffin_lim(stft(x, n_fft, hop).abs(), n_fft, hop, n_iter, x.shape[-1], seed=start)
        out.append(to_pcm(wave.cpu().numpy()))
    return np.concatenate(out) if out else np.zeros((0, pcm.shape[-1]), np.int16)


def read_set(path) -> pa.Table:
    from loopgen.tables import read_table

    return read_table(path, SYNTH_SCHEMA)


def pcm_matrix(table: pa.Table) -> np.ndarray:
    return _matrix(table["pcm"], N_SAMPLES, np.int16)


# ---------------------------------------------------------------------------------------------------
# Timbre transfer and MIDI control (`loopgen synth`, L §7)
# ---------------------------------------------------------------------------------------------------
TARGET_BPM = 130.0  # the tempo every training segment was stretched to
MIDI_DRUM_CHANNEL = {0: 0, 1: 1, 2: 2, 4: 2}  # roll drum column -> activation: kick, snare, closed + open hi-hat
MIDI_DECAY_S = 0.1  # time constant of the envelope drawn for MIDI drum hits


def n_feature_frames() -> int:
    return 1 + N_SAMPLES // FEATURE_HOP


def loop_bars(path, bpm: float) -> tuple[np.ndarray, np.ndarray, int]:
    """An audio loop at `bpm` -> (its 1-bar segments at 130 BPM and 16 kHz (n, N_SAMPLES), the
    stretched loop at its own rate, that rate), cut as the audio stage cuts training loops."""
    from loopgen.audio.dump import AudioError, load_audio
    from loopgen.audio.segments import bar_length, cut_bars
    from loopgen.audio.stretch import beats_to_samples, resample, stretch_to_beats

    try:
        audio = load_audio(path)
    except AudioError as error:
        raise ValueError(f"{path}: {error}") from None
    n_beats = max(1, round(len(audio.samples) / audio.sr * bpm / 60.0))
    native = stretch_to_beats(audio.samples, audio.sr, n_beats, TARGET_BPM, crispness=5)
    at_16k = resample(native, audio.sr, SAMPLE_RATE, n=beats_to_samples(n_beats, TARGET_BPM, SAMPLE_RATE))
    bars = cut_bars(at_16k, bar_length(TARGET_BPM, SAMPLE_RATE), 0.5)
    if len(bars) == 0:
        raise ValueError(f"{path}: shorter than half a bar at {bpm:g} BPM")
    return bars[:, :N_SAMPLES], native, audio.sr


def rhythm_from_audio(bars: np.ndarray) -> np.ndarray:
    """Drum activations and envelope of 16 kHz bars, as the audio stage computes them: (n, 4, F)."""
    from loopgen.audio.features import BandFluxTranscriber, envelope, normalise_by_max

    transcriber = BandFluxTranscriber()
    frames = [np.vstack([normalise_by_max(transcriber.activations(bar, SAMPLE_RATE, FEATURE_HOP)),
                         envelope(bar, FEATURE_HOP, 1024)[None]]) for bar in bars]
    return np.stack(frames).astype(np.float32)


def globals_from_audio(bar_16k: np.ndarray, native: np.ndarray, native_rate: int) -> np.ndarray:
    """Raw HPCP (from the 16 kHz bar) and 21 timbral values (from the same bar at the loop's own
    rate, as in training) of a loop's first bar: (33,), NaN where a band cannot be analysed."""
    from loopgen.audio.features import Hpcp, TimbreBands
    from loopgen.audio.segments import bar_length

    native_bar = native[: int(bar_length(TARGET_BPM, native_rate))]
    timbre_values, problems = TimbreBands(native_rate)(native_bar)
    for problem in problems:
        log.warning("timbre source: %s (left at 0 after scaling)", problem)
    return np.concatenate([Hpcp(SAMPLE_RATE)(bar_16k), timbre_values]).astype(np.float32)


def drum_onsets_from_midi(path) -> list[tuple[int, float, int, float]]:
    """(bar, position in the bar 0..1, activation channel, velocity 0..1) of every kick, snare and
    hi-hat hit of the MIDI file's drum tracks; bars of 4 beats counted from the file's start."""
    import pretty_midi

    from loopgen.roll import DRUM_NOTE_TO_COLUMN

    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # pretty_midi raises many types on broken files
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
    source.add_argument("--midi", metavar="MID", help="MIDI file whose drum track gives the pattern (e.g. a generated loop)")
    parser.add_argument("--timbre", required=True, metavar="WAV", help="audio loop whose timbre and harmony (HPCP) to use")
    parser.add_argument("--rhythm-bpm", type=float, default=TARGET_BPM, help="tempo of the --rhythm loop (default 130)")
    parser.add_argument("--timbre-bpm", type=float, default=TARGET_BPM, help="tempo of the --timbre loop (default 130)")
    parser.add_argument("--bars", type=int, default=None, help="synthesize at most this many bars (default: all)")
    parser.add_argument("--griffin-lim-iters", type=int, default=DEFAULTS["griffin_lim_iters"], help="STFT variant only")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("-o", "--out", required=True, help="output WAV (16 kHz, 130 BPM)")


def run_synth(args) -> int:
    """Rhythm from one loop (or a MIDI drum pattern), timbre and harmony from another -> WAV."""
    import soundfile as sf

    from loopgen.training import pick_device

    model = LoopNet.load(args.model, pick_device(args.device), args.griffin_lim_iters)
    timbre_bars, native, native_rate = loop_bars(args.timbre, args.timbre_bpm)
    raw_globals = globals_from_audio(timbre_bars[0], native, native_rate)
    if args.midi:
        envelope_peak = float(rhythm_from_audio(timbre_bars[:1])[0, 3].max())
        frames = rhythm_from_midi(args.midi, envelope_peak)
    else:
        frames = rhythm_from_audio(loop_bars(args.rhythm, args.rhythm_bpm)[0])
    frames = frames[: args.bars]
    scaled = model.scaler.scale(np.repeat(raw_globals[None], len(frames), axis=0))
    audio = model.synthesize(frames, scaled)
    sf.write(args.out, audio.reshape(-1), SAMPLE_RATE, subtype="PCM_16")
    print(f"{args.out}: {len(frames)} bar(s) at {TARGET_BPM:g} BPM by {model.variant}; rhythm from "
          f"{args.midi or args.rhythm}, timbre and harmony from {args.timbre}")
    return 0


# ---------------------------------------------------------------------------------------------------
# Synthetic data (unit tests and the benchmark; the workflow uses the audio stage's real shards)
# ---------------------------------------------------------------------------------------------------
def synthetic_shards(folder, n_loops: int = 6, bars: int = 2, n_test_loops: int = 2, seed: int = 0) -> dict:
    """Drum loops rendered by loopgen.audio.synth, cut into 1-bar segments with real activations and
    envelopes (the audio stage's functions) and random global features, written as one segment
    shard, one feature shard and feature_stats.json in `folder`. Returns their paths."""
    from loopgen.audio.features import BandFluxTranscriber, envelope, feature_stats, normalise_by_max
    from loopgen.audio.segments import segment_table
    from loopgen.audio.synth import drum_loop

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    ids, loops, bar_index, splits, pcm, feature_rows = [], [], [], [], [], []
    for loop in range(n_loops):
        patterns = ["".join(rng.choice(list("k..."))) + "".join(rng.choice(list(".h"), 15)) for _ in range(bars)]
        patterns = [p[:4] + "s" + p[5:12] + "s" + p[13:] for p in patterns]
        audio = drum_loop(patterns, 130.0, SAMPLE_RATE, seed=seed * 1000 + loop) * float(rng.uniform(0.5, 1.0))
        split = "test" if loop < n_test_loops else "train"
        for bar in range(bars):
            segment = np.zeros(N_SAMPLES, np.float32)
            piece = audio[int(round(bar * N_SAMPLES)) :][:N_SAMPLES]
            segment[: len(piece)] = piece
            segment_id = f"loop{loop:03d}:{bar}"
            drums = normalise_by_max(BandFluxTranscriber().activations(segment, SAMPLE_RATE, FEATURE_HOP))
            feature_rows.append({
                "segment_id": segment_id, "loop_id": f"loop{loop:03d}", "split": split,
                **{name: drums[i].tolist() for i, name in enumerate(("kick", "snare", "hihat"))},
                "envelope": envelope(segment, FEATURE_HOP, 1024).tolist(),
                "hpcp": rng.uniform(0, 1, 12).tolist(), "timbre": rng.uniform(10, 90, 21).tolist(),
            })
            ids.append(segment_id), loops.append(f"loop{loop:03d}"), bar_index.append(bar), splits.append(split)
            pcm.append(to_pcm(segment))
    paths = {"segments": folder / "segments.parquet", "features": folder / "features.parquet", "stats": folder / "feature_stats.json"}
    write_table(segment_table(ids, loops, bar_index, splits, np.stack(pcm)), paths["segments"], SEGMENT_SCHEMA)
    write_table(feature_rows, paths["features"], FEATURE_SCHEMA)
    train = [r for r in feature_rows if r["split"] == "train"]
    stats = feature_stats(np.array([r["hpcp"] for r in train]), np.array([r["timbre"] for r in train]))
    paths["stats"].write_text(json.dumps(stats))
    return paths
