"""Creator scoring: the Rust kernel against its pure-Python reference, hand-computed cohorts,
and the invariants of SPEC §4 (percentiles in [0, 100], monotonicity, ranks a permutation
ordered by score, GMV, creator id)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xiaodian import errors
from xiaodian.creators.scoring import Weights, score_cohorts
from xiaodian.reference import creators as ref

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

EXAMPLES = 1_000


def rust(gmv, sales, followers, sizes, weights=ref.RULE_2025):  # type: ignore[no-untyped-def]
    columns = score_cohorts(gmv, sales, followers, sizes, Weights(*weights))
    return ref.Scores(
        *(
            list(c)
            for c in (
                columns.gmv_percentile,
                columns.sales_percentile,
                columns.followers_percentile,
                columns.score,
                columns.rank,
                columns.tier,
            )
        )
    )


# Small value ranges so that ties are common; sales scores on a coarse grid, plus extremes.
gmv_values = st.one_of(st.integers(0, 6), st.integers(0, 2**62))
sales_values = st.one_of(st.sampled_from([0.0, 12.5, 60.0, 93.6, 100.0]), st.floats(0, 100))
follower_values = st.one_of(st.integers(0, 4), st.integers(0, 10**12))


@st.composite
def cohorts(draw):  # type: ignore[no-untyped-def]
    sizes = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4))
    n = sum(sizes)
    gmv = draw(st.lists(gmv_values, min_size=n, max_size=n))
    sales = draw(st.lists(sales_values, min_size=n, max_size=n))
    followers = draw(st.lists(follower_values, min_size=n, max_size=n))
    return gmv, sales, followers, sizes


@st.composite
def weights(draw):  # type: ignore[no-untyped-def]
    a = draw(st.integers(0, 1_000_000))
    b = draw(st.integers(0, 1_000_000 - a))
    return (a, b, 1_000_000 - a - b)


@settings(max_examples=EXAMPLES, deadline=None)
@given(cohorts(), weights())
def test_rust_and_reference_agree_exactly(cohort, w) -> None:  # type: ignore[no-untyped-def]
    gmv, sales, followers, sizes = cohort
    assert rust(gmv, sales, followers, sizes, w) == ref.score_cohorts(gmv, sales, followers, sizes, w)


@settings(max_examples=EXAMPLES, deadline=None)
@given(cohorts(), weights())
def test_percentiles_and_scores_stay_within_0_and_100(cohort, w) -> None:  # type: ignore[no-untyped-def]
    scores = rust(*cohort, w)
    for column in (scores.gmv_percentile, scores.sales_percentile, scores.followers_percentile, scores.score):
        assert all(0.0 <= x <= 100.0 for x in column)
    for score, tier in zip(scores.score, scores.tier, strict=True):
        assert tier == (
            ref.TIER_S if score >= 90 else ref.TIER_A if score >= 75 else ref.TIER_B if score >= 50 else ref.TIER_C
        )


@settings(max_examples=EXAMPLES, deadline=None)
@given(cohorts(), weights())
def test_better_on_all_three_never_scores_or_ranks_lower(cohort, w) -> None:  # type: ignore[no-untyped-def]
    gmv, sales, followers, sizes = cohort
    scores = rust(gmv, sales, followers, sizes, w)
    start = 0
    for size in sizes:
        members = range(start, start + size)
        for a in members:
            for b in members:
                if gmv[a] >= gmv[b] and sales[a] >= sales[b] and followers[a] >= followers[b]:
                    assert scores.score[a] >= scores.score[b]
                    if scores.rank[a] > scores.rank[b]:
                        # Only the tie-breaks put a below b: equal score, then GMV, then id.
                        assert scores.score[a] == scores.score[b]
                        assert gmv[a] == gmv[b] and a > b
        start += size


@settings(max_examples=EXAMPLES, deadline=None)
@given(cohorts(), weights())
def test_ranks_order_each_cohort_by_score_then_gmv_then_creator_id(cohort, w) -> None:  # type: ignore[no-untyped-def]
    gmv, sales, followers, sizes = cohort
    scores = rust(gmv, sales, followers, sizes, w)
    start = 0
    for size in sizes:
        members = list(range(start, start + size))
        assert sorted(scores.rank[i] for i in members) == list(range(1, size + 1))
        by_rank = sorted(members, key=lambda i: scores.rank[i])
        keys = [(-scores.score[i], -gmv[i], i) for i in by_rank]
        assert keys == sorted(keys)
        start += size


def test_golden_cohort_with_ties() -> None:
    # Hand-computed. GMV 300, 100, 100, 0 (fen); sales 80, 80, 80, 95; followers 0, 0, 50, 10.
    # n = 4, so P = 100 (L + (E - 1)/2) / 3.
    # GMV:       300 → L3 E1 → 100;      100 → L1 E2 → 50;      0 → L0 E1 → 0.
    # sales:     80 → L0 E3 → 33.33…;    95 → L3 E1 → 100.
    # followers: 0 → L0 E2 → 16.66…;     50 → L3 E1 → 100;      10 → L2 E1 → 66.66….
    scores = rust([300, 100, 100, 0], [80.0, 80.0, 80.0, 95.0], [0, 0, 50, 10], [4])
    assert scores.gmv_percentile == [100.0, 50.0, 50.0, 0.0]
    assert scores.sales_percentile == pytest.approx([100 / 3, 100 / 3, 100 / 3, 100.0], rel=1e-15)
    assert scores.followers_percentile == pytest.approx([50 / 3, 50 / 3, 100.0, 200 / 3], rel=1e-15)
    expected = [
        0.4 * 100 + 0.3 * 100 / 3 + 0.3 * 50 / 3,  # 55
        0.4 * 50 + 0.3 * 100 / 3 + 0.3 * 50 / 3,  # 35
        0.4 * 50 + 0.3 * 100 / 3 + 0.3 * 100,  # 60
        0.4 * 0 + 0.3 * 100 + 0.3 * 200 / 3,  # 50
    ]
    assert scores.score == pytest.approx(expected, rel=1e-12)
    assert scores.score == [55.0, 35.0, 60.0, 50.0]
    assert scores.rank == [2, 4, 1, 3]
    assert scores.tier == [ref.TIER_B, ref.TIER_C, ref.TIER_B, ref.TIER_B]


def test_cohort_of_one_all_equal_and_zero_followers() -> None:
    # A cohort of one scores 100 whatever its values.
    assert rust([0], [0.0], [0], [1]) == ref.Scores([100.0], [100.0], [100.0], [100.0], [1], [ref.TIER_S])
    # All equal: every percentile is 50; ranks fall back to creator id order.
    equal = rust([7] * 5, [60.0] * 5, [0] * 5, [5])
    assert equal.score == [50.0] * 5 and equal.rank == [1, 2, 3, 4, 5] and equal.tier == [ref.TIER_B] * 5
    # Zero followers everywhere: the followers percentile is 50 for everyone, not a division by zero.
    zero = rust([1, 2, 3], [10.0, 20.0, 30.0], [0, 0, 0], [3])
    assert zero.followers_percentile == [50.0, 50.0, 50.0]
    assert zero.score == [15.0, 50.0, 85.0]


def test_equal_scores_rank_by_gmv_then_creator_id() -> None:
    # Weights 50/50/0: creator 0 (GMV best, sales worst) and creator 1 (the reverse) tie at 50.
    scores = rust([9, 1, 9], [0.0, 100.0, 0.0], [5, 5, 5], [3], (500_000, 500_000, 0))
    assert scores.score[1] == scores.score[0] == scores.score[2]
    assert scores.rank == [1, 3, 2]


def test_sales_score_from_components_agrees_with_reference() -> None:
    from xiaodian import _core

    cases = [(0, 0, 0, 0), (19, 0, 0, 0), (20, 0, 0, 0), (500, 100_000, 50_000, 20_000), (90, 2**32 - 1, 0, 999_999)]
    rust_scores = _core.sales_scores(*(list(c) for c in zip(*cases, strict=True)), 20)
    assert rust_scores == [ref.sales_score(*c, 20) for c in cases]
    assert rust_scores[:4] == [60.0, 60.0, 100.0, 93.6]
    assert all(0.0 <= s <= 100.0 for s in rust_scores)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**6), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)
        ),
        min_size=1,
        max_size=20,
    ),
    st.integers(0, 100),
)
def test_sales_scores_agree_on_random_components(components, min_orders) -> None:  # type: ignore[no-untyped-def]
    from xiaodian import _core

    columns = [list(c) for c in zip(*components, strict=True)]
    assert _core.sales_scores(*columns, min_orders) == [ref.sales_score(*c, min_orders) for c in components]


@pytest.mark.parametrize(
    ("gmv", "sales", "followers", "sizes", "w"),
    [
        ([-1, 0], [1.0, math.nan], [0, -3], [2], ref.RULE_2025),
        ([1, 2], [1.0, 2.0], [0, 0], [3], ref.RULE_2025),
        ([1], [101.0], [0], [1], ref.RULE_2025),
        ([1], [1.0], [0], [1], (400_000, 300_000, 300_001)),
        ([1, 2], [1.0], [0, 0], [2], ref.RULE_2025),
    ],
)
def test_refusals_agree_with_reference(gmv, sales, followers, sizes, w) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.InvalidArgument) as from_rust:
        rust(gmv, sales, followers, sizes, w)
    with pytest.raises(errors.InvalidArgument) as from_reference:
        ref.score_cohorts(gmv, sales, followers, sizes, w)
    assert from_rust.value.violations == from_reference.value.violations
    assert str(from_rust.value) == str(from_reference.value)
