"""The executable specification of creator scoring (SPEC §4), in plain Python.

It mirrors `crates/xiaodian-core/src/creator/mod.rs` with the shapes of `xiaodian._core.score_creators`
(columns in, columns out) and the same refusals (`InvalidArgument` with the same field paths and
message, checked in the same order). `tests/creators/test_scoring_reference.py` holds the two to
that: equal floats (both compute each as one division of two exact integers), equal ranks.

Per cohort of n creators and per component, a value x with L values below it and E equal to it
(its own included) has `t = 2L + E - 1` and the mid-rank percentile
`P = 100 (L + (E - 1)/2) / (n - 1) = 100 t / (2 (n - 1))`; a cohort of one scores 100 on
everything. The score is `Σ wₖ Pₖ` with weights wₖ in ppm, computed as the exact
`Σ wₖ tₖ / (20,000 (n - 1))`. Rank: score descending, then settled GMV descending, then position
ascending (the caller lays each cohort out in ascending creator_id order). Tier: S >= 90,
A >= 75, B >= 50, else C, decided on the exact score.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Final, NamedTuple

from xiaodian.errors import InvalidArgument

PPM: Final = 1_000_000
#: The 2025 rule: settled GMV 40 %, sales score 30 %, effective followers 30 % (ppm).
RULE_2025: Final = (400_000, 300_000, 300_000)
#: `CreatorTier` numbers.
TIER_S, TIER_A, TIER_B, TIER_C = 1, 2, 3, 4
NEUTRAL_SALES_SCORE: Final = 60.0
#: At most this many violations are reported, as the kernel does.
MAX_VIOLATIONS: Final = 10


class Scores(NamedTuple):
    """One entry per creator, in input order."""

    gmv_percentile: list[float]
    sales_percentile: list[float]
    followers_percentile: list[float]
    score: list[float]
    #: 1-based, within the creator's cohort.
    rank: list[int]
    #: `CreatorTier` number.
    tier: list[int]


def _refused(violations: Sequence[tuple[str, str]]) -> InvalidArgument:
    return InvalidArgument("invalid argument: " + "; ".join(f"{f}: {d}" for f, d in violations), violations)


def sales_score(
    order_count_90d: int,
    quality_refund_rate_ppm: int,
    negative_review_rate_ppm: int,
    complaint_rate_ppm: int,
    min_orders: int,
) -> float:
    """`100 (0.4 (1 - refund) + 0.4 (1 - negative) + 0.2 (1 - complaint))`, rates clipped to
    100 %; the neutral 60 below `min_orders` orders."""
    if order_count_90d < min_orders:
        return NEUTRAL_SALES_SCORE

    def good(rate_ppm: int) -> int:
        return PPM - min(rate_ppm, PPM)

    tenths_ppm = 4 * good(quality_refund_rate_ppm) + 4 * good(negative_review_rate_ppm) + 2 * good(complaint_rate_ppm)
    return tenths_ppm / 100_000


def _check(
    settled_gmv_fen: Sequence[int],
    sales: Sequence[float],
    effective_followers: Sequence[int],
    cohort_sizes: Sequence[int],
    weights: tuple[int, int, int],
) -> None:
    if sum(weights) != PPM:
        raise _refused([("weights", f"must sum to exactly 1,000,000 ppm (100 %), got {sum(weights)}")])
    n = len(settled_gmv_fen)
    if len(sales) != n or len(effective_followers) != n:
        raise _refused(
            [("creators", "settled_gmv_fen, sales_score and effective_followers must have one entry per creator")]
        )
    violations: list[tuple[str, str]] = []
    for i in range(n):
        if len(violations) >= MAX_VIOLATIONS:
            break
        if settled_gmv_fen[i] < 0:
            violations.append((f"creators[{i}].settled_gmv_fen", "must be >= 0"))
        if not 0.0 <= sales[i] <= 100.0:
            violations.append((f"creators[{i}].sales_score", "must be between 0 and 100"))
        if effective_followers[i] < 0:
            violations.append((f"creators[{i}].effective_followers", "must be >= 0"))
    if violations:
        raise _refused(violations)
    if sum(cohort_sizes) != n:
        raise _refused([("cohort_sizes", f"must add up to the number of creators ({n}), got {sum(cohort_sizes)}")])


def _twice_mid_ranks(values: Sequence[float]) -> list[int]:
    """`t = 2L + E - 1` of each value within `values`."""
    ordered = sorted(values)
    return [bisect_left(ordered, x) + bisect_right(ordered, x) - 1 for x in values]


def _tier(numerator: int, denominator: int) -> int:
    for tier, threshold in ((TIER_S, 90), (TIER_A, 75), (TIER_B, 50)):
        if numerator >= threshold * denominator:
            return tier
    return TIER_C


def score_cohorts(
    settled_gmv_fen: Sequence[int],
    sales: Sequence[float],
    effective_followers: Sequence[int],
    cohort_sizes: Sequence[int],
    weights: tuple[int, int, int] = RULE_2025,
) -> Scores:
    """Scores cohorts laid out one after another (`cohort_sizes`), each in ascending creator_id
    order. Weights are (gmv, sales, followers) ppm summing to 1,000,000."""
    _check(settled_gmv_fen, sales, effective_followers, cohort_sizes, weights)
    out = Scores([], [], [], [], [], [])
    start = 0
    for size in cohort_sizes:
        end = start + size
        _score_cohort(settled_gmv_fen[start:end], sales[start:end], effective_followers[start:end], weights, out)
        start = end
    return out


def _score_cohort(
    gmv: Sequence[int], sales: Sequence[float], followers: Sequence[int], weights: tuple[int, int, int], out: Scores
) -> None:
    n = len(gmv)
    if n == 0:
        return
    if n == 1:
        for column in (out.gmv_percentile, out.sales_percentile, out.followers_percentile, out.score):
            column.append(100.0)
        out.rank.append(1)
        out.tier.append(TIER_S)
        return
    t_gmv, t_sales, t_followers = _twice_mid_ranks(gmv), _twice_mid_ranks(sales), _twice_mid_ranks(followers)
    w_gmv, w_sales, w_followers = weights
    denominator = 20_000 * (n - 1)
    numerators = [w_gmv * t_gmv[i] + w_sales * t_sales[i] + w_followers * t_followers[i] for i in range(n)]
    for i in range(n):
        out.gmv_percentile.append(100 * t_gmv[i] / (2 * (n - 1)))
        out.sales_percentile.append(100 * t_sales[i] / (2 * (n - 1)))
        out.followers_percentile.append(100 * t_followers[i] / (2 * (n - 1)))
        out.score.append(numerators[i] / denominator)
        out.tier.append(_tier(numerators[i], denominator))
    order = sorted(range(n), key=lambda i: (-numerators[i], -gmv[i], i))
    ranks = [0] * n
    for rank, i in enumerate(order, start=1):
        ranks[i] = rank
    out.rank.extend(ranks)
