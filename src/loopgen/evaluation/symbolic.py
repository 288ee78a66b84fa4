"""Evaluation of symbolic loop generation (S §4-§5, SPEC §4): the paper's tables 1-3, Figure 4
and pianoroll images.

    LS    mean loop score of a set's loops (the detector's score, stored with every loop)
    UP    distinct active columns per bar (drum columns count), averaged over bars and loops
    ND    active steps (of 16) per bar, averaged over bars and loops
    P R D C  improved precision/recall and density/coverage (k = 5) of a generated set against the
          training loops, on the embeddings of random, never trained CNNs (loopgen.evaluation.
          embeddings): one value per network (10), each on a random subset (10,000) of either set
    F1    harmonic mean of P and R and of D and C, from the means over networks (paper table 3)
    reconstruction error  mean Hamming distance of the VQ-VAE on its validation songs (table 1)

Every number is one row of METRICS_SCHEMA (results/eval/symbolic.parquet); the tables and figures
are drawn from those rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from loopgen.roll import N_BARS, N_DRUM, PACKED_BYTES, STEPS_PER_BAR, as_packed_array, unpack_rolls

log = logging.getLogger("loopgen.evaluation.symbolic")

# One number per row: results/eval/symbolic.parquet and the per-set files it is gathered from.
METRICS_SCHEMA = pa.schema(
    [
        ("experiment", pa.string()),  # training | generation | rejection | reconstruction
        ("model", pa.string()),  # training_set, vqvae_lstm, vqvae, ...
        ("mode", pa.string()),  # sampling mode; null for the training set and reconstruction
        ("limit", pa.float64()),  # loop-score limit of a rejection-sweep set; null: no limit
        ("metric", pa.string()),  # LS UP ND P R D C reconstruction_error acceptance_rate
        ("network", pa.int32()),  # embedding network of a P/R/D/C value; null for whole-set values
        ("value", pa.float64()),  # NaN where the set had too few loops
        ("n_loops", pa.int64()),  # loops the value was computed from
    ]
)
SIMILARITY_METRICS = {"P": "precision", "R": "recall", "D": "density", "C": "coverage"}
TABLE2_COLUMNS = ("LS", "UP", "ND", "P", "R", "D", "C")
TABLE3_COLUMNS = ("F1 P&R", "F1 D&C")
BATCH = 8192  # loops unpacked at a time (60 MB of booleans)
PIANOROLL_STREAM = 7  # random stream of the pianoroll picks, apart from the networks' subsets (0, 1)

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


@dataclass
class SimilaritySettings:
    """P/R/D/C as the paper computes them (config section `evaluation`, keys symbolic_*)."""

    k: int = 5
    n_networks: int = 10
    n_samples: int = 10_000
    seed: int = 1234
    device: str = "cpu"


@dataclass
class SampleSet:
    """Which loops a row describes."""

    experiment: str  # generation | rejection
    model: str
    mode: str
    limit: float | None = None

    @property
    def label(self) -> str:
        if self.experiment != "rejection":
            return f"{self.model} {self.mode}"
        return f"{self.model} {self.mode}, " + (
            "no loop-score limit" if self.limit is None else f"loop score < {self.limit:g}"
        )


# --------------------------------------------------------------------------------------------
# Reading loops


def read_training_loops(loop_paths, codes_path) -> tuple[np.ndarray, np.ndarray]:
    """The real set of P/R/D/C and the "training set" row of table 2: the loops of the VQ-VAE's
    training split (split == 'train' in results/symbolic/codes.parquet), never its validation
    songs -- as the released code (`original_data[:num_train_origin]`). Packed rolls and scores."""
    return read_split_loops(loop_paths, codes_path, "train")


def read_split_loops(loop_paths, codes_path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Packed rolls (N, 912) and loop scores (N,) of the loops (results/loops/shard-*.parquet) in
    one split ('train' | 'val') of results/symbolic/codes.parquet."""
    import pyarrow.compute as pc

    from loopgen.detector import LOOP_SCHEMA
    from loopgen.symbolic import CODES_SCHEMA
    from loopgen.tables import read_table

    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    codes = read_table(codes_path, CODES_SCHEMA, columns=["phrase_id", "split"])
    keep = pc.equal(codes.column("split"), split)
    ids = codes.column("phrase_id").filter(keep).combine_chunks()
    return _read_rolls_and_scores(loop_paths, LOOP_SCHEMA, keep_ids=ids)


