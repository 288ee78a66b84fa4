"""The stage's tables: phrase shards and the files table (one row per raw file, accepted or
rejected with its reason), written shard by shard and merged."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa

from loopgen.midi.params import MidiError, MidiParams
from loopgen.midi.phrases import FilePhrases, extract_phrases
from loopgen.roll import bar_correlation

log = logging.getLogger("loopgen.midi")

PHRASE_SCHEMA = pa.schema(
    [
        ("phrase_id", pa.string()),  # "<file_id>:<start_bar>"
        ("file_id", pa.string()),  # md5 of the file's bytes
        ("start_bar", pa.int32()),  # bars counted from the first time-signature event
        ("tempo_bpm", pa.float32()),  # tempo in effect at the window's first beat
        ("roll", pa.binary()),  # loopgen.roll.pack_rolls of the (128, 57) roll: 912 bytes
        ("corr", pa.list_(pa.float32())),  # loopgen.roll.bar_correlation: 28 values
        ("n_drum_cells", pa.int32()),
        ("n_bass_steps", pa.int32()),
    ]
)

FILES_SCHEMA = pa.schema(
    [
        ("relpath", pa.string()),  # path under midi.raw_dir, '/'-separated
        ("file_id", pa.string()),  # md5 of the file's bytes ('' when it cannot be read)
        ("shard", pa.int32()),
        ("status", pa.string()),  # 'accepted' | 'rejected'
        ("reason", pa.string()),  # why a file was rejected ('' when accepted)
        ("n_phrases", pa.int32()),
    ]
)


def file_id_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def phrase_table(file_id: str, phrases: FilePhrases) -> pa.Table:
    """PHRASE_SCHEMA rows of one file."""
    w = phrases.windows
    corr = bar_correlation(w.packed)
    return pa.table(
        {
            "phrase_id": [f"{file_id}:{bar}" for bar in w.start_bar.tolist()],
            "file_id": [file_id] * len(w.start_bar),
            "start_bar": w.start_bar,
            "tempo_bpm": phrases.tempo_bpm,
            "roll": pa.array([row.tobytes() for row in w.packed], pa.binary()),
            "corr": pa.FixedSizeListArray.from_arrays(corr.ravel(), corr.shape[1]).cast(pa.list_(pa.float32())),
            "n_drum_cells": w.n_drum_cells,
            "n_bass_steps": w.n_bass_steps,
        },
        schema=PHRASE_SCHEMA,
    )


class _StreamingTable:
    """Writes row groups as they come to a temporary file renamed on success, so a shard of any
    size is written atomically with bounded memory (loopgen.tables.write_table holds all rows)."""

    def __init__(self, path: str | os.PathLike, schema: pa.Schema, rows_per_group: int = 20_000):
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        from loopgen.tables import temporary_path

        self.tmp = temporary_path(self.path)
        self.schema, self.rows_per_group = schema, rows_per_group
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")
        self.pending: list[pa.Table] = []
        self.n_pending = 0

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.n_pending += len(table)
        if self.n_pending >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.writer.write_table(pa.concat_tables(self.pending))
        self.pending, self.n_pending = [], 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self._flush()
        self.writer.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        self.tmp.unlink(missing_ok=True)


def extract_shard(
    raw_dir, relpaths: list[str], shard: int, params: MidiParams, phrases_path, files_path, progress=True
) -> dict:
    """Extract the phrases of `relpaths` (under raw_dir) into phrases_path and account for every
    file in files_path (FILES_SCHEMA). Each rejected file gets one log line. Returns counts."""
    from tqdm import tqdm

    from loopgen.tables import write_table

    raw_dir = Path(raw_dir)
    file_rows, seen = [], {}
    n_phrases = 0
    with _StreamingTable(phrases_path, PHRASE_SCHEMA) as out:
        for relpath in tqdm(relpaths, desc=f"shard {shard}", mininterval=30, disable=not progress):
            row = {
                "relpath": relpath,
                "file_id": "",
                "shard": shard,
                "status": "rejected",
                "reason": "",
                "n_phrases": 0,
            }
            try:
                data = (raw_dir / relpath).read_bytes()
                row["file_id"] = file_id = file_id_of(data)
                if file_id in seen:
                    raise MidiError(f"duplicate: same content as {seen[file_id]}")
                seen[file_id] = relpath
                phrases = extract_phrases(data, params)
            except MidiError as error:
                row["reason"] = str(error)
            except OSError as error:
                row["reason"] = f"could not be read: {error.strerror or error}"
            except Exception as error:  # noqa: BLE001 -- a file no rule above foresaw: reject it, keep the shard going
                row["reason"] = f"could not be processed: {type(error).__name__}: {error}"
            else:
                out.write(phrase_table(file_id, phrases))
                row.update(status="accepted", n_phrases=len(phrases.tempo_bpm))
                n_phrases += row["n_phrases"]
            if row["status"] == "rejected":
                log.warning("rejected %s: %s", relpath, row["reason"])
            file_rows.append(row)
    write_table(file_rows, files_path, FILES_SCHEMA)
    n_accepted = sum(row["status"] == "accepted" for row in file_rows)
    counts = {
        "files": len(file_rows),
        "accepted": n_accepted,
        "rejected": len(file_rows) - n_accepted,
        "phrases": n_phrases,
    }
    log.info("shard %d: %d files in, %d accepted, %d rejected; %d phrases out", shard, *counts.values())
    return counts


def merge_files_tables(paths: list[str]) -> pa.Table:
    """The per-shard files tables as one, sorted by relpath; every file in exactly one row."""
    import pyarrow.compute as pc

    from loopgen.tables import read_tables

    table = read_tables(paths, FILES_SCHEMA)
    table = table.take(pc.sort_indices(table, [("relpath", "ascending")]))
    relpaths = table["relpath"].to_pylist()
    twice = sorted({p for p, n in Counter(relpaths).items() if n > 1})
    if twice:
        raise ValueError(f"{len(twice)} files appear in more than one shard, e.g. {twice[0]}")
    accepted = pc.equal(table["status"], "accepted")
    ids = table.filter(accepted)["file_id"].to_pylist()
    for file_id, n in Counter(ids).items():
        if n > 1:  # files are sharded by path, so two shards can each keep a copy of one file
            log.warning("file %s is accepted %d times under different paths: its phrases repeat", file_id, n)
    n_accepted = pc.sum(accepted.cast(pa.int32())).as_py() or 0
    n_phrases = pc.sum(table["n_phrases"]).as_py() or 0
    log.info(
        "%d files: %d accepted (%d phrases), %d rejected", len(table), n_accepted, n_phrases, len(table) - n_accepted
    )
    for reason, n in reject_reasons(table).most_common():
        log.info("  %6d rejected: %s", n, reason)
    return table


def reason_kind(reason: str) -> str:
    """A rejection reason without its particulars (bar, tick, track, file), for counting."""
    kind = reason.split(":")[0].split(" (")[0]
    kind = re.sub(r" at (bar|tick) \S+", "", kind)
    return re.sub(r"\b\d+ bars\b", "N bars", kind)


def reject_reasons(files: pa.Table) -> Counter:
    rejected = [
        r for r, status in zip(files["reason"].to_pylist(), files["status"].to_pylist()) if status == "rejected"
    ]
    return Counter(map(reason_kind, rejected))
