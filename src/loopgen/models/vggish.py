"""VGGish (Hershey et al. 2017), the embedding of the Fréchet Audio Distance (SPEC §7).

The architecture and the log-mel front end follow the AudioSet release (vggish_params,
mel_features): 16 kHz audio, 25 ms Hann windows every 10 ms (512-point FFT), 64 HTK-mel bands
from 125 to 7500 Hz, log(mel + 0.01), examples of 96 frames (0.96 s). The embedding is the 128-d
output of the last fully connected layer, before its ReLU (what FAD uses; no PCA).

Weights cannot be downloaded here, so `load_vggish` takes a user-supplied checkpoint: a PyTorch
state dict with the key layout of the common PyTorch port of VGGish ("torchvggish":
features.N.weight/bias, embeddings.N.weight/bias), whose flatten order (channels last, as in
TensorFlow) this module reproduces. Without a checkpoint, evaluation uses the same architecture
with random weights (`random_vggish`), see loopgen.evaluation.fad.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class VGGishConfig:
    sample_rate: int = 16000
    window_s: float = 0.025
    hop_s: float = 0.010
    n_mels: int = 64
    fmin: float = 125.0
    fmax: float = 7500.0
    log_offset: float = 0.01
    example_frames: int = 96  # 0.96 s
    embedding_size: int = 128

    @property
    def window(self) -> int:
        return round(self.sample_rate * self.window_s)

    @property
    def hop(self) -> int:
        return round(self.sample_rate * self.hop_s)

    @property
    def n_fft(self) -> int:
        return 2 ** math.ceil(math.log2(self.window))


def _hz_to_mel(hz):
    """HTK mel scale, as in the AudioSet mel_features."""
    return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_matrix(config: VGGishConfig) -> np.ndarray:
    """(n_fft//2 + 1, n_mels) triangular weights, built in the mel domain like mel_features
    (band edges evenly spaced in mel; the DC bin gets no weight)."""
    n_bins = config.n_fft // 2 + 1
    bin_mel = _hz_to_mel(np.linspace(0.0, config.sample_rate / 2, n_bins))
    edges = np.linspace(_hz_to_mel(config.fmin), _hz_to_mel(config.fmax), config.n_mels + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bin_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights.astype(np.float32)


def log_mel_examples(
    audio: torch.Tensor, config: VGGishConfig, example_hop_frames: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, samples) 16 kHz audio -> (examples (E, 1, 96, 64), owner (E,) index of the clip).

    Frames are not centred (as in mel_features.stft_magnitude); examples start every
    `example_hop_frames` frames while a whole example fits. A clip shorter than one example is
    zero-padded to one."""
    need = config.window + (config.example_frames - 1) * config.hop
    if audio.shape[-1] < need:
        audio = torch.nn.functional.pad(audio, (0, need - audio.shape[-1]))
    frames = audio.unfold(-1, config.window, config.hop)  # (B, T, window)
    window = torch.hann_window(config.window, periodic=True, dtype=audio.dtype, device=audio.device)
    spectrum = torch.fft.rfft(frames * window, n=config.n_fft).abs()
    mel = spectrum @ torch.from_numpy(mel_matrix(config)).to(audio.device, audio.dtype)
    log_mel = torch.log(mel + config.log_offset)  # (B, T, 64)
    examples = log_mel.unfold(1, config.example_frames, example_hop_frames)  # (B, E, 64, 96)
    n_clips, n_examples = examples.shape[:2]
    examples = examples.transpose(2, 3).reshape(n_clips * n_examples, 1, config.example_frames, config.n_mels)
    owner = torch.arange(n_clips, device=audio.device).repeat_interleave(n_examples)
    return examples, owner


class VGGish(nn.Module):
    def __init__(self, config: VGGishConfig | None = None):
        super().__init__()
        self.config = config or VGGishConfig()
        layers, channels = [], 1
        for width in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if width == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
                channels = width
        self.features = nn.Sequential(*layers)
        flat = 512 * (self.config.example_frames // 16) * (self.config.n_mels // 16)
        self.embeddings = nn.Sequential(
            nn.Linear(flat, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, self.config.embedding_size),  # the embedding: before the last ReLU
        )

    def forward(self, examples: torch.Tensor) -> torch.Tensor:
        """(E, 1, 96, 64) log-mel examples -> (E, 128) embeddings."""
        x = self.features(examples)
        # Flatten channels-last (E, 6, 4, 512), the order of the TensorFlow original and its ports.
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.embeddings(x)


def _uninitialised() -> VGGish:
    """VGGish without torch's default initialisation (its weights are about to be replaced; the
    default init of the 50M-weight first linear layer costs more than a forward pass)."""
    with torch.device("meta"):
        return VGGish()


def load_vggish(checkpoint: str, device="cpu") -> VGGish:
    """VGGish with the weights of a user-supplied state dict (torchvggish key layout)."""
    model = _uninitialised()
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    # Ports sometimes keep the PCA post-processing parameters beside the network: not used by FAD.
    state = {k: v for k, v in state.items() if not k.startswith("pproc")}
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if missing or unexpected:
        raise ValueError(
            f"{checkpoint}: not a VGGish state dict (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    return model.to(device).eval()


def random_vggish(seed: int, device="cpu") -> VGGish:
    """VGGish with random, never trained weights: He-normal convolutions and linear layers (so
    activations keep their scale through the depth), zero biases, drawn from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    model = _uninitialised().to_empty(device="cpu")
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)
                module.bias.zero_()
    return model.to(device).eval()
