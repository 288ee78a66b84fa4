"""What every trained model shares: device choice, seeding, the cosine schedule, resumable
checkpoints and the model contract of DESIGN.md (state dict + JSON of hyper-parameters).

Models themselves live one per file in loopgen.models; their training loops use these helpers.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import random
from pathlib import Path

import numpy as np
import torch

from loopgen.tables import temporary_path


def pick_device(preference: str = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU. Asking for 'cuda' without one is an error."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was asked for, but no CUDA device is available (use auto or cpu)")
    return torch.device(preference)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch generator for data order."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def cosine_lr(step: int, total_steps: int, lr_max: float, lr_min: float) -> float:
    """Cosine decay from lr_max at step 0 to lr_min at total_steps."""
    progress = min(step / max(total_steps, 1), 1.0)
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * progress))


def _atomic_torch_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    torch.save(obj, tmp)
    os.replace(tmp, path)


class CheckpointError(RuntimeError):
    """A checkpoint file that is refused; the message is one line a person can act on."""


class Checkpoint:
    """A resumable training state in a folder that is NOT a Snakemake output (Snakemake deletes
    outputs before a rerun, which would throw the progress away).

    state is a dict of state_dicts (model, optimiser, ...) plus plain values (epoch, history, RNG
    from `rng_state`): tensors, numbers, strings, None and lists/tuples/dicts of them. It is loaded
    with weights_only=True, so a file someone else put in the folder cannot run code when read;
    numpy values are stored as tensors or Python numbers for that reason (`save` converts them).
    """

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / "checkpoint.pt"

    def load(self) -> dict | None:
        if not self.path.exists():
            return None
        try:
            return torch.load(self.path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            # torch's message is a page of advice on turning the protection off; keep its first line.
            reason = str(error).strip().splitlines()[0]
            raise CheckpointError(
                f"{self.path}: refused to load: it holds pickled objects other than tensors and plain values "
                f"({reason}); it was not written by this version of loopgen or was tampered with; delete it to train from scratch"
            ) from None

    def save(self, state: dict) -> None:
        _atomic_torch_save(_plain(state), self.path)


# What torch.load(weights_only=True) reads back, besides containers and numpy (converted by _plain).
_PLAIN_TYPES = (torch.Tensor, str, bytes, int, float, complex, bool, type(None), torch.Size, torch.dtype, torch.device)


def _plain(value, where: str = "state"):
    """`value` with numpy arrays as tensors and numpy scalars as Python numbers, so that
    torch.load(weights_only=True) reads it back; anything else is a TypeError naming where it is
    (found when saving, not when a resumed run refuses the file). Dicts keep their type and
    state-dict `_metadata`."""
    if isinstance(value, dict):
        plain = type(value)((key, _plain(item, f"{where}[{key!r}]")) for key, item in value.items())
        if hasattr(value, "_metadata"):
            plain._metadata = value._metadata
        return plain
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(_plain(item, f"{where}[{i}]") for i, item in enumerate(value))
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if not isinstance(value, _PLAIN_TYPES):
        raise TypeError(
            f"checkpoint {where}: a {type(value).__name__} is not a tensor or plain value "
            "(a checkpoint is read with weights_only=True; store its fields instead)"
        )
    return value


def rng_state() -> dict:
    """Every RNG a training loop draws from, so a resumed run continues the same random stream.

    Tensors and plain values only (a Checkpoint is read with weights_only=True): numpy's
    Mersenne-Twister key becomes an int64 tensor beside its position and cached Gaussian."""
    algorithm, key, pos, has_gauss, cached_gaussian = np.random.get_state()
    numpy_state = {
        "algorithm": algorithm,
        "key": torch.from_numpy(key.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached_gaussian),
    }
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["algorithm"],
            numpy_state["key"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_model(folder: str | os.PathLike, model: torch.nn.Module, hparams, extras: dict | None = None) -> None:
    """DESIGN.md model contract: <folder>/model.pt (plain state dict, loadable with weights_only=True)
    and <folder>/model.json (hyper-parameters dataclass + extras such as normalisers or thresholds)."""
    folder = Path(folder)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_torch_save(state, folder / "model.pt")
    meta = {"hparams": dataclasses.asdict(hparams), **(extras or {})}
    tmp = temporary_path(folder / "model.json")
    tmp.write_text(json.dumps(meta, indent=2, default=_jsonable))
    os.replace(tmp, folder / "model.json")


def load_model(folder: str | os.PathLike, model_class, hparams_class, device="cpu"):
    """Inverse of save_model: returns (model in eval mode, hparams, extras)."""
    folder = Path(folder)
    meta = json.loads((folder / "model.json").read_text())
    hparams = hparams_class(**meta.pop("hparams"))
    model = model_class(hparams)
    model.load_state_dict(torch.load(folder / "model.pt", map_location=device, weights_only=True))
    return model.to(device).eval(), hparams, meta


def _jsonable(value):
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")
