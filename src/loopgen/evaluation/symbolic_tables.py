"""Tables 1-3 of the symbolic paper (S) from METRICS_SCHEMA rows: CSV (ours) and Markdown (ours,
then the paper's numbers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from loopgen.evaluation.symbolic_metrics import SIMILARITY_METRICS
from loopgen.evaluation.symbolic_sets import SampleSet

TABLE2_COLUMNS = ("LS", "UP", "ND", "P", "R", "D", "C")
TABLE3_COLUMNS = ("F1 P&R", "F1 D&C")

# The paper's numbers (S tables 1-3), printed beside ours.
PAPER_TABLE1 = {"CNN-VAE": 4.412e-3, "VQ-VAE": 6.643e-3}
PAPER_TABLE2 = {
    "training set": (6.806e-3, 5.769, 14.383, None, None, None, None),
    "CNN-VAE": (0.3496, 5.614, 12.648, (0.642, 0.033), (0.625, 0.021), (0.617, 0.076), (0.746, 0.024)),
    "Music Transformer": (0.7200, 4.127, 11.290, (0.546, 0.077), (0.359, 0.113), (0.687, 0.174), (0.408, 0.064)),
    "MuseGAN": (0.2307, 5.790, 14.011, (0.641, 0.013), (0.689, 0.012), (0.673, 0.045), (0.842, 0.013)),
    "VQ-VAE+LSTM temperature": (0.2275, 5.079, 14.289, (0.768, 0.013), (0.655, 0.022), (1.263, 0.047), (0.949, 0.002)),
    "VQ-VAE+LSTM top-k (k = 30)": (
        0.1978,
        5.044,
        14.320,
        (0.779, 0.015),
        (0.636, 0.015),
        (1.328, 0.072),
        (0.952, 0.004),
    ),
    "VQ-VAE+LSTM top-p (p = 0.08)": (
        0.2037,
        5.042,
        14.341,
        (0.783, 0.017),
        (0.638, 0.029),
        (1.337, 0.075),
        (0.950, 0.005),
    ),
}
PAPER_TABLE3 = {
    "CNN-VAE": (0.633, 0.675),
    "Music Transformer": (0.433, 0.512),
    "MuseGAN": (0.664, 0.748),
    "VQ-VAE+LSTM temperature": (0.707, 1.084),
    "VQ-VAE+LSTM top-k (k = 30)": (0.700, 1.109),
    "VQ-VAE+LSTM top-p (p = 0.08)": (0.703, 1.111),
}


def f1(a: float, b: float) -> float:
    """Harmonic mean; 0 when both are 0, NaN when either is."""
    if np.isnan(a) or np.isnan(b):
        return float("nan")
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def table2(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per set (training set first): LS, UP, ND and the mean and std (over networks,
    the population std, ddof = 0, as the paper's np.std) of P, R, D, C, plus table 3's F1 scores
    from those means."""
    sets = metrics[
        metrics["experiment"].isin(["training", "generation", "rejection"]) & metrics["metric"].isin(TABLE2_COLUMNS)
    ]
    keys = ["experiment", "model", "mode", "limit"]
    rows = []
    for key, group in sets.groupby(keys, dropna=False, sort=False):
        values = dict(zip(keys, key))
        values = {k: (None if pd.isna(v) else v) for k, v in values.items()}
        row = {"set": _set_label(values), **values}
        for metric in TABLE2_COLUMNS:
            got = group.loc[group["metric"] == metric, "value"]
            row[metric] = got.mean() if len(got) else float("nan")
            if metric in SIMILARITY_METRICS:
                row[f"{metric} std"] = float(np.std(got)) if len(got) > 1 else float("nan")
        row["F1 P&R"], row["F1 D&C"] = f1(row["P"], row["R"]), f1(row["D"], row["C"])
        row["n_loops"] = int(group.loc[group["metric"] == "LS", "n_loops"].max())
        rows.append(row)
    order = {"training": 0, "generation": 1, "rejection": 2}
    table = pd.DataFrame(rows)
    table["_order"] = table["experiment"].map(order)
    table["_limit"] = -table["limit"].astype(float).fillna(np.inf)
    table = table.sort_values(["_order", "model", "mode", "_limit"], na_position="first")
    return table.drop(columns=["_order", "_limit"]).reset_index(drop=True)


