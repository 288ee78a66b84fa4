"""plans.shuffled_plan: exact shares, a floor of one per kind on corpora of 20+, caps, seeded order."""

from collections import Counter

import numpy as np

from loopgen.demo.plans import shuffled_plan

SHARES = {"rare": 0.01, "some": 0.25}


def test_exact_shares_with_at_least_one_of_each_kind_and_caps():
    plan = shuffled_plan(200, {**SHARES, "capped": 0.1}, "plain", np.random.default_rng(0), at_most={"capped": 3})
    assert Counter(plan) == {"rare": 2, "some": 50, "capped": 3, "plain": 145}
    assert Counter(shuffled_plan(20, SHARES, "plain", np.random.default_rng(0)))["rare"] == 1  # 0.2 rounds up to 1


def test_small_corpora_skip_rare_kinds_and_order_follows_the_seed():
    assert Counter(shuffled_plan(8, SHARES, "plain", np.random.default_rng(0))) == {"some": 2, "plain": 6}
    first = shuffled_plan(50, SHARES, "plain", np.random.default_rng(1))
    assert first == shuffled_plan(50, SHARES, "plain", np.random.default_rng(1))
    assert first != shuffled_plan(50, SHARES, "plain", np.random.default_rng(2))
