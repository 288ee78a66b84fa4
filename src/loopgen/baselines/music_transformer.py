"""Training and sampling of the Music Transformer baseline (loopgen.models.music_transformer; S appendix A.2).

Teacher forcing with per-cell BCE (frames 1..127 from the frames before), AdamW with the cosine
schedule 1e-3 -> 5e-6 (symbolic's epoch loop), best validation-BCE epoch kept. Sampling: the first
frame is drawn from the training loops' first frames (their empirical distribution, saved in
model.json), then each next frame column by column ~ Bernoulli(sigmoid(logit)).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from loopgen import symbolic
from loopgen.baselines.common import (
    TrainedBaseline,
    best_row,
    split_loops,
    split_metadata,
    trivial_bce,
)
from loopgen.models.music_transformer import MusicTransformer, MusicTransformerConfig
from loopgen.roll import N_COLS, pack_rolls
from loopgen.sampling import unpack_batch
from loopgen.symbolic.trainer import EpochTrainer, run_fingerprint, settings_from
from loopgen.symbolic.vqvae_training import column_density
from loopgen.training import load_model, seed_everything

log = logging.getLogger("loopgen.baselines.music_transformer")

PANELS = {"BCE per cell": ["train_loss", "val_loss", "trivial_bce"]}


def as_frames(packed: torch.Tensor) -> torch.Tensor:
    """Packed rolls (B, 912) -> float frames (B, 128, 57)."""
    return unpack_batch(packed).transpose(1, 2)


class MusicTransformerTrainer(EpochTrainer):
    name = "music_transformer"
    best_key = "val_loss"  # the kept epoch

    def __init__(self, model, settings, train_packed, val_packed, checkpoint_dir, fingerprint, device):
        super().__init__(model, settings, len(train_packed), checkpoint_dir, fingerprint)
        self.train_packed = torch.from_numpy(train_packed).to(device)
        self.val_packed = torch.from_numpy(val_packed).to(device)
        self.trivial = trivial_bce(train_packed, val_packed) if len(val_packed) else float("nan")

    def train_step(self, index) -> dict:
        logits, target = self.model.teacher_forcing(as_frames(self.train_packed[index.to(self.train_packed.device)]))
        loss = F.binary_cross_entropy_with_logits(logits, target)
        self.step(loss)
        return {"train_loss": loss.item()}

    @torch.no_grad()
    def validate(self) -> dict:
        if len(self.val_packed) == 0:
            return {}
        total = 0.0
        for start in range(0, len(self.val_packed), self.settings.batch_size):
            logits, target = self.model.teacher_forcing(
                as_frames(self.val_packed[start : start + self.settings.batch_size])
            )
            total += F.binary_cross_entropy_with_logits(logits, target, reduction="sum").item()
        cells = len(self.val_packed) * (self.model.config.max_len - 1) * N_COLS
        return {"val_loss": total / cells, "trivial_bce": self.trivial}


def first_frames(packed: np.ndarray) -> tuple[list[list[int]], list[int]]:
    """The distinct first frames of the loops (as lists of active columns) and how often each occurs."""
    # The first frame is the first 57 bits of a packed roll: unpack 8 bytes, not the whole roll.
    frames = np.unpackbits(np.ascontiguousarray(packed[:, :8]), axis=1)[:, :N_COLS].astype(bool)
    distinct, counts = np.unique(frames, axis=0, return_counts=True)
    return [np.flatnonzero(f).tolist() for f in distinct], counts.tolist()


def train(
    loops: symbolic.LoopSet, section: dict, split: dict, seed: int, checkpoint_dir, device="cpu", run_key: str = ""
) -> TrainedBaseline:
    config, settings = settings_from(section, MusicTransformerConfig, seed, **split)
    if config.max_len != 128:
        raise ValueError(f"music_transformer.max_len must be the 128 steps of a loop, got {config.max_len}")
    is_val = split_loops(loops, settings.val_fraction, settings.split_by, seed)
    log.info("Music Transformer: %d training loops, %d validation loops", (~is_val).sum(), is_val.sum())
    seed_everything(settings.seed)
    model = MusicTransformer(config).to(device)
    model.init_output_bias(column_density(loops.packed[~is_val]).to(device))
    fingerprint = run_fingerprint([loops.packed, is_val], config, settings, run_key=run_key)
    trainer = MusicTransformerTrainer(
        model, settings, loops.packed[~is_val], loops.packed[is_val], checkpoint_dir, fingerprint, device
    )
    history = trainer.run()
    frames, counts = first_frames(loops.packed[~is_val])
    kept = best_row(history, trainer.selection.get("epoch"))
    return TrainedBaseline(
        model.cpu().eval(),
        history,
        {
            **split_metadata(settings, is_val, trainer.selection.get("epoch"), trainer.selection),
            "val_loss": kept.get("val_loss"),
            "trivial_bce": kept.get("trivial_bce"),
            "first_frames": frames,
            "first_frame_counts": counts,
        },
    )


class Sampler:
    def __init__(self, model: MusicTransformer, frames: torch.Tensor, probs: torch.Tensor):
        self.model, self.frames, self.probs = model, frames, probs

    @classmethod
    def load(cls, model_dir, device="cpu") -> Sampler:
        model, _config, meta = load_model(model_dir, MusicTransformer, MusicTransformerConfig, device=device)
        frames = torch.zeros(len(meta["first_frames"]), model.config.n_cols, device=device)
        for row, active in enumerate(meta["first_frames"]):
            frames[row, active] = 1.0
        counts = torch.tensor(meta["first_frame_counts"], dtype=torch.float32, device=device)
        return cls(model, frames, counts / counts.sum())

    @torch.inference_mode()
    def draw(self, n: int, generator: torch.Generator) -> np.ndarray:
        steps = self.model.config.max_len
        rolls = torch.empty(n, steps, self.model.config.n_cols, device=self.frames.device)
        rolls[:, 0] = self.frames[torch.multinomial(self.probs, n, replacement=True, generator=generator)]
        caches = [{} for _ in self.model.blocks]
        for t in range(1, steps):
            p = torch.sigmoid(self.model.step(rolls[:, t - 1], caches))
            rolls[:, t] = (torch.rand(p.shape, generator=generator, device=p.device) < p).float()
        return pack_rolls(rolls.bool().cpu().numpy())
