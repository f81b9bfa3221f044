"""Creator scoring through the Rust kernel (`_core.score_creators`), column by column.

The rules (SPEC §4) and their exact arithmetic are written down in
`xiaodian.reference.creators`, the kernel's pure-Python twin; this module only moves columns in
and out: raw values as `array('q')` / `array('d')` buffers, results as arrays of the same kind,
so that scoring ten million creators builds no Python object per creator and copies no column
twice.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from xiaodian import _core
from xiaodian.v1 import creator_service_pb2 as pb

PPM: Final = 1_000_000


@dataclass(frozen=True)
class Weights:
    """Weights of the three percentiles, ppm: each >= 0, together exactly 1,000,000."""

    gmv_weight_ppm: int = 400_000
    sales_weight_ppm: int = 300_000
    followers_weight_ppm: int = 300_000

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.gmv_weight_ppm, self.sales_weight_ppm, self.followers_weight_ppm)

    def as_message(self) -> pb.CreatorScoreWeights:
        return pb.CreatorScoreWeights(
            gmv_weight_ppm=self.gmv_weight_ppm,
            sales_weight_ppm=self.sales_weight_ppm,
            followers_weight_ppm=self.followers_weight_ppm,
        )


@dataclass(frozen=True)
class ScoreColumns:
    """One entry per creator, in input order: read-only views (float64, uint32, uint8) of the
    kernel's output bytes, indexable and iterable like lists, copied nowhere."""

    gmv_percentile: memoryview[float]
    sales_percentile: memoryview[float]
    followers_percentile: memoryview[float]
    #: Weighted score in [0, 100].
    score: memoryview[float]
    #: 1-based rank within the creator's cohort.
    rank: memoryview[int]
    #: `CreatorTier` number (1 = S … 4 = C).
    tier: memoryview[int]


def _column(
    values: Sequence[int] | Sequence[float] | array[int] | array[float], code: str
) -> array[int] | array[float]:
    """`values` as an array of typecode `code` ("q" int64, "d" float64), copied only if needed."""
    if isinstance(values, array) and values.typecode == code:
        return values
    return array(code, values)


def score_cohorts(
    settled_gmv_fen: Sequence[int] | array[int],
    sales_score: Sequence[float] | array[float],
    effective_followers: Sequence[int] | array[int],
    cohort_sizes: Sequence[int],
    weights: Weights = Weights(),
) -> ScoreColumns:
    """Scores cohorts laid out one after another (`cohort_sizes` entries each, each cohort in
    ascending creator_id order). Raises `InvalidArgument` for negative GMV or followers, sales
    scores outside [0, 100], or weights not summing to 1,000,000 ppm."""
    columns = _core.score_creators(
        _column(settled_gmv_fen, "q"),
        _column(sales_score, "d"),
        _column(effective_followers, "q"),
        list(cohort_sizes),
        weights.as_tuple(),
    )
    gmv_p, sales_p, followers_p, score, rank, tier = columns
    return ScoreColumns(
        gmv_percentile=memoryview(gmv_p).cast("d"),
        sales_percentile=memoryview(sales_p).cast("d"),
        followers_percentile=memoryview(followers_p).cast("d"),
        score=memoryview(score).cast("d"),
        rank=memoryview(rank).cast("I"),
        tier=memoryview(tier).cast("B"),
    )


def sales_scores(components: Sequence[pb.SalesScoreComponents], min_orders: int) -> list[float]:
    """The sales score (带货分) of each set of 90-day components (see `reference.creators.sales_score`)."""
    return _core.sales_scores(
        [c.order_count_90d for c in components],
        [c.quality_refund_rate_ppm for c in components],
        [c.negative_review_rate_ppm for c in components],
        [c.complaint_rate_ppm for c in components],
        min_orders,
    )
