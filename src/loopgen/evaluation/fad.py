"""Fréchet Audio Distance (Kilgour et al. 2019) for LoopNet's table 1 (SPEC §7).

FAD = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)) between Gaussians fitted to
per-example embeddings of two sets of clips.

Embeddings:
- VGGish with the user's checkpoint (`loopnet.vggish_checkpoint` in config): the paper's metric.
- Otherwise a default that needs no download: the VGGish architecture with random, never trained
  weights, FAD averaged over several seeds (the random-embedding argument the symbolic paper makes
  for its P/R/D/C, S §4). Its values are not comparable with the paper's numbers, only with each
  other, so every table that reports a FAD prints the embedding's `name`; `degradation_check`
  shows on the data at hand that it ranks rising noise and narrowing band-limits as worse.

As the paper's FAD code (Google's `extract_features(normalize=True)` on int16 wav files), every
clip, real and generated, is peak-normalised, x / max(0.1, max|x|), before the embedding (on by
default: without it a quieter copy of the real set scores worse than noise). With a few dozen test
clips FAD is biased and noisy, so each FAD comes with a bootstrap interval over the test clips
(the FAD +- half the 95% range of the resamples' FADs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from loopgen.audio.segments import float_audio

FAD_SCHEMA = pa.schema(
    [
        ("set", pa.string()),  # a LoopNet variant, "griffin_lim", or a degradation ("noise 20 dB SNR")
        ("kind", pa.string()),  # "set" | "reference" (white noise, 1 kHz low-pass) | "degradation"
        ("fad", pa.float64()),  # mean over the embedding's networks
        ("fad_std", pa.float64()),  # spread over the networks (0 for a single trained VGGish)
        ("fad_low", pa.float64()),  # fad -/+ half the 95% bootstrap range over test clips (NaN without)
        ("fad_high", pa.float64()),
        ("n_clips", pa.int32()),
        ("embedding", pa.string()),  # the embedding's name, printed in every table
    ]
)


# ---------------------------------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------------------------------
def gaussian(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased, rows = samples) in float64."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    return embeddings.mean(axis=0), np.cov(embeddings, rowvar=False)


def frechet_distance(mu_a, cov_a, mu_b, cov_b) -> float:
    """Fréchet distance between two Gaussians.

    tr((S_a S_b)^(1/2)) is computed as the sum of square roots of the eigenvalues of the symmetric
    PSD matrix S_a^(1/2) S_b S_a^(1/2) (same eigenvalues as S_a S_b), which is stable for the
    singular covariances of small sets, where scipy's sqrtm of the non-symmetric product can
    return complex noise."""
    values, vectors = np.linalg.eigh(cov_a)
    sqrt_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = sqrt_a @ cov_b @ sqrt_a
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    diff = np.asarray(mu_a) - np.asarray(mu_b)
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)


def fad_from_embeddings(a: np.ndarray, b: np.ndarray) -> float:
    return frechet_distance(*gaussian(a), *gaussian(b))


# ---------------------------------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------------------------------
@dataclass
class Embedding:
    """One or more VGGish networks; FAD is computed in each and averaged."""

    name: str
    networks: list
    example_hop_s: float = 0.48
    device: str = "cpu"
    batch_size: int = 64
    peak_normalise: bool = True

    def embed(self, audio: np.ndarray) -> list[np.ndarray]:
        """(N, samples) 16 kHz clips (float, or int16 PCM) -> per network, (E, 128) embeddings of
        all their examples (the same number of examples per clip, clip by clip). Clips are
        converted and peak-normalised a batch at a time: a paper-scale set is 290 MB as int16 and
        each whole-set float32 copy would add 580 MB (issue 13)."""
        import torch

        from loopgen.models.vggish import log_mel_examples

        config = self.networks[0].config
        hop_frames = max(1, round(self.example_hop_s / config.hop_s))
        out = [[] for _ in self.networks]
        with torch.inference_mode():
            for start in range(0, len(audio), self.batch_size):
                batch = float_audio(audio[start : start + self.batch_size])
                if self.peak_normalise:
                    batch = peak_normalise(batch)
                clips = torch.from_numpy(batch).to(self.device)
                examples, _ = log_mel_examples(clips, config, hop_frames)
                for i, network in enumerate(self.networks):
                    out[i].append(network(examples).double().cpu().numpy())
        return [np.concatenate(chunks) if chunks else np.zeros((0, config.embedding_size)) for chunks in out]


def peak_normalise(audio: np.ndarray) -> np.ndarray:
    """x / max(0.1, max|x|) per clip (the paper's FAD code; a clip quieter than -20 dBFS peak is
    raised by at most 20 dB, so near-silence stays quiet)."""
    audio = np.asarray(audio, np.float32)
    peak = np.abs(audio).max(axis=-1, keepdims=True) if audio.size else np.ones((len(audio), 1), np.float32)
    return audio / np.maximum(0.1, peak)


def default_embedding(seeds=(0, 1, 2), example_hop_s: float = 0.48, device="cpu") -> Embedding:
    from loopgen.models.vggish import random_vggish

    seeds = tuple(int(s) for s in seeds)
    name = f"VGGish architecture, random weights (He-normal, seeds {','.join(map(str, seeds))}; FAD = mean over seeds)"
    return Embedding(name, [random_vggish(s, device) for s in seeds], example_hop_s, str(device))


def vggish_embedding(checkpoint: str, example_hop_s: float = 0.48, device="cpu") -> Embedding:
    from loopgen.models.vggish import load_vggish

    return Embedding(f"VGGish ({checkpoint})", [load_vggish(checkpoint, device)], example_hop_s, str(device))


@dataclass
class CdpamEmbedding:
    """CDPAM's trained encoder (weights shipped in the `cdpam` wheel; loopgen.models.cdpam), 512-d
    "acoustic" or "content" half per 1-s chunk at 22.05 kHz, as fadtk's cdpam-* FAD models. A bar
    (1.85 s) gives two chunks: its first and its last second (no zero padding)."""

    half: str = "acoustic"
    device: str = "cpu"
    batch_size: int = 8
    peak_normalise: bool = True
    sample_rate: int = 16000

    def __post_init__(self):
        from loopgen.models.cdpam import load_cdpam

        if self.half not in ("acoustic", "content"):
            raise ValueError(f"cdpam embedding half must be 'acoustic' or 'content', got {self.half!r}")
        self.encoder = load_cdpam(self.device)
        self.name = f"CDPAM {self.half} (trained weights of the cdpam 0.0.6 wheel; 2 x 1-s chunks a bar at 22.05 kHz)"

    def embed(self, audio: np.ndarray) -> list[np.ndarray]:
        acoustic, content = self.embed_halves(audio)
        return [acoustic if self.half == "acoustic" else content]

    def embed_halves(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, samples) float 16 kHz clips -> (acoustic, content) embeddings, each (2N, 512): one
        encoder pass gives both halves."""
        import torch
        from scipy.signal import resample_poly

        from loopgen.models.cdpam import SAMPLE_RATE

        audio = float_audio(audio)
        if self.peak_normalise:
            audio = peak_normalise(audio)
        audio = resample_poly(np.asarray(audio, np.float64), SAMPLE_RATE // 50, self.sample_rate // 50, axis=-1)
        if audio.shape[-1] < SAMPLE_RATE:
            audio = np.pad(audio, ((0, 0), (0, SAMPLE_RATE - audio.shape[-1])))
        chunks = np.stack([audio[:, :SAMPLE_RATE], audio[:, -SAMPLE_RATE:]], axis=1).reshape(-1, SAMPLE_RATE)
        acoustic, content = [], []
        with torch.inference_mode():
            for start in range(0, len(chunks), self.batch_size):
                x = torch.from_numpy((chunks[start : start + self.batch_size] * 32768.0).astype(np.float32)).to(
                    self.device
                )
                a, c = self.encoder(x)
                acoustic.append(a.double().cpu().numpy())
                content.append(c.double().cpu().numpy())
        if not acoustic:
            return np.zeros((0, 512)), np.zeros((0, 512))
        return np.concatenate(acoustic), np.concatenate(content)


EMBEDDINGS = ("vggish", "cdpam-acoustic", "cdpam-content")


def make_embedding(
    checkpoint: str | None, seeds, example_hop_s: float, device="cpu", peak_normalise: bool = True, kind: str = "vggish"
):
    """`kind` vggish: the user's VGGish when a checkpoint is given, else the named random-weights
    default; cdpam-acoustic / cdpam-content: CDPAM's trained encoder."""
    if kind not in EMBEDDINGS:
        raise ValueError(f"unknown FAD embedding {kind!r} (known: {', '.join(EMBEDDINGS)})")
    if kind.startswith("cdpam"):
        embedding = CdpamEmbedding(kind.split("-")[1], str(device), peak_normalise=peak_normalise)
    else:
        embedding = (
            vggish_embedding(checkpoint, example_hop_s, device)
            if checkpoint
            else default_embedding(seeds, example_hop_s, device)
        )
    embedding.peak_normalise = peak_normalise
    if not peak_normalise:
        embedding.name += ", no peak normalisation"
    return embedding


def bootstrap_interval(
    reference: list[np.ndarray],
    generated: list[np.ndarray],
    n_clips: int,
    n_gen: int,
    n_resamples: int,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """An interval around the FAD (mean over networks) as wide as the central `level` range of the
    FAD over bootstrap resamples of the clips (embeddings: per network, clip after clip, equally
    many examples each; sets of equal size are resampled together, since row i of each came from
    test bar i). Centred on the point estimate rather than the resamples' percentiles: a resample
    repeats clips, which shrinks the covariance and biases its FAD upward (on the demo the whole
    percentile range of Griffin-Lim lay above its FAD). NaNs without resamples."""
    if n_resamples <= 0 or n_clips < 2 or n_gen < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    per_clip_ref = [r.reshape(n_clips, -1, r.shape[-1]) for r in reference]
    per_clip_gen = [g.reshape(n_gen, -1, g.shape[-1]) for g in generated]
    values = []
    for _ in range(n_resamples):
        pick = rng.integers(0, n_clips, n_clips)
        pick_gen = pick if n_gen == n_clips else rng.integers(0, n_gen, n_gen)
        values.append(
            np.mean(
                [
                    fad_from_embeddings(r[pick].reshape(-1, r.shape[-1]), g[pick_gen].reshape(-1, g.shape[-1]))
                    for r, g in zip(per_clip_ref, per_clip_gen)
                ]
            )
        )
    tail = (1 - level) / 2 * 100
    half_width = (np.percentile(values, 100 - tail) - np.percentile(values, tail)) / 2
    point = np.mean([fad_from_embeddings(r, g) for r, g in zip(reference, generated)])
    return float(point - half_width), float(point + half_width)


def fad_sets(
    embedding: Embedding, reference: np.ndarray, sets: dict[str, np.ndarray], bootstrap: int = 0, seed: int = 0
) -> list[dict]:
    """FAD of each named set against `reference` (all (N, samples) clips, float or int16 PCM): rows with the
    mean and spread over the embedding's networks, a `bootstrap`-resample 95% interval over the
    clips, and the embedding's name."""
    reference_embeddings = embedding.embed(reference)
    rows = []
    for set_name, audio in sets.items():
        embeddings = embedding.embed(audio)
        per_network = [fad_from_embeddings(r, e) for r, e in zip(reference_embeddings, embeddings)]
        low, high = bootstrap_interval(reference_embeddings, embeddings, len(reference), len(audio), bootstrap, seed)
        rows.append(
            {
                "set": set_name,
                "fad": float(np.mean(per_network)),
                "fad_std": float(np.std(per_network)),
                "fad_low": low,
                "fad_high": high,
                "n_clips": int(len(audio)),
                "embedding": embedding.name,
            }
        )
    return rows


def reference_sets(
    audio: np.ndarray, seed: int = 0, cutoff_hz: float = 1000.0, rows: int = 256
) -> dict[str, np.ndarray]:
    """What a bad FAD looks like (silence has none: its covariance is zero): white noise at each
    real bar's RMS, and the real bars low-passed at 1 kHz (`audio`: float clips or int16 PCM).

    Made `rows` clips at a time into float32 arrays: the float64 noise and filter work then stay a
    few MB instead of 4 x the set (5 GB at paper scale); the noise is the same stream of draws."""
    rng = np.random.default_rng(seed)
    noise = np.empty(audio.shape, np.float32)
    low = np.empty(audio.shape, np.float32)
    for start in range(0, len(audio), rows):
        part = float_audio(audio[start : start + rows])
        rms = np.sqrt(np.mean(np.square(part, dtype=np.float64), axis=-1, keepdims=True))
        noise[start : start + rows] = rng.standard_normal(part.shape) * rms
        low[start : start + rows] = band_limit(part, cutoff_hz)
    return {"white noise at the real bars' RMS": noise, f"real bars low-passed at {cutoff_hz:g} Hz": low}


# ---------------------------------------------------------------------------------------------------
# Does the embedding rank degradations? (run on the real test set by evaluate_loopnet)
# ---------------------------------------------------------------------------------------------------
def add_noise(audio: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """White noise at `snr_db` below each clip's power. (Beyond ~10 dB SNR the noise hides the
    drums' quiet parts entirely and FAD saturates, so the check stops at 10 dB.)"""
    rng = np.random.default_rng(seed)
    power = np.mean(np.square(audio, dtype=np.float64), axis=-1, keepdims=True)
    noise = rng.standard_normal(audio.shape) * np.sqrt(power / 10 ** (snr_db / 10))
    return (audio + noise).astype(np.float32)


def band_limit(audio: np.ndarray, cutoff_hz: float, sample_rate: int = 16000) -> np.ndarray:
    """8th-order Butterworth low-pass at `cutoff_hz` (zero phase)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(8, cutoff_hz, "lowpass", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, audio, axis=-1).astype(np.float32)


def degradations(
    audio: np.ndarray, snrs_db=(40, 30, 20, 10), cutoffs_hz=(4000, 2000, 1000, 500)
) -> dict[str, np.ndarray]:
    """Degraded copies of `audio`, each list from mild to severe."""
    sets = {f"noise {snr} dB SNR": add_noise(audio, snr) for snr in snrs_db}
    sets.update({f"low-pass {cutoff} Hz": band_limit(audio, cutoff) for cutoff in cutoffs_hz})
    return sets


def degradation_check(
    embedding: Embedding, reference: np.ndarray, audio: np.ndarray, **levels
) -> tuple[list[dict], bool]:
    """FAD of `audio` degraded at rising severity against `reference`; True when both the noise
    series and the band-limit series rise strictly with severity."""
    sets = degradations(audio, **levels)
    rows = fad_sets(embedding, reference, sets)
    by_kind = {}
    for row in rows:
        by_kind.setdefault(row["set"].split()[0], []).append(row["fad"])
    monotonic = all(all(b > a for a, b in zip(values, values[1:])) for values in by_kind.values())
    return rows, monotonic
