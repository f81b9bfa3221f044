"""The gRPC CreatorService: creator metrics, scoring runs (the Rust kernel, GIL released) and
leaderboards, stored in SQLite.

Writes run at most once per request_id (`run_once`): a replay answers the original response.
`ScoreCreators` reads the period's metrics (and, for GMV_SOURCE_LEDGER, the settled orders),
scores every cohort and replaces their stored scores in one transaction.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence

import grpc

from xiaodian import _core
from xiaodian.creators import store
from xiaodian.creators.scoring import PPM, Weights
from xiaodian.platform.config import CreatorsConfig
from xiaodian.platform.db import Connection, Database
from xiaodian.platform.handlers import encoded_response
from xiaodian.platform.idempotency import run_once
from xiaodian.platform.page_tokens import PageTokens
from xiaodian.platform.validation import Violations
from xiaodian.v1 import creator_service_pb2 as pb
from xiaodian.v1 import creator_service_pb2_grpc as pb_grpc

MAX_BATCH = 10_000
MAX_PAGE_SIZE = 1_000
DEFAULT_PAGE_SIZE = 50
PERIOD_PATTERN = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def _now_us() -> int:
    return time.time_ns() // 1000


def check_period(v: Violations, field: str, period: str) -> None:
    if not period:
        v.add(field, "is required")
    elif not PERIOD_PATTERN.fullmatch(period) or period < "1970-01":
        v.add(field, 'must be a calendar month "YYYY-MM" from 1970-01 on, e.g. "2025-06"')


def check_cohort(v: Violations, field: str, cohort: str) -> None:
    """Optional: empty means "all"."""
    if cohort:
        v.check_id(field, cohort)


def check_metrics(v: Violations, field: str, metrics: Sequence[pb.CreatorMetrics]) -> None:
    """Every rule of each entry; (creator_id, period, cohort) unique within the batch."""
    v.check_batch(field, len(metrics), MAX_BATCH)
    seen: set[tuple[str, str, str]] = set()
    for i, m in enumerate(metrics):
        at = f"{field}[{i}]"
        v.check_id(f"{at}.creator_id", m.creator_id)
        check_period(v, f"{at}.period", m.period)
        check_cohort(v, f"{at}.cohort", m.cohort)
        key = (m.creator_id, m.period, store.cohort_of(m.cohort))
        if key in seen:
            v.add(f"{at}.creator_id", "is repeated for the same period and cohort in this request")
        seen.add(key)
        if m.HasField("settled_gmv_fen"):
            v.check(m.settled_gmv_fen >= 0, f"{at}.settled_gmv_fen", "must be >= 0")
        audience = m.WhichOneof("audience")
        if audience is None:
            v.add(f"{at}.audience", "is required: follower_counts or effective_followers")
        elif audience == "follower_counts":
            counts = m.follower_counts
            v.check(counts.followers >= 0, f"{at}.follower_counts.followers", "must be >= 0")
            v.check(
                0 <= counts.risk_flagged_followers <= counts.followers,
                f"{at}.follower_counts.risk_flagged_followers",
                "must be between 0 and followers",
            )
        else:
            v.check(m.effective_followers >= 0, f"{at}.effective_followers", "must be >= 0")
        sales = m.WhichOneof("sales")
        if sales is None:
            v.add(
                f"{at}.sales",
                "is required: sales_score or sales_score_components (with order_count_90d 0 for the neutral 60)",
            )
        elif sales == "sales_score":
            v.check_range(f"{at}.sales_score", m.sales_score, 0, 100)
        else:
            v.check(
                m.sales_score_components.order_count_90d >= 0,
                f"{at}.sales_score_components.order_count_90d",
                "must be >= 0",
            )


def weights_of(config: CreatorsConfig) -> Weights:
    return Weights(config.gmv_weight_ppm, config.sales_weight_ppm, config.followers_weight_ppm)


class CreatorService(pb_grpc.CreatorServiceServicer):
    def __init__(self, db: Database, config: CreatorsConfig | None = None, tokens: PageTokens | None = None) -> None:
        self.db = db
        self.config = config or CreatorsConfig()
        self.tokens = tokens or PageTokens.random()
        self.answers = store.AnswerCache()

    def _upsert(
        self, method: str, request: pb.UpsertCreatorMetricsRequest | pb.StreamUpsertCreatorMetricsRequest
    ) -> int:
        v = Violations()
        check_metrics(v, "metrics", request.metrics)
        v.raise_if_any()

        def write(conn: Connection) -> pb.UpsertCreatorMetricsResponse:
            count = store.upsert_metrics(conn, request.metrics, self.config.sales_score_min_orders, _now_us())
            return pb.UpsertCreatorMetricsResponse(upserted_count=count)

        return run_once(self.db, method, request, pb.UpsertCreatorMetricsResponse, write).upserted_count

    def UpsertCreatorMetrics(
        self, request: pb.UpsertCreatorMetricsRequest, context: grpc.ServicerContext
    ) -> pb.UpsertCreatorMetricsResponse:
        return pb.UpsertCreatorMetricsResponse(upserted_count=self._upsert("UpsertCreatorMetrics", request))

    def StreamUpsertCreatorMetrics(
        self, request_iterator: Iterator[pb.StreamUpsertCreatorMetricsRequest], context: grpc.ServicerContext
    ) -> pb.StreamUpsertCreatorMetricsResponse:
        batches = upserted = 0
        for batch in request_iterator:
            upserted += self._upsert("StreamUpsertCreatorMetrics", batch)
            batches += 1
        return pb.StreamUpsertCreatorMetricsResponse(batch_count=batches, upserted_count=upserted)

    def ScoreCreators(
        self, request: pb.ScoreCreatorsRequest, context: grpc.ServicerContext
    ) -> pb.ScoreCreatorsResponse:
        v = Violations()
        check_period(v, "period", request.period)
        check_cohort(v, "cohort", request.cohort)
        weights = weights_of(self.config)
        if request.HasField("weights"):
            w = request.weights
            weights = Weights(w.gmv_weight_ppm, w.sales_weight_ppm, w.followers_weight_ppm)
            total = sum(weights.as_tuple())
            v.check(total == PPM, "weights", f"must sum to exactly 1,000,000 ppm (100 %), got {total:,}")
        v.check(
            request.gmv_source in pb.GmvSource.values(),
            "gmv_source",
            "must be GMV_SOURCE_GIVEN or GMV_SOURCE_LEDGER",
        )
        v.raise_if_any()
        source = pb.GMV_SOURCE_LEDGER if request.gmv_source == pb.GMV_SOURCE_LEDGER else pb.GMV_SOURCE_GIVEN

        def write(conn: Connection) -> pb.ScoreCreatorsResponse:
            now_us = _now_us()
            scored, cohorts = store.score_period(conn, request.period, request.cohort or None, weights, source, now_us)
            self.db.after_commit(self.db.epoch.advance)  # every process's kept answers are stale
            response = pb.ScoreCreatorsResponse(scored_count=scored, cohort_count=cohorts, weights=weights.as_message())
            response.scored_at.FromMicroseconds(now_us)
            return response

        return run_once(self.db, "ScoreCreators", request, pb.ScoreCreatorsResponse, write)

    @encoded_response
    def GetCreatorScore(self, request: pb.GetCreatorScoreRequest, context: grpc.ServicerContext) -> bytes:
        v = Violations()
        v.check_id("creator_id", request.creator_id)
        check_period(v, "period", request.period)
        check_cohort(v, "cohort", request.cohort)
        v.raise_if_any()
        creator_id, period, cohort = request.creator_id, request.period, store.cohort_of(request.cohort)
        key = ("score", creator_id, period, cohort)
        epoch = self.db.epoch.current()  # before the reads (`AnswerCache`)
        answer = self.answers.get(key, epoch)
        if answer is None:
            row = store.get_score(self.db.connection(), creator_id, period, cohort)
            answer = _core.get_creator_score_response(row)
            self.answers.put(key, epoch, answer)
        return answer

    @encoded_response
    def ListTopCreators(self, request: pb.ListTopCreatorsRequest, context: grpc.ServicerContext) -> bytes:
        v = Violations()
        check_period(v, "period", request.period)
        check_cohort(v, "cohort", request.cohort)
        v.check(request.page_size <= MAX_PAGE_SIZE, "page_size", f"must be 0-{MAX_PAGE_SIZE:,}")
        v.raise_if_any()
        period, cohort, page_size = (
            request.period,
            store.cohort_of(request.cohort),
            request.page_size or DEFAULT_PAGE_SIZE,
        )
        key = ("page", period, cohort, page_size, request.page_token)
        epoch = self.db.epoch.current()  # before the reads (`AnswerCache`)
        page = self.answers.get(key, epoch)
        if page is None:
            conn = self.db.connection()
            run = store.score_run(conn, period, cohort)
            if run is None:
                raise store.cohort_not_scored(period, cohort)
            rows, token = store.top_creators(conn, period, cohort, run, page_size, request.page_token, self.tokens)
            page = _core.list_top_creators_response(rows, token, run.cohort_size)
            self.answers.put(key, epoch, page)
        return page