def _set_label(values: dict) -> str:
    if values["experiment"] == "training":
        return "training set"
    return SampleSet(values["experiment"], values["model"], values["mode"], values["limit"]).label


def table1(metrics: pd.DataFrame) -> pd.DataFrame:
    rows = metrics[metrics["metric"] == "reconstruction_error"]
    return pd.DataFrame(
        {"model": rows["model"], "reconstruction error": rows["value"], "validation loops": rows["n_loops"]}
    ).reset_index(drop=True)


def write_tables(metrics: pd.DataFrame, folder) -> dict[str, Path]:
    """table1/2/3 as CSV (ours) and Markdown (ours, then the paper's numbers) in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    t1, t2 = table1(metrics), table2(metrics)
    t2 = t2[t2["experiment"] != "rejection"]  # the sweep is Figure 4, not table 2
    t3 = t2.loc[t2["experiment"] != "training", ["set", *TABLE3_COLUMNS]]
    paths = {}
    for name, table, markdown in (
        ("table1_reconstruction", t1, _table1_markdown(t1)),
        ("table2_metrics", t2, _table2_markdown(t2)),
        ("table3_f1", t3, _table3_markdown(t3)),
    ):
        table.to_csv(folder / f"{name}.csv", index=False)
        (folder / f"{name}.md").write_text(markdown)
        paths[name] = folder / f"{name}.md"
    return paths


def _table1_markdown(t1: pd.DataFrame) -> str:
    rows = [
        [row["model"], f"{row['reconstruction error']:.3e}", f"{row['validation loops']:,}"] for _, row in t1.iterrows()
    ]
    rows += [[f"paper: {model}", f"{value:.3e}", ""] for model, value in PAPER_TABLE1.items()]
    return (
        "Table 1. Reconstruction error: mean Hamming distance (fraction of differing cells) on the "
        "validation songs.\n\n" + markdown_table(["model", "reconstruction error", "validation loops"], rows)
    )


def _table2_markdown(t2: pd.DataFrame) -> str:
    header = ["set", *TABLE2_COLUMNS, "loops"]
    rows = [
        [
            row["set"],
            _sci(row["LS"]),
            _num(row["UP"]),
            _num(row["ND"]),
            *(_mean_std(row[m], row[f"{m} std"]) for m in SIMILARITY_METRICS),
            f"{row['n_loops']:,}",
        ]
        for _, row in t2.iterrows()
    ]
    rows += [
        [f"paper: {name}", _sci(ls), _num(up), _num(nd), *(_mean_std(*v) if v else "-" for v in prdc), ""]
        for name, (ls, up, nd, *prdc) in PAPER_TABLE2.items()
    ]
    return (
        "Table 2. Loop score (LS), unique pitches per bar (UP), note density (ND), and precision, recall, "
        "density and coverage (mean ± population std over random embedding networks) against the training split of the loops.\n\n"
        + markdown_table(header, rows)
    )


def _table3_markdown(t3: pd.DataFrame) -> str:
    rows = [[row["set"], _num(row["F1 P&R"]), _num(row["F1 D&C"])] for _, row in t3.iterrows()]
    rows += [[f"paper: {name}", _num(a), _num(b)] for name, (a, b) in PAPER_TABLE3.items()]
    return "Table 3. F1 scores: harmonic mean of the mean P and R, and of the mean D and C.\n\n" + markdown_table(
        ["set", *TABLE3_COLUMNS], rows
    )


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.3f}"


def _sci(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.3e}"


def _mean_std(mean, std) -> str:
    if mean is None or pd.isna(mean):
        return "-"
    return f"{mean:.3f}" if pd.isna(std) else f"{mean:.3f} ± {std:.3f}"
