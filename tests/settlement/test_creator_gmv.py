"""Creators' settled GMV (`xiaodian.settlement.gmv`), kept in `settlement_creator_gmv` as
orders settle and are refunded, equals what decoding every settled order gives (the
computation it replaced, kept here as the oracle), over random order, receipt, after-sale,
refund and settlement sequences; and the table's migration fills it from orders settled before
it existed."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from xiaodian import errors
from xiaodian.platform.db import Database, SqliteDatabase
from xiaodian.platform.server import MIGRATIONS
from xiaodian.settlement import gmv, reads
from xiaodian.settlement.service import SettlementService
from xiaodian.v1 import settlement_service_pb2 as pb

T0 = 1_790_000_000
DAY_S = 86_400
CREATOR_GMV = "settlement-0006-creator-gmv"
CREATORS = ("k1", "k2", "k3")
#: The actions that send an order id and a time: their method, request and time field.
TIMED: dict[str, tuple[str, Any, str]] = {
    "confirm": ("ConfirmReceipt", pb.ConfirmReceiptRequest, "confirmed_at"),
    "open": ("OpenAfterSale", pb.OpenAfterSaleRequest, "opened_at"),
    "close": ("CloseAfterSale", pb.CloseAfterSaleRequest, "closed_at"),
}
#: Each step's action, weighted so that many orders settle and are refunded after settling.
ACTIONS = ("record", "confirm", "confirm", "settle", "settle", "refund", "refund", "open", "close")


def settled_gmv_by_decoding(conn: sqlite3.Connection, start_us: int, end_us: int) -> dict[str, int]:
    """The oracle: the decode-based computation the table replaced. Every order settled in
    [start_us, end_us) credits its net paid (`paid_fen - refunded_fen`) once to each creator it
    names, as direct creator or as a CREATOR chain party."""
    gmv_fen: dict[str, int] = defaultdict(int)
    rows = conn.execute(
        "SELECT order_pb, paid_fen - refunded_fen FROM settlement_orders"
        " WHERE settled_at_us >= ? AND settled_at_us < ?",
        (start_us, end_us),
    )
    for order_pb, net_paid_fen in rows:
        attribution = pb.Order.FromString(order_pb).attribution
        creators = {attribution.creator.creator_id} if attribution.HasField("creator") else set()
        creators.update(p.party_id for p in attribution.agency_chain.parties if p.kind == pb.PARTY_KIND_CREATOR)
        for creator_id in creators:
            gmv_fen[creator_id] += net_paid_fen
    return dict(gmv_fen)


def ts(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


@st.composite
def attributions(draw: Any) -> pb.Attribution:
    """No creator, a direct creator, CREATOR chain parties, or both (the same creator too)."""
    attribution = pb.Attribution()
    direct = draw(st.sampled_from((None, *CREATORS)))
    if direct is not None:
        attribution.creator.CopyFrom(pb.CreatorCommission(creator_id=direct, ratio_ppm=draw(st.integers(0, 200_000))))
    kinds = draw(
        st.lists(st.sampled_from((pb.PARTY_KIND_AGENCY, pb.PARTY_KIND_CREATOR, pb.PARTY_KIND_PROMOTER)), max_size=3)
    )
    if kinds:
        attribution.agency_chain.CopyFrom(
            pb.AgencyChain(
                service_ratio_ppm=draw(st.integers(0, 200_000)),
                parties=[
                    pb.ChainParty(
                        kind=kind,
                        party_id=draw(st.sampled_from(CREATORS)),
                        pass_down_ppm=500_000 if i + 1 < len(kinds) else 0,
                    )
                    for i, kind in enumerate(kinds)
                ],
            )
        )
    return attribution


@st.composite
def orders(draw: Any, order_id: str) -> pb.Order:
    lines = [
        pb.OrderLine(
            line_id=f"l{i}",
            product_id=f"p{i}",
            category_id="c1",
            unit_price_fen=draw(st.integers(0, 50_000)),
            quantity=draw(st.integers(1, 3)),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    return pb.Order(order_id=order_id, shop_id="s1", paid_at=ts(T0), lines=lines, attribution=draw(attributions()))


class Shop:
    """Drives the in-process service; a request the service refuses writes nothing."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.service = SettlementService(db)
        self.order_ids: list[str] = []
        self.settled_at_us: list[int] = []
        self.counter = 0

    def request_id(self) -> str:
        self.counter += 1
        return f"r{self.counter}"

    def step(self, data: Any) -> None:
        s = self.service
        action = data.draw(st.sampled_from(ACTIONS))
        if action == "record" or not self.order_ids:
            order = data.draw(orders(f"o{len(self.order_ids)}"))
            request = pb.RecordOrderRequest(request_id=self.request_id(), order=order)
            s.RecordOrder(request.SerializeToString(), None)  # type: ignore[arg-type]
            self.order_ids.append(order.order_id)
            return
        order_id = data.draw(st.sampled_from(self.order_ids))
        day = data.draw(st.integers(0, 40 if action == "settle" else 10))
        try:
            if action in TIMED:
                method, request_type, at = TIMED[action]
                request = request_type(request_id=self.request_id(), order_id=order_id, **{at: ts(T0 + day * DAY_S)})
                if action != "confirm":
                    request.after_sale_id = f"a-{order_id}"  # one case per order
                getattr(s, method)(request, None)
            elif action == "refund":
                details = reads.order_details(self.db.connection(), order_id)
                refundable = [
                    (line.line_id, split[2] - refunded)
                    for line, split, refunded in zip(
                        details.order.lines, details.lines, self._line_refunds(order_id), strict=True
                    )
                    if split[2] > refunded
                ]
                if not refundable:
                    return
                line_id, most = data.draw(st.sampled_from(refundable))
                event(f"refund of a {pb.OrderState.Name(details.state)} order")
                amount = data.draw(st.sampled_from((1, most, max(1, most // 2))))
                self.counter += 1
                s.RecordRefund(
                    pb.RecordRefundRequest(
                        request_id=self.request_id(),
                        order_id=order_id,
                        refund_id=f"f{self.counter}",
                        refunded_at=ts(T0 + 30 * DAY_S),
                        lines=[pb.RefundLine(line_id=line_id, amount_fen=amount)],
                    ),
                    None,  # type: ignore[arg-type]
                )
            else:
                as_of_us = (T0 + day * DAY_S) * 1_000_000 + len(self.settled_at_us)
                request = pb.RunSettlementRequest(request_id=self.request_id())
                request.as_of.FromMicroseconds(as_of_us)
                s.RunSettlement(request, None)  # type: ignore[arg-type]
                self.settled_at_us.append(as_of_us)
        except (errors.AlreadyExists, errors.FailedPrecondition, errors.InvalidArgument, errors.NotFound):
            pass  # a refused request writes nothing

    def _line_refunds(self, order_id: str) -> list[int]:
        row = (
            self.db.connection()
            .execute("SELECT line_refunds_json FROM settlement_orders WHERE order_id = ?", (order_id,))
            .fetchone()
        )
        return list(json.loads(row[0]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), steps=st.integers(1, 30))
def test_the_kept_settled_gmv_is_the_decoded_one(data: Any, steps: int) -> None:
    with TemporaryDirectory() as scratch:
        db = SqliteDatabase(Path(scratch) / "db")
        db.migrate(MIGRATIONS["sqlite"])
        shop = Shop(db)
        conn = db.connection()
        for _ in range(steps):
            shop.step(data)
            bounds = sorted({0, 2**62, *shop.settled_at_us, *(t + 1 for t in shop.settled_at_us)})
            start = data.draw(st.sampled_from(bounds))
            end = data.draw(st.sampled_from([b for b in bounds if b >= start]))
            event(f"creators with settled GMV: {len(gmv.settled_gmv_by_creator(conn, 0, 2**62))}")
            for start_us, end_us in ((0, 2**62), (start, end)):
                assert gmv.settled_gmv_by_creator(conn, start_us, end_us) == settled_gmv_by_decoding(
                    conn, start_us, end_us
                )
        db.close()


def test_the_migration_credits_the_orders_settled_before_it(tmp_path: Path) -> None:
    """A database of the previous schema (orders settled, refunded after settlement, not yet
    settled, without creators, with a creator named twice): after the migration the table has
    one row per settled order and creator, and every range answers as decoding did."""
    db = SqliteDatabase(tmp_path / "old.db")
    db.migrate([m for m in MIGRATIONS["sqlite"] if m.id != CREATOR_GMV])

    def order(order_id: str, direct: str | None, chain: tuple[str, ...] = ()) -> bytes:
        attribution = pb.Attribution()
        if direct is not None:
            attribution.creator.creator_id = direct
        for party_id in chain:
            attribution.agency_chain.parties.add(kind=pb.PARTY_KIND_CREATOR, party_id=party_id)
        attribution.agency_chain.parties.add(kind=pb.PARTY_KIND_AGENCY, party_id="k2")  # not a creator part
        return pb.Order(order_id=order_id, attribution=attribution).SerializeToString()

    settled, confirmed = pb.ORDER_STATE_SETTLED, pb.ORDER_STATE_RECEIPT_CONFIRMED
    rows = [
        ("o1", settled, 10, 1_000, 100, order("o1", "k1", ("k1",))),
        ("o2", settled, 20, 500, 500, order("o2", "k3", ("k2",))),
        ("o3", confirmed, None, 700, 0, order("o3", "k1")),
        ("o4", settled, 30, 900, 0, order("o4", None)),
        ("o5", settled, 40, 300, 1, order("o5", "k2")),
    ]
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO settlement_orders (order_id, shop_id, content_sha256, paid_at_us, state, settled_at_us,"
            " paid_fen, refunded_fen, order_pb, split_blob, line_refunds_json)"
            " VALUES (?, 's1', x'00', 0, ?, ?, ?, ?, ?, x'', '[0]')",
            rows,
        )
    assert db.migrate(MIGRATIONS["sqlite"]) == [CREATOR_GMV]
    conn = db.connection()
    assert conn.execute("SELECT * FROM settlement_creator_gmv ORDER BY order_id, creator_id").fetchall() == [
        ("o1", "k1", 10, 900),
        ("o2", "k2", 20, 0),
        ("o2", "k3", 20, 0),
        ("o5", "k2", 40, 299),
    ]
    assert gmv.settled_gmv_by_creator(conn, 0, 2**62) == {"k1": 900, "k2": 299, "k3": 0}
    for start_us in (0, 10, 11, 20, 40, 41):
        for end_us in (10, 11, 20, 21, 40, 41):
            expected = settled_gmv_by_decoding(conn, start_us, end_us)
            assert gmv.settled_gmv_by_creator(conn, start_us, end_us) == expected
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'settlement_orders_settled'").fetchone() == (
        0,
    )
    db.close()


def test_a_sum_that_overflows_sqlite_names_its_creator(tmp_path: Path) -> None:
    """SQLite's SUM refuses to leave int64 ("integer overflow"): answered FAILED_PRECONDITION
    naming the creator whose GMV would, while the others' sums in range still answer."""
    db = SqliteDatabase(tmp_path / "db")
    db.migrate(MIGRATIONS["sqlite"])
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO settlement_creator_gmv (order_id, creator_id, settled_at_us, net_paid_fen)"
            " VALUES (?, ?, ?, ?)",
            [("o1", "k1", 1, 5), ("o1", "k2", 1, 2**62), ("o2", "k2", 2, 2**62), ("o3", "k3", 3, 2**63 - 1)],
        )
    conn = db.connection()
    assert gmv.settled_gmv_by_creator(conn, 0, 2) == {"k1": 5, "k2": 2**62}
    assert gmv.settled_gmv_by_creator(conn, 2, 4) == {"k2": 2**62, "k3": 2**63 - 1}
    with pytest.raises(errors.FailedPrecondition) as raised:
        gmv.settled_gmv_by_creator(conn, 0, 3)
    assert (raised.value.reason, raised.value.metadata["creator_id"]) == ("SUM_OUT_OF_RANGE", "k2")
    db.close()
