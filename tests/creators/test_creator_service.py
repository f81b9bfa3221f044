"""CreatorService end to end through gRPC against a real server on a free port: metrics,
scoring runs, leaderboards, idempotency, errors, and GMV taken from settled orders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian import Client, errors
from xiaodian.reference import creators as ref
from xiaodian.v1 import creator_service_pb2 as pb
from xiaodian.v1 import settlement_service_pb2 as spb

PERIOD = "2025-06"


def metrics(
    creator_id: str, gmv: int | None = None, sales: float = 80.0, followers: int = 100, **fields
) -> pb.CreatorMetrics:  # type: ignore[no-untyped-def]
    m = pb.CreatorMetrics(creator_id=creator_id, period=PERIOD, effective_followers=followers, sales_score=sales)
    if gmv is not None:
        m.settled_gmv_fen = gmv
    m.MergeFrom(pb.CreatorMetrics(**fields))
    return m


def test_metrics_are_scored_ranked_and_paged(client: Client) -> None:
    batch = [
        metrics("c1", gmv=300, sales=80.0, followers=0),
        metrics("c2", gmv=100, sales_score_components=pb.SalesScoreComponents(order_count_90d=5), followers=0),
        metrics("c3", gmv=100, sales=80.0, follower_counts=pb.FollowerCounts(followers=70, risk_flagged_followers=20)),
        metrics(
            "c4",
            gmv=0,
            sales_score_components=pb.SalesScoreComponents(
                order_count_90d=400,
                quality_refund_rate_ppm=50_000,
                negative_review_rate_ppm=50_000,
                complaint_rate_ppm=250_000,
            ),
            followers=10,
        ),
    ]
    assert client.upsert_creator_metrics(request_id="m1", metrics=batch).upserted_count == 4
    run = client.score_creators(request_id="s1", period=PERIOD)
    assert (run.scored_count, run.cohort_count) == (4, 1)
    assert (run.weights.gmv_weight_ppm, run.weights.sales_weight_ppm, run.weights.followers_weight_ppm) == (
        400_000,
        300_000,
        300_000,
    )
    # c2's components give the neutral 60 (5 < 20 orders); c4's give
    # 100 (0.4 x 0.95 + 0.4 x 0.95 + 0.2 x 0.75) = 91; c3 has 50 effective followers.
    expected = ref.score_cohorts([300, 100, 100, 0], [80.0, 60.0, 80.0, 91.0], [0, 0, 50, 10], [4])
    for i, creator in enumerate(["c1", "c2", "c3", "c4"]):
        score = client.get_creator_score(creator_id=creator, period=PERIOD).score
        assert (score.score, score.rank, score.tier) == (expected.score[i], expected.rank[i], expected.tier[i])
        assert (score.gmv_percentile, score.sales_percentile, score.followers_percentile) == (
            expected.gmv_percentile[i],
            expected.sales_percentile[i],
            expected.followers_percentile[i],
        )
        assert score.cohort == "all" and score.cohort_size == 4 and score.scored_at == run.scored_at
    c3 = client.get_creator_score(creator_id="c3", period=PERIOD).score
    assert (c3.settled_gmv_fen, c3.sales_score, c3.effective_followers) == (100, 80.0, 50)
    assert client.get_creator_score(creator_id="c4", period=PERIOD).score.sales_score == 91.0

    first = client.list_top_creators(period=PERIOD, page_size=3)
    assert [s.rank for s in first.scores] == [1, 2, 3] and first.cohort_size == 4 and first.next_page_token
    second = client.list_top_creators(period=PERIOD, page_size=3, page_token=first.next_page_token)
    assert [s.rank for s in second.scores] == [4] and not second.next_page_token
    leaderboard = [s.creator_id for s in (*first.scores, *second.scores)]
    assert leaderboard == sorted(["c1", "c2", "c3", "c4"], key=lambda c: expected.rank[int(c[1]) - 1])

    # Scoring again (other weights) replaces the run; old page tokens are refused.
    rerun = client.score_creators(
        request_id="s2",
        period=PERIOD,
        weights=pb.CreatorScoreWeights(gmv_weight_ppm=1_000_000),
    )
    assert rerun.weights.gmv_weight_ppm == 1_000_000
    top = client.list_top_creators(period=PERIOD).scores
    assert [s.creator_id for s in top] == ["c1", "c2", "c3", "c4"]  # GMV only; c2 and c3 tie, then id order
    assert top[0].weights.gmv_weight_ppm == 1_000_000
    # The page asked for before the rerun (kept by the server's page cache) is the new run's now.
    again = client.list_top_creators(period=PERIOD, page_size=3)
    assert [s.creator_id for s in again.scores] == ["c1", "c2", "c3"]
    assert {s.scored_at.ToMicroseconds() for s in again.scores} == {rerun.scored_at.ToMicroseconds()}
    assert again.next_page_token != first.next_page_token
    assert client.list_top_creators(period=PERIOD, page_size=3) == again
    # So is a score asked for before it.
    c1_again = client.get_creator_score(creator_id="c1", period=PERIOD).score
    assert (c1_again.scored_at, c1_again.weights.gmv_weight_ppm) == (rerun.scored_at, 1_000_000)
    assert client.get_creator_score(creator_id="c1", period=PERIOD).score == c1_again
    with pytest.raises(errors.FailedPrecondition):
        client.list_top_creators(period=PERIOD, page_size=3, page_token=first.next_page_token)


def test_cohorts_are_ranked_separately(client: Client) -> None:
    client.upsert_creator_metrics(
        request_id="m1",
        metrics=[
            metrics("a", gmv=5, cohort="beauty"),
            metrics("b", gmv=9, cohort="beauty"),
            metrics("a", gmv=1, cohort="food"),
            metrics("z", gmv=0),
        ],
    )
    run = client.score_creators(request_id="s1", period=PERIOD)
    assert (run.scored_count, run.cohort_count) == (4, 3)
    assert client.get_creator_score(creator_id="a", period=PERIOD, cohort="food").score.rank == 1
    beauty = client.list_top_creators(period=PERIOD, cohort="beauty")
    assert [s.creator_id for s in beauty.scores] == ["b", "a"] and beauty.cohort_size == 2
    # Scoring one cohort leaves the others' runs alone.
    client.upsert_creator_metrics(request_id="m2", metrics=[metrics("c", gmv=99, cohort="beauty")])
    assert client.score_creators(request_id="s2", period=PERIOD, cohort="beauty").scored_count == 3
    assert client.list_top_creators(period=PERIOD, cohort="beauty").scores[0].creator_id == "c"
    assert client.list_top_creators(period=PERIOD).cohort_size == 1


def test_writes_are_idempotent_and_reused_ids_refused(client: Client) -> None:
    request = pb.UpsertCreatorMetricsRequest(request_id="m1", metrics=[metrics("c1", gmv=5), metrics("c2", gmv=7)])
    assert client.upsert_creator_metrics(request).upserted_count == 2
    assert client.upsert_creator_metrics(request).upserted_count == 2
    with pytest.raises(errors.AlreadyExists):
        client.upsert_creator_metrics(request_id="m1", metrics=[metrics("c1", gmv=6)])
    first = client.score_creators(request_id="s1", period=PERIOD)
    client.upsert_creator_metrics(request_id="m2", metrics=[metrics("c3", gmv=9)])
    # A replay answers the original run and scores nothing again.
    assert client.score_creators(request_id="s1", period=PERIOD) == first
    assert client.list_top_creators(period=PERIOD).cohort_size == 2
    with pytest.raises(errors.NotFound):
        client.get_creator_score(creator_id="c3", period=PERIOD)


def test_stream_upsert_applies_each_batch(client: Client) -> None:
    batches = [
        pb.StreamUpsertCreatorMetricsRequest(
            request_id=f"b{i}", metrics=[metrics(f"c{i}-{j}", gmv=j) for j in range(50)]
        )
        for i in range(3)
    ]
    response = client.stream_upsert_creator_metrics(iter(batches))
    assert (response.batch_count, response.upserted_count) == (3, 150)
    assert client.score_creators(request_id="s1", period=PERIOD).scored_count == 150
    # A bad batch ends the stream with its error; the batches before it stay written.
    bad = pb.StreamUpsertCreatorMetricsRequest(request_id="bad", metrics=[metrics("x", gmv=-1)])
    good = pb.StreamUpsertCreatorMetricsRequest(request_id="b9", metrics=[metrics("y", gmv=1)])
    with pytest.raises(errors.InvalidArgument):
        client.stream_upsert_creator_metrics(iter([good, bad]))
    client.score_creators(request_id="s2", period=PERIOD)
    assert client.list_top_creators(period=PERIOD).cohort_size == 151


def test_invalid_requests_name_each_field_and_write_nothing(client: Client) -> None:
    with pytest.raises(errors.InvalidArgument) as error:
        client.upsert_creator_metrics(
            request_id="m1",
            metrics=[
                metrics("ok", gmv=1),
                pb.CreatorMetrics(creator_id="bad id", period="2025-13", settled_gmv_fen=-5),
                metrics("c2", sales=100.5, follower_counts=pb.FollowerCounts(followers=3, risk_flagged_followers=4)),
                metrics("c3", gmv=1, cohort="x y", sales_score_components=pb.SalesScoreComponents(order_count_90d=-1)),
                metrics("ok", gmv=2),
            ],
        )
    fields = {v.field for v in error.value.violations}
    assert fields == {
        "metrics[1].creator_id",
        "metrics[1].period",
        "metrics[1].settled_gmv_fen",
        "metrics[1].audience",
        "metrics[1].sales",
        "metrics[2].sales_score",
        "metrics[2].follower_counts.risk_flagged_followers",
        "metrics[3].cohort",
        "metrics[3].sales_score_components.order_count_90d",
        "metrics[4].creator_id",
    }
    with pytest.raises(errors.InvalidArgument):
        client.upsert_creator_metrics(request_id="m2", metrics=[])
    with pytest.raises(errors.NotFound):
        client.score_creators(request_id="s1", period=PERIOD)  # nothing was written
    with pytest.raises(errors.InvalidArgument) as error:
        client.score_creators(
            request_id="s2",
            period="2025-6",
            weights=pb.CreatorScoreWeights(gmv_weight_ppm=500_000, sales_weight_ppm=500_000, followers_weight_ppm=1),
        )
    assert {v.field for v in error.value.violations} == {"period", "weights"}
    with pytest.raises(errors.InvalidArgument):
        client.list_top_creators(period=PERIOD, page_size=1_001)
    with pytest.raises(errors.NotFound):
        client.list_top_creators(period=PERIOD)
    client.upsert_creator_metrics(request_id="m3", metrics=[metrics("c1", gmv=1)])
    client.score_creators(request_id="s3", period=PERIOD)
    with pytest.raises(errors.InvalidArgument):
        client.list_top_creators(period=PERIOD, page_token="not a token")


# --- GMV from the settlement ledger --------------------------------------------------------

DAY_S = 86_400
PAID_AT = int(datetime(2026, 9, 20, 12, tzinfo=UTC).timestamp())
#: 2026-09-30 17:00 UTC is 2026-10-01 01:00 in China: these orders settle in October (CST).
SETTLED_AT = int(datetime(2026, 9, 30, 17, tzinfo=UTC).timestamp())


def ts(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


def order(order_id: str, price_fen: int, creator: str | None = None, chain_creator: str | None = None) -> spb.Order:
    attribution = spb.Attribution()
    if creator:
        attribution.creator.CopyFrom(spb.CreatorCommission(creator_id=creator, ratio_ppm=100_000))
    if chain_creator:
        attribution.agency_chain.CopyFrom(
            spb.AgencyChain(
                service_ratio_ppm=50_000,
                parties=[
                    spb.ChainParty(kind=spb.PARTY_KIND_AGENCY, party_id="ag1", pass_down_ppm=500_000),
                    spb.ChainParty(kind=spb.PARTY_KIND_CREATOR, party_id=chain_creator),
                ],
            )
        )
    return spb.Order(
        order_id=order_id,
        shop_id="s1",
        paid_at=ts(PAID_AT),
        lines=[spb.OrderLine(line_id="l1", product_id="p1", category_id="c1", unit_price_fen=price_fen, quantity=1)],
        # A 100-fen platform coupon: the commissionable amount is what the buyer paid.
        discounts=[spb.Discount(discount_id="d1", funder=spb.DISCOUNT_FUNDER_PLATFORM, amount_fen=100)],
        attribution=attribution,
    )


def test_scores_from_the_ledger_count_settled_orders_net_of_refunds(client: Client) -> None:
    orders = [
        order("o1", 10_100, creator="alice"),  # alice direct: 10,000 paid
        order("o2", 20_100, creator="alice", chain_creator="alice"),  # alice in both places: counted once
        order("o3", 30_100, chain_creator="bob"),  # bob as a CREATOR chain party: 30,000, 4,000 refunded
        order("o4", 50_100, creator="carol"),  # carol: never confirmed, so never settled
        order("o5", 70_100, chain_creator="dave"),  # dave: fully refunded before settlement
    ]
    for i, o in enumerate(orders):
        client.record_order(request_id=f"r{i}", order=o)
    client.record_refund(
        request_id="f1",
        order_id="o3",
        refund_id="f1",
        lines=[spb.RefundLine(line_id="l1", amount_fen=4_000)],
        refunded_at=ts(PAID_AT + DAY_S),
    )
    client.record_refund(
        request_id="f2",
        order_id="o5",
        refund_id="f2",
        lines=[spb.RefundLine(line_id="l1", amount_fen=70_000)],
        refunded_at=ts(PAID_AT + DAY_S),
    )
    for o in ("o1", "o2", "o3"):
        client.confirm_receipt(request_id=f"c{o}", order_id=o, confirmed_at=ts(SETTLED_AT - 8 * DAY_S))
    assert client.run_settlement(request_id="run", as_of=ts(SETTLED_AT)).settled_count == 3
    # A refund after settlement is netted too.
    client.record_refund(
        request_id="f3",
        order_id="o1",
        refund_id="f3",
        lines=[spb.RefundLine(line_id="l1", amount_fen=1_000)],
        refunded_at=ts(SETTLED_AT + DAY_S),
    )

    creators = ["alice", "bob", "carol", "dave", "erin"]
    for period in ("2026-09", "2026-10"):
        client.upsert_creator_metrics(
            request_id=f"m{period}",
            # Given GMV of 1 fen each: ignored when the ledger is the source.
            metrics=[
                pb.CreatorMetrics(
                    creator_id=c, period=period, settled_gmv_fen=1, effective_followers=5, sales_score=70.0
                )
                for c in creators
            ],
        )
    client.score_creators(request_id="s10", period="2026-10", gmv_source=pb.GMV_SOURCE_LEDGER)
    gmv = {c: client.get_creator_score(creator_id=c, period="2026-10").score.settled_gmv_fen for c in creators}
    assert gmv == {"alice": 9_000 + 20_000, "bob": 26_000, "carol": 0, "dave": 0, "erin": 0}
    top = client.list_top_creators(period="2026-10").scores
    assert [s.creator_id for s in top] == ["alice", "bob", "carol", "dave", "erin"]
    expected = ref.score_cohorts([29_000, 26_000, 0, 0, 0], [70.0] * 5, [5] * 5, [5])
    assert [s.score for s in top] == expected.score

    # Nothing settled in September (China time), though the settlement instant is 30 September in UTC.
    client.score_creators(request_id="s09", period="2026-09", gmv_source=pb.GMV_SOURCE_LEDGER)
    assert {client.get_creator_score(creator_id=c, period="2026-09").score.settled_gmv_fen for c in creators} == {0}
    # The given source still reads the metrics.
    client.score_creators(request_id="s10g", period="2026-10", gmv_source=pb.GMV_SOURCE_GIVEN)
    assert client.get_creator_score(creator_id="alice", period="2026-10").score.settled_gmv_fen == 1


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("2026-09", "2026-08-31T16:00:00+00:00", "2026-09-30T16:00:00+00:00"),
        ("2024-02", "2024-01-31T16:00:00+00:00", "2024-02-29T16:00:00+00:00"),  # leap year
        ("9999-12", "9999-11-30T16:00:00+00:00", "9999-12-31T16:00:00+00:00"),  # no month after it
    ],
)
def test_a_period_is_its_calendar_month_in_china_standard_time(period: str, start: str, end: str) -> None:
    from datetime import datetime

    from xiaodian.creators.store import period_range_us

    assert period_range_us(period) == tuple(int(datetime.fromisoformat(t).timestamp()) * 10**6 for t in (start, end))


def test_the_last_period_scores_from_the_ledger(client: Client) -> None:
    metrics = pb.CreatorMetrics(creator_id="zoe", period="9999-12", effective_followers=5, sales_score=70.0)
    client.upsert_creator_metrics(request_id="m-last", metrics=[metrics])
    scored = client.score_creators(request_id="s-last", period="9999-12", gmv_source=pb.GMV_SOURCE_LEDGER)
    assert scored.scored_count == 1
    assert client.get_creator_score(creator_id="zoe", period="9999-12").score.settled_gmv_fen == 0
