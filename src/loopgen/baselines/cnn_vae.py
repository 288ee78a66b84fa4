"""Training and sampling of the CNN-VAE baseline (loopgen.models.cnn_vae; S appendix A.1).

As released: AdamW with the cosine schedule 1e-3 -> 5e-6 (symbolic's epoch loop), KL weight
beta = 1 - 0.9^epoch, the kept model is the epoch with the lowest validation Hamming error (the
released code logs Hamming as its "loss"). Validation also reports the negative ELBO per cell
(beta = 1), a bound on the model's BCE, beside the trivial column-density model's BCE.
Reconstruction (table 1) decodes z = mu.
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
from loopgen.models.cnn_vae import CNNVAE, CNNVAEConfig, kl_divergence
from loopgen.roll import PACKED_BYTES, as_packed_array
from loopgen.sampling import pack_active, unpack_batch
from loopgen.symbolic.trainer import EpochTrainer, run_fingerprint, settings_from
from loopgen.symbolic.vqvae_training import column_density, hamming
from loopgen.training import load_model, seed_everything

log = logging.getLogger("loopgen.baselines.cnn_vae")

PANELS = {
    "loss per cell": ["train_bce", "train_kl", "val_nelbo", "val_bce", "trivial_bce"],
    "Hamming error": ["train_hamming", "val_hamming", "zeros_hamming"],
    "KL weight": ["beta"],
}


def kl_weight(epoch: int, rate: float = 0.9) -> float:
    """The released kl_annealing(epoch, 0, 1, rate): 0 at epoch 0, -> 1."""
    return 1.0 - rate**epoch


class CNNVAETrainer(EpochTrainer):
    name = "cnn_vae"
    best_key = "val_hamming"  # the kept epoch

    def __init__(self, model, settings, train_packed, val_packed, checkpoint_dir, fingerprint, device):
        super().__init__(model, settings, len(train_packed), checkpoint_dir, fingerprint)
        self.train_packed = torch.from_numpy(train_packed).to(device)
        self.val_packed = torch.from_numpy(val_packed).to(device)
        self.trivial = trivial_bce(train_packed, val_packed) if len(val_packed) else float("nan")
        self.beta = 0.0

    def _train_epoch(self, epoch: int) -> dict:
        self.beta = kl_weight(epoch)
        return {**super()._train_epoch(epoch), "beta": self.beta}

    def train_step(self, index) -> dict:
        x = unpack_batch(self.train_packed[index.to(self.train_packed.device)])
        loss, parts = self.model.loss(x, self.beta)
        self.step(loss)
        return {
            "train_loss": loss.item(),
            "train_bce": parts["bce"].item(),
            "train_kl": parts["kl"].item(),
            "train_hamming": hamming(parts["logits"], x),
        }

    @torch.no_grad()
    def validate(self) -> dict:
        if len(self.val_packed) == 0:
            return {}
        sums = {"val_nelbo": 0.0, "val_bce": 0.0, "val_hamming": 0.0, "zeros_hamming": 0.0}
        for start in range(0, len(self.val_packed), self.settings.batch_size):
            x = unpack_batch(self.val_packed[start : start + self.settings.batch_size])
            logits, mu, std = self.model(x)  # one z sample: the ELBO estimate
            bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum").item()
            sums["val_nelbo"] += (bce + kl_divergence(mu, std).item()) / x[0].numel()
            sums["val_bce"] += bce / x[0].numel()
            sums["val_hamming"] += hamming(self.model.decode(mu), x) * len(x)
            sums["zeros_hamming"] += x.mean().item() * len(x)
        return {**{k: v / len(self.val_packed) for k, v in sums.items()}, "trivial_bce": self.trivial}


def train(
    loops: symbolic.LoopSet, section: dict, split: dict, seed: int, checkpoint_dir, device="cpu", run_key: str = ""
) -> TrainedBaseline:
    """Train on the VQ-VAE's training songs; returns the best-validation-epoch model."""
    config, settings = settings_from(section, CNNVAEConfig, seed, **split)
    is_val = split_loops(loops, settings.val_fraction, settings.split_by, seed)
    log.info("CNN-VAE: %d training loops, %d validation loops", (~is_val).sum(), is_val.sum())
    seed_everything(settings.seed)
    model = CNNVAE(config).to(device)
    model.init_output_bias(column_density(loops.packed[~is_val]).to(device))
    fingerprint = run_fingerprint([loops.packed, is_val], config, settings, run_key=run_key)
    trainer = CNNVAETrainer(
        model, settings, loops.packed[~is_val], loops.packed[is_val], checkpoint_dir, fingerprint, device
    )
    history = trainer.run()
    kept = best_row(history, trainer.selection.get("epoch"))
    return TrainedBaseline(
        model.cpu().eval(),
        history,
        {
            **split_metadata(settings, is_val, trainer.selection.get("epoch"), trainer.selection),
            **{key: kept.get(key) for key in ("val_hamming", "val_nelbo", "trivial_bce")},
        },
    )


class Sampler:
    """z ~ N(0, I) through the decoder; a cell is on when sigmoid >= 0.5."""

    def __init__(self, model: CNNVAE):
        self.model = model

    @classmethod
    def load(cls, model_dir, device="cpu") -> Sampler:
        model, _config, _meta = load_model(model_dir, CNNVAE, CNNVAEConfig, device=device)
        return cls(model)

    @torch.inference_mode()
    def draw(self, n: int, generator: torch.Generator) -> np.ndarray:
        device = next(self.model.parameters()).device
        z = torch.randn(n, self.model.config.latent_dim, generator=generator, device=device)
        return pack_active(self.model.decode(z)).cpu().numpy()


@torch.inference_mode()
def reconstruction_error(model_dir, packed, device="cpu", batch_size: int = 1024) -> float:
    """Mean Hamming distance between rolls and their reconstructions decoded from z = mu (table 1)."""
    model = Sampler.load(model_dir, device).model
    packed = as_packed_array(packed)
    if len(packed) == 0:
        raise ValueError("reconstruction_error: no rolls given")
    wrong = 0
    for start in range(0, len(packed), batch_size):
        x = unpack_batch(torch.from_numpy(np.ascontiguousarray(packed[start : start + batch_size])).to(device))
        wrong += ((model.decode(model.encode(x)[0]) >= 0) != (x >= 0.5)).sum().item()
    return wrong / (len(packed) * PACKED_BYTES * 8)
