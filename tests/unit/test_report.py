"""The report page's pieces: reject-reason grouping, pianoroll pictures, Markdown tables, and a
page built from a small results tree with a baseline beside the paper's model (found by itself)."""

import os
from html.parser import HTMLParser

import numpy as np
import pytest

from loopgen.detector import LOOP_SCHEMA
from loopgen.report import browser, html
from loopgen.report.data import reason_kind
from loopgen.report.media import BASS_RGB, DRUM_RGB, PIXELS, pianoroll_rgb
from loopgen.report.page import PageSettings, build_page
from loopgen.roll import N_COLS, N_DRUM, ROLL_SHAPE, pack_rolls
from loopgen.symbolic import CODES_SCHEMA, SAMPLE_SCHEMA
from loopgen.tables import write_table


def test_reasons_differing_only_in_numbers_are_one_kind():
    assert reason_kind("tempo confidence 0.967 ≤ 0.99") == reason_kind("tempo confidence 0.5 ≤ 0.99")
    assert reason_kind("bpm 200 outside 60-180") == "bpm N outside N-N"
    assert reason_kind("no drum track") == "no drum track"
    assert reason_kind("mp3 decoder failed") == "mp3 decoder failed"  # a digit inside a name stays
    assert reason_kind("(midi.assume_4_4 is off)") == "(midi.assume_4_4 is off)"


def test_pianoroll_puts_drums_at_the_bottom_and_high_bass_on_top():
    roll = np.zeros(ROLL_SHAPE, bool)
    roll[3, 0] = True  # kick (drum column 0) at step 3
    roll[20, N_COLS - 1] = True  # the highest bass pitch at step 20
    image = pianoroll_rgb(roll)
    assert image.shape == (N_COLS * PIXELS, 128 * PIXELS, 3)
    assert np.allclose(image[(N_COLS - 1) * PIXELS, 3 * PIXELS], DRUM_RGB)  # bottom row
    assert np.allclose(image[0, 20 * PIXELS], BASS_RGB)  # top row
    assert np.allclose(pianoroll_rgb(pack_rolls(roll[None])[0]), image)  # packed bytes draw the same


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(text):
    parser = Tags()
    parser.feed(text)
    return parser.tags


def test_markdown_table_keeps_the_papers_rows_and_escapes_text(tmp_path):
    (tmp_path / "t.md").write_text(
        "# Table 9. <Numbers>\n\nEmbedding: **VGGish**.\n\n| set | LS |\n| --- | ---: |\n"
        "| ours | 0.5 |\n| paper: VQ-VAE | 0.2 |\n"
    )
    text = html.markdown(tmp_path / "t.md", "table9", tmp_path)
    assert "&lt;Numbers&gt;" in text and "<b>VGGish</b>" in text
    tables = [a for tag, a in tags_of(text) if tag == "table"]
    assert tables == [{"id": "table-table9", "data-table": "table9", "data-source": "t.md", "data-rows": "2"}]
    assert text.count("<tr>") == 3 and "paper: VQ-VAE" in text


def write_samples(path, rolls, prefix):
    write_table(
        [
            {"sample_id": f"{prefix}-{i}", "roll": r.tobytes(), "loop_score": 0.01 * i}
            for i, r in enumerate(pack_rolls(rolls))
        ],
        path,
        SAMPLE_SCHEMA,
    )


@pytest.fixture(scope="module")
def small_page(tmp_path_factory):
    """results/ with training loops, the paper's model in one mode and a baseline; no audio stage."""
    results = tmp_path_factory.mktemp("run") / "results"
    rng = np.random.default_rng(0)
    rolls = lambda n: rng.random((n, *ROLL_SHAPE)) < 0.05
    loops = [
        {
            "phrase_id": f"f:{i}",
            "file_id": "f",
            "start_bar": i,
            "tempo_bpm": 120.0,
            "roll": r.tobytes(),
            "corr": [1.0] * 28,
            "n_drum_cells": 10,
            "n_bass_steps": 10,
            "loop_score": 0.001,
        }
        for i, r in enumerate(pack_rolls(rolls(5)))
    ]
    write_table(loops, results / "loops" / "shard-0.parquet", LOOP_SCHEMA)
    codes = [{"phrase_id": row["phrase_id"], "file_id": "f", "split": "train", "codes": [0] * 32} for row in loops]
    write_table(codes, results / "symbolic" / "codes.parquet", CODES_SCHEMA)
    write_samples(results / "samples" / "vqvae_lstm" / "top_k.parquet", rolls(3), "top_k")
    write_samples(results / "samples" / "musegan" / "samples.parquet", rolls(3), "musegan")
    for model in ("vqvae_lstm", "musegan"):  # every model's rejection sweep has an acceptance table
        (results / "samples" / model / "rejection").mkdir()
        (results / "samples" / model / "rejection" / "acceptance.csv").write_text("limit,kept,tried\n0.1,5,9\n")
    out = results / "report"
    build_page(results, out, PageSettings(symbolic_rows=2, tempo_bpm=100.0, seed=0))
    return out


