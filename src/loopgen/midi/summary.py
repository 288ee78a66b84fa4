"""`loopgen summary`: phrase count, tempo histogram and reject reasons of phrase shards and files tables."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

from loopgen.midi.files import FILES_SCHEMA, PHRASE_SCHEMA, reject_reasons


def add_summary_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", help="phrase shards, files tables, or folders of them (e.g. results/midi)")
    parser.add_argument("--bin", type=float, default=10.0, help="width of the tempo histogram bins in BPM (default 10)")


def run_summary(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq

    from loopgen.tables import read_tables

    phrase_paths, files_paths = [], []
    for path in _parquet_paths(args.paths):
        names = set(pq.read_schema(path).names)
        if set(PHRASE_SCHEMA.names) <= names:
            phrase_paths.append(path)
        elif set(FILES_SCHEMA.names) <= names:
            files_paths.append(path)
    if not phrase_paths and not files_paths:
        raise ValueError(f"no phrase shard or files table in {' '.join(args.paths)}")
    if files_paths:
        # A merged files.parquet repeats the per-shard tables: count each relpath once.
        files = read_tables(files_paths, FILES_SCHEMA)
        files = files.take(np.unique(files["relpath"].to_numpy(zero_copy_only=False), return_index=True)[1])
        print(_files_summary(files))
    if phrase_paths:
        phrases = read_tables(
            phrase_paths, PHRASE_SCHEMA, columns=["file_id", "tempo_bpm", "n_drum_cells", "n_bass_steps"]
        )
        print(_phrases_summary(phrases, len(phrase_paths), args.bin))
    return 0


def _parquet_paths(paths) -> list[Path]:
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(path.rglob("*.parquet"))
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path} does not exist")
    return found


def _files_summary(files: pa.Table) -> str:
    status = Counter(files["status"].to_pylist())
    n_phrases = sum(files["n_phrases"].to_pylist())
    lines = [f"files: {len(files)}: {status['accepted']} accepted ({n_phrases} phrases), {status['rejected']} rejected"]
    for reason, n in reject_reasons(files).most_common():
        lines.append(f"  {n:7d}  {reason}")
    return "\n".join(lines)


def _phrases_summary(phrases: pa.Table, n_shards: int, bin_width: float) -> str:
    tempo = phrases["tempo_bpm"].to_numpy()
    n_files = len(set(phrases["file_id"].to_pylist()))
    lines = [f"phrases: {len(phrases)} from {n_files} files in {n_shards} shard(s)"]
    if len(phrases):
        drums, bass = phrases["n_drum_cells"].to_numpy(), phrases["n_bass_steps"].to_numpy()
        lines.append(
            f"  drum cells per phrase: mean {drums.mean():.1f}; bass steps per phrase: mean {bass.mean():.1f} (of 128)"
        )
        lines.append("tempo (BPM) at phrase start:")
        edges = np.arange(np.floor(tempo.min() / bin_width) * bin_width, tempo.max() + bin_width, bin_width)
        counts, edges = np.histogram(tempo, bins=edges)
        scale = 50 / counts.max()
        for lo, hi, n in zip(edges[:-1], edges[1:], counts):
            lines.append(f"  {lo:6.0f}-{hi:<4.0f} {'#' * int(np.ceil(n * scale)):<50} {n}")
    return "\n".join(lines)
