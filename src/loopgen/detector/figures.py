"""The detector's figures: training curves, training-score histogram, S Figure 2, ROC."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from loopgen.detector.training import PHASES


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
        ax.set(
            title={"autoencoder": "autoencoder (MSE)", "svdd": "SVDD (mean sq. distance to c)"}[phase],
            xlabel="epoch",
            yscale="log",
        )
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
    ax.boxplot(
        list(groups.values()),
        showmeans=True,
        showfliers=True,
        medianprops={"color": "green"},
        meanprops={"marker": "^", "markerfacecolor": "red", "markeredgecolor": "red"},
    )
    p_values = {r["group"]: r["p_paired_t"] for r in group_rows}
    labels = [name if name == "loops" else f"{name}\np={p_values[name]:.1e}" for name in groups]
    ax.set_xticks(range(1, len(groups) + 1), labels)
    ax.axhline(threshold, color="grey", linestyle=":", label=f"threshold {threshold:.3g}")
    # Log axis: loop and random scores differ by orders of magnitude (the paper's axis was linear).
    ax.set(
        ylabel="loop score (log)",
        yscale="log",
        title="Loop scores: ground-truth loops vs random phrases (paired t-test)",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_roc(
    fpr: np.ndarray, tpr: np.ndarray, auc: float, operating_point: dict, n_negatives: int, path: str | Path
) -> None:
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