def test_every_generated_set_is_a_column_with_a_cell_per_sample(small_page):
    tags = tags_of((small_page / "index.html").read_text())
    cells = [a for tag, a in tags if tag == "figure" and a.get("data-cell") == "symbolic"]
    columns = [(c["data-model"], c["data-mode"]) for c in cells[:3]]
    assert columns == [("training", "loops"), ("vqvae_lstm", "top_k"), ("musegan", "samples")]  # paper's model first
    assert len(cells) == 3 * 2 and len({c["id"] for c in cells}) == 6
    for tag, attrs in tags:
        ref = attrs.get("src") or (attrs.get("href") if tag == "a" else None)
        if ref and not ref.startswith("#"):
            assert "://" not in ref and (small_page / ref).is_file(), ref
    sections = [a["id"] for tag, a in tags if tag == "section"]
    assert sections == ["data", "symbolic", "loopnet"]
    tables = [a["id"] for tag, a in tags if tag == "table"]
    assert len(tables) == len(set(tables)) and {"table-vqvae_lstm-acceptance", "table-musegan-acceptance"} <= set(
        tables
    )


def need_browser():
    """Skip, saying why, without chromium or playwright; fail instead where CI asks for the browser."""
    reason = browser.unavailable()
    if reason and os.environ.get("LOOPGEN_REQUIRE_BROWSER") == "1":
        pytest.fail(f"LOOPGEN_REQUIRE_BROWSER=1, but {reason}")
    if reason:
        pytest.skip(f"no browser check: {reason}")


def test_small_page_in_headless_chromium(small_page):
    need_browser()
    check = browser.check_page(small_page)
    assert check.problems == []
    assert len(check.audios) == 6 and all(
        a["duration"] == pytest.approx(8 * 4 * 60 / 100, abs=0.01) for a in check.audios
    )
    assert len(check.images) == 6 and all(i["width"] == 128 * PIXELS for i in check.images)
    assert check.grids["symbolic"] == {"rows": 2, "columns": 3} and check.midi == 6


def test_symbolic_to_audio_picks_loops_with_drums_loopnet_plays():
    from loopgen.report.loopnet import with_drums

    rolls = np.zeros((4, *ROLL_SHAPE), bool)
    rolls[0, 5, 6] = True  # a crash only: LoopNet has no crash channel
    rolls[1, 7, 2] = True  # a closed hi-hat
    rolls[2, 9, N_DRUM + 3] = True  # bass only
    rolls[3, 0, 4] = True  # an open hi-hat
    assert with_drums(pack_rolls(rolls)).tolist() == [1, 3]


def test_the_browser_check_sees_what_a_user_would(small_page, tmp_path):
    """A missing sound, a missing picture and a script error each show up as a problem."""
    import shutil

    need_browser()
    broken = tmp_path / "broken"
    shutil.copytree(small_page, broken)
    (broken / "audio" / "training-0000001.wav").unlink()
    (broken / "img" / "musegan-samples-0000000.png").unlink()
    index = broken / "index.html"
    index.write_text(index.read_text().replace("</body>", '<script>console.error("boom")</script></body>'))
    problems = browser.check_page(broken).problems
    assert "console: boom" in problems
    assert any(p.startswith("request: 404 ") and p.endswith("/audio/training-0000001.wav") for p in problems)
    assert any(p.startswith("request: 404 ") and p.endswith("/img/musegan-samples-0000000.png") for p in problems)
    assert "image does not decode: img/musegan-samples-0000000.png" in problems
    assert any(p.startswith("audio has no metadata: audio/training-0000001.wav") for p in problems)


def test_synthesized_sets_read_only_the_wanted_segments(tmp_path):
    """The page shows a few bars of each 290 MB set (paper scale): only those are decoded."""
    from loopgen import loopnet
    from loopgen.report.loopnet import synthesized_sets

    pcm = np.random.default_rng(2).integers(-3000, 3000, (600, 50), dtype=np.int16)
    ids = [f"loop{i}:0" for i in range(600)]
    folder = tmp_path / "loopnet" / "test"
    for name in ("MULTI", "griffin_lim"):
        loopnet.write_set(ids, ids, name, pcm, folder / f"{name}.parquet", tmp_path / "wavs", n_wavs=0)
    sets = synthesized_sets(tmp_path, {ids[3], ids[599]})
    assert list(sets) == ["griffin_lim", "MULTI"]
    for rows in sets.values():
        assert sorted(rows) == sorted([ids[3], ids[599]])
        np.testing.assert_array_equal(rows[ids[599]], pcm[599])
    assert len(synthesized_sets(tmp_path)["MULTI"]) == 600
