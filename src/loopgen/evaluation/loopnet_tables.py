"""LoopNet's tables 1 (FAD) and 2 (feature coherence) beside the paper's numbers, and figures.

Every FAD table names the embedding it was computed with: without the user's VGGish checkpoint
the numbers come from a random-weights VGGish and are comparable only with each other.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

# L table 1 and table 2 (SPEC §7).
PAPER_FAD = {"griffin_lim": 1.26, "STFT": 24.97, "WAV": 13.83, "WAVSPEC": 9.06, "MULTI": 3.73, "MULTI_NOENV": 3.35}
PAPER_COHERENCE = {
    "STFT": (87.50, 77.68, 79.46),
    "WAV": (67.44, 62.86, 52.14),
    "WAVSPEC": (76.79, 75.89, 74.11),
    "MULTI": (87.50, 77.68, 75.00),
    "MULTI_NOENV": (83.93, 77.68, 75.00),
}
SET_LABELS = {"griffin_lim": "Griffin-Lim"}


def _label(name: str) -> str:
    return SET_LABELS.get(name, name)


def _fmt(value, digits=2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _write_csv(rows: list[dict], path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["empty"])
        writer.writeheader()
        writer.writerows(rows)


def fad_table(fad_rows: list[dict], csv_path, md_path) -> None:
    """Table 1: FAD of each set against the real test segments with its 95% bootstrap interval,
    beside the paper's VGGish FAD; the reference rows (white noise at the real bars' loudness, the
    real bars low-passed at 1 kHz) that show what a bad FAD is; then the degradation check that
    shows the embedding ranks damage in order. Every row names its embedding."""
    sets = [r for r in fad_rows if r["kind"] == "set"]
    references = [r for r in fad_rows if r["kind"] == "reference"]
    checks = [r for r in fad_rows if r["kind"] == "degradation"]
    embedding = fad_rows[0]["embedding"] if fad_rows else "(none)"

    def row_of(r, label):
        return {
            "model": label,
            "kind": r["kind"],
            "fad": r["fad"],
            "fad_low": r.get("fad_low"),
            "fad_high": r.get("fad_high"),
            "fad_std_over_networks": r["fad_std"],
            "n_clips": r["n_clips"],
            "paper_fad_vggish": PAPER_FAD.get(r["set"]) if r["kind"] == "set" else None,
            "embedding": r["embedding"],
        }

    rows = [row_of(r, _label(r["set"])) for r in sets] + [row_of(r, f"reference: {r['set']}") for r in references]
    _write_csv(rows + [row_of(r, f"check: {r['set']}") for r in checks], csv_path)
    lines = [
        "# LoopNet table 1: Fréchet Audio Distance to the real test segments",
        "",
        f"Embedding: **{embedding}**. Every clip, real and generated, is peak-normalised before the embedding "
        "(x / max(0.1, max|x|), as the paper's FAD code) unless the embedding's name says otherwise.",
        "",
    ]
    if not embedding.startswith("VGGish ("):
        lines += [
            "No VGGish checkpoint was given (`loopnet.vggish_checkpoint`), so these FADs are not on the "
            "paper's scale: compare the rows with each other, not with the paper's column.",
            "",
        ]
    lines += [
        "The interval is the FAD ± half the 95% range of its bootstrap resamples over the test clips: do not "
        "read a difference smaller than it. "
        "The reference rows show what a bad FAD is (silence has none).",
        "",
        "| Model | FAD (ours) | 95% interval | ± over networks | segments | FAD (paper, VGGish) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {row['model']} | {_fmt(row['fad'])} | {_fmt(row['fad_low'])}–{_fmt(row['fad_high'])} | "
        f"{_fmt(row['fad_std_over_networks'])} | {row['n_clips']} | {_fmt(row['paper_fad_vggish'])} |"
        for row in rows
    ]
    if checks:
        monotonic = _monotonic(checks)
        lines += [
            "",
            "Does the embedding rank damage? Real test segments degraded at rising severity, FAD to the "
            f"clean ones (same embedding): **{'yes, both series rise monotonically' if monotonic else 'NO, not monotonic'}**.",
            "",
            "| Degradation | FAD |",
            "| --- | ---: |",
        ]
        lines += [f"| {r['set']} | {_fmt(r['fad'])} |" for r in checks]
    Path(md_path).write_text("\n".join(lines) + "\n")


def gates_table(gates_csv, md_path) -> None:
    """gates.csv (loopgen.loopnet.gates) as a markdown table: is each variant better than silence,
    as loud as the real bars, closer to its target than another real loop, and where is it not?"""
    with open(gates_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    value = lambda row, key, digits=3: _fmt(float(row[key]), digits)
    lines = [
        "# LoopNet gates: each variant against trivial outputs (test bars)",
        "",
        "loss ratio = test loss / loss of silence under the variant's own loss (≤ 0.8 passes); RMS = median "
        "output AC RMS − target's (within ±6 dB passes); MR-STFT = median multi-resolution log-magnitude "
        "distance to the own target, beside a real bar of another loop; LSD = log-spectral distance per band (dB), "
        "output / another real bar.",
        "",
        "| Variant | loss ratio | RMS (dB) | MR-STFT own / other real | closer than other real | "
        "LSD 0–1 kHz | LSD 1–4 kHz | LSD 4–8 kHz | gates |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lsd = [
            f"{value(r, f'lsd_{b}_db', 1)} / {value(r, f'lsd_{b}_db_other_real', 1)}" for b in ("low", "mid", "high")
        ]
        lines.append(
            f"| {r['variant']} | {value(r, 'loss_ratio')} | {value(r, 'rms_db_diff', 1)} | "
            f"{value(r, 'mrstft_to_target', 2)} / {value(r, 'mrstft_other_real', 2)} | "
            f"{100 * float(r['share_closer']):.0f}% | {' | '.join(lsd)} | {'pass' if r['passes'] == 'True' else 'FAIL'} |"
        )
    Path(md_path).write_text("\n".join(lines) + "\n")


def _monotonic(checks: list[dict]) -> bool:
    series: dict[str, list[float]] = {}
    for row in checks:
        series.setdefault(row["set"].split()[0], []).append(row["fad"])
    return all(all(b > a for a, b in zip(v, v[1:])) for v in series.values())


def coherence_table(score_rows: dict[str, list[dict]], csv_path, md_path, n_loops: int) -> None:
    """Table 2: E1/E2/E3 per variant beside the paper's, then per band. `score_rows`: variant ->
    loopgen.evaluation.coherence.scores_table rows."""
    rows = []
    for variant, table in score_rows.items():
        for row in table:
            paper = PAPER_COHERENCE.get(variant) if row["scope"] == "all" else None
            rows.append(
                {
                    "model": variant,
                    "scope": row["scope"],
                    "name": row["name"],
                    "n_pairs": row["n_pairs"],
                    "n_failed_extractions": row["n_failed"],
                    **{e: 100 * row[e] for e in ("E1", "E2", "E3")},
                    **{f"paper_{e}": (paper[i] if paper else None) for i, e in enumerate(("E1", "E2", "E3"))},
                }
            )
    _write_csv(rows, csv_path)
    lines = [
        "# LoopNet table 2: timbral feature coherence (%)",
        "",
        f"{n_loops} test loops × the timbral features × inputs 0.2 / 0.5 / 0.8; features re-extracted from the outputs "
        "(16 kHz, resampled to the training features' analysis rate; see loopgen.evaluation.coherence).",
        "",
        "A re-extraction that fails (the timbral model cannot analyse a near-silent band) counts as a failed test.",
        "",
        "| Model | E1 | E2 | E3 | pairs | failed extractions | paper E1 | paper E2 | paper E3 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r['model']} | {_fmt(r['E1'])} | {_fmt(r['E2'])} | {_fmt(r['E3'])} | {r['n_pairs']} | {r['n_failed_extractions']} | "
        f"{_fmt(r['paper_E1'])} | {_fmt(r['paper_E2'])} | {_fmt(r['paper_E3'])} |"
        for r in rows
        if r["scope"] == "all"
    ]
    lines += [
        "",
        "Per band (the 9 kHz high-pass band sees only the 0–8 kHz content of 16 kHz outputs):",
        "",
        "| Model | band | E1 | E2 | E3 |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r['model']} | {r['name']} | {_fmt(r['E1'])} | {_fmt(r['E2'])} | {_fmt(r['E3'])} |"
        for r in rows
        if r["scope"] == "band"
    ]
    Path(md_path).write_text("\n".join(lines) + "\n")


def plot_examples(
    real: np.ndarray, sets: dict[str, np.ndarray], segment_id: str, waveform_png, spectrogram_png, sr: int = 16000
) -> None:
    """One test segment: the real audio and every set's version, as waveforms and as spectrograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {"real": real, **{_label(k): v for k, v in sets.items()}}
    t = np.arange(len(real)) / sr
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 1.4 * len(rows)), sharex=True, sharey=True)
    for ax, (name, audio) in zip(np.atleast_1d(axes), rows.items()):
        ax.plot(t, audio, linewidth=0.4)
        ax.set_ylabel(name, rotation=0, ha="right", fontsize=8)
    np.atleast_1d(axes)[-1].set_xlabel("time (s)")
    fig.suptitle(f"test segment {segment_id}: waveforms")
    fig.tight_layout()
    fig.savefig(waveform_png, dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 1.6 * len(rows)), sharex=True)
    from matplotlib import mlab

    # One colour scale for all rows, from the loudest bin of any of them down 100 dB (an all-silent
    # output, e.g. an untrained model, then shows black instead of breaking the colour scale).
    top = max(10 * np.log10(mlab.specgram(a + 1e-9, NFFT=1024, Fs=sr, noverlap=768)[0].max()) for a in rows.values())
    for ax, (name, audio) in zip(np.atleast_1d(axes), rows.items()):
        ax.specgram(audio + 1e-9, NFFT=1024, Fs=sr, noverlap=768, cmap="magma", vmin=top - 100, vmax=top)
        ax.set_ylabel(name, rotation=0, ha="right", fontsize=8)
    np.atleast_1d(axes)[-1].set_xlabel("time (s)")
    fig.suptitle(f"test segment {segment_id}: spectrograms (0–8 kHz)")
    fig.tight_layout()
    fig.savefig(spectrogram_png, dpi=110)
    plt.close(fig)


def plot_training(histories: dict[str, dict], png) -> None:
    """Probe loss (fixed training segments, eval mode) before training and after each epoch, per
    variant, relative to the loss of silence on the same segments (the variants' losses have
    different scales; below 1 = better than silence, the dashed gate at 0.8)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for variant, history in histories.items():
        probe = np.asarray(history["probe_loss"], dtype=float)
        ax.plot(
            range(len(probe)),
            probe / history.get("silence_probe_loss", probe[0]),
            marker="o",
            markersize=3,
            label=variant,
        )
    ax.axhline(0.8, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("probe loss / loss of silence")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
