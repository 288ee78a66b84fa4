"""What the raw-dump manifests cost (loopgen/manifest.py, rules/common.smk): a generated LMD-full-sized
tree (178k empty .mid files in LMD's <hex>/<md5>.mid layout) as midi.raw_dir, 32 shards.

Prints the time of
- scanning the tree into 32 shard listings (one stat call per file), the part every invocation pays;
- `snakemake -n` of the MIDI targets once they are done (the true no-op, listings unchanged);
- `snakemake -n all` (MIDI done, the later stages planned), and the same with one file added deep
  in the tree (the run that rewrites one listing);
- `snakemake -n all` on the demo tree, the same workflow without the big tree, for comparison.

    .venv/bin/python benchmarks/bench_manifest.py               # 178,000 files (~2 GB of inodes, none of data)
    .venv/bin/python benchmarks/bench_manifest.py --files 20000 # quicker

Goal: <= 5 s for the no-op `snakemake -n all`. The tree goes to a temporary folder under /tmp and
is deleted at the end. Running the MIDI stage once on the empty files (every one rejected) takes a
few minutes on 2 cores.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import hashlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from loopgen.manifest import shard_texts
from loopgen.midi import MIDI_SUFFIXES

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests/workflow/tiny_config.yaml"


def make_tree(root: Path, n_files: int) -> None:
    for i in range(n_files):
        name = hashlib.md5(str(i).encode()).hexdigest()
        folder = root / name[0]
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.mid").touch()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def snakemake(workdir: Path, *args: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one Snakemake run. On a shared machine the CPU time is the
    figure that does not depend on what else runs."""
    started, cpu = time.perf_counter(), children_cpu()
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "2", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started, children_cpu() - cpu


def timed(workdir: Path, *args: str, repeats: int = 3) -> str:
    runs = [snakemake(workdir, *args) for _ in range(repeats)]
    wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    return f"{wall:5.2f} s wall, {cpu:5.2f} s CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=178_000)
    parser.add_argument("--shards", type=int, default=32)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-manifest-", dir="/tmp"))
    try:
        tree, workdir, demo_workdir = scratch / "lmd_full", scratch / "work", scratch / "demo"
        for folder in (tree, workdir, demo_workdir):
            folder.mkdir()
        started = time.perf_counter()
        make_tree(tree, args.files)
        print(f"generated {args.files:,} empty .mid files in {time.perf_counter() - started:.0f} s")

        times, cpu_times = [], []
        for _ in range(3):
            started, cpu = time.perf_counter(), time.process_time()
            texts = shard_texts(tree, MIDI_SUFFIXES, args.shards)
            times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu)
        print(
            f"scan into {args.shards} shard listings: {statistics.median(times):.2f} s wall, "
            f"{statistics.median(cpu_times):.2f} s CPU ({sum(t.count(chr(10)) - 1 for t in texts):,} files; "
            "median of 3, page cache warm)"
        )

        config = yaml.safe_load(TINY_CONFIG.read_text())
        (demo_workdir / "config.yaml").write_text(yaml.safe_dump(config))
        config["midi"].update(raw_dir=str(tree), n_shards=args.shards)
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        midi_targets = ["results/midi/files.parquet"]
        started = time.perf_counter()
        snakemake(workdir, *midi_targets)
        print(f"MIDI stage on the empty files (every one rejected): {time.perf_counter() - started:.0f} s")

        print(f"snakemake -n <MIDI targets>, done (no-op):   {timed(workdir, *midi_targets, '-n')}")
        print(f"snakemake -n all, MIDI done:                 {timed(workdir, 'all', '-n')}")
        new = tree / "7" / "deep" / "er" / "new.mid"
        new.parent.mkdir(parents=True)
        new.touch()
        print(f"snakemake -n all, one file added deep:       {timed(workdir, 'all', '-n', repeats=1)}")
        print(f"snakemake -n all on the demo tree instead:   {timed(demo_workdir, 'all', '-n')}")
        print("goal: <= 5 s for the no-op `snakemake -n all`")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
