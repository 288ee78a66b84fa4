"""Training the VQ-VAE on the loop set, encoding loops to codes, and its reconstruction error
(paper table 1)."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import torch
import torch.nn.functional as F

from loopgen.models.vqvae import VQVAE, VQVAEConfig
from loopgen.roll import PACKED_BYTES
from loopgen.sampling import unpack_batch
from loopgen.symbolic.data import LoopSet
from loopgen.symbolic.splits import VQVAE_SPLIT_SALT, split_mask
from loopgen.symbolic.trainer import EpochTrainer, TrainSettings, run_fingerprint
from loopgen.training import load_model, save_model, seed_everything

log = logging.getLogger("loopgen.symbolic")


class _VQVAETrainer(EpochTrainer):
    name = "vqvae"
    best_key = "val_hamming"  # the released checkpoint's monitor: validation Hamming error

    def __init__(self, model: VQVAE, settings, train_packed, val_packed, checkpoint_dir, fingerprint, device):
        super().__init__(model, settings, len(train_packed), checkpoint_dir, fingerprint)
        self.train_packed = torch.from_numpy(train_packed).to(device)
        self.val_packed = torch.from_numpy(val_packed).to(device)
        self.code_counts = torch.zeros(model.config.codebook_size, device=device)

    def train_step(self, index) -> dict:
        x = unpack_batch(self.train_packed[index.to(self.train_packed.device)])
        with self.autocast():
            loss, parts = self.model.loss(x)
        self.step(loss)
        self.code_counts += torch.bincount(parts["codes"].flatten(), minlength=len(self.code_counts))
        # Tensors, not .item(): summed on the device and read once an epoch (no GPU sync a step).
        return {
            "train_loss": loss.detach(),
            "train_bce": parts["bce"].detach(),
            "train_hamming": ((parts["logits"] >= 0) != (x >= 0.5)).float().mean(),
        }

    @torch.no_grad()
    def validate(self) -> dict:
        if len(self.val_packed) == 0:
            return {}
        totals = {"val_bce": 0.0, "val_hamming": 0.0, "zeros_hamming": 0.0}
        for start in range(0, len(self.val_packed), self.settings.batch_size):
            x = unpack_batch(self.val_packed[start : start + self.settings.batch_size])
            logits, _codes, _commitment = self.model(x)
            totals["val_bce"] += F.binary_cross_entropy_with_logits(logits, x).item() * len(x)
            totals["val_hamming"] += hamming(logits, x) * len(x)
            totals["zeros_hamming"] += x.mean().item() * len(x)  # an all-zeros prediction errs on every active cell
        return {k: v / len(self.val_packed) for k, v in totals.items()}

    def batchnorm_batches(self):
        for start in range(0, len(self.train_packed), self.settings.batch_size):
            yield unpack_batch(self.train_packed[start : start + self.settings.batch_size])

    def epoch_extras(self) -> dict:
        counts, self.code_counts = self.code_counts, torch.zeros_like(self.code_counts)
        return {
            "perplexity": codebook_perplexity(counts),
            "unused_codes": int((counts == 0).sum()),
            "dead_codes": int(self.model.codebook.last_restarts),
        }


def column_density(packed: np.ndarray, max_rows: int = 20000) -> torch.Tensor:
    """Fraction of active cells per roll column (57,), from at most `max_rows` rolls."""
    x = unpack_batch(torch.from_numpy(np.ascontiguousarray(packed[:max_rows])))
    return x.mean(dim=(0, 2))


def hamming(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of cells where the decoded roll (logit >= 0) differs from the target."""
    return ((logits >= 0) != (target >= 0.5)).float().mean().item()


def codebook_perplexity(counts: torch.Tensor) -> float:
    """exp(entropy) of code usage: K when every code is used equally, 1 when one code is used."""
    p = counts.float() / counts.sum().clamp_min(1)
    return float(torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()))


