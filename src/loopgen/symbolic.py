"""Symbolic loop generation (SPEC section 3): VQ-VAE on the loop set, LSTM prior on its codes,
sampling in three modes, rejection sampling by loop score.

Data flow (rules/symbolic.smk):
    results/loops/shard-*.parquet --train_vqvae--> results/models/vqvae/
        --encode_loops--> results/symbolic/codes.parquet --train_prior--> results/models/lstm_prior/
        --sample_loops--> results/samples/vqvae_lstm/{mode}.parquet (SAMPLE_SCHEMA)
        --rejection_sweep--> results/samples/vqvae_lstm/rejection/{mode}-limit-{limit}.parquet

Rolls stay packed ((N, 912) uint8, 0.7 GB for the paper's 752k loops) and are unpacked one batch
at a time on the training device (loopgen.sampling.unpack_batch).

Train/validation split: by *song* (file_id), not by phrase. Loops are 8-bar windows sliding by one
bar, so neighbouring windows of one song share 7 bars; a split by phrase would leak them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
import torch.nn.functional as F

from loopgen.models.lstm_prior import LSTMPrior, PriorConfig
from loopgen.models.vqvae import VQVAE, VQVAEConfig
from loopgen.roll import PACKED_BYTES, packed_column
from loopgen.sampling import SamplingMode, decode_codes, sample_codes, unpack_batch
from loopgen.tables import read_table
from loopgen.training import (
    Checkpoint,
    cosine_lr,
    load_model,
    rng_state,
    save_model,
    seed_everything,
    set_rng_state,
)

log = logging.getLogger("loopgen.symbolic")

# The columns of a loop shard (detector output: PHRASE_SCHEMA + loop_score) this stage reads.
LOOP_COLUMNS = pa.schema([("phrase_id", pa.string()), ("file_id", pa.string()), ("roll", pa.binary())])
# results/symbolic/codes.parquet: every loop's VQ-VAE codes and its split.
CODES_SCHEMA = pa.schema(
    [("phrase_id", pa.string()), ("file_id", pa.string()), ("split", pa.string()), ("codes", pa.list_(pa.int16()))]
)
# results/samples/{model}/{mode}.parquet: every generator's output (baselines too).
SAMPLE_SCHEMA = pa.schema([("sample_id", pa.string()), ("roll", pa.binary()), ("loop_score", pa.float32())])
# One row per rejection limit: how many loops were generated to keep the target count.
ACCEPTANCE_SCHEMA = pa.schema(
    [("mode", pa.string()), ("limit", pa.float64()), ("target", pa.int64()), ("tried", pa.int64()),
     ("kept", pa.int64()), ("acceptance_rate", pa.float64())]
)
VQVAE_SPLIT_SALT = "vqvae"  # the VQ-VAE's validation songs (table 1 is computed on them)
PRIOR_SPLIT_SALT = "prior"  # the prior's validation songs, among the VQ-VAE's training songs
ScoreFn = Callable[[np.ndarray], np.ndarray]  # packed rolls (N, 912) -> loop scores (N,)


@dataclass
class TrainSettings:
    """Optimisation of either model (config sections `vqvae` and `prior`)."""

    epochs: int = 500
    batch_size: int = 2048
    lr: float = 1e-3
    lr_min: float = 5e-6
    weight_decay: float = 1e-2  # AdamW default
    val_fraction: float = 0.2
    split_by: str = "song"  # song | loop: what the validation split holds out (see split_mask)
    seed: int = 1234


@dataclass
class LoopSet:
    phrase_id: np.ndarray  # object (N,)
    file_id: np.ndarray  # object (N,)
    packed: np.ndarray  # uint8 (N, 912)

    def __len__(self) -> int:
        return len(self.packed)


def settings_from(section: dict, model_config_class, seed: int, **extra):
    """A config section (`vqvae` or `prior`) -> (model hyper-parameters, TrainSettings).

    Each key goes to the dataclass that has a field of its name; a key neither knows is an error
    (the schema should have caught it)."""
    values = {**section, **extra}
    model_fields = {f.name for f in dataclasses.fields(model_config_class)}
    train_fields = {f.name for f in dataclasses.fields(TrainSettings)}
    unknown = sorted(set(values) - model_fields - train_fields)
    if unknown:
        raise ValueError(f"unknown {model_config_class.__name__} / TrainSettings keys: {unknown}")
    model_config = model_config_class(**{k: v for k, v in values.items() if k in model_fields})
    settings = TrainSettings(**{k: v for k, v in values.items() if k in train_fields}, seed=seed)
    return model_config, settings


# --------------------------------------------------------------------------------------------
# Data


def read_loops(paths) -> LoopSet:
    """Concatenate loop shards, keeping rolls packed. A row whose roll is missing or not 912
    bytes is left out with one warning line naming the shard (never silently)."""
    ids, files, rolls = [], [], []
    for path in paths:
        table = read_table(path, LOOP_COLUMNS, columns=LOOP_COLUMNS.names)
        lengths = pc.binary_length(table.column("roll")).to_numpy(zero_copy_only=False)
        good = np.nan_to_num(lengths, nan=-1) == PACKED_BYTES
        if not good.all():
            log.warning("%s: %d of %d loops left out: roll missing or not %d bytes", path, (~good).sum(), len(good), PACKED_BYTES)
            table = table.filter(pa.array(good))
        ids.append(np.asarray(table.column("phrase_id").to_pylist(), dtype=object))
        files.append(np.asarray(table.column("file_id").to_pylist(), dtype=object))
        rolls.append(packed_column(table.column("roll")))
        log.info("%s: %d loops", path, table.num_rows)
    if not rolls:
        return LoopSet(np.zeros(0, object), np.zeros(0, object), np.zeros((0, PACKED_BYTES), np.uint8))
    return LoopSet(np.concatenate(ids), np.concatenate(files), np.concatenate(rolls))



def packed_to_arrow(packed: np.ndarray) -> pa.Array:
    """(N, 912) uint8 -> a binary Arrow array without a Python object per row."""
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    offsets = np.arange(len(packed) + 1, dtype=np.int32) * PACKED_BYTES
    return pa.Array.from_buffers(pa.binary(), len(packed), [None, pa.py_buffer(offsets), pa.py_buffer(packed)])


def validation_mask(file_ids, fraction: float, salt: str) -> np.ndarray:
    """True for rows whose song is in the validation split: a stable hash of (salt, file_id), so
    the split never changes between runs. With two or more songs both sides get at least one."""
    file_ids = np.asarray(file_ids, dtype=object)
    songs, inverse = np.unique(file_ids, return_inverse=True) if len(file_ids) else (np.zeros(0, object), np.zeros(0, int))
    u = np.array([_unit_hash(f"{salt}:{song}") for song in songs])
    is_val = u < fraction
    if len(songs) >= 2 and fraction > 0:
        if not is_val.any():
            is_val[u.argmin()] = True
        if is_val.all():
            is_val[u.argmax()] = False
    return is_val[inverse] if len(file_ids) else np.zeros(0, bool)


def split_mask(file_ids, settings: "TrainSettings", salt: str) -> np.ndarray:
    """Validation rows for `settings.split_by`:
    'song' holds out whole songs (validation_mask), so no validation loop shares bars with a
    training loop; 'loop' holds out a seeded random share of the loops, as the released code did
    for the prior (its codes came out of a shuffled loader) -- neighbouring windows of one song then
    sit on both sides and share 7 of their 8 bars, which inflates validation scores."""
    if settings.split_by == "song":
        return validation_mask(file_ids, settings.val_fraction, salt)
    if settings.split_by == "loop":
        rng = np.random.default_rng(derived_seed(settings.seed, "split", salt))
        return rng.random(len(file_ids)) < settings.val_fraction
    raise ValueError(f"split_by must be 'song' or 'loop', got {settings.split_by!r}")


def _unit_hash(text: str) -> float:
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "big") / 2**64


def derived_seed(seed: int, *names) -> int:
    """A seed for one named task (e.g. sampling mode top_k) from the config seed."""
    return int.from_bytes(hashlib.md5(json.dumps([seed, *names]).encode()).digest()[:8], "big") % 2**63


def _fingerprint(arrays, *settings, run_key: str = "") -> str:
    digest = hashlib.sha1()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps([dataclasses.asdict(s) for s in settings] + [run_key]).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Shared training loop (both models): resumable epochs, cosine schedule per step


class _Trainer:
    """Checkpointed epochs of AdamW + cosine schedule. Subclasses define `train_step` and
    `validate`. The checkpoint is resumed only when made from the same data, settings and run_key."""

    name = "model"

    def __init__(self, model, settings: TrainSettings, n_train: int, checkpoint_dir, fingerprint: str):
        self.model, self.settings = model, settings
        self.generator = seed_everything(settings.seed)
        self.optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        self.steps_per_epoch = max(1, -(-n_train // settings.batch_size))
        self.n_train = n_train
        self.checkpoint = Checkpoint(checkpoint_dir)
        self.fingerprint = fingerprint
        self.history: list[dict] = []
        self.epoch = 0

    def run(self) -> list[dict]:
        self._resume()
        for epoch in range(self.epoch, self.settings.epochs):
            started = time.perf_counter()
            row = {"epoch": epoch + 1, **self._train_epoch(epoch)}
            self.model.eval()
            row.update(self.validate())
            row.update(self.epoch_extras())
            row["seconds"] = time.perf_counter() - started
            self.history.append(row)
            self.epoch = epoch + 1
            self._save()
            log.info("%s epoch %d/%d: %s", self.name, self.epoch, self.settings.epochs,
                     ", ".join(f"{k}={v:.5g}" for k, v in row.items() if k != "epoch"))
        self.model.eval()
        return self.history

    def _train_epoch(self, epoch: int) -> dict:
        """One pass over the training rows in a seeded order; returns the last lr and the
        per-sample means of what train_step reports."""
        self.model.train()
        order = torch.randperm(self.n_train, generator=self.generator)
        total_steps = self.steps_per_epoch * self.settings.epochs
        sums: dict[str, float] = {}
        for b, start in enumerate(range(0, self.n_train, self.settings.batch_size)):
            lr = cosine_lr(epoch * self.steps_per_epoch + b, total_steps, self.settings.lr, self.settings.lr_min)
            for group in self.optimiser.param_groups:
                group["lr"] = lr
            index = order[start : start + self.settings.batch_size]
            for key, value in self.train_step(index).items():
                sums[key] = sums.get(key, 0.0) + value * len(index)
        return {"lr": lr, **{key: value / self.n_train for key, value in sums.items()}}

    def step(self, loss: torch.Tensor) -> None:
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()

    def epoch_extras(self) -> dict:
        return {}

    def _save(self) -> None:
        self.checkpoint.save({
            "fingerprint": self.fingerprint, "epoch": self.epoch, "history": self.history,
            "model": self.model.state_dict(), "optimiser": self.optimiser.state_dict(),
            "generator": self.generator.get_state(), "rng": rng_state(),
        })

    def _resume(self) -> None:
        state = self.checkpoint.load()
        if state is None:
            return
        if state.get("fingerprint") != self.fingerprint:
            log.info("ignoring %s: it was made from other data, settings or code", self.checkpoint.path)
            return
        self.model.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.generator.set_state(state["generator"])
        set_rng_state(state["rng"])
        self.history, self.epoch = state["history"], state["epoch"]
        log.info("resuming %s from %s after epoch %d", self.name, self.checkpoint.path, self.epoch)


# --------------------------------------------------------------------------------------------
# VQ-VAE


class _VQVAETrainer(_Trainer):
    name = "vqvae"

    def __init__(self, model: VQVAE, settings, train_packed, val_packed, checkpoint_dir, fingerprint, device):
        super().__init__(model, settings, len(train_packed), checkpoint_dir, fingerprint)
        self.train_packed = torch.from_numpy(train_packed).to(device)
        self.val_packed = torch.from_numpy(val_packed).to(device)
        self.code_counts = torch.zeros(model.config.codebook_size, device=device)

    def train_step(self, index) -> dict:
        x = unpack_batch(self.train_packed[index.to(self.train_packed.device)])
        loss, parts = self.model.loss(x)
        self.step(loss)
        self.code_counts += torch.bincount(parts["codes"].flatten(), minlength=len(self.code_counts))
        return {"train_loss": loss.item(), "train_bce": parts["bce"].item(),
                "train_hamming": hamming(parts["logits"], x)}

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

    def epoch_extras(self) -> dict:
        counts, self.code_counts = self.code_counts, torch.zeros_like(self.code_counts)
        return {"perplexity": codebook_perplexity(counts), "unused_codes": int((counts == 0).sum()),
                "dead_codes": self.model.codebook.last_restarts}


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


def train_vqvae(loops: LoopSet, config: VQVAEConfig, settings: TrainSettings, checkpoint_dir, device="cpu",
                run_key: str = "") -> tuple[VQVAE, list[dict], np.ndarray]:
    """Train on the loop set; returns (model on CPU in eval mode, history, validation mask)."""
    is_val = split_mask(loops.file_id, settings, VQVAE_SPLIT_SALT)
    if (~is_val).sum() < 2:
        raise ValueError(f"need at least 2 training loops, got {(~is_val).sum()} (of {len(loops)} loops)")
    log.info("VQ-VAE: %d training loops, %d validation loops (split by %s)", (~is_val).sum(), is_val.sum(),
             settings.split_by)
    seed_everything(settings.seed)
    model = VQVAE(config).to(device)
    model.init_output_bias(column_density(loops.packed[~is_val]).to(device))
    fingerprint = _fingerprint([loops.packed, is_val], config, settings, run_key=run_key)
    trainer = _VQVAETrainer(model, settings, loops.packed[~is_val], loops.packed[is_val], checkpoint_dir,
                            fingerprint, device)
    history = trainer.run()
    return model.cpu().eval(), history, is_val


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


def codes_table(loops: LoopSet, codes: np.ndarray, is_val: np.ndarray) -> pa.Table:
    split = np.where(is_val, "val", "train")
    flat = pa.array(codes.reshape(-1).astype(np.int16), pa.int16())
    offsets = pa.array(np.arange(len(codes) + 1, dtype=np.int32) * codes.shape[1], pa.int32())
    return pa.table({"phrase_id": pa.array(loops.phrase_id.tolist(), pa.string()),
                     "file_id": pa.array(loops.file_id.tolist(), pa.string()),
                     "split": pa.array(split.tolist(), pa.string()),
                     "codes": pa.ListArray.from_arrays(offsets, flat)}, schema=CODES_SCHEMA)


def read_codes(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """results/symbolic/codes.parquet -> (codes (N, S) int16, file_id (N,), split (N,))."""
    table = read_table(path, CODES_SCHEMA)
    column = table.column("codes").combine_chunks()
    n = len(column)
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.int16)
    codes = flat.reshape(n, -1) if n else np.zeros((0, 0), np.int16)
    return codes, np.asarray(table.column("file_id").to_pylist(), object), np.asarray(table.column("split").to_pylist(), object)


# --------------------------------------------------------------------------------------------
# LSTM prior


class _PriorTrainer(_Trainer):
    name = "prior"

    def __init__(self, model: LSTMPrior, settings, train_codes, val_codes, checkpoint_dir, fingerprint, device):
        super().__init__(model, settings, len(train_codes), checkpoint_dir, fingerprint)
        self.train_codes = torch.from_numpy(train_codes.astype(np.int64)).to(device)
        self.val_codes = torch.from_numpy(val_codes.astype(np.int64)).to(device)

    def train_step(self, index) -> dict:
        logits, target = self.model.teacher_forcing(self.train_codes[index.to(self.train_codes.device)])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
        self.step(loss)
        return {"train_loss": loss.item(), "train_accuracy": (logits.argmax(-1) == target).float().mean().item()}

    @torch.no_grad()
    def validate(self) -> dict:
        if len(self.val_codes) == 0:
            return {}
        loss = correct = 0.0
        for start in range(0, len(self.val_codes), self.settings.batch_size):
            logits, target = self.model.teacher_forcing(self.val_codes[start : start + self.settings.batch_size])
            loss += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="sum").item()
            correct += (logits.argmax(-1) == target).sum().item()
        n_tokens = self.val_codes.shape[0] * (self.val_codes.shape[1] - 1)
        return {"val_loss": loss / n_tokens, "val_accuracy": correct / n_tokens}


def first_code_distribution(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    """Empirical distribution of the first code of each sequence (float64, sums to 1)."""
    counts = np.bincount(codes[:, 0].astype(np.int64), minlength=codebook_size).astype(np.float64)
    return counts / counts.sum()


def train_prior(codes: np.ndarray, file_id: np.ndarray, config: PriorConfig, settings: TrainSettings,
                checkpoint_dir, device="cpu", run_key: str = "") -> tuple[LSTMPrior, list[dict], np.ndarray]:
    """Teacher-forced next-code prediction on the VQ-VAE's training codes.
    Returns (model on CPU in eval mode, history, first-code distribution)."""
    if codes.ndim != 2 or codes.shape[1] != config.seq_len:
        raise ValueError(f"codes must be (N, {config.seq_len}), got {codes.shape}")
    is_val = split_mask(file_id, settings, PRIOR_SPLIT_SALT)
    log.info("prior: %d training sequences, %d validation sequences (split by %s)", (~is_val).sum(), is_val.sum(),
             settings.split_by)
    seed_everything(settings.seed)
    model = LSTMPrior(config).to(device)
    fingerprint = _fingerprint([codes, is_val], config, settings, run_key=run_key)
    trainer = _PriorTrainer(model, settings, codes[~is_val], codes[is_val], checkpoint_dir, fingerprint, device)
    history = trainer.run()
    return model.cpu().eval(), history, first_code_distribution(codes, config.codebook_size)


def load_prior(model_dir, device="cpu") -> tuple[LSTMPrior, torch.Tensor]:
    """(prior in eval mode, first-code distribution) from results/models/lstm_prior/."""
    model, _config, meta = load_model(model_dir, LSTMPrior, PriorConfig, device=device)
    return model, torch.tensor(meta["first_code_probs"], dtype=torch.float32)


# --------------------------------------------------------------------------------------------
# Sampling and rejection sampling


@dataclass
class LoopSampler:
    """Everything needed to draw loops: the two models, the first-code distribution, a seeded RNG."""

    vqvae: VQVAE
    prior: LSTMPrior
    first_code_probs: torch.Tensor
    rng: torch.Generator
    batch_size: int = 4096

    @classmethod
    def load(cls, vqvae_dir, prior_dir, seed: int, device="cpu", batch_size: int = 4096) -> "LoopSampler":
        device = torch.device(device)
        prior, first = load_prior(prior_dir, device)
        return cls(load_vqvae(vqvae_dir, device), prior, first, torch.Generator(device).manual_seed(seed), batch_size)

    def draw(self, n: int, mode: SamplingMode) -> np.ndarray:
        """n generated loops as packed rolls (n, 912)."""
        codes = sample_codes(self.prior, self.first_code_probs, n, mode, self.rng, self.batch_size)
        return decode_codes(self.vqvae, codes, self.batch_size)


def sample_loops(sampler: LoopSampler, n: int, mode: SamplingMode, score: ScoreFn, mode_name: str) -> pa.Table:
    """n loops of one mode, batch by batch, with their loop scores: a SAMPLE_SCHEMA table."""
    packed = np.concatenate([sampler.draw(min(sampler.batch_size, n - start), mode)
                             for start in range(0, n, sampler.batch_size)] or [np.zeros((0, PACKED_BYTES), np.uint8)])
    return sample_table(packed, score(packed), mode_name)


def sample_table(packed: np.ndarray, scores: np.ndarray, prefix: str) -> pa.Table:
    ids = [f"{prefix}-{i:07d}" for i in range(len(packed))]
    return pa.table({"sample_id": pa.array(ids, pa.string()), "roll": packed_to_arrow(packed),
                     "loop_score": pa.array(np.asarray(scores, np.float32), pa.float32())}, schema=SAMPLE_SCHEMA)


def rejection_sample(sampler: LoopSampler, mode: SamplingMode, score: ScoreFn, limit: float | None,
                     target: int, max_tries: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Generate until `target` loops score below `limit` (None keeps every loop) or `max_tries`
    loops have been generated. Returns (kept packed rolls, their scores, stats).

    Loops are drawn a batch at a time, but counted one by one: `tried` stops at the loop that
    completed the target, so acceptance_rate = kept / tried exactly."""
    kept, kept_scores, tried, n_kept = [], [], 0, 0
    while n_kept < target and tried < max_tries:
        packed = sampler.draw(min(sampler.batch_size, max_tries - tried), mode)
        scores = score(packed)
        accepted = np.ones(len(packed), bool) if limit is None else scores < limit
        needed = np.flatnonzero(accepted)[: target - n_kept]
        examined = len(packed) if len(needed) < target - n_kept else int(needed[-1]) + 1
        tried += examined
        kept.append(packed[needed])
        kept_scores.append(scores[needed])
        n_kept += len(needed)
        log.info("limit %s: %d of %d kept so far (%d tried)", limit, n_kept, target, tried)
    packed = np.concatenate(kept or [np.zeros((0, PACKED_BYTES), np.uint8)])
    scores = np.concatenate(kept_scores or [np.zeros(0, np.float32)])
    stats = {"limit": limit, "target": target, "tried": tried, "kept": n_kept,
             "acceptance_rate": n_kept / tried if tried else float("nan")}
    if n_kept < target:
        log.warning("limit %s: only %d of %d loops kept after %d tries (max_tries)", limit, n_kept, target, tried)
    return packed, scores, stats


