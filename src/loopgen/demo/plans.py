"""Exact, shuffled assignment of kinds to files, so every corpus size gets the intended shares."""

from __future__ import annotations

import numpy as np

EVERY_KIND_FROM = 20  # corpora of at least this many files get at least one file of every kind


def shuffled_plan(
    n: int, shares: dict[str, float], default: str, rng: np.random.Generator, at_most: dict[str, int] | None = None
) -> list[str]:
    """A list of n kinds: round(share * n) of each kind in `shares` (at least one once
    n >= EVERY_KIND_FROM, at most `at_most[kind]`), the rest `default`, in shuffled order."""
    at_most = at_most or {}
    kinds: list[str] = []
    for kind, share in shares.items():
        count = round(share * n)
        if n >= EVERY_KIND_FROM:
            count = max(1, count)
        kinds += [kind] * min(count, at_most.get(kind, count))
    kinds = kinds[:n] + [default] * max(0, n - len(kinds))
    return [kinds[i] for i in rng.permutation(n)]
