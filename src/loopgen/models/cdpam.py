"""CDPAM's audio encoder (Manocha et al., ICASSP 2021), as an FAD embedding that needs no download.

The `cdpam` wheel on PyPI (0.0.6, MIT) ships its trained weights
(cdpam/CDPAM_trained/scratchJNDdefault_best_model.pth, 106 MB); fadtk offers the same encoder as
the FAD models "cdpam-acoustic" / "cdpam-content". Only the encoder is used here, re-implemented
below (the package itself imports librosa and resampy at import time, and its loader unpickles
without restrictions), so the package is only the weights' carrier: it is located, never imported.

Encoder: 16 Conv1d (kernel 15, 'same' padding), each followed by BatchNorm and LeakyReLU(0.1);
64 filters, doubled after every 4th layer, which also decimates by 2; then the mean over time,
split into an "acoustic" and a "content" half (512 each). Input: 22.05 kHz audio at int16 scale.

The checkpoint is a legacy (pre-zip) torch pickle written by Python 2-era code: it holds only an
OrderedDict of tensors, but its integer opcodes (INT) are refused by torch's weights_only reader
(torch 2.13: "Unsupported operand 73"). It is read with an unpickler that allows exactly the four
globals such a file needs (OrderedDict, torch's tensor rebuild, Float/LongStorage) and refuses any
other, which gives weights_only's guarantee (no code runs while loading).
"""

from __future__ import annotations

import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

SAMPLE_RATE = 22050
WEIGHTS = "CDPAM_trained/scratchJNDdefault_best_model.pth"


@dataclass
class CdpamConfig:
    n_layers: int = 16
    base_filters: int = 64
    kernel_size: int = 15
    double_every: int = 4  # filters double, and the time axis is decimated by 2, after every 4th layer
    negative_slope: float = 0.1


class CdpamEncoder(nn.Module):
    def __init__(self, config: CdpamConfig | None = None):
        super().__init__()
        self.config = config = config or CdpamConfig()
        self.encoder, self.ebatch = nn.ModuleList(), nn.ModuleList()  # the checkpoint's names
        channels_in, channels = 1, config.base_filters
        for layer in range(config.n_layers):
            if (layer + 1) % config.double_every == 0:
                channels *= 2
            self.encoder.append(nn.Conv1d(channels_in, channels, config.kernel_size, padding=config.kernel_size // 2))
            self.ebatch.append(nn.BatchNorm1d(channels))
            channels_in = channels

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, samples) at 22.05 kHz, int16 scale -> (acoustic, content), each (B, 512), L2-normalised."""
        x = audio[:, None]
        for layer, (conv, norm) in enumerate(zip(self.encoder, self.ebatch)):
            x = F.leaky_relu(norm(conv(x)), self.config.negative_slope)
            if (layer + 1) % self.config.double_every == 0:
                x = x[:, :, ::2]
        acoustic, content = x.mean(dim=-1).chunk(2, dim=1)
        return F.normalize(acoustic, dim=1), F.normalize(content, dim=1)


class _TensorsOnly(pickle.Unpickler):
    ALLOWED = {
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch", "FloatStorage"),
        ("torch", "LongStorage"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CDPAM checkpoint")
        return super().find_class(module, name)


class _TensorsOnlyPickle:
    """A pickle module for torch.load whose Unpickler refuses all but the four globals above."""

    Unpickler = _TensorsOnly
    load = staticmethod(lambda f, **kw: _TensorsOnly(f, **kw).load())
    __name__ = "tensors_only_pickle"


def weights_path() -> Path:
    """The weights inside the installed `cdpam` wheel (located, not imported)."""
    spec = importlib.util.find_spec("cdpam")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the FAD embedding 'cdpam-*' needs the cdpam wheel: pip install --no-deps cdpam==0.0.6")
    path = Path(spec.origin).parent / WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the installed cdpam package")
    return path


def load_cdpam(device="cpu", path=None) -> CdpamEncoder:
    path = Path(path) if path else weights_path()
    state = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_TensorsOnlyPickle)["state"]
    prefix = "base_encoder."
    encoder = CdpamEncoder()
    encoder.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
    return encoder.to(device).eval()