def read_sample_set(path) -> tuple[np.ndarray, np.ndarray]:
    """A generated set (results/samples/{model}/...parquet): packed rolls and loop scores."""
    from loopgen.symbolic import SAMPLE_SCHEMA

    return _read_rolls_and_scores([path], SAMPLE_SCHEMA)


def _read_rolls_and_scores(paths, schema: pa.Schema, keep_ids: pa.Array | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rolls and loop scores of Parquet files (only the rows whose phrase_id is in keep_ids, when
    given). A row whose roll is not 912 bytes or whose score is missing or not finite is left out,
    with one warning line naming the file (never silently)."""
    import pyarrow.compute as pc

    from loopgen.roll import packed_column
    from loopgen.tables import read_table

    rolls, scores = [], []
    for path in paths:
        if keep_ids is None:
            table = read_table(path, schema, columns=["roll", "loop_score"])
        else:
            table = read_table(path, schema, columns=["phrase_id", "roll", "loop_score"])
            table = table.filter(pc.is_in(table.column("phrase_id"), value_set=keep_ids)).drop_columns(["phrase_id"])
        roll_bytes = pc.binary_length(table.column("roll")).to_numpy(zero_copy_only=False)
        score = table.column("loop_score").to_numpy(zero_copy_only=False).astype(np.float64)
        good = (np.nan_to_num(roll_bytes, nan=-1) == PACKED_BYTES) & np.isfinite(score)
        if not good.all():
            log.warning(
                "%s: %d of %d loops left out: roll not %d bytes or loop score missing",
                path,
                (~good).sum(),
                len(good),
                PACKED_BYTES,
            )
            table, score = table.filter(pa.array(good)), score[good]
        rolls.append(packed_column(table.column("roll")))
        scores.append(score)
        log.info("%s: %d loops", path, table.num_rows)
    if not rolls:
        return np.zeros((0, PACKED_BYTES), np.uint8), np.zeros(0)
    return np.concatenate(rolls), np.concatenate(scores)


# --------------------------------------------------------------------------------------------
# Musical style: UP and ND


def unique_pitches_per_bar(rolls: np.ndarray) -> np.ndarray:
    """(N, 128, 57) bool -> (N, 8): distinct active columns in each bar (drum columns count)."""
    return _bars(rolls).any(axis=2).sum(axis=2)


def active_steps_per_bar(rolls: np.ndarray) -> np.ndarray:
    """(N, 128, 57) bool -> (N, 8): steps of the bar with at least one active cell."""
    return _bars(rolls).any(axis=3).sum(axis=2)


def _bars(rolls: np.ndarray) -> np.ndarray:
    return np.asarray(rolls, dtype=bool).reshape(len(rolls), N_BARS, STEPS_PER_BAR, -1)


def musical_style(packed, batch_size: int = BATCH) -> dict[str, float]:
    """UP and ND of a set of packed rolls, averaged over all its bars; unpacked a batch at a time."""
    packed = as_packed_array(packed)
    if len(packed) == 0:
        return {"UP": float("nan"), "ND": float("nan")}
    up_sum = nd_sum = 0
    for start in range(0, len(packed), batch_size):
        rolls = unpack_rolls(packed[start : start + batch_size])
        up_sum += int(unique_pitches_per_bar(rolls).sum())
        nd_sum += int(active_steps_per_bar(rolls).sum())
    n_bars = len(packed) * N_BARS
    return {"UP": up_sum / n_bars, "ND": nd_sum / n_bars}


# --------------------------------------------------------------------------------------------
# Similarity: P, R, D, C on random embeddings


def similarity(real_packed, fake_packed, settings: SimilaritySettings) -> list[dict]:
    """P/R/D/C of the fake set against the real one, once per random embedding network. Network i
    has seed settings.seed + i and draws its own subsets of both sets (the real subsets depend on
    the seed alone, so every generated set meets the same real loops)."""
    from loopgen.evaluation.embeddings import embed_rolls, random_embedding_net
    from loopgen.evaluation.prdc import compute_prdc

    real_packed, fake_packed = as_packed_array(real_packed), as_packed_array(fake_packed)
    results = []
    for network in range(settings.n_networks):
        real = real_packed[_subset(len(real_packed), settings.n_samples, (settings.seed, network, 0))]
        fake = fake_packed[_subset(len(fake_packed), settings.n_samples, (settings.seed, network, 1))]
        net = random_embedding_net(settings.seed + network)
        values = compute_prdc(
            embed_rolls(net, real, device=settings.device), embed_rolls(net, fake, device=settings.device), k=settings.k
        )
        log.info(
            "network %d: %d real x %d generated loops: %s",
            network,
            len(real),
            len(fake),
            ", ".join(f"{name} {value:.4f}" for name, value in values.items()),
        )
        results.append({"network": network, "n_loops": len(fake), **values})
    return results


def _subset(n: int, size: int, seed: tuple) -> np.ndarray:
    """`size` distinct row indices of n (all of them when n <= size), sorted."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(list(seed)).choice(n, size, replace=False))


# --------------------------------------------------------------------------------------------
# Rows of METRICS_SCHEMA


def set_rows(sample_set: SampleSet, real_packed, fake_packed, fake_scores, settings: SimilaritySettings) -> list[dict]:
    """Every table-2 number of one generated set: LS, UP, ND and P/R/D/C per network."""
    n = len(fake_packed)
    row = {
        "experiment": sample_set.experiment,
        "model": sample_set.model,
        "mode": sample_set.mode,
        "limit": sample_set.limit,
        "network": None,
        "n_loops": n,
    }
    ls = float(np.mean(fake_scores)) if n else float("nan")
    rows = [{**row, "metric": "LS", "value": ls}]
    rows += [{**row, "metric": name, "value": value} for name, value in musical_style(fake_packed).items()]
    too_few = min(n, len(real_packed), settings.n_samples) <= settings.k
    if too_few:
        log.warning(
            "%s: %d generated and %d training loops (%d drawn per network); P/R/D/C need more than "
            "k = %d in each: left as NaN",
            sample_set.label,
            n,
            len(real_packed),
            settings.n_samples,
            settings.k,
        )
    results = [] if too_few else similarity(real_packed, fake_packed, settings)
    for network in range(settings.n_networks):
        for short, long in SIMILARITY_METRICS.items():
            value = results[network][long] if results else float("nan")
            n_used = results[network]["n_loops"] if results else n
            rows.append({**row, "metric": short, "network": network, "value": value, "n_loops": n_used})
    return rows


def training_rows(packed, loop_scores) -> list[dict]:
    """LS, UP and ND of the training loops (the first row of table 2)."""
    row = {
        "experiment": "training",
        "model": "training_set",
        "mode": None,
        "limit": None,
        "network": None,
        "n_loops": len(packed),
    }
    values = {"LS": float(np.mean(loop_scores)) if len(packed) else float("nan"), **musical_style(packed)}
    return [{**row, "metric": name, "value": value} for name, value in values.items()]


def reconstruction_rows(model: str, error: float, n_loops: int) -> list[dict]:
    return [
        {
            "experiment": "reconstruction",
            "model": model,
            "mode": None,
            "limit": None,
            "network": None,
            "metric": "reconstruction_error",
            "value": error,
            "n_loops": n_loops,
        }
    ]


def acceptance_rows(acceptance: pd.DataFrame, model: str) -> list[dict]:
    """The rejection sweep's acceptance rates (loopgen.symbolic.ACCEPTANCE_SCHEMA rows)."""
    return [
        {
            "experiment": "rejection",
            "model": model,
            "mode": row.mode,
            "limit": None if pd.isna(row.limit) else float(row.limit),
            "metric": "acceptance_rate",
            "network": None,
            "value": float(row.acceptance_rate),
            "n_loops": int(row.tried),
        }
        for row in acceptance.itertuples()
    ]


def validation_rolls(loop_paths, codes_path) -> np.ndarray:
    """Packed rolls of the VQ-VAE's validation songs (split == 'val' in codes.parquet)."""
    return read_split_loops(loop_paths, codes_path, "val")[0]


# --------------------------------------------------------------------------------------------
# Tables


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


# --------------------------------------------------------------------------------------------
# Figures


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
