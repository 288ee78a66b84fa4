"""One nested key changed without editing config.yaml: `--configfile config.yaml my.yaml` (README).

Snakemake merges the files key by key, so my.yaml holds only what changes; the merged config is
validated like any other. (`--config 'midi={"min_drum_cells": 48}'` cannot do this: it reads the
number inside as a string, which the schema rejects.)
"""

from __future__ import annotations

import re

import pytest

from .conftest import copy_results, snakemake

pytestmark = pytest.mark.workflow

TARGETS = ["results/midi/files.parquet"]


def planned(workdir, *args) -> dict[str, int]:
    result = snakemake(workdir, *TARGETS, "--dry-run", "--quiet", "rules", *args)
    return {
        rule: int(n)
        for rule, n in re.findall(r"^(\w+)\s+(\d+)$", result.stdout + result.stderr, flags=re.M)
        if rule != "total"
    }


@pytest.fixture
def midi_copy(tiny_workdir, fresh_workdir):
    snakemake(tiny_workdir, *TARGETS)
    copy_results(tiny_workdir, fresh_workdir)
    return fresh_workdir


def test_a_second_configfile_changes_one_nested_key_and_keeps_the_rest(midi_copy):
    (midi_copy / "my.yaml").write_text("midi:\n  min_drum_cells: 48\n")
    # Paths on the command line are relative to where Snakemake starts, not to -d.
    override = ["--configfile", str(midi_copy / "config.yaml"), str(midi_copy / "my.yaml")]
    # Only the changed setting's rules: midi.raw_dir and n_shards (same section) were kept.
    assert planned(midi_copy, *override) == {"extract_phrases": 2, "merge_midi_files": 1}
    assert planned(midi_copy) == {}  # without it, nothing changed


def test_the_merged_config_is_still_validated(midi_copy):
    (midi_copy / "my.yaml").write_text("midi:\n  min_drum_cells: many\n")
    result = snakemake(
        midi_copy,
        *TARGETS,
        "--dry-run",
        "--configfile",
        str(midi_copy / "config.yaml"),
        str(midi_copy / "my.yaml"),
        check=False,
    )
    assert result.returncode != 0
    assert "config error: midi.min_drum_cells: 'many' is not of type 'integer'" in result.stdout + result.stderr


def test_config_on_the_command_line_cannot_set_a_nested_number(midi_copy):
    result = snakemake(midi_copy, *TARGETS, "--dry-run", "--config", 'midi={"min_drum_cells": 48}', check=False)
    assert result.returncode != 0 and "is not of type 'integer'" in result.stdout + result.stderr
