"""The loop detector (SPEC section 2): One-Class Deep SVDD trained on the bar correlations of audio
loops, then used to score every MIDI phrase; phrases below its threshold form the loop set.

Training has two phases over the same 80/20 split:
1. "autoencoder": the bias-free autoencoder learns to reconstruct the 28 correlations (MSE);
2. "svdd": the centre c is set to the mean encoding of the training split, then the encoder alone
   is fine-tuned to pull every training encoding towards c (mean squared distance).
Each phase runs `epochs` epochs of AdamW with a cosine schedule lr -> lr_min (per step).
The threshold is exp(mean(log d) + std(log d)) over the training split's final scores.

`loop_scores(model, packed)` is the one function every stage uses to score packed rolls.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F

from loopgen.audio.bar_corr import BAR_CORR_SCHEMA
from loopgen.midi import PHRASE_SCHEMA
from loopgen.models.loop_detector import LoopDetector, LoopDetectorConfig
from loopgen.roll import as_packed_array, bar_correlation, packed_column
from loopgen.tables import read_table, write_table
from loopgen.training import (
    Checkpoint,
    cosine_lr,
    load_model,
    rng_state,
    save_model,
    seed_everything,
    set_rng_state,
)

log = logging.getLogger("loopgen.detector")

N_CORR = 28
PHASES = ("autoencoder", "svdd")
SCORE_BATCH = 1 << 16  # phrases per scoring batch: bounds memory, big enough to amortise overhead

# results/loops/shard-{i}.parquet: the phrases below the threshold, with their scores.
LOOP_SCHEMA = PHRASE_SCHEMA.append(pa.field("loop_score", pa.float32()))
# One row per audio loop offered for training: its split and final score, or why it was left out.
TRAINING_SCORE_SCHEMA = pa.schema(
    [
        ("loop_id", pa.string()),
        ("split", pa.string()),  # train | val | rejected
        ("score", pa.float32()),  # null when rejected
        ("reason", pa.string()),  # null unless rejected
    ]
)
HISTORY_COLUMNS = ("phase", "epoch", "lr", "train_loss", "val_loss")

# results/eval/detector/metrics.parquet: one row, the detector against the ground-truth labels.
EVAL_METRICS_SCHEMA = pa.schema(
    [
        ("phrases", pa.int64()),  # labelled phrases scored (every phrase, without labels)
        ("loops", pa.int64()),  # the loop group's source: known loops, else labelled loops
        ("threshold", pa.float64()),
        ("roc_auc", pa.float64()),  # P(a loop scores lower than a non-loop)
        ("loop_score_mean", pa.float64()),  # the paper's 0.153 +- 0.282 (on 100 hand-picked loops)
        ("loop_score_std", pa.float64()),
        ("predicted_loops", pa.int64()),  # phrases below the threshold
        ("true_positives", pa.int64()),
        ("precision", pa.float64()),
        ("recall", pa.float64()),
        ("f1", pa.float64()),
    ]
)
# results/eval/detector/groups.parquet: S Figure 2, one row per group.
EVAL_GROUPS_SCHEMA = pa.schema(
    [
        ("group", pa.string()),  # "loops" or "random k"
        ("n", pa.int64()),
        ("mean", pa.float64()),
        ("std", pa.float64()),
        ("median", pa.float64()),
        ("below_threshold", pa.float64()),  # share of the group the detector calls loops
        ("t_paired", pa.float64()),  # loops vs this group (the paper's test); null for "loops"
        ("p_paired_t", pa.float64()),
        ("p_mann_whitney", pa.float64()),  # one-sided: loops score lower
    ]
)


@dataclass
class TrainSettings:
    """Training hyper-parameters (config section `detector`; SPEC section 2 defaults)."""

    epochs: int = 1000  # per phase
    lr: float = 1e-3
    lr_min: float = 5e-6
    weight_decay: float = 1e-2  # AdamW's decoupled decay: the lambda R(W) term of S eq. 1
    batch_size: int = 64
    val_fraction: float = 0.2
    seed: int = 1234


@dataclass
class TrainedDetector:
    model: LoopDetector  # centre and threshold set, on CPU, eval mode
    history: list[dict]  # one row per phase and epoch: HISTORY_COLUMNS
    train_index: np.ndarray
    val_index: np.ndarray
    scores: np.ndarray  # final score of every input row
    selection: dict | None = None  # per phase: the kept (best validation loss) epoch and its loss

    @property
    def threshold(self) -> float:
        return float(self.model.threshold)


# --------------------------------------------------------------------------------------------
# Small pieces with known answers


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded permutation of range(n), cut into (train, val). Row indices, never shuffled rows:
    the released code shuffled a 2-D array with random.shuffle, which duplicates rows."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    if n > 1:
        n_val = min(max(n_val, 1 if val_fraction > 0 else 0), n - 1)
    else:
        n_val = 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def log_sigma_threshold(scores: np.ndarray) -> float:
    """exp(mean(log d) + std(log d)): one sigma above the log-mean of the training scores."""
    logs = np.log(np.maximum(np.asarray(scores, dtype=np.float64), np.finfo(np.float64).tiny))
    return float(np.exp(logs.mean() + logs.std()))


def rescale_like_midi(corr: np.ndarray, eps: float) -> np.ndarray:
    """Audio correlations put on the MIDI correlation's scale (not in the paper; config
    detector.rescale_audio).

    The MIDI feature divides each phrase's bar distances by the largest one, so identical bars
    read 1 and the most different pair reads 0, whatever the music; the Pearson correlations of
    one audio loop's whole-bar mel spectra all lie near 1. With d = 1 - r per loop this returns
    1 - d / (max d + eps): the same scaling. `eps` (in units of 1 - r) keeps a loop whose bars
    differ only by noise (a 1-bar pattern) near 1 instead of stretching the noise over [0, 1].
    """
    distance = 1.0 - np.asarray(corr, dtype=np.float64)
    return (1.0 - distance / (distance.max(axis=1, keepdims=True) + eps)).astype(np.float32)


@torch.no_grad()
def mean_encoding(model: LoopDetector, x: torch.Tensor) -> torch.Tensor:
    return model.encode(x).mean(dim=0)


@torch.no_grad()
def correlation_scores(model: LoopDetector, corr: np.ndarray | torch.Tensor) -> np.ndarray:
    """Loop scores of (N, 28) correlation vectors, float32 (N,)."""
    x = torch.as_tensor(np.asarray(corr, dtype=np.float32), device=model.centre.device)
    return model(x).cpu().numpy().astype(np.float32, copy=False)


def loop_scores(model: LoopDetector, packed, batch_size: int = SCORE_BATCH) -> np.ndarray:
    """Loop scores of packed rolls ((N, 912) uint8 or a sequence of 912-byte strings): the MIDI
    bar correlation (loopgen.roll.bar_correlation) through the detector. float32 (N,); lower =
    more loop-like; `score < model.threshold` is a loop."""
    packed = as_packed_array(packed)
    scores = np.empty(len(packed), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(packed), batch_size):
            corr = bar_correlation(packed[start : start + batch_size])
            scores[start : start + len(corr)] = correlation_scores(model, corr)
    return scores


# --------------------------------------------------------------------------------------------
# Training


def train_detector(
    corr: np.ndarray,
    settings: TrainSettings,
    checkpoint_dir: str | Path,
    device: torch.device | str = "cpu",
    run_key: str = "",
    on_epoch: Callable[[dict], None] | None = None,
    checkpoint_every_s: float = 30.0,
) -> TrainedDetector:
    """Train on (N, 28) correlations; resumable from `checkpoint_dir`.

    The checkpoint is written at the end of each phase and after any epoch that ends more than
    `checkpoint_every_s` seconds after the last write (an epoch of this tiny net is often shorter
    than writing the checkpoint; 0 writes every epoch). It is resumed only when it was made from
    the same data, settings and `run_key` (pass the code version so that changed code starts
    afresh). `on_epoch` gets each history row, after that epoch's checkpoint if one was written.
    """
    corr = np.ascontiguousarray(corr, dtype=np.float32)
    if corr.ndim != 2 or corr.shape[1] != N_CORR or len(corr) < 2:
        raise ValueError(f"need at least 2 correlation vectors of {N_CORR} values, got shape {corr.shape}")
    device = torch.device(device)
    train_index, val_index = split_indices(len(corr), settings.val_fraction, settings.seed)
    x_train = torch.from_numpy(corr[train_index]).to(device)
    x_val = torch.from_numpy(corr[val_index]).to(device)

    generator = seed_everything(settings.seed)
    model = LoopDetector(LoopDetectorConfig()).to(device)
    checkpoint = Checkpoint(checkpoint_dir)
    fingerprint = _fingerprint(corr, settings, model.config, run_key)
    state = _resumable_state(checkpoint, fingerprint)
    if state is None:
        state = {"fingerprint": fingerprint, "phase": PHASES[0], "epoch": 0, "history": []}
    else:
        model.load_state_dict(state["model"])
        generator.set_state(state["generator"])
        set_rng_state(state["rng"])
        log.info("resuming from %s: phase %s, epoch %d", checkpoint.path, state["phase"], state["epoch"])

    for phase in PHASES[PHASES.index(state["phase"]) :]:
        resuming_this_phase = state["phase"] == phase and state["epoch"] > 0
        if not resuming_this_phase:
            state.update(phase=phase, epoch=0, optimiser=None)
            if phase == "svdd":
                model.centre.copy_(mean_encoding(model, x_train))
                log.info("centre c = mean encoding of %d training loops: %s", len(x_train), model.centre.tolist())
        _train_phase(model, phase, x_train, x_val, settings, generator, state, checkpoint, on_epoch,
                     checkpoint_every_s)

    model.threshold.fill_(log_sigma_threshold(correlation_scores(model, x_train)))
    model = model.cpu().eval()
    return TrainedDetector(model, state["history"], train_index, val_index, correlation_scores(model, corr),
                           {phase: {k: v for k, v in best.items() if k != "model"} for phase, best in state.get("best", {}).items()})


def _train_phase(model, phase, x_train, x_val, settings, generator, state, checkpoint, on_epoch,
                 checkpoint_every_s) -> None:
    # The SVDD phase moves only the encoder; the decoder has done its job (a useful initialisation).
    module = model if phase == "autoencoder" else model.encoder
    optimiser = torch.optim.AdamW(module.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    if state.get("optimiser"):
        optimiser.load_state_dict(state["optimiser"])
    loss_fn = _reconstruction_loss if phase == "autoencoder" else _svdd_loss
    steps_per_epoch = -(-len(x_train) // settings.batch_size)
    last_step = settings.epochs * steps_per_epoch - 1  # the last step runs at exactly lr_min
    last_save = time.monotonic()
    for epoch in range(state["epoch"], settings.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator).to(x_train.device)
        losses = []
        for b, start in enumerate(range(0, len(x_train), settings.batch_size)):
            lr = cosine_lr(epoch * steps_per_epoch + b, last_step, settings.lr, settings.lr_min)
            for group in optimiser.param_groups:
                group["lr"] = lr
            batch = x_train[order[start : start + settings.batch_size]]
            loss = loss_fn(model, batch)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(loss.item() * len(batch))
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model, x_val).item() if len(x_val) else float("nan")
        row = {"phase": phase, "epoch": epoch + 1, "lr": lr, "train_loss": sum(losses) / len(x_train), "val_loss": val_loss}
        state["history"].append(row)
        state.update(epoch=epoch + 1, model=model.state_dict(), optimiser=optimiser.state_dict(),
                     generator=generator.get_state(), rng=rng_state())
        best = state.setdefault("best", {}).get(phase)
        if np.isfinite(val_loss) and (best is None or val_loss < best["val_loss"]):
            state["best"][phase] = {"epoch": epoch + 1, "val_loss": val_loss,
                                    "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
        if epoch + 1 == settings.epochs or time.monotonic() - last_save >= checkpoint_every_s:
            checkpoint.save(state)
            last_save = time.monotonic()
        if on_epoch is not None:
            on_epoch(row)
    state["optimiser"] = None
    # Keep the best validation epoch of the phase, as the released checkpoints (monitor='val_loss').
    best = state.get("best", {}).get(phase)
    if best is not None:
        model.load_state_dict(best["model"])
        log.info("%s: kept epoch %d of %d (lowest validation loss %.4g)", phase, best["epoch"], settings.epochs,
                 best["val_loss"])


def _reconstruction_loss(model: LoopDetector, x: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(model.reconstruct(x), x)


def _svdd_loss(model: LoopDetector, x: torch.Tensor) -> torch.Tensor:
    return model(x).mean()


def _fingerprint(corr: np.ndarray, settings: TrainSettings, config: LoopDetectorConfig, run_key: str) -> str:
    digest = hashlib.sha1(corr.tobytes())
    digest.update(json.dumps([dataclasses.asdict(settings), dataclasses.asdict(config), run_key]).encode())
    return digest.hexdigest()


def _resumable_state(checkpoint: Checkpoint, fingerprint: str) -> dict | None:
    state = checkpoint.load()
    if state is not None and state.get("fingerprint") != fingerprint:
        log.info("ignoring %s: it was made from other data, settings or code", checkpoint.path)
        return None
    return state


# --------------------------------------------------------------------------------------------
# Saving, loading, reading the audio correlations


def save_detector(folder: str | Path, trained: TrainedDetector, extras: dict | None = None) -> None:
    """DESIGN model contract; model.json carries the centre and threshold (also buffers in model.pt)."""
    model = trained.model
    meta = {"centre": model.centre.tolist(), "threshold": trained.threshold,
            "n_train": len(trained.train_index), "n_val": len(trained.val_index),
            "selection": trained.selection, **(extras or {})}
    save_model(folder, model, model.config, meta)


def load_detector(folder: str | Path, device: torch.device | str = "cpu") -> LoopDetector:
    model, _config, _meta = load_model(folder, LoopDetector, LoopDetectorConfig, device=device)
    return model


def read_bar_corr(path: str | Path) -> tuple[list[str], np.ndarray, list[dict]]:
    """Audio bar correlations -> (loop ids, (N, 28) float32, rejected rows with a reason).

    A row whose correlations are missing, of the wrong length or not finite (a silent bar has no
    Pearson correlation) is rejected with one log line, never dropped silently.
    """
    table = read_table(path, BAR_CORR_SCHEMA, columns=["loop_id", "corr"])
    ids, vectors, rejected = [], [], []
    for loop_id, values in zip(table.column("loop_id").to_pylist(), table.column("corr").to_pylist()):
        reason = _corr_problem(values)
        if reason:
            log.warning("%s: loop %s left out of training: %s", path, loop_id, reason)
            rejected.append({"loop_id": loop_id, "split": "rejected", "score": None, "reason": reason})
        else:
            ids.append(loop_id)
            vectors.append(values)
    corr = np.asarray(vectors, dtype=np.float32).reshape(-1, N_CORR)
    return ids, corr, rejected


def _corr_problem(values) -> str | None:
    if values is None:
        return "no correlations"
    if len(values) != N_CORR:
        return f"{len(values)} correlations instead of {N_CORR}"
    if any(v is None for v in values) or not np.all(np.isfinite(np.asarray(values, dtype=np.float64))):
        return "correlations not finite (silent or constant bar?)"
    return None


def training_score_rows(ids: list[str], trained: TrainedDetector, rejected: list[dict]) -> list[dict]:
    split = np.full(len(ids), "train", dtype=object)
    split[trained.val_index] = "val"
    rows = [{"loop_id": i, "split": s, "score": float(d), "reason": None}
            for i, s, d in zip(ids, split, trained.scores)]
    return rows + rejected


# --------------------------------------------------------------------------------------------
# Loop extraction from the MIDI phrase shards


def score_phrase_shard(model: LoopDetector, phrase_path: str | Path, loop_path: str | Path) -> tuple[int, int]:
    """Score every phrase of a shard; write those below the threshold (with loop_score) to
    `loop_path`. Returns (phrases in, loops out)."""
    phrases = read_table(phrase_path, PHRASE_SCHEMA)
    scores = loop_scores(model, packed_column(phrases.column("roll")))
    is_loop = scores < float(model.threshold)
    loops = phrases.filter(pa.array(is_loop)).append_column("loop_score", pa.array(scores[is_loop]))
    write_table(loops, loop_path, LOOP_SCHEMA)
    return phrases.num_rows, loops.num_rows


def loop_summary(shards: list[int], phrase_paths: list, loop_paths: list) -> list[dict]:
    """Phrases in and loops out per shard and in total, from the Parquet footers (no data read)."""
    rows = []
    for shard, phrase_path, loop_path in zip(shards, phrase_paths, loop_paths, strict=True):
        rows.append({"shard": str(shard), "phrases": pq.read_metadata(phrase_path).num_rows,
                     "loops": pq.read_metadata(loop_path).num_rows})
    total = {"shard": "total", "phrases": sum(r["phrases"] for r in rows), "loops": sum(r["loops"] for r in rows)}
    for row in (*rows, total):
        row["loop_fraction"] = row["loops"] / row["phrases"] if row["phrases"] else float("nan")
    return [*rows, total]


# --------------------------------------------------------------------------------------------
# Evaluation against ground-truth labels (S Figure 2, plus what the paper had no labels for)


def score_phrase_shards(model: LoopDetector, phrase_paths: list) -> "pd.DataFrame":
    """file_id, start_bar, loop_score of every phrase of the given shards."""
    import pandas as pd

    frames = []
    for path in phrase_paths:
        table = read_table(path, PHRASE_SCHEMA, columns=["file_id", "start_bar", "roll"])
        frames.append(pd.DataFrame({
            "file_id": table.column("file_id").to_numpy(zero_copy_only=False),
            "start_bar": table.column("start_bar").to_numpy(zero_copy_only=False),
            "loop_score": loop_scores(model, packed_column(table.column("roll"))),
        }))
    return pd.concat(frames, ignore_index=True)


def attach_labels(scores: "pd.DataFrame", labels: "pd.DataFrame") -> "pd.DataFrame":
    """Inner join of phrase scores and window labels on (file_id, start_bar); logs what did not match
    (labelled windows the MIDI stage did not keep as phrases, e.g. too sparse, are expected)."""
    labels = labels[["file_id", "start_bar", "is_loop"]].astype({"start_bar": "int64", "is_loop": bool})
    scores = scores.astype({"start_bar": "int64"})
    merged = scores.merge(labels, on=["file_id", "start_bar"], how="inner", validate="one_to_one")
    log.info("labels: %d windows (%d loops); phrases: %d; matched: %d (%d loops); phrases without a label: %d",
             len(labels), int(labels["is_loop"].sum()), len(scores), len(merged), int(merged["is_loop"].sum()),
             len(scores) - len(merged))
    return merged


def figure2_groups(loop_group_scores: np.ndarray, all_scores: np.ndarray, n_groups: int, group_size: int,
                   seed: int) -> dict[str, np.ndarray]:
    """S Figure 2: a group of known loops and `n_groups` random groups of phrases (which may contain
    loops), all of one size so that the paper's paired t-test applies."""
    rng = np.random.default_rng(seed)
    size = min(group_size, len(loop_group_scores), len(all_scores))
    if size < group_size:
        log.warning("figure 2 groups have %d phrases, not %d: too few loops or phrases", size, group_size)
    groups = {"loops": rng.choice(loop_group_scores, size, replace=False)}
    for k in range(n_groups):
        groups[f"random {k + 1}"] = rng.choice(all_scores, size, replace=False)
    return groups


