"""Section "Data": what went in, what came out of each stage, and why files were rejected."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from loopgen.report import html
from loopgen.report.media import copy_figure

# Figures of the detector stage shown here, if the workflow wrote them (file -> caption).
DETECTOR_FIGURES = {
    "eval/detector/figure2.png": "Figure 2: loop scores of labelled loops vs other phrases (symbolic paper)",
    "eval/detector/roc.png": "ROC of the loop score against the labels",
    "detector/training_scores.png": "Loop scores of the detector's training loops, with the threshold",
    "detector/training_curve.png": "Detector training curve",
}


def reason_kind(reason: str) -> str:
    """A reject reason without its numbers ('tempo confidence 0.967 <= 0.99' -> 'tempo confidence N <= N'),
    so that reasons of one kind are counted together."""
    return re.sub(r"(?<![A-Za-z_])\d+(\.\d+)?(e[-+]?\d+)?", "N", str(reason)).strip() or "(no reason given)"


def stage_rows(results: Path) -> tuple[list[dict], list[dict]]:
    """(one summary row per stage, one row per stage and reject reason) from the workflow's tables."""
    import pandas as pd

    summary, reasons = [], []
    midi_files = results / "midi" / "files.parquet"
    if midi_files.is_file():
        files = pd.read_parquet(midi_files, columns=["status", "reason", "n_phrases"])
        accepted = files["status"] == "accepted"
        loops = None
        loop_summary = results / "loops" / "summary.csv"
        if loop_summary.is_file():
            table = pd.read_csv(loop_summary, dtype={"shard": str})
            loops = int(table.loc[table["shard"] == "total", "loops"].sum())
        summary.append(
            {
                "stage": "MIDI (Lakh)",
                "files in": len(files),
                "accepted": int(accepted.sum()),
                "rejected": int((~accepted).sum()),
                "phrases / segments": int(files["n_phrases"].sum()),
                "loops": loops,
            }
        )
        reasons += _reasons("MIDI", files[~accepted]["reason"])
    audio_loops = results / "audio" / "loops.parquet"
    if audio_loops.is_file():
        files = pd.read_parquet(audio_loops, columns=["status", "reason", "n_segments", "split"])
        accepted = files["status"] == "accepted"
        splits = files[accepted]["split"].value_counts().to_dict()
        summary.append(
            {
                "stage": "Audio (Looperman)",
                "files in": len(files),
                "accepted": int(accepted.sum()),
                "rejected": int((~accepted).sum()),
                "phrases / segments": int(files["n_segments"].sum()),
                "loops": ", ".join(f"{n} {split}" for split, n in sorted(splits.items())),
            }
        )
        reasons += _reasons("audio", files[~accepted]["reason"])
    return summary, reasons


def _reasons(stage: str, reasons) -> list[dict]:
    counts = Counter(reason_kind(reason) for reason in reasons)
    return [{"stage": stage, "reason": reason, "files": n} for reason, n in counts.most_common()]


def section(results: Path, out: Path) -> str:
    summary, reasons = stage_rows(results)
    parts = [
        html.note(
            "What the workflow read and kept. Loops are 8-bar MIDI phrases whose loop score is below "
            "the detector's threshold; audio loops are split by loop into train and test."
        )
    ]
    parts.append(html.table(summary, "data-summary", "Files in, phrases, loops"))
    parts.append(html.table(reasons, "data-rejects", "Rejected files by reason (numbers replaced by N)"))
    metrics = results / "eval" / "detector" / "metrics.csv"
    if metrics.is_file():
        parts.append(html.csv_table(metrics, "detector-metrics", "Loop detector against the labels", results))
    figures = [
        html.plot(copy_figure(results / name, out), Path(name).stem, caption)
        for name, caption in DETECTOR_FIGURES.items()
        if (results / name).is_file()
    ]
    parts.append(f'<div class="plots">{"".join(figures)}</div>')
    return "\n".join(parts)
