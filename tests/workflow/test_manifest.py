"""A file added, removed or replaced deep inside a raw dump reruns its shard and the merges, nothing else.

Before the dump manifests (loopgen/manifest.py) Snakemake saw only the dump folder's own
modification time: a file added two folders down planned no job at all, and a top-level change
reran every shard.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile

from loopgen.audio.dump import LOOP_SCHEMA
from loopgen.shards import shard_of
from loopgen.tables import read_table

from .conftest import copy_results, snakemake, write_config

pytestmark = pytest.mark.workflow

N_SHARDS = 2  # tiny_config.yaml, both stages
MIDI = "resources/demo/lmd"
AUDIO = "resources/demo/looperman"
MIDI_TARGETS = ["results/midi/files.parquet"]
AUDIO_TARGETS = ["results/audio/feature_stats.json", "results/audio/bar_corr.parquet"]


def jobs_planned(workdir, targets) -> dict[str, int]:
    """Rule -> number of jobs of a dry run."""
    result = snakemake(workdir, *targets, "--dry-run", "--quiet", "rules")
    text = result.stdout + result.stderr
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", text, flags=re.M) if rule != "total"}


def mtimes(workdir, pattern) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(workdir.glob(pattern))}


def rows_of(workdir, table) -> list[dict]:
    return pq.read_table(workdir / table).to_pylist()


@pytest.fixture(scope="module")
def raw_done(tiny_workdir):
    snakemake(tiny_workdir, *MIDI_TARGETS, *AUDIO_TARGETS)
    return tiny_workdir


@pytest.fixture
def copy(raw_done, fresh_workdir):
    copy_results(raw_done, fresh_workdir)
    assert jobs_planned(fresh_workdir, MIDI_TARGETS + AUDIO_TARGETS) == {}
    return fresh_workdir


def deep_midi_path(shard: int) -> str:
    """A new path two folders below an LMD-style letter folder that lands in `shard`."""
    return next(p for i in range(100) if shard_of(p := f"7/deep/er/new-{i}.mid", N_SHARDS) == shard)


@pytest.mark.parametrize("shard", [0, 1])
def test_a_midi_file_added_deep_in_the_tree_reruns_its_shard_and_the_merge(copy, shard):
    some_file = next((copy / MIDI).rglob("*.mid"))
    new = deep_midi_path(shard)
    (copy / MIDI / new).parent.mkdir(parents=True)
    (copy / MIDI / new).write_bytes(some_file.read_bytes())
    assert jobs_planned(copy, MIDI_TARGETS) == {"dump_manifest": 1, "extract_phrases": 1, "merge_midi_files": 1}

    before = mtimes(copy, "results/midi/*/shard-*.parquet")
    snakemake(copy, *MIDI_TARGETS)
    after = mtimes(copy, "results/midi/*/shard-*.parquet")
    assert {name for name in before if before[name] != after[name]} == {f"shard-{shard}.parquet"}
    assert new in {row["relpath"] for row in rows_of(copy, "results/midi/files.parquet")}
    assert jobs_planned(copy, MIDI_TARGETS + AUDIO_TARGETS) == {}


def test_a_midi_file_removed_or_replaced_reruns_its_shard(copy):
    files = sorted((copy / MIDI).rglob("*.mid"))
    removed, replaced = files[0], next(f for f in files if f.stat().st_size != files[0].stat().st_size)
    removed_key = removed.relative_to(copy / MIDI).as_posix()
    removed.unlink()
    assert jobs_planned(copy, MIDI_TARGETS) == {"dump_manifest": 1, "extract_phrases": 1, "merge_midi_files": 1}
    snakemake(copy, *MIDI_TARGETS)
    assert removed_key not in {row["relpath"] for row in rows_of(copy, "results/midi/files.parquet")}

    replaced.write_bytes(b"not a MIDI file")  # same name, other bytes
    assert jobs_planned(copy, MIDI_TARGETS) == {"dump_manifest": 1, "extract_phrases": 1, "merge_midi_files": 1}
    snakemake(copy, *MIDI_TARGETS)
    key = replaced.relative_to(copy / MIDI).as_posix()
    row = next(r for r in rows_of(copy, "results/midi/files.parquet") if r["relpath"] == key)
    assert row["status"] == "rejected"


def test_a_new_loop_deep_in_the_audio_dump_reruns_its_shard_only(copy):
    loops = read_table(copy / "results/audio/loops.parquet", LOOP_SCHEMA).to_pylist()
    source = next(r for r in loops if r["status"] == "accepted")
    samples, sr = soundfile.read(copy / AUDIO / source["file"])
    shard = 1 - source["shard"]
    new = next(p for i in range(100) if shard_of(p := f"audio/more/deep/new-{i}.wav", N_SHARDS) == shard)
    (copy / AUDIO / new).parent.mkdir(parents=True)
    soundfile.write(copy / AUDIO / new, 0.5 * samples, sr)  # other bytes: a new loop, not a duplicate
    with open(copy / AUDIO / "metadata.csv", "a") as f:
        f.write(f"{new},{source['annotated_bpm']:g},C,House,Drums\n")

    planned = jobs_planned(copy, AUDIO_TARGETS)
    assert planned == {
        "dump_manifest": 1,
        "check_loops": 1,
        "segment_loops": 1,
        "extract_features": 1,
        "feature_stats": 1,
    }
    other = f"shard-{source['shard']}.parquet"
    before = mtimes(copy, "results/audio/*/shard-*.parquet")
    snakemake(copy, *AUDIO_TARGETS)
    after = mtimes(copy, "results/audio/*/shard-*.parquet")
    assert before[other] == after[other] and before[f"shard-{shard}.parquet"] != after[f"shard-{shard}.parquet"]
    row = next(r for r in read_table(copy / "results/audio/loops.parquet", LOOP_SCHEMA).to_pylist() if r["file"] == new)
    assert row["status"] == "accepted" and row["shard"] == shard
    segments = pq.read_table(copy / f"results/audio/segments/shard-{shard}.parquet").to_pylist()
    assert row["loop_id"] in {s["loop_id"] for s in segments}


def test_an_audio_file_removed_or_replaced_plans_its_shard_only(copy):
    accepted = [
        r
        for r in read_table(copy / "results/audio/loops.parquet", LOOP_SCHEMA).to_pylist()
        if r["status"] == "accepted"
    ]
    removed = accepted[0]
    (copy / AUDIO / removed["file"]).unlink()
    assert jobs_planned(copy, AUDIO_TARGETS) == {
        "dump_manifest": 1,
        "check_loops": 1,
        "segment_loops": 1,
        "extract_features": 1,
        "feature_stats": 1,
    }

    replaced = next(r for r in accepted if r["shard"] != removed["shard"])
    samples, sr = soundfile.read(copy / AUDIO / replaced["file"])
    soundfile.write(copy / AUDIO / replaced["file"], np.flip(samples, axis=0), sr)  # same name, other bytes
    assert jobs_planned(copy, AUDIO_TARGETS) == {
        "dump_manifest": 2,
        "check_loops": 1,
        "segment_loops": 2,
        "extract_features": 2,
        "feature_stats": 1,
    }


def test_a_metadata_row_edit_reruns_that_loops_shard_only(copy):
    accepted = [
        r
        for r in read_table(copy / "results/audio/loops.parquet", LOOP_SCHEMA).to_pylist()
        if r["status"] == "accepted"
    ]
    metadata = copy / AUDIO / "metadata.csv"
    lines = metadata.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(accepted[0]["file"] + ","))
    lines[index] = (
        lines[index].replace(",House,", ",Techno,") if ",House," in lines[index] else lines[index].rstrip("\n") + "x\n"
    )
    metadata.write_text("".join(lines))
    assert jobs_planned(copy, AUDIO_TARGETS) == {
        "dump_manifest": 1,
        "check_loops": 1,
        "segment_loops": 1,
        "extract_features": 1,
        "feature_stats": 1,
    }


def test_a_setting_behind_loops_parquet_still_reruns_every_audio_shard(copy):
    # The shard rules read loops.parquet as ancient(); the settings behind its rows go with the manifests.
    write_config(copy, seed=2)
    planned = jobs_planned(copy, AUDIO_TARGETS)
    assert planned["segment_loops"] == planned["extract_features"] == N_SHARDS
