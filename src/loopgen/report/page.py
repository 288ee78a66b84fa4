"""Build results/report/: index.html with its img/ and audio/ folders, from what the workflow wrote.

Data-driven: every generated set under results/samples/, every synthesized LoopNet set under
results/loopnet/test/, every table and figure of results/eval/{symbolic,loopnet}/ is shown, so a
new baseline or variant appears without a change here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from loopgen.report import data, html, loopnet, symbolic


@dataclass
class PageSettings:
    """Config section `report` (plus the tempo and seed of the run)."""

    symbolic_rows: int = 4  # samples per column of the symbolic grid
    loopnet_rows: int = 6  # test loops in the LoopNet grid
    transfer_examples: int = 3
    symbolic_to_audio: int = 3  # generated loops played through LoopNet
    loopnet_variant: str = "MULTI"  # for timbre transfer and symbolic -> audio (else the first trained)
    tempo_bpm: float = 120.0  # of the symbolic renders (config sampling.tempo_bpm)
    seed: int = 1234
    device: str = "cpu"


def build_page(results, out, settings: PageSettings) -> Path:
    """Write out/index.html (+ img/, audio/); return its path. out is emptied first."""
    results, out = Path(results), Path(out)
    if out.exists():
        shutil.rmtree(out)
    (out / "img").mkdir(parents=True)
    (out / "audio").mkdir()
    sections = [
        ("data", "Data", data.section(results, out)),
        (
            "symbolic",
            "Symbolic generation (VQ-VAE + LSTM and baselines)",
            symbolic.section(results, out, settings.symbolic_rows, settings.tempo_bpm, settings.seed),
        ),
        (
            "loopnet",
            "LoopNet (audio)",
            loopnet.section(
                results,
                out,
                settings.loopnet_rows,
                settings.transfer_examples,
                settings.symbolic_to_audio,
                settings.loopnet_variant,
                settings.device,
            ),
        ),
    ]
    subtitle = (
        "Loop generation, symbolic and audio: the workflow's tables and figures, and its loops to "
        "listen to. Everything here is in this folder; it opens from disk or any web server."
    )
    index = out / "index.html"
    index.write_text(html.page("loopgen results", subtitle, sections), encoding="utf-8")
    return index
