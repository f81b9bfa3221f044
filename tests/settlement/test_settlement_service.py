"""SettlementService end to end through gRPC: recording, the lifecycle, refunds, the ledger,
idempotency and errors, against a real server on a free port."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian import Client, errors
from xiaodian.v1 import settlement_service_pb2 as pb

DAY_S = 86_400
T0 = 1_790_000_000


def ts(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


def order(order_id: str = "o1", **fields) -> pb.Order:
    """Two lines (2 x 5,000 and 1 x 10,000 fen), a 2,000-fen merchant coupon on both and a
    1,000-fen platform coupon on the second, creator 10 %, a two-party chain taking 5 %."""
    base = pb.Order(
        order_id=order_id,
        shop_id="s1",
        paid_at=ts(T0),
        lines=[
            pb.OrderLine(line_id="l1", product_id="p1", category_id="c1", unit_price_fen=5_000, quantity=2),
            pb.OrderLine(line_id="l2", product_id="p2", category_id="c1", unit_price_fen=10_000, quantity=1),
        ],
        discounts=[
            pb.Discount(discount_id="d1", funder=pb.DISCOUNT_FUNDER_MERCHANT, amount_fen=2_000),
            pb.Discount(discount_id="d2", funder=pb.DISCOUNT_FUNDER_PLATFORM, amount_fen=1_000, line_ids=["l2"]),
        ],
        attribution=pb.Attribution(
            creator=pb.CreatorCommission(creator_id="c9", ratio_ppm=100_000),
            agency_chain=pb.AgencyChain(
                service_ratio_ppm=50_000,
                parties=[
                    pb.ChainParty(kind=pb.PARTY_KIND_AGENCY, party_id="a1", pass_down_ppm=500_000),
                    pb.ChainParty(kind=pb.PARTY_KIND_PROMOTER, party_id="p7"),
                ],
            ),
        ),
        guide_id="g1",
    )
    base.MergeFrom(pb.Order(**fields))
    return base


def balances(client: Client, *accounts: str) -> dict[str, int]:
    return {a: client.get_balance(account=a).settled_fen for a in accounts}


ACCOUNTS = (
    "buyer_funds",
    "escrow",
    "merchant:s1",
    "platform:fee",
    "platform:subsidy",
    "creator:c9",
    "party:AGENCY:a1",
    "party:PROMOTER:p7",
)


def test_an_order_is_split_recorded_settled_and_balanced(client: Client) -> None:
    preview = client.preview_split(order=order()).split
    recorded = client.record_order(request_id="r1", order=order())
    assert recorded.split == preview and recorded.state == pb.ORDER_STATE_PAID
    l1, l2 = recorded.split.lines
    # Line 1: paid 9,000, all of it under the new-merchant allowance at 1 %: fee 90.
    assert (l1.paid_fen, l1.gmv_fen, l1.fee_fen, l1.creator_commission_fen, l1.agency_service_fee_fen) == (
        9_000,
        9_000,
        90,
        900,
        450,
    )
    assert [(c.received_fen, c.passed_down_fen, c.kept_fen) for c in l1.chain] == [(450, 225, 225), (225, 0, 225)]
    assert (l2.paid_fen, l2.platform_subsidy_fen, l2.gmv_fen) == (8_000, 1_000, 9_000)
    for line in recorded.split.lines:
        kept = sum(c.kept_fen for c in line.chain)
        assert line.paid_fen + line.creator_subsidy_fen + line.platform_subsidy_fen + line.government_subsidy_fen == (
            line.merchant_fen + line.fee_fen + line.creator_commission_fen + kept
        )
    # Held in escrow until settlement; the parties' money is pending.
    assert client.get_balance(account="escrow").settled_fen == 18_000
    assert client.get_balance(account="merchant:s1").pending_fen == recorded.split.merchant_fen
    confirmed = client.confirm_receipt(request_id="r2", order_id="o1", confirmed_at=ts(T0 + DAY_S))
    assert confirmed.settle_after == ts(T0 + 8 * DAY_S)
    early = client.run_settlement(request_id="r3", as_of=ts(T0 + 7 * DAY_S))
    assert early.settled_count == 0
    run = client.run_settlement(request_id="r4", as_of=ts(T0 + 8 * DAY_S))
    assert (run.settled_count, run.settled_fen) == (1, 18_000)
    assert client.run_settlement(request_id="r5", as_of=ts(T0 + 9 * DAY_S)).settled_count == 0
    got = balances(client, *ACCOUNTS)
    assert got["escrow"] == 0
    assert got["merchant:s1"] == recorded.split.merchant_fen
    assert got["party:AGENCY:a1"] + got["party:PROMOTER:p7"] == recorded.split.agency_service_fee_fen
    assert sum(got.values()) == 0
    assert client.get_order(order_id="o1").state == pb.ORDER_STATE_SETTLED
    assert client.get_balance(account="merchant:s1").pending_fen == 0
    performance = client.get_guide_performance(guide_id="g1")
    assert (performance.order_count, performance.paid_fen, performance.settled_order_count) == (1, 17_000, 1)


def test_refunds_before_and_after_settlement_net_everyone_to_zero(client: Client) -> None:
    client.record_order(request_id="r1", order=order())
    client.open_after_sale(request_id="r2", order_id="o1", after_sale_id="as1", line_ids=["l1"], opened_at=ts(T0))
    client.confirm_receipt(request_id="r3", order_id="o1", confirmed_at=ts(T0))
    frozen = client.run_settlement(request_id="r4", as_of=ts(T0 + 30 * DAY_S))
    assert (frozen.settled_count, frozen.frozen_count) == (0, 1)
    partial = client.record_refund(
        request_id="r5",
        order_id="o1",
        refund_id="f1",
        lines=[pb.RefundLine(line_id="l1", amount_fen=3_001)],
        refunded_at=ts(T0 + DAY_S),
        after_sale_id="as1",
    )
    assert partial.refunded_fen == 3_001 and partial.state == pb.ORDER_STATE_RECEIPT_CONFIRMED
    assert not client.get_order(order_id="o1").frozen
    assert client.run_settlement(request_id="r6", as_of=ts(T0 + 30 * DAY_S)).settled_count == 1
    after = client.record_refund(
        request_id="r7",
        order_id="o1",
        refund_id="f2",
        lines=[pb.RefundLine(line_id="l1", amount_fen=5_999), pb.RefundLine(line_id="l2", amount_fen=8_000)],
        refunded_at=ts(T0 + 31 * DAY_S),
    )
    assert after.state == pb.ORDER_STATE_SETTLED
    got = balances(client, *ACCOUNTS)
    # Everything went back: the buyer and the platform's subsidy are whole, parties at zero.
    assert got == {a: 0 for a in ACCOUNTS}
    stored = client.get_order(order_id="o1")
    assert [r.after_settlement for r in stored.refunds] == [False, True]
    assert stored.after_sales[0].refund_id == "f1"
    statement = client.get_statement(account="merchant:s1")
    codes = [t.code for t in statement.transfers]
    assert codes == [pb.TRANSFER_CODE_SETTLEMENT, pb.TRANSFER_CODE_CLAWBACK]


def test_a_full_refund_before_settlement_closes_the_order(client: Client) -> None:
    client.record_order(request_id="r1", order=order())
    refund = client.record_refund(
        request_id="r2",
        order_id="o1",
        refund_id="f1",
        lines=[pb.RefundLine(line_id="l1", amount_fen=9_000), pb.RefundLine(line_id="l2", amount_fen=8_000)],
        refunded_at=ts(T0),
    )
    assert refund.state == pb.ORDER_STATE_CLOSED
    assert balances(client, *ACCOUNTS) == {a: 0 for a in ACCOUNTS}
    assert client.get_balance(account="merchant:s1").pending_fen == 0
    with pytest.raises(errors.FailedPrecondition):
        client.confirm_receipt(request_id="r3", order_id="o1", confirmed_at=ts(T0))


def test_replays_return_the_original_and_conflicts_are_already_exists(client: Client) -> None:
    first = client.record_order(request_id="r1", order=order())
    assert client.record_order(request_id="r1", order=order()) == first
    assert client.record_order(request_id="r1-again", order=order()) == first  # the order_id is a key too
    assert client.get_balance(account="escrow").settled_fen == 18_000
    with pytest.raises(errors.AlreadyExists):
        client.record_order(request_id="r2", order=order(guide_id="g2"))
    with pytest.raises(errors.AlreadyExists):
        client.record_order(request_id="r1", order=order("o2"))
    refund = dict(order_id="o1", refund_id="f1", lines=[pb.RefundLine(line_id="l1", amount_fen=10)], refunded_at=ts(T0))
    once = client.record_refund(request_id="r3", **refund)
    assert client.record_refund(request_id="r4", **refund) == once
    assert client.get_balance(account="buyer_funds").settled_fen == -17_000 + 10
    with pytest.raises(errors.AlreadyExists):
        client.record_refund(request_id="r5", **{**refund, "lines": [pb.RefundLine(line_id="l1", amount_fen=11)]})


def test_bad_requests_are_rejected_whole_with_field_violations(client: Client) -> None:
    bad = order(
        "o1", lines=[pb.OrderLine(line_id="l1", product_id="p9", category_id="c1", unit_price_fen=-1, quantity=0)]
    )
    with pytest.raises(errors.InvalidArgument) as caught:
        client.record_orders(request_id="r1", orders=[order("o0"), bad])
    fields = {v.field for v in caught.value.violations}
    assert {"orders[1].lines[2].line_id", "orders[1].lines[2].unit_price_fen", "orders[1].lines[2].quantity"} <= fields
    too_big = order(
        "o3", discounts=[pb.Discount(discount_id="d9", funder=pb.DISCOUNT_FUNDER_PLATFORM, amount_fen=10**9)]
    )
    with pytest.raises(errors.InvalidArgument) as caught:
        client.record_orders(request_id="r2", orders=[order("o2"), too_big])
    assert [v.field for v in caught.value.violations] == ["orders[1].discounts[2].amount_fen"]
    with pytest.raises(errors.InvalidArgument) as caught:  # one order is still orders[0]
        client.record_orders(request_id="r2b", orders=[too_big])
    assert [v.field for v in caught.value.violations] == ["orders[0].discounts[2].amount_fen"]
    with pytest.raises(errors.InvalidArgument) as caught:
        client.record_order(request_id="r2c", order=too_big)
    assert [v.field for v in caught.value.violations] == ["order.discounts[2].amount_fen"]
    assert client.get_balance(account="escrow").settled_fen == 0  # nothing was written
    with pytest.raises(errors.NotFound):
        client.get_order(order_id="nope")
    client.record_order(request_id="r3", order=order())
    with pytest.raises(errors.FailedPrecondition):
        client.record_refund(
            request_id="r4",
            order_id="o1",
            refund_id="f1",
            lines=[pb.RefundLine(line_id="l1", amount_fen=9_001)],
            refunded_at=ts(T0),
        )
    with pytest.raises(errors.InvalidArgument):
        client.get_balance(account="nobody")


def test_the_stream_acknowledges_each_durable_batch(client: Client) -> None:
    batches = [
        pb.StreamRecordOrdersRequest(request_id=f"b{i}", orders=[order(f"o{i}-{j}") for j in range(3)])
        for i in range(4)
    ]
    acks = list(client.stream_record_orders(batches))
    assert [a.request_id for a in acks] == ["b0", "b1", "b2", "b3"]
    assert client.get_balance(account="escrow").settled_fen == 12 * 18_000
    assert len(client.get_statement(account="escrow", page_size=1000).transfers) == 12 * 2


def test_statement_pages_through_every_transfer_in_order(client: Client) -> None:
    client.record_orders(request_id="r1", orders=[order(f"o{i}", paid_at=ts(T0 + i)) for i in range(7)])
    seen = []
    token = ""
    while True:
        page = client.get_statement(account="escrow", page_size=3, page_token=token)
        seen += page.transfers
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == 14
    assert [t.booked_at.seconds for t in seen] == sorted(t.booked_at.seconds for t in seen)
    window = client.get_statement(account="escrow", start_time=ts(T0 + 2), end_time=ts(T0 + 4))
    assert {t.order_id for t in window.transfers} == {"o2", "o3"}


def test_the_new_merchant_allowance_is_consumed_across_orders(client: Client) -> None:
    big = [pb.OrderLine(line_id="l1", product_id="p1", category_id="c1", unit_price_fen=60_000_000, quantity=1)]
    first = client.record_order(request_id="r1", order=pb.Order(order_id="b1", shop_id="s2", paid_at=ts(T0), lines=big))
    second = client.record_order(
        request_id="r2", order=pb.Order(order_id="b2", shop_id="s2", paid_at=ts(T0), lines=big)
    )
    assert first.split.fee_fen == 600_000  # 1 %
    # 40,000,000 fen left at 1 %, 20,000,000 at 5 %.
    assert second.split.lines[0].new_merchant_fee_base_fen == 40_000_000
    assert second.split.fee_fen == 400_000 + 1_000_000
    # A preview does not consume the allowance.
    preview = client.preview_split(order=pb.Order(order_id="b3", shop_id="s3", paid_at=ts(T0), lines=big))
    assert preview.split.fee_fen == 600_000
    assert (
        client.preview_split(order=pb.Order(order_id="b3", shop_id="s3", paid_at=ts(T0), lines=big)).split.fee_fen
        == 600_000
    )


def test_with_a_window_only_new_shops_get_the_new_merchant_rate(tmp_path) -> None:
    from xiaodian.platform.config import Config
    from xiaodian.platform.server import XiaodianServer
    from xiaodian.v1 import search_service_pb2 as search_pb

    config = Config.ephemeral(tmp_path)
    config.settlement.new_merchant_window_days = 90
    config.settlement.fee_rate_ppm_by_category = {"c-tea": 20_000}
    server = XiaodianServer(config)
    server.start()
    try:
        with server.admin_client(timeout=10) as client:
            shops = [
                search_pb.Shop(shop_id=shop_id, name=name, opened_at=ts(T0 - days * DAY_S), experience_score=4.5)
                for shop_id, name, days in (("new", "新店小铺", 10), ("old", "老字号茶庄", 400))
            ]
            client.upsert_shops(request_id="shops", shops=shops)
            line = [pb.OrderLine(line_id="l1", product_id="p1", category_id="c-tea", unit_price_fen=10_000, quantity=1)]
            fee = {
                shop: client.preview_split(
                    order=pb.Order(order_id="x", shop_id=shop, paid_at=ts(T0), lines=line)
                ).split.fee_fen
                for shop in ("new", "old", "unknown")
            }
            assert fee == {"new": 100, "old": 200, "unknown": 200}  # 1 % under the allowance, else the tea rate 2 %
            late = pb.Order(order_id="y", shop_id="new", paid_at=ts(T0 + 100 * DAY_S), lines=line)
            assert client.preview_split(order=late).split.fee_fen == 200  # the window has passed
    finally:
        server.stop(0)