# --------------------------------------------------------------------------------------------
# Saving and the training curves


def save_vqvae(folder, model: VQVAE, history: list[dict], is_val: np.ndarray, settings: TrainSettings) -> None:
    last = history[-1] if history else {}
    save_model(folder, model, model.config, {
        "settings": dataclasses.asdict(settings), "split_salt": VQVAE_SPLIT_SALT,
        "n_train": int((~is_val).sum()), "n_val": int(is_val.sum()),
        "val_hamming": last.get("val_hamming"), "zeros_hamming": last.get("zeros_hamming"),
        "perplexity": last.get("perplexity"), "dead_codes": last.get("dead_codes"), "history": history,
    })


def save_prior(folder, model: LSTMPrior, history: list[dict], first_code_probs: np.ndarray,
               settings: TrainSettings) -> None:
    last = history[-1] if history else {}
    save_model(folder, model, model.config, {
        "settings": dataclasses.asdict(settings), "split_salt": PRIOR_SPLIT_SALT,
        "val_accuracy": last.get("val_accuracy"), "first_code_probs": first_code_probs.tolist(), "history": history,
    })


def write_history(history: list[dict], path) -> None:
    """The per-epoch history as CSV (one row per epoch)."""
    import csv

    columns = list(dict.fromkeys(key for row in history for key in row))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)


