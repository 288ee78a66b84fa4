"""Section "Symbolic generation": tables 1-3, Figure 4, and the listening grid (rows = samples,
columns = training set and every generated set found under results/samples/)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loopgen.report import html
from loopgen.report.media import copy_figure, write_pianoroll

FIRST_MODEL = "vqvae_lstm"  # the paper's model leads the grid; the baselines follow by name
TABLE_CAPTIONS = {
    "table1_reconstruction": "Table 1: VQ-VAE reconstruction error on validation songs",
    "table2_metrics": "Table 2: loop score (LS), unique pianorolls (UP), note density (ND) and P/R/D/C",
    "table3_f1": "Table 3: F1 of precision/recall and of density/coverage",
    "acceptance": "Rejection sampling: loops generated to keep each loop-score limit",
}
FIGURES = {
    "eval/symbolic/figure4_rejection_sweep.png": "Figure 4: metrics against the loop-score limit of rejection sampling",
    "eval/symbolic/pianorolls.png": "Pianorolls: training loops and generated loops",
    "symbolic/vqvae_training.png": "VQ-VAE training curve",
    "symbolic/prior_training.png": "LSTM prior training curve",
}


@dataclass
class SampleSet:
    """One column of the grid: a generated set (or the training loops)."""

    model: str
    mode: str
    path: Path | None  # None: the training loops

    @property
    def name(self) -> str:
        return "training" if self.path is None else f"{self.model}-{self.mode}"

    @property
    def label(self) -> str:
        if self.path is None:
            return "training set"
        return self.model if self.mode == "samples" else f"{self.model} ({self.mode})"  # a baseline's one set


def sample_sets(results: Path) -> list[SampleSet]:
    """Every results/samples/<model>/<mode>.parquet (the rejection sweep's sets are not columns),
    the paper's model first."""
    folders = sorted((results / "samples").glob("*/"), key=lambda p: (p.name != FIRST_MODEL, p.name))
    return [SampleSet(folder.name, path.stem, path) for folder in folders for path in sorted(folder.glob("*.parquet"))]


def grid_columns(results: Path) -> list[SampleSet]:
    """The training loops (once the VQ-VAE's split exists: results/symbolic/codes.parquet), then
    every generated set."""
    training = [SampleSet("training", "loops", None)] if (results / "symbolic" / "codes.parquet").is_file() else []
    return [*training, *sample_sets(results)]


def rolls_of(column: SampleSet, results: Path, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n loops of a generated set, or n random loops (seeded) of the VQ-VAE's training
    split, the real set the tables compare against."""
    from loopgen.evaluation import symbolic as evaluation

    if column.path is not None:
        packed, scores = evaluation.read_sample_set(column.path)
        return packed[:n], scores[:n]
    packed, scores = evaluation.read_training_loops(
        sorted((results / "loops").glob("shard-*.parquet")), results / "symbolic" / "codes.parquet"
    )
    index = np.random.default_rng(seed).permutation(len(packed))[:n]
    return packed[index], scores[index]


def listening_grid(results: Path, out: Path, n_rows: int, tempo_bpm: float, seed: int) -> str:
    """Each cell: pianoroll PNG, FluidSynth render, MIDI link, loop score."""
    from loopgen.symbolic import sample_table, write_listening_files

    columns = grid_columns(results)
    cells: dict[str, list[str]] = {}
    for column in columns:
        packed, scores = rolls_of(column, results, n_rows, seed)
        write_listening_files(sample_table(packed, scores, column.name), out / "audio", len(packed), tempo_bpm)
        cells[column.name] = []
        for k, (roll, score) in enumerate(zip(packed, scores)):
            stem = f"{column.name}-{k:07d}"
            image = write_pianoroll(roll, out / "img" / f"{stem}.png").relative_to(out)
            cells[column.name].append(
                html.cell(
                    f"sym-{stem}",
                    str(image),
                    f"audio/{stem}.wav",
                    "symbolic",
                    f"LS = {score:.3g}",
                    f"audio/{stem}.mid",
                    data_model=column.model,
                    data_mode=column.mode,
                    data_sample=k,
                    data_loop_score=f"{score:.6g}",
                )
            )
    rows = [
        (f"sample {k + 1}", [cells[c.name][k] if k < len(cells[c.name]) else "" for c in columns])
        for k in range(max((len(v) for v in cells.values()), default=0))
    ]
    return html.grid("symbolic", [c.label for c in columns], rows)


def section(results: Path, out: Path, n_rows: int, tempo_bpm: float, seed: int) -> str:
    parts = [
        html.note(
            "Ours beside the paper's numbers where the tables give them. Loop score (LS): lower is "
            "more loop-like; the detector's threshold is in the Data section."
        )
    ]
    parts += html.tables_of(results / "eval" / "symbolic", "table*", results, TABLE_CAPTIONS)
    for folder in sorted((results / "samples").glob("*/rejection/")):  # one per model: ids say which
        parts += html.tables_of(folder, "acceptance", results, TABLE_CAPTIONS, prefix=f"{folder.parent.name}-")
    figures = [
        html.plot(copy_figure(results / name, out), Path(name).stem, caption)
        for name, caption in FIGURES.items()
        if (results / name).is_file()
    ]
    parts.append(f'<div class="plots">{"".join(figures)}</div>')
    parts.append("<h3>Listen</h3>")
    parts.append(
        html.note(
            f"Rows: samples; columns: training loops (drawn at random) and the first loops of each "
            f"generated set. Rendered with FluidSynth and the General MIDI SoundFont at "
            f"{tempo_bpm:g} BPM, 8 bars. Drums in orange (bottom rows), bass in blue."
        )
    )
    parts.append(listening_grid(results, out, n_rows, tempo_bpm, seed))
    return "\n".join(parts)
