"""The demo rules through Snakemake on the tiny config: both dumps and their labels, cached reruns."""

import csv

import pytest
import yaml

from loopgen.demo.audio_corpus import AUDIO_LOOP_SCHEMA
from loopgen.demo.midi_corpus import MIDI_WINDOW_SCHEMA
from loopgen.tables import read_table

from .conftest import copy_results, snakemake, write_config

pytestmark = pytest.mark.workflow


def test_demo_rules_write_both_dumps_with_labels_and_a_second_run_does_nothing(tiny_workdir):
    snakemake(tiny_workdir, "demo_midi", "demo_audio")
    config = yaml.safe_load((tiny_workdir / "config.yaml").read_text())["demo"]
    demo = tiny_workdir / "resources" / "demo"

    midi_files = list((demo / "lmd").rglob("*.mid"))
    assert len(midi_files) == config["midi_songs"]
    # Snakemake marks a directory output with a hidden timestamp file: the only file besides the dump's.
    others = {
        p.relative_to(demo).as_posix() for p in demo.rglob("*") if p.is_file() and p.suffix not in (".mid", ".wav")
    }
    assert others == {
        "lmd/.snakemake_timestamp",
        "looperman/.snakemake_timestamp",
        "looperman/metadata.csv",
        "labels/midi_windows.parquet",
        "labels/audio_loops.parquet",
    }
    windows = read_table(demo / "labels" / "midi_windows.parquet", MIDI_WINDOW_SCHEMA).to_pandas()
    assert set(windows.relpath) <= {p.relative_to(demo / "lmd").as_posix() for p in midi_files}
    assert 0 < windows.is_loop.mean() < 1

    loops = read_table(demo / "labels" / "audio_loops.parquet", AUDIO_LOOP_SCHEMA).to_pandas()
    assert len(loops) == len(list((demo / "looperman" / "audio").iterdir())) == config["audio_loops"]
    with open(demo / "looperman" / "metadata.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == config["audio_loops"]  # one row lost, one ghost row

    for rule in ("demo_midi", "demo_audio"):
        assert "INFO" in (tiny_workdir / "logs" / "demo" / f"{rule}.log").read_text()
        assert (tiny_workdir / "logs" / "demo" / f"{rule}.benchmark.tsv").exists()

    again = snakemake(tiny_workdir, "demo_midi", "demo_audio")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_changing_the_demo_seed_reruns_the_demo_rules(tiny_workdir, fresh_workdir):
    snakemake(tiny_workdir, "demo_midi", "demo_audio")
    copy_results(tiny_workdir, fresh_workdir)
    write_config(fresh_workdir, demo={"seed": 99})
    dry_run = snakemake(fresh_workdir, "demo_midi", "demo_audio", "--dry-run")
    output = dry_run.stdout + dry_run.stderr
    assert "rule demo_midi:" in output and "rule demo_audio:" in output