def group_statistics(groups: dict[str, np.ndarray], threshold: float) -> list[dict]:
    """Per group: mean ± std, median, share below the threshold, and tests against the loop group.

    The paired t-test is the paper's (pairs are by draw order: the pairing carries no meaning);
    the Mann-Whitney U test is the unpaired test the data actually call for.
    """
    from scipy import stats

    loops = groups["loops"]
    rows = []
    for name, scores in groups.items():
        row = {"group": name, "n": len(scores), "mean": float(scores.mean()), "std": float(scores.std()),
               "median": float(np.median(scores)), "below_threshold": float((scores < threshold).mean()),
               "t_paired": None, "p_paired_t": None, "p_mann_whitney": None}
        if name != "loops" and len(scores) > 1:
            t = stats.ttest_rel(loops, scores)
            row.update(t_paired=float(t.statistic), p_paired_t=float(t.pvalue),
                       p_mann_whitney=float(stats.mannwhitneyu(loops, scores, alternative="less").pvalue))
        rows.append(row)
    return rows


def roc_curve(scores: np.ndarray, is_loop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of "score < t means loop": (false positive rate, true positive rate, t) for every
    distinct score t, starting at (0, 0)."""
    scores = np.asarray(scores, dtype=np.float64)
    is_loop = np.asarray(is_loop, dtype=bool)
    order = np.argsort(scores, kind="stable")
    sorted_scores, hits = scores[order], is_loop[order]
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    tp = np.cumsum(hits)[last_of_tie]
    fp = np.cumsum(~hits)[last_of_tie]
    tpr = np.r_[0.0, tp / max(is_loop.sum(), 1)]
    fpr = np.r_[0.0, fp / max((~is_loop).sum(), 1)]
    return fpr, tpr, np.r_[-np.inf, sorted_scores[last_of_tie]]


def roc_auc(scores: np.ndarray, is_loop: np.ndarray) -> float:
    """P(a loop scores lower than a non-loop), ties counting half (= Mann-Whitney U / n1 n0)."""
    from scipy.stats import rankdata

    is_loop = np.asarray(is_loop, dtype=bool)
    n_loop, n_other = int(is_loop.sum()), int((~is_loop).sum())
    if not n_loop or not n_other:
        return float("nan")
    ranks = rankdata(-np.asarray(scores, dtype=np.float64))  # high rank = low score
    return float((ranks[is_loop].sum() - n_loop * (n_loop + 1) / 2) / (n_loop * n_other))


def threshold_metrics(scores: np.ndarray, is_loop: np.ndarray, threshold: float) -> dict:
    predicted = np.asarray(scores) < threshold
    is_loop = np.asarray(is_loop, dtype=bool)
    tp = int((predicted & is_loop).sum())
    precision = tp / predicted.sum() if predicted.sum() else float("nan")
    recall = tp / is_loop.sum() if is_loop.sum() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
    return {"predicted_loops": int(predicted.sum()), "true_positives": tp,
            "precision": float(precision), "recall": float(recall), "f1": float(f1)}


def read_known_loops(path) -> list[str]:
    """Hand-picked loops (the paper's 100): phrase ids `<file_id>:<start_bar>`, one a line; blank
    lines and '#' comments are ignored."""
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines())
    ids = [line for line in lines if line]
    bad = [i for i in ids if not re.fullmatch(r"[0-9a-fA-F]+:\d+", i)]
    if bad:
        raise ValueError(f"{path}: not a phrase id (<file_id>:<start_bar>): {bad[0]!r}")
    return ids


def evaluate_detector(scores: "pd.DataFrame", threshold: float, n_groups: int, group_size: int, seed: int,
                      labels: "pd.DataFrame | None" = None, known_loop_ids=None) -> tuple[dict, list[dict], dict[str, np.ndarray]]:
    """S Figure 2 and its tests, plus what labels allow. Returns (metrics row, group rows, groups).

    `scores`: file_id, start_bar, loop_score of every phrase (score_phrase_shards). The loop group
    is drawn from the known loops (`known_loop_ids`, e.g. 100 hand-picked ones, as the paper) or,
    without them, from the labelled loops; the random groups always come from *every* scored phrase,
    as the paper's (which may contain loops). ROC AUC, precision and recall need `labels` with loops
    and non-loops; otherwise they are NaN and `phrases` counts every scored phrase."""
    all_scores = scores["loop_score"].to_numpy(dtype=np.float64)
    labelled = attach_labels(scores, labels) if labels is not None else None
    if known_loop_ids is not None:
        ids = scores["file_id"].astype(str) + ":" + scores["start_bar"].astype("int64").astype(str)
        known = ids.isin(set(known_loop_ids)).to_numpy()
        missing = len(set(known_loop_ids)) - int(known.sum())
        if missing:
            log.warning("%d of %d known loops are not among the scored phrases", missing, len(set(known_loop_ids)))
        loop_scores_ = all_scores[known]
    elif labelled is not None:
        loop_scores_ = labelled["loop_score"].to_numpy(dtype=np.float64)[labelled["is_loop"].to_numpy(dtype=bool)]
    else:
        raise ValueError("evaluate_detector needs known loop ids or labels")
    if len(loop_scores_) == 0:
        raise ValueError("no known loop among the scored phrases")
    groups = figure2_groups(loop_scores_, all_scores, n_groups, group_size, seed)
    nan = float("nan")
    metrics = {"phrases": len(all_scores), "loops": len(loop_scores_), "threshold": threshold, "roc_auc": nan,
               "loop_score_mean": float(loop_scores_.mean()), "loop_score_std": float(loop_scores_.std()),
               "predicted_loops": int((all_scores < threshold).sum()), "true_positives": int((loop_scores_ < threshold).sum()),
               "precision": nan, "recall": float((loop_scores_ < threshold).mean()), "f1": nan}
    if labelled is not None and 0 < labelled["is_loop"].sum() < len(labelled):
        s, is_loop = labelled["loop_score"].to_numpy(), labelled["is_loop"].to_numpy(dtype=bool)
        metrics.update(phrases=len(labelled), roc_auc=roc_auc(s, is_loop), **threshold_metrics(s, is_loop, threshold))
        if known_loop_ids is None:
            metrics.update(loops=int(is_loop.sum()))
    return metrics, group_statistics(groups, threshold), groups


# --------------------------------------------------------------------------------------------
# Figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training_curve(history: list[dict], path: str | Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(PHASES), figsize=(10, 3.5))
    for ax, phase in zip(axes, PHASES):
        rows = [r for r in history if r["phase"] == phase]
        epochs = [r["epoch"] for r in rows]
        ax.plot(epochs, [r["train_loss"] for r in rows], label="train")
        ax.plot(epochs, [r["val_loss"] for r in rows], label="validation")
        ax.set(title={"autoencoder": "autoencoder (MSE)", "svdd": "SVDD (mean sq. distance to c)"}[phase],
               xlabel="epoch", yscale="log")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_score_distribution(rows: list[dict], threshold: float, path: str | Path) -> None:
    """Histogram of the audio loops' final scores (log axis, where the threshold is defined)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    tiny = np.finfo(np.float32).tiny
    for split in ("train", "val"):
        scores = np.array([r["score"] for r in rows if r["split"] == split], dtype=np.float64)
        if len(scores):
            ax.hist(np.log10(np.maximum(scores, tiny)), bins=30, alpha=0.6, label=f"{split} ({len(scores)})")
    ax.axvline(np.log10(threshold), color="red", linestyle="--", label=f"threshold {threshold:.3g}")
    ax.set(xlabel="log10 loop score", ylabel="audio loops", title="Training-set loop scores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_figure2(groups: dict[str, np.ndarray], group_rows: list[dict], threshold: float, path: str | Path) -> None:
    """S Figure 2: box plots with medians (green) and means (red triangles)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.boxplot(list(groups.values()), showmeans=True, showfliers=True,
               medianprops={"color": "green"}, meanprops={"marker": "^", "markerfacecolor": "red", "markeredgecolor": "red"})
    p_values = {r["group"]: r["p_paired_t"] for r in group_rows}
    labels = [name if name == "loops" else f"{name}\np={p_values[name]:.1e}" for name in groups]
    ax.set_xticks(range(1, len(groups) + 1), labels)
    ax.axhline(threshold, color="grey", linestyle=":", label=f"threshold {threshold:.3g}")
    # Log axis: loop and random scores differ by orders of magnitude (the paper's axis was linear).
    ax.set(ylabel="loop score (log)", yscale="log", title="Loop scores: ground-truth loops vs random phrases (paired t-test)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_roc(fpr: np.ndarray, tpr: np.ndarray, auc: float, operating_point: dict, n_negatives: int,
             path: str | Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label=f"AUC {auc:.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    fp = operating_point["predicted_loops"] - operating_point["true_positives"]
    ax.plot([fp / max(n_negatives, 1)], [operating_point["recall"]], "ro", label="threshold")
    ax.set(xlabel="false positive rate", ylabel="true positive rate (recall)", title="Loop detector vs labels")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
