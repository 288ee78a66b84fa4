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


# Rows per Parquet row group: a reader holds one group at a time, and a head read touches only the
# first. pyarrow's default (1,048,576 rows) makes a paper-scale sample file of 752k packed rolls
# one 686 MB group. 65,536 rolls are 60 MB; wide rows (a 1-bar PCM segment is 59 KB) are capped by
# bytes instead, or 65,536 of them would make a 3.9 GB group.
ROW_GROUP_ROWS = 65_536
ROW_GROUP_BYTES = 128 * 2**20


def row_group_rows(table: pa.Table) -> int:
    """Rows per row group for `table`: ROW_GROUP_ROWS, fewer when its rows are wide."""
    if table.num_rows == 0:
        return ROW_GROUP_ROWS
    bytes_per_row = max(table.nbytes / table.num_rows, 1.0)
    return int(max(1, min(ROW_GROUP_ROWS, ROW_GROUP_BYTES // bytes_per_row)))


def write_table(table: pa.Table | list[dict], path: str | os.PathLike, schema: pa.Schema) -> None:
    """Write `table` (a Table or a list of row dicts) to `path` via a temporary name and a rename,
    so a killed job never leaves a complete-looking half-written file. Row groups: row_group_rows."""
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pylist(table, schema=schema)
    else:
        table = table.cast(schema)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        pq.write_table(table, tmp, compression="zstd", row_group_size=row_group_rows(table))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_columns(path, file_schema: pa.Schema, schema: pa.Schema, columns: list[str] | None) -> None:
    for field in schema:
        if columns is not None and field.name not in columns:
            continue
        if field.name not in file_schema.names:
            raise SchemaMismatch(f"{path}: column {field.name!r} missing")
        found = file_schema.field(field.name).type
        if found != field.type:
            raise SchemaMismatch(f"{path}: column {field.name!r} is {found}, expected {field.type}")


def read_table(path: str | os.PathLike, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file and check that its columns have the expected types."""
    _check_columns(path, pq.read_schema(path), schema, columns)
    return pq.read_table(path, columns=columns or schema.names)


def iter_batches(
    path: str | os.PathLike, schema: pa.Schema, columns: list[str] | None = None, batch_size: int = 65_536
):
    """Record batches of a Parquet file, streamed page by page (no whole row group is read or
    decoded at once; a row group of audio is 128 MB), after checking the columns' types."""
    columns = columns or schema.names
    file = pq.ParquetFile(path, buffer_size=1 << 22, pre_buffer=False)
    _check_columns(path, file.schema_arrow, schema, columns)
    yield from file.iter_batches(batch_size=batch_size, columns=columns)


def read_head(path: str | os.PathLike, schema: pa.Schema, n: int, columns: list[str] | None = None) -> pa.Table:
    """The first `n` rows of a Parquet file, streamed: only the pages that hold them are read and
    decoded (a paper-scale sample file is 686 MB, and one row group of audio is 128 MB; listening
    to 10 loops or plotting one bar should read neither whole)."""
    columns = columns or schema.names
    batches, rows = [], 0
    if n > 0:
        for batch in iter_batches(path, schema, columns, min(n, ROW_GROUP_ROWS)):
            batches.append(batch)
            rows += batch.num_rows
            if rows >= n:
                break
    else:
        _check_columns(path, pq.read_schema(path), schema, columns)
    if not batches:
        return pa.schema([schema.field(c) for c in columns]).empty_table()
    return pa.Table.from_batches(batches).slice(0, n)


def iter_row_groups(path: str | os.PathLike, schema: pa.Schema, columns: list[str] | None = None):
    """A Parquet file's row groups as tables, one at a time (memory: one row group), after checking
    that its columns have the expected types."""
    file = pq.ParquetFile(path)
    _check_columns(path, file.schema_arrow, schema, columns)
    for group in range(file.num_row_groups):
        yield file.read_row_group(group, columns=columns or schema.names)


def join_files(paths, path: str | os.PathLike, schema: pa.Schema, limit: int | None = None) -> int:
    """Parquet files of one schema, in order, as one file written via a temporary name; with
    `limit`, only their first `limit` rows. Read and written a row group at a time (memory: one
    row group, ~60 MB of rolls, not a paper-scale file of 570 MB: issue 13), so their row groups
    are kept. Returns the rows written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    written = 0
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for part in paths:
                for table in iter_row_groups(part, schema):
                    if limit is not None and written >= limit:
                        break
                    if limit is not None:
                        table = table.slice(0, limit - written)
                    writer.write_table(table.cast(schema), row_group_size=row_group_rows(table))
                    written += table.num_rows
            if written == 0:
                writer.write_table(schema.empty_table())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return written


def read_tables(paths, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """Concatenate several shards of one schema."""
    return pa.concat_tables([read_table(p, schema, columns) for p in paths])
