"""The demo's creators (达人): metrics for every creator the demo orders credit, plus a long
tail that sold nothing through the demo shops, deterministic by seed.

Followers are log-normal (a few creators have millions, most have hundreds), with 0-30 % of
them flagged as bots or suspicious; the sales score comes from 90-day components for most
creators (some below the 20-order minimum, so neutral) and is given directly for the rest;
the given settled GMV is Pareto-distributed. Scoring the demo period from the ledger replaces
the given GMV with what the demo orders actually settled.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from xiaodian.settlement.gmv import creators_of
from xiaodian.v1 import creator_service_pb2 as pb
from xiaodian.v1 import settlement_service_pb2 as settlement_pb


def generate_creator_metrics(
    seed: int, orders: Sequence[settlement_pb.Order], period: str, extra_creators: int = 1_500
) -> list[pb.CreatorMetrics]:
    """Metrics in `period`, cohort "all", for each creator named by `orders` (direct or chain
    CREATOR) and `extra_creators` more, sorted by creator id."""
    rng = random.Random(seed)
    selling = set().union(*(creators_of(o) for o in orders)) if orders else set()
    ids = sorted(selling | {f"creator-x{n:05d}" for n in range(extra_creators)})
    return [_metrics(rng, creator_id, period) for creator_id in ids]


def _metrics(rng: random.Random, creator_id: str, period: str) -> pb.CreatorMetrics:
    followers = int(rng.lognormvariate(7.0, 2.2))
    flagged = int(followers * rng.uniform(0.0, 0.3))
    metrics = pb.CreatorMetrics(
        creator_id=creator_id,
        period=period,
        settled_gmv_fen=int(rng.paretovariate(1.1) * 50_000) - 50_000,
        follower_counts=pb.FollowerCounts(followers=followers, risk_flagged_followers=flagged),
    )
    if rng.random() < 0.7:
        metrics.sales_score_components.CopyFrom(
            pb.SalesScoreComponents(
                order_count_90d=int(rng.paretovariate(0.9) * 5),
                quality_refund_rate_ppm=int(rng.betavariate(1.2, 20) * 1_000_000),
                negative_review_rate_ppm=int(rng.betavariate(1.1, 25) * 1_000_000),
                complaint_rate_ppm=int(rng.betavariate(1.0, 60) * 1_000_000),
            )
        )
    else:
        metrics.sales_score = round(rng.triangular(40.0, 100.0, 85.0), 1)
    return metrics
