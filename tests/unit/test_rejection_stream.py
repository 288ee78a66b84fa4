"""One stream for the nested rejection limits (loopgen.symbolic.rejection), against a plain
one-limit-at-a-time reference on the same stream, with a stand-in sampler."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from loopgen.roll import PACKED_BYTES, packed_column
from loopgen.symbolic.rejection import nested_rejection

LIMITS = [1.0, 0.5, 0.1, 0.02]


class FakeSampler:
    """Loops whose first byte is their loop score x 255; a seeded torch stream, like LoopSampler."""

    def __init__(self, seed, batch_size=50, fail_after=None):
        self.rng = torch.Generator().manual_seed(seed)
        self.batch_size = batch_size
        self.draws = 0
        self.fail_after = fail_after

    def draw(self, n, mode):
        if self.fail_after is not None and self.draws >= self.fail_after:
            raise KeyboardInterrupt("killed")  # a job killed mid-run
        self.draws += 1
        packed = torch.randint(0, 256, (n, PACKED_BYTES), generator=self.rng, dtype=torch.uint8)
        return packed.numpy()


def score(packed):
    return packed[:, 0].astype(np.float32) / 255


def reference(seed, limit, target, max_tries, batch_size=50):
    """The old way: a stream of its own for one limit, loop by loop."""
    sampler, kept, tried = FakeSampler(seed, batch_size), [], 0
    while len(kept) < target and tried < max_tries:
        for roll in sampler.draw(min(batch_size, max_tries - tried), None):
            tried += 1
            if score(roll[None])[0] < limit:
                kept.append(roll)
                if len(kept) == target:
                    break
    return np.array(kept).reshape(-1, PACKED_BYTES), tried


def run(tmp_path, sampler, target=30, max_tries=2000, flush_rows=65_536):
    outs = {limit: tmp_path / f"limit-{limit:g}.parquet" for limit in LIMITS}
    stats = nested_rejection(
        sampler,
        None,
        score,
        LIMITS,
        target,
        max_tries,
        outs,
        tmp_path / "state",
        {limit: f"top_k-limit-{limit:g}" for limit in LIMITS},
        run_key="k",
        flush_rows=flush_rows,
    )
    return {s["limit"]: s for s in stats}, {limit: pq.read_table(path) for limit, path in outs.items()}


def test_each_limit_gets_what_its_own_stream_would_give(tmp_path):
    sampler = FakeSampler(seed=4)
    stats, tables = run(tmp_path, sampler)
    for limit in LIMITS:
        expected, tried = reference(4, limit, 30, 2000)
        assert np.array_equal(packed_column(tables[limit]["roll"]), expected), limit
        assert (stats[limit]["kept"], stats[limit]["tried"]) == (len(expected), tried)
        assert tables[limit]["sample_id"][0].as_py() == f"top_k-limit-{limit:g}-0000000"
        assert (tables[limit]["loop_score"].to_numpy() < limit).all()
    # The cost is the tightest limit's tries (rounded up to a batch), not the sum over limits.
    tightest = max(s["tried"] for s in stats.values())
    assert tightest == stats[0.02]["tried"] and tightest <= sampler.draws * sampler.batch_size < tightest + 50
    assert stats[1.0]["tried"] == 30 and sum(s["tried"] for s in stats.values()) > tightest + 300


def test_max_tries_bounds_the_stream_and_is_the_unfinished_limits_tries(tmp_path):
    sampler = FakeSampler(seed=4)
    stats, tables = run(tmp_path, sampler, max_tries=500)
    expected, tried = reference(4, 0.02, 30, 500)
    assert stats[0.02]["kept"] == len(expected) < 30 and stats[0.02]["tried"] == tried == 500
    assert np.array_equal(packed_column(tables[0.02]["roll"]), expected)
    assert sampler.draws * sampler.batch_size == 500


def test_a_killed_run_resumes_to_the_same_result(tmp_path):
    first = FakeSampler(seed=9)
    _, whole = run(tmp_path / "whole", first)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "split", FakeSampler(seed=9, fail_after=first.draws // 2), flush_rows=5)
    resumed = FakeSampler(seed=9)
    stats, tables = run(tmp_path / "split", resumed, flush_rows=5)
    assert resumed.draws < first.draws  # continued from a saved state, not from the start
    for limit in LIMITS:
        assert tables[limit].equals(whole[limit]), limit