def train_vqvae(
    loops: LoopSet,
    config: VQVAEConfig,
    settings: TrainSettings,
    checkpoint_dir,
    device="cpu",
    run_key: str = "",
    precision: str = "fp32",
) -> tuple[VQVAE, list[dict], np.ndarray, dict]:
    """Train on the loop set; returns (the kept model on CPU in eval mode, history, validation
    mask, selection: which epoch (or the SWA average) was kept and why)."""
    is_val = split_mask(loops.file_id, settings, VQVAE_SPLIT_SALT)
    if (~is_val).sum() < 2:
        raise ValueError(f"need at least 2 training loops, got {(~is_val).sum()} (of {len(loops)} loops)")
    log.info(
        "VQ-VAE: %d training loops, %d validation loops (split by %s)", (~is_val).sum(), is_val.sum(), settings.split_by
    )
    seed_everything(settings.seed)
    model = VQVAE(config).to(device)
    model.init_output_bias(column_density(loops.packed[~is_val]).to(device))
    fingerprint = run_fingerprint([loops.packed, is_val], config, settings, run_key=run_key)
    trainer = _VQVAETrainer(
        model, settings, loops.packed[~is_val], loops.packed[is_val], checkpoint_dir, fingerprint, device
    )
    trainer.precision = precision
    history = trainer.run()
    return model.cpu().eval(), history, is_val, trainer.selection


@torch.no_grad()
def encode_loops(model: VQVAE, packed: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Packed rolls (N, 912) -> code sequences (N, S) int16."""
    device = next(model.parameters()).device
    model.eval()
    codes = np.empty((len(packed), model.config.n_latent), dtype=np.int16)
    for start in range(0, len(packed), batch_size):
        x = unpack_batch(torch.from_numpy(packed[start : start + batch_size]).to(device))
        codes[start : start + len(x)] = model.encode_codes(x).cpu().numpy()
    return codes


def load_vqvae(model_dir, device="cpu") -> VQVAE:
    model, _config, _meta = load_model(model_dir, VQVAE, VQVAEConfig, device=device)
    return model


def reconstruction_error(model_dir, packed, device="cpu", batch_size: int = 4096) -> float:
    """Mean Hamming distance (fraction of differing cells) between rolls and their VQ-VAE
    reconstructions (paper table 1; evaluate on the validation split, `split == 'val'` in
    results/symbolic/codes.parquet)."""
    from loopgen.roll import as_packed_array

    model = load_vqvae(model_dir, device)
    packed = as_packed_array(packed)
    if len(packed) == 0:
        raise ValueError("reconstruction_error: no rolls given")
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(packed), batch_size):
            x = unpack_batch(torch.from_numpy(np.ascontiguousarray(packed[start : start + batch_size])).to(device))
            logits, _codes, _commitment = model(x)
            total += ((logits >= 0) != (x >= 0.5)).sum().item()
    return total / (len(packed) * PACKED_BYTES * 8)


def save_vqvae(
    folder, model: VQVAE, history: list[dict], is_val: np.ndarray, settings: TrainSettings, selection: dict
) -> None:
    """model.pt + model.json: the kept model, its validation numbers and which epoch it is, and why."""
    kept = kept_row(history, selection)
    save_model(
        folder,
        model,
        model.config,
        {
            "settings": dataclasses.asdict(settings),
            "split_salt": VQVAE_SPLIT_SALT,
            "n_train": int((~is_val).sum()),
            "n_val": int(is_val.sum()),
            "selection": selection,
            "val_hamming": kept.get("val_hamming"),
            "zeros_hamming": kept.get("zeros_hamming"),
            "perplexity": kept.get("perplexity"),
            "dead_codes": kept.get("dead_codes"),
            "history": history,
        },
    )


def kept_row(history: list[dict], selection: dict) -> dict:
    """The validation numbers of the kept model: its epoch's history row, or the SWA average's."""
    if selection.get("epoch"):
        return history[selection["epoch"] - 1]
    return selection.get("swa") or (history[-1] if history else {})


VQVAE_PANELS = {
    "loss": ["train_bce", "val_bce"],
    "Hamming error": ["train_hamming", "val_hamming", "zeros_hamming"],
    "codebook": ["perplexity", "dead_codes"],
}
