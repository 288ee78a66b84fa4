"""The detector against ground truth (S Figure 2, plus what the paper had no labels for): known or
labelled loops against random groups of every scored phrase, ROC, precision and recall."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("loopgen.detector")

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


def attach_labels(scores: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Inner join of phrase scores and window labels on (file_id, start_bar); logs what did not match
    (labelled windows the MIDI stage did not keep as phrases, e.g. too sparse, are expected)."""
    labels = labels[["file_id", "start_bar", "is_loop"]].astype({"start_bar": "int64", "is_loop": bool})
    scores = scores.astype({"start_bar": "int64"})
    merged = scores.merge(labels, on=["file_id", "start_bar"], how="inner", validate="one_to_one")
    log.info(
        "labels: %d windows (%d loops); phrases: %d; matched: %d (%d loops); phrases without a label: %d",
        len(labels),
        int(labels["is_loop"].sum()),
        len(scores),
        len(merged),
        int(merged["is_loop"].sum()),
        len(scores) - len(merged),
    )
    return merged


def figure2_groups(
    loop_group_scores: np.ndarray, all_scores: np.ndarray, n_groups: int, group_size: int, seed: int
) -> dict[str, np.ndarray]:
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
        row = {
            "group": name,
            "n": len(scores),
            "mean": float(scores.mean()),
            "std": float(scores.std()),
            "median": float(np.median(scores)),
            "below_threshold": float((scores < threshold).mean()),
            "t_paired": None,
            "p_paired_t": None,
            "p_mann_whitney": None,
        }
        if name != "loops" and len(scores) > 1:
            t = stats.ttest_rel(loops, scores)
            row.update(
                t_paired=float(t.statistic),
                p_paired_t=float(t.pvalue),
                p_mann_whitney=float(stats.mannwhitneyu(loops, scores, alternative="less").pvalue),
            )
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
    return {
        "predicted_loops": int(predicted.sum()),
        "true_positives": tp,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def read_known_loops(path) -> list[str]:
    """Hand-picked loops (the paper's 100): phrase ids `<file_id>:<start_bar>`, one a line; blank
    lines and '#' comments are ignored."""
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines())
    ids = [line for line in lines if line]
    bad = [i for i in ids if not re.fullmatch(r"[0-9a-fA-F]+:\d+", i)]
    if bad:
        raise ValueError(f"{path}: not a phrase id (<file_id>:<start_bar>): {bad[0]!r}")
    return ids


def evaluate_detector(
    scores: pd.DataFrame,
    threshold: float,
    n_groups: int,
    group_size: int,
    seed: int,
    labels: pd.DataFrame | None = None,
    known_loop_ids=None,
) -> tuple[dict, list[dict], dict[str, np.ndarray]]:
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
    metrics = {
        "phrases": len(all_scores),
        "loops": len(loop_scores_),
        "threshold": threshold,
        "roc_auc": nan,
        "loop_score_mean": float(loop_scores_.mean()),
        "loop_score_std": float(loop_scores_.std()),
        "predicted_loops": int((all_scores < threshold).sum()),
        "true_positives": int((loop_scores_ < threshold).sum()),
        "precision": nan,
        "recall": float((loop_scores_ < threshold).mean()),
        "f1": nan,
    }
    if labelled is not None and 0 < labelled["is_loop"].sum() < len(labelled):
        s, is_loop = labelled["loop_score"].to_numpy(), labelled["is_loop"].to_numpy(dtype=bool)
        metrics.update(phrases=len(labelled), roc_auc=roc_auc(s, is_loop), **threshold_metrics(s, is_loop, threshold))
        if known_loop_ids is None:
            metrics.update(loops=int(is_loop.sum()))
    return metrics, group_statistics(groups, threshold), groups
