"""A trained LoopNet turning controls into audio; the synthesized test sets and the Griffin-Lim
baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from loopgen.audio.segments import from_pcm, pcm_column, to_pcm
from loopgen.loopnet.data import GlobalScaler, SegmentSet, _matrix, network_inputs
from loopgen.loopnet.griffin_lim import griffin_lim
from loopgen.loopnet.losses import stft
from loopgen.loopnet.variants import DEFAULTS, N_SAMPLES, SAMPLE_RATE, SYNTH_SCHEMA
from loopgen.tables import write_table

CPU_BATCH = 4  # largest synthesis batch on a CPU (see LoopNet.synthesize)


class LoopNet:
    """A trained variant, ready to turn controls into 16 kHz waveforms."""

    def __init__(self, model, extras: dict, device, griffin_lim_iters: int | None = None):
        self.model = model
        self.config = model.config
        self.variant = extras["variant"]
        self.audio_settings = extras.get("audio")  # audio.segments + audio.features of the training data
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
                f = torch.from_numpy(np.ascontiguousarray(frames[start : start + batch_size], np.float32)).to(
                    self.device
                )
                g = torch.from_numpy(np.ascontiguousarray(global_scaled[start : start + batch_size], np.float32)).to(
                    self.device
                )
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


def write_set(
    rows_ids, loop_ids, set_name: str, pcm: np.ndarray, parquet_path, wav_dir, n_wavs: int | None = None
) -> None:
    """One synthesized set as Parquet (SYNTH_SCHEMA, every segment) and its first `n_wavs`
    segments (all when None) as 16 kHz WAVs to listen to: thousands of small files are slow on
    cluster file systems and duplicate the table."""
    import soundfile as sf

    write_table(
        pa.table(
            {
                "segment_id": pa.array(rows_ids, pa.string()),
                "loop_id": pa.array(loop_ids, pa.string()),
                "set": pa.array([set_name] * len(rows_ids), pa.string()),
                "pcm": pcm_column(pcm),  # on the array's buffer: no copy, no object per row
            }
        ),
        parquet_path,
        SYNTH_SCHEMA,
    )
    wav_dir = Path(wav_dir)
    wav_dir.mkdir(parents=True, exist_ok=True)
    for segment_id, samples in list(zip(rows_ids, pcm))[:n_wavs]:
        sf.write(wav_dir / f"{safe_name(segment_id)}.wav", samples, SAMPLE_RATE, subtype="PCM_16")


SYNTH_CHUNK = 256  # about this many segments are synthesized and turned into int16 at a time


def synthesize_test(loopnet: LoopNet, test: SegmentSet, batch_size: int = 16) -> np.ndarray:
    """Every test segment resynthesised from its own features: (N, n_samples) int16.

    SYNTH_CHUNK segments at a time, so only one chunk is ever float32 (a paper-scale test set is
    580 MB as float32 and the conversion needs two more such copies). A chunk is a whole number of
    batches on any device, so the batches, and with them the STFT variant's Griffin-Lim phases,
    are those of one call over the whole set."""
    import math

    step = math.lcm(batch_size, CPU_BATCH)
    step *= max(1, SYNTH_CHUNK // step)
    scaled = loopnet.scaler.scale(test.global_raw)
    chunks = [
        to_pcm(loopnet.synthesize(test.frames[start : start + step], scaled[start : start + step], batch_size))
        for start in range(0, len(test), step)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, loopnet.config.n_samples), np.int16)


def griffin_lim_baseline(
    pcm: np.ndarray, n_fft: int, hop: int, n_iter: int, device="cpu", batch_size: int = 16
) -> np.ndarray:
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


SET_READ_BATCH = 256  # rows decoded at a time (~15 MB of audio)


def read_set_audio(path) -> tuple[str | None, list[str], np.ndarray]:
    """A synthesized set's name, segment ids and (N, N_SAMPLES) int16 audio, decoded
    SET_READ_BATCH rows at a time into one array. Decoding a whole list<int16> table needs several
    times its audio at once (measured: ~7x), which at paper scale (290 MB a set) is what pushed
    loopnet_fad and loopnet_gates over their memory (issue 13)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from loopgen.tables import iter_batches

    pcm = np.empty((pq.read_metadata(path).num_rows, N_SAMPLES), np.int16)
    name, ids = None, []
    for batch in iter_batches(path, SYNTH_SCHEMA, ["segment_id", "set", "pcm"], SET_READ_BATCH):
        lengths = np.asarray(pc.fill_null(pc.list_value_length(batch["pcm"]), -1))
        if np.any(lengths != N_SAMPLES):
            raise ValueError(f"{path}: every segment must have {N_SAMPLES} samples; rerun its rule")
        pcm[len(ids) : len(ids) + batch.num_rows] = np.asarray(batch["pcm"].flatten(), np.int16).reshape(-1, N_SAMPLES)
        name = name or (batch["set"][0].as_py() if batch.num_rows else None)
        ids += batch["segment_id"].to_pylist()
    return name, ids, pcm


def pcm_matrix(table: pa.Table) -> np.ndarray:
    return _matrix(table["pcm"], N_SAMPLES, np.int16)
