"""Manifests of a raw dump, one per shard: what lets Snakemake notice a file changed deep inside it.

Snakemake sees a folder input only through the folder's own modification time. That time changes
when a direct child is added or removed, never for a file deeper down, and when it does change it
reruns every job that reads the folder. So the raw stages read the dump folder as an `ancient()`
input, and each shard job reads its shard's manifest: the shard's files (size, modification time
in ns, relative path; audio dumps add the shard's metadata rows).

Two files per shard, because Snakemake only checks a job's own inputs when no job upstream of it
reruns (the audio shard jobs are downstream of check_loops, which reruns for any changed file):
- shard-<i>.listing.tsv: rewritten by the Snakefile, each time it is read, when the dump's
  listing of that shard changed (`refresh`); made by rule list_dump the first time;
- shard-<i>.tsv: the manifest, a copy made by rule dump_manifest whenever the listing changed.
  That job reruns, so Snakemake reruns every job that reads the manifest: that shard's jobs and
  the merges after them, and nothing else.

Contents are not hashed: that would read the whole dump (~10 GB for LMD-full) on every invocation.
A file rewritten with the same size and modification time (`cp -p`, `rsync -t` of different bytes)
goes unnoticed; `snakemake -R <rule>` reruns a stage in that case. A file only touched reruns its
shard.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from loopgen.shards import shard_of

HEADER = "# size\tmtime_ns\tpath (relative to the dump; audio dumps add 'metadata' rows)\n"


def scan(root: str | os.PathLike, suffixes: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(relative '/'-separated path, size, mtime_ns) of the files under `root` whose name ends in
    one of `suffixes` (case-insensitive), sorted. The same files as `shards.list_files` (symbolic
    links to folders are not followed); one stat call per file, nothing read."""
    found = []
    stack = [(os.fspath(root), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():
                    if not entry.is_symlink():
                        stack.append((entry.path, prefix + entry.name + "/"))
                elif entry.name.lower().endswith(suffixes):
                    try:
                        stat = entry.stat()
                        found.append((prefix + entry.name, stat.st_size, stat.st_mtime_ns))
                    except OSError:  # a dangling link: listed, so its appearance is noticed too
                        found.append((prefix + entry.name, -1, -1))
    return sorted(found)


def shard_texts(
    root: str | os.PathLike, suffixes: tuple[str, ...], n_shards: int, metadata: str | None = None
) -> list[str]:
    """The manifest text of each of `n_shards` shards of the dump at `root`.

    `metadata` names a CSV inside the dump whose rows describe its files (the audio dump's
    metadata.csv, column `file`): each row goes into the manifest of the shard its file goes to,
    so editing one loop's tempo reruns that loop's shard only.
    """
    lines: list[list[str]] = [[] for _ in range(n_shards)]
    for path, size, mtime_ns in scan(root, suffixes):
        lines[shard_of(path, n_shards)].append(f"{size}\t{mtime_ns}\t{path}\n")
    if metadata is not None:
        for key, row in _metadata_rows(Path(root) / metadata):
            lines[shard_of(key, n_shards)].append(f"metadata\t{row}\n")
    return [HEADER + "".join(shard_lines) for shard_lines in lines]


def _metadata_rows(path: Path) -> list[tuple[str, str]]:
    """(shard key, the row as read) of each data row of a metadata CSV; [] when it is absent.

    The key is the row's `file` value as the audio stage resolves it (so the row lands in its
    file's shard); without a `file` column every row keys on the whole header, one shard."""
    from loopgen.audio.dump import member_path  # only for audio dumps: keeps the MIDI path light

    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text))
    header = [name.strip().lower() for name in next(reader, [])]
    column = header.index("file") if "file" in header else None
    rows = []
    for row in reader:
        value = row[column].strip() if column is not None and column < len(row) else ",".join(header)
        rows.append((member_path(value) or value, "\t".join(row)))
    return rows


def refresh(folder: str | os.PathLike, texts: list[str], name: str = "shard-{}.listing.tsv") -> list[int]:
    """Rewrite the existing listings in `folder` whose text is not texts[shard]; the shards rewritten.

    Missing listings are left to the workflow's rule, which makes them and records that it did (a
    file it finds already there, unrecorded, it would make again, and rerun everything after it);
    a rewrite keeps that record and only moves the file's modification time."""
    changed = []
    for shard, text in enumerate(texts):
        path = Path(folder) / name.format(shard)
        if not path.is_file() or path.read_text(encoding="utf-8", errors="surrogateescape") == text:
            continue
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8", errors="surrogateescape")
        partial.replace(path)
        changed.append(shard)
    return changed


def write(path: str | os.PathLike, text: str) -> None:
    # File names that are not UTF-8 arrive from os.scandir as surrogate escapes; keep their bytes.
    Path(path).write_text(text, encoding="utf-8", errors="surrogateescape")
