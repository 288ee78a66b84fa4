"""report_page on the tiny config: a self-contained folder whose page a real browser (headless
Chromium, when installed) opens without errors, every picture decoding and every player loading
a sound of the right length, with as many cells as there are sets and loops on disk."""

import os
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from loopgen.report import browser

from .conftest import snakemake

pytestmark = pytest.mark.workflow

LOOPNET_BAR_S = 29538 / 16000  # one bar at 130 BPM, 16 kHz (SPEC section 5)


@pytest.fixture(scope="module")
def built(tiny_workdir):
    snakemake(tiny_workdir, "report_page")
    return tiny_workdir


class Elements(HTMLParser):
    """Every start tag's attributes, by tag."""

    def __init__(self):
        super().__init__()
        self.tags: dict[str, list[dict]] = {}

    def handle_starttag(self, tag, attrs):
        self.tags.setdefault(tag, []).append(dict(attrs))


def parse(folder: Path) -> dict[str, list[dict]]:
    parser = Elements()
    parser.feed((folder / "index.html").read_text(encoding="utf-8"))
    return parser.tags


def expected(workdir: Path) -> dict:
    """What the page should hold, counted from the workflow's files (not from the page code)."""
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    report = config.get("report", {})
    results = workdir / "results"
    generated = [p for p in (results / "samples").glob("*/*.parquet")]
    segments = pd.concat(
        pd.read_parquet(p, columns=["segment_id", "split"])
        for p in (results / "audio/segments").glob("shard-*.parquet")
    )
    n_test = int((segments["split"] == "test").sum())
    loopnet_sets = 1 + len(list((results / "loopnet/test").glob("*.parquet")))  # + the real loops
    return {
        "symbolic_cells": (1 + len(generated)) * report.get("symbolic_rows", 4),
        "loopnet_cells": min(n_test, report.get("loopnet_rows", 6)) * loopnet_sets,
        "symbolic_s": 8 * 4 * 60 / config.get("sampling", {}).get("tempo_bpm", 120),
    }


def test_folder_is_self_contained_and_every_reference_exists(built):
    folder = built / "results/report"
    tags = parse(folder)
    references = [
        a.get("src") or a.get("href")
        for tag in ("img", "audio", "a", "link", "script")
        for a in tags.get(tag, [])
        if a.get("src") or a.get("href")
    ]
    assert references
    for ref in references:
        if ref.startswith("#") or ref.startswith("data:"):
            continue
        assert "://" not in ref and not ref.startswith("/"), ref  # no CDN, no absolute path
        assert (folder / ref).is_file(), ref


def test_cells_match_the_sets_and_loops_on_disk(built):
    tags, want = parse(built / "results/report"), expected(built)
    cells = tags["figure"]
    symbolic = [c for c in cells if c.get("data-cell") == "symbolic"]
    assert len(symbolic) == want["symbolic_cells"]
    models = {(c["data-model"], c["data-mode"]) for c in symbolic}
    on_disk = {(p.parent.name, p.stem) for p in (built / "results/samples").glob("*/*.parquet")}
    assert models == on_disk | {("training", "loops")}
    test_cells = [c for c in cells if c.get("data-set")]
    assert len(test_cells) == want["loopnet_cells"]
    assert len({c["id"] for c in cells}) == len(cells)  # stable, unique ids
    tables = {t["data-table"] for t in tags["table"] if "data-table" in t}
    assert {"table1_reconstruction", "table2_metrics", "table3_f1", "table1_fad", "table2_coherence"} <= tables


def need_browser():
    """Skip, saying why, where chromium or playwright is missing; CI sets LOOPGEN_REQUIRE_BROWSER=1
    (and installs both), so there a missing browser fails instead of passing unseen."""
    reason = browser.unavailable()
    if reason and os.environ.get("LOOPGEN_REQUIRE_BROWSER") == "1":
        pytest.fail(f"LOOPGEN_REQUIRE_BROWSER=1, but {reason}")
    if reason:
        pytest.skip(f"no browser check: {reason}")


def test_page_in_headless_chromium(built):
    need_browser()
    folder = built / "results/report"
    check = browser.check_page(folder, folder / "screenshot.png")
    assert check.problems == []
    want = expected(built)
    on_disk_images = {p.name for p in (folder / "img").iterdir()}
    assert len(check.images) == len(on_disk_images) and {Path(i["src"]).name for i in check.images} == on_disk_images
    assert len(check.audios) == len(list((folder / "audio").glob("*.wav")))
    durations = {"symbolic": want["symbolic_s"], "loopnet": LOOPNET_BAR_S, "loop130": 8 * 4 * 60 / 130}
    for audio in check.audios:
        assert audio["duration"] == pytest.approx(durations[audio["kind"]], abs=0.01), audio
    assert sum(a["kind"] == "symbolic" for a in check.audios) == want["symbolic_cells"]
    assert (folder / "screenshot.png").stat().st_size > 10000
    from_disk = browser.check_page(folder, over_http=False)  # the page also works opened as a file
    assert from_disk.problems == [] and len(from_disk.audios) == len(check.audios)


def test_snakemake_report_embeds_the_page_and_the_figures(built):
    snakemake(built, "--report", "results/report.zip")
    with zipfile.ZipFile(built / "results/report.zip") as archive:
        names = archive.namelist()
        report_html = archive.read("report/report.html").decode("utf-8", "replace")
    assert any(n.endswith("/index.html") for n in names)  # the listening page, whole (htmlindex)
    assert sum(n.endswith(".wav") for n in names) == len(list((built / "results/report/audio").glob("*.wav")))
    for figure in (
        "figure2.png",
        "roc.png",
        "figure4_rejection_sweep.png",
        "table1_fad.csv",
        "example_spectrograms.png",
    ):
        assert any(n.endswith("/" + figure) for n in names), figure
    for category in ("Data", "Symbolic generation", "LoopNet", "Listening"):
        assert category in report_html
