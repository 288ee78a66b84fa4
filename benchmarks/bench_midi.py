"""Speed and agreement of the MIDI stage against the paper's pipeline (issue 2, SPEC section 1).

Runs the reference (pretty_midi + pypianoroll, loopgen.midi_reference) and our stage
(loopgen.midi) on the same files, on one core, and prints files/s of both, their ratio, the share
of phrases that are bit-identical, and the peak memory of one shard job.

    .venv/bin/python benchmarks/bench_midi.py                      # demo tree, else generated files
    .venv/bin/python benchmarks/bench_midi.py --tree lmd_full/0 --limit 500
    .venv/bin/python benchmarks/bench_midi.py --generate 300       # LMD-like stress files

Goal: >= 10x the reference's files/s with >= 99.9% identical phrases; shard peak < 1 GB.
Generated files come from loopgen.midi_reference.make_tree: LMD-like and deliberately awkward
(humanised timing, odd resolutions, tempo changes inside beats, repeated and off-beat time
signatures, pickup bars, type-0 files, program changes, odd notes, about 2% broken files).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # "one core": no threaded BLAS underneath numpy
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loopgen.midi import MIDI_SUFFIXES, MidiError, MidiParams, extract_phrases
from loopgen.midi_reference import make_tree, reference_phrases
from loopgen.shards import list_files

REPO = Path(__file__).resolve().parents[1]
DEMO_TREE = REPO / "resources/demo/lmd"


# ---- measurements --------------------------------------------------------------------------


def run_path(extract, datas, params):
    """Phrases (or the rejection reason) of every file, and the seconds it took."""
    results, started = [], time.process_time()
    for data in datas:
        try:
            results.append(extract(data, params))
        except MidiError as error:
            results.append(str(error))
    return results, time.process_time() - started


def compare(names, ours, reference):
    """Counts of phrase agreement and the files where the two paths disagree."""
    counts = dict(phrases=0, roll_identical=0, row_identical=0, status_agree=0)
    disagreements = []
    for name, a, b in zip(names, ours, reference):
        a_ok, b_ok = not isinstance(a, str), not isinstance(b, str)
        counts["status_agree"] += a_ok == b_ok
        rows_a = _rows(a) if a_ok else {}
        rows_b = _rows(b) if b_ok else {}
        keys = rows_a.keys() | rows_b.keys()
        same_roll = sum(k in rows_a and k in rows_b and rows_a[k][0] == rows_b[k][0] for k in keys)
        same_row = sum(k in rows_a and k in rows_b and rows_a[k] == rows_b[k] for k in keys)
        counts["phrases"] += len(keys)
        counts["roll_identical"] += same_roll
        counts["row_identical"] += same_row
        if a_ok != b_ok or same_row < len(keys):
            what = f"{len(keys) - same_row} of {len(keys)} phrases differ"
            if a_ok != b_ok:
                what = f"ours: {'accepted' if a_ok else a} | reference: {'accepted' if b_ok else b}"
            disagreements.append(f"{name}: {what}")
    return counts, disagreements


def _rows(phrases):
    w = phrases.windows
    return {
        int(bar): (w.packed[i].tobytes(), float(phrases.tempo_bpm[i]), int(w.n_drum_cells[i]), int(w.n_bass_steps[i]))
        for i, bar in enumerate(w.start_bar)
    }


def shard_job_peak(tree: Path, relpaths: list[str]) -> tuple[float, float]:
    """Peak resident memory (MB) and files/s (CPU time) of one shard job over all the files, in a
    fresh process: reading, hashing, extracting, and writing both Parquet tables."""
    with tempfile.TemporaryDirectory() as out:
        listing = Path(out) / "files.txt"
        listing.write_text("\n".join(relpaths))
        code = (
            "import sys, time, resource; from pathlib import Path; "
            "from loopgen.midi import MidiParams, extract_shard; "
            "paths = Path(sys.argv[2]).read_text().splitlines(); t = time.process_time(); "
            "extract_shard(sys.argv[1], paths, 0, MidiParams(), sys.argv[3] + '/p.parquet', sys.argv[3] + '/f.parquet', progress=False); "
            "print(len(paths) / (time.process_time() - t)); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(tree), str(listing), out], capture_output=True, text=True, check=True
        )
        files_per_s, peak_mb = map(float, result.stdout.split())
    return peak_mb, files_per_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tree", type=Path, help=f"folder of MIDI files (default: {DEMO_TREE.relative_to(REPO)} if present)"
    )
    parser.add_argument(
        "--generate", type=int, default=0, help="benchmark on this many generated LMD-like files instead"
    )
    parser.add_argument("--limit", type=int, default=0, help="use at most this many files of the tree")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        if args.generate or (args.tree is None and not DEMO_TREE.is_dir()):
            tree = make_tree(Path(scratch), args.generate or 200, args.seed)
            label = f"{args.generate or 200} generated LMD-like files (seed {args.seed})"
        else:
            tree = args.tree or DEMO_TREE
            label = str(tree)
        relpaths = list_files(tree, MIDI_SUFFIXES)[: args.limit or None]
        datas = [(tree / p).read_bytes() for p in relpaths]
        params = MidiParams()

        ours, t_ours = run_path(extract_phrases, datas, params)
        reference, t_ref = run_path(reference_phrases, datas, params)
        counts, disagreements = compare(relpaths, ours, reference)
        peak_mb, shard_rate = shard_job_peak(tree, relpaths)

    n = len(datas)
    accepted = sum(not isinstance(r, str) for r in ours)
    print(f"files: {n} from {label} ({sum(map(len, datas)) / 1e6:.1f} MB); one core, CPU time, files in memory")
    print(f"ours      : {n / t_ours:8.1f} files/s  ({1000 * t_ours / n:.2f} ms/file)")
    print(f"reference : {n / t_ref:8.1f} files/s  ({1000 * t_ref / n:.2f} ms/file)")
    print(f"speed-up  : {t_ref / t_ours:8.1f}x   (goal >= 10x)")
    share = counts["row_identical"] / max(counts["phrases"], 1)
    print(f"phrases   : {counts['phrases']} from {accepted} accepted files")
    print(
        f"identical : {100 * share:.3f}% of phrases (roll, tempo, counts); "
        f"{100 * counts['roll_identical'] / max(counts['phrases'], 1):.3f}% same roll   (goal >= 99.9%)"
    )
    print(f"status    : {counts['status_agree']} of {n} files accepted/rejected alike")
    print(
        f"shard job : peak {peak_mb:.0f} MB resident (goal < 1 GB); {shard_rate:.1f} files/s with reading and Parquet writing"
    )
    for line in disagreements[:20]:
        print("  differs:", line)
    if len(disagreements) > 20:
        print(f"  ... and {len(disagreements) - 20} more files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