def plot_history(history: list[dict], path, panels: dict[str, list[str]], title: str) -> None:
    """One PNG, one panel per entry of `panels` (panel title -> history keys plotted per epoch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    epochs = [row["epoch"] for row in history]
    for ax, (panel, keys) in zip(axes[0], panels.items()):
        for key in keys:
            if history and key in history[0]:
                ax.plot(epochs, [row[key] for row in history], label=key, marker="." if len(epochs) < 30 else None)
        ax.set_title(panel)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


VQVAE_PANELS = {"loss": ["train_bce", "val_bce"], "Hamming error": ["train_hamming", "val_hamming", "zeros_hamming"],
                "codebook": ["perplexity", "dead_codes"]}
PRIOR_PANELS = {"cross entropy": ["train_loss", "val_loss"], "token accuracy": ["train_accuracy", "val_accuracy"]}


# --------------------------------------------------------------------------------------------
# Listening files and the acceptance table


def loop_seconds(tempo_bpm: float) -> float:
    """Length of one 8-bar 4/4 loop at tempo_bpm."""
    from loopgen.roll import N_BARS

    return N_BARS * 4 * 60.0 / tempo_bpm


def write_listening_files(table: pa.Table, folder, n: int, tempo_bpm: float, render_wav: bool = True) -> list[Path]:
    """The first n loops of a SAMPLE_SCHEMA table as <sample_id>.mid (and .wav rendered with
    FluidSynth and the GM SoundFont, exactly 8 bars long with the release tail wrapped around so it
    loops). Returns the MIDI paths."""
    from loopgen.midi_write import roll_to_midi

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    packed = packed_column(table.column("roll").slice(0, n))
    paths = []
    for sample_id, roll in zip(table.column("sample_id").to_pylist()[:n], packed):
        midi = roll_to_midi(roll, tempo_bpm)
        paths.append(folder / f"{sample_id}.mid")
        midi.write(str(paths[-1]))
        if render_wav:
            from loopgen.render import render_to_wav

            render_to_wav(midi, folder / f"{sample_id}.wav", duration=loop_seconds(tempo_bpm), wrap_tail=True)
    return paths


def acceptance_table(stats: list[dict], mode: str) -> pa.Table:
    """Rejection-sweep stats (one dict per limit) -> ACCEPTANCE_SCHEMA, loosest limit first."""
    rows = sorted(stats, key=lambda s: -np.inf if s["limit"] is None else -s["limit"])
    return pa.Table.from_pylist([{"mode": mode, **{k: row[k] for k in ACCEPTANCE_SCHEMA.names if k != "mode"}}
                                 for row in rows], schema=ACCEPTANCE_SCHEMA)


def acceptance_markdown(table: pa.Table) -> str:
    lines = ["| mode | loop-score limit | kept | tried | acceptance rate |", "| --- | --- | --- | --- | --- |"]
    for row in table.to_pylist():
        limit = "none" if row["limit"] is None else f"{row['limit']:g}"
        lines.append(f"| {row['mode']} | {limit} | {row['kept']:,} of {row['target']:,} | {row['tried']:,} "
                     f"| {row['acceptance_rate']:.4f} |")
    return "\n".join(lines) + "\n"
