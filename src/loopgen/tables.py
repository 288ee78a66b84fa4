"""Parquet I/O with schemas checked on read and atomic writes.

Each stage module defines its pyarrow schema once (e.g. loopgen.midi.PHRASE_SCHEMA) and reads and
writes its tables through these two functions.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


class SchemaMismatch(ValueError):
    pass


def temporary_path(path: str | os.PathLike) -> Path:
    """A private name next to `path` to write it under before renaming it into place.

    Removes what writers of the same file (or folder) left when they were killed (SIGKILL,
    scancel): Snakemake never runs two jobs for one output at once, so any other temporary of
    `path` is stale.
    """
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_table(table: pa.Table | list[dict], path: str | os.PathLike, schema: pa.Schema) -> None:
    """Write `table` (a Table or a list of row dicts) to `path` via a temporary name and a rename,
    so a killed job never leaves a complete-looking half-written file."""
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pylist(table, schema=schema)
    else:
        table = table.cast(schema)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_table(path: str | os.PathLike, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file and check that its columns have the expected types."""
    file_schema = pq.read_schema(path)
    for field in schema:
        if columns is not None and field.name not in columns:
            continue
        if field.name not in file_schema.names:
            raise SchemaMismatch(f"{path}: column {field.name!r} missing")
        found = file_schema.field(field.name).type
        if found != field.type:
            raise SchemaMismatch(f"{path}: column {field.name!r} is {found}, expected {field.type}")
    return pq.read_table(path, columns=columns or schema.names)


def read_tables(paths, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """Concatenate several shards of one schema."""
    return pa.concat_tables([read_table(p, schema, columns) for p in paths])
