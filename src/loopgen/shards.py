"""Stable assignment of raw files to shards: the same path always lands in the same shard."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def shard_of(key: str, n_shards: int) -> int:
    """Shard index of `key` (a path relative to the dump root, with '/' separators)."""
    digest = hashlib.md5(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n_shards


def list_files(root: str | os.PathLike, suffixes: tuple[str, ...]) -> list[str]:
    """Paths under `root` (relative, '/'-separated, sorted) whose suffix is in `suffixes`."""
    root = Path(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(suffixes):
                found.append((Path(dirpath) / name).relative_to(root).as_posix())
    return sorted(found)


def files_in_shard(root: str | os.PathLike, suffixes: tuple[str, ...], shard: int, n_shards: int) -> list[str]:
    return [p for p in list_files(root, suffixes) if shard_of(p, n_shards) == shard]
