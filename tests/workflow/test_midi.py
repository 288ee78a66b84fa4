"""The demo and MIDI rules through Snakemake on the tiny config."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from loopgen.midi import MIDI_SUFFIXES
from loopgen.roll import unpack_rolls
from loopgen.shards import list_files

from .conftest import copy_results, snakemake, write_config

pytestmark = pytest.mark.workflow

N_SHARDS = 2  # tiny_config.yaml
PHRASES = [f"results/midi/phrases/shard-{i}.parquet" for i in range(N_SHARDS)]
TARGETS = [*PHRASES, "results/midi/files.parquet"]


def jobs_planned(workdir) -> dict[str, int]:
    """Rule -> number of jobs of a dry run of the MIDI targets."""
    result = snakemake(workdir, *TARGETS, "--dry-run", "--quiet", "rules")
    text = result.stdout + result.stderr
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", text, flags=re.M) if rule != "total"}


@pytest.fixture(scope="module")
def midi_done(tiny_workdir):
    snakemake(tiny_workdir, *TARGETS)
    return tiny_workdir


def test_every_demo_file_has_one_row_and_phrases_match_the_ground_truth(midi_done):
    files = pq.read_table(midi_done / "results/midi/files.parquet").to_pandas()
    raw = list_files(midi_done / "resources/demo/lmd", MIDI_SUFFIXES)
    assert sorted(files.relpath) == raw and files.relpath.is_unique
    assert set(files.status) == {"accepted", "rejected"}  # the demo has broken and 3/4 files
    assert (files[files.status == "rejected"].reason != "").all()

    phrases = pd.concat([pq.read_table(midi_done / p).to_pandas() for p in PHRASES])
    accepted = files[files.status == "accepted"]
    assert len(phrases) == accepted.n_phrases.sum() > 0
    assert set(phrases.file_id) == set(accepted.file_id)

    # The demo labels each 8-bar window that exactly repeats a 1-, 2- or 4-bar pattern; our rolls
    # must repeat exactly there (same bar numbering, same grid).
    labels = pq.read_table(midi_done / "resources/demo/labels/midi_windows.parquet").to_pandas()
    labelled = phrases.merge(labels, on=["file_id", "start_bar"])
    assert len(labelled) > 0.9 * len(phrases)
    rolls = unpack_rolls(list(labelled.roll))
    repeats = np.array([any((r == np.roll(r, period, axis=0)).all() for period in (16, 32, 64)) for r in rolls])
    assert labelled.is_loop.any() and (~labelled.is_loop).any()
    assert np.array_equal(repeats, labelled.is_loop.to_numpy())


def test_a_second_invocation_does_nothing(midi_done):
    result = snakemake(midi_done, *TARGETS)
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_pianoroll_parameter_reruns_the_midi_shards_and_nothing_upstream(midi_done, fresh_workdir):
    copy_results(midi_done, fresh_workdir)
    write_config(fresh_workdir, midi={"min_drum_cells": 48})
    assert jobs_planned(fresh_workdir) == {"extract_phrases": N_SHARDS, "merge_midi_files": 1}

    demo = sorted((fresh_workdir / "resources/demo").rglob("*"))
    demo_mtimes = [p.stat().st_mtime_ns for p in demo]
    phrase_mtimes = [(fresh_workdir / p).stat().st_mtime_ns for p in PHRASES]
    snakemake(fresh_workdir, *TARGETS)
    assert [p.stat().st_mtime_ns for p in demo] == demo_mtimes
    assert all((fresh_workdir / p).stat().st_mtime_ns != t for p, t in zip(PHRASES, phrase_mtimes))

    before = pd.concat([pq.read_table(midi_done / p).to_pandas() for p in PHRASES])
    after = pd.concat([pq.read_table(fresh_workdir / p).to_pandas() for p in PHRASES])
    assert (after.n_drum_cells >= 48).all() and len(after) == (before.n_drum_cells >= 48).sum() < len(before)
