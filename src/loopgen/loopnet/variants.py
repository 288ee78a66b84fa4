"""LoopNet's constants, the `loopnet:` config defaults, and how the five variants differ
(head, envelope input, loss) (SPEC §6)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

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
    "waveform_weight": 1.0,
    "spectral_weight": 1.0,
    "log_spectral_weight": 0.0,
    "norm": "batch",
    "gate_loss_ratio": 0.8,
    "gate_rms_db": 6.0,
}


# The settings a checkpoint depends on (resume only when they are unchanged).
TRAINING_KEYS = (
    "batch_size",
    "lr",
    "base_filters",
    "wavspec_fft",
    "wavspec_hop",
    "multi_fft",
    "multi_hop_fraction",
    "stft_n_fft",
    "stft_hop",
    "probe_segments",
    "waveform_weight",
    "spectral_weight",
    "log_spectral_weight",
    "norm",
)


def settings(section: dict | None) -> dict:
    """The config section with defaults filled in (the workflow validates; library callers may not)."""
    return {**DEFAULTS, **(section or {})}


# ---------------------------------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LossSpec:
    """What a variant is trained on. Resolutions are (n_fft, hop) pairs of the spectral L1 terms;
    the weights are the config's (paper: 1 and 1, no log term)."""

    waveform_l1: bool = True
    resolutions: tuple[tuple[int, int], ...] = ()
    log_magnitude: tuple[int, int] | None = None  # STFT head: L1 on log1p|STFT| at (n_fft, hop)
    waveform_weight: float = 1.0
    spectral_weight: float = 1.0
    log_spectral_weight: float = 0.0  # DDSP's log-magnitude L1 over the same resolutions


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
        norm=s["norm"],
    )
    weights = {key: float(s[key]) for key in ("waveform_weight", "spectral_weight", "log_spectral_weight")}
    losses = {
        "WAV": LossSpec(**weights),
        "WAVSPEC": LossSpec(resolutions=((s["wavspec_fft"], s["wavspec_hop"]),), **weights),
        "MULTI": LossSpec(resolutions=multi, **weights),
        "MULTI_NOENV": LossSpec(resolutions=multi, **weights),
        "STFT": LossSpec(waveform_l1=False, log_magnitude=(s["stft_n_fft"], s["stft_hop"])),
    }
    return config, losses[variant]
