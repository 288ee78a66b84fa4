"""Figures of symbolic evaluation: Figure 4 (the rejection sweep) from METRICS_SCHEMA rows, and
pianoroll images of real and generated loops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from loopgen.evaluation.symbolic_sets import _subset
from loopgen.evaluation.symbolic_tables import _num, table2
from loopgen.roll import N_BARS, N_DRUM, STEPS_PER_BAR, as_packed_array, unpack_rolls

PIANOROLL_STREAM = 7  # random stream of the pianoroll picks, apart from the networks' subsets (0, 1)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_rejection_sweep(metrics: pd.DataFrame, path) -> None:
    """Figure 4: P & R, D & C and UP & ND of the rejection-sweep sets, one point per loop-score
    limit (loosest first), with the std over networks as error bars and the acceptance rate."""
    plt = _pyplot()
    t2 = table2(metrics)
    sweep = t2[t2["experiment"] == "rejection"]
    accept = metrics[metrics["metric"] == "acceptance_rate"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    pairs = (("P", "R"), ("D", "C"), ("UP", "ND"))
    twins = [ax.twinx() if pair == ("UP", "ND") else ax for ax, pair in zip(axes, pairs)]  # UP, ND: other scales
    rate_lines: dict[int, list[str]] = {}
    # One colour pair per generator on shared axes; ours solid, baselines (e.g. MuseGAN) dashed.
    for g, ((model, mode), group) in enumerate(sweep.groupby(["model", "mode"], sort=False)):
        labels = ["none" if pd.isna(limit) else f"{limit:g}" for limit in group["limit"]]
        rates = [_acceptance(accept, model, mode, limit) for limit in group["limit"]]
        for i, (label, rate) in enumerate(zip(labels, rates)):
            rate_lines.setdefault(i, [label]).append(_num(rate))
        x = np.arange(len(group))
        for ax, twin, pair in zip(axes, twins, pairs):
            for target, metric, marker, colour in (
                (ax, pair[0], "o", f"C{2 * g}"),
                (twin, pair[1], "s", f"C{2 * g + 1}"),
            ):
                std = group.get(f"{metric} std")
                target.errorbar(
                    x,
                    group[metric],
                    yerr=None if std is None else std.fillna(0),
                    marker=marker,
                    capsize=3,
                    label=f"{metric} ({model} {mode})",
                    color=colour,
                    linestyle="-" if model == "vqvae_lstm" else "--",
                )
    models = ", ".join(f"{m} {md}" for m, md in sweep.groupby(["model", "mode"], sort=False).groups)
    for ax, twin, pair in zip(axes, twins, pairs):
        if twin is not ax:
            ax.set_ylabel(pair[0])
            twin.set_ylabel(pair[1])
        ax.set_xticks(list(rate_lines), ["\n".join(lines) for lines in rate_lines.values()], fontsize=7)
        ax.set_xlabel(f"loop-score limit, then acceptance rate of {models}", fontsize=7)
        ax.set_title(" & ".join(pair))
        handles = [h for a in dict.fromkeys([ax, twin]) for h in a.get_legend_handles_labels()[0]]
        ax.legend(handles, [h.get_label() for h in handles], fontsize=6, loc="best")
    fig.suptitle("Rejection sampling by loop score (S Figure 4)")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _acceptance(accept: pd.DataFrame, model: str, mode: str, limit) -> float:
    rows = accept[
        (accept["model"] == model)
        & (accept["mode"] == mode)
        & (accept["limit"].isna() if pd.isna(limit) else accept["limit"] == limit)
    ]
    return float(rows["value"].iloc[0]) if len(rows) else float("nan")


def plot_pianorolls(sets: dict[str, np.ndarray], path, n: int) -> None:
    """The first n loops of each set (a row per set: real loops first, then each generated set),
    time left to right, drums at the bottom below a line, bass pitches above."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(sets), n, figsize=(2.6 * n, 1.9 * len(sets)), squeeze=False)
    for row, (label, packed) in enumerate(sets.items()):
        rolls = unpack_rolls(as_packed_array(packed)[:n]) if len(packed) else np.zeros((0, 128, 57), bool)
        for col in range(n):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(rolls):
                ax.imshow(rolls[col].T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest")
                ax.axhline(N_DRUM - 0.5, color="C3", linewidth=0.6)
                for bar in range(1, N_BARS):
                    ax.axvline(bar * STEPS_PER_BAR - 0.5, color="C0", linewidth=0.3)
            if col == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle("Pianorolls: 8 bars x (9 drum columns below the red line, bass pitches 24-71 above)", fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def random_rows(packed: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n loops drawn at random (seeded) from a set, for the pianoroll images."""
    return packed[_subset(len(packed), n, (seed, PIANOROLL_STREAM))]
