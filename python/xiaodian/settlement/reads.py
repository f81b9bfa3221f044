"""What the settlement store answers without writing: an order with its refunds and
after-sale cases, an account's pending payouts, a guide's performance, and the number of
orders awaiting settlement (a metric). Balances and statements are the ledger's
(`ledger.balance`, `ledger.statement`); creators' settled GMV is `gmv`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from xiaodian.errors import FailedPrecondition
from xiaodian.platform.db import Connection
from xiaodian.settlement import ledger
from xiaodian.settlement.orders import LineTuple
from xiaodian.settlement.schema import CONFIRMED, PAID, SETTLED, load_order, open_cases
from xiaodian.v1 import settlement_service_pb2 as pb


@dataclass(frozen=True)
class OrderDetails:
    """An order as recorded, with its state, its line splits (`LineTuple`, as recorded), its
    refunds and after-sale cases (oldest first) and its times (µs since the epoch, None until
    they happen)."""

    order: pb.Order
    state: pb.OrderState
    #: Whether an after-sale case is open (the order cannot settle).
    frozen: bool
    lines: list[LineTuple]
    refunds: list[pb.Refund]
    after_sales: list[pb.AfterSale]
    confirmed_at_us: int | None
    settle_after_us: int | None
    settled_at_us: int | None


def order_details(conn: Connection, order_id: str) -> OrderDetails:
    """The order; NOT_FOUND (ORDER_NOT_FOUND) when there is none."""
    stored = load_order(conn, order_id)
    refunds = [
        pb.Refund.FromString(refund_pb)
        for (refund_pb,) in conn.execute(
            "SELECT refund_pb FROM settlement_refunds WHERE order_id = ? ORDER BY refunded_at_us, rowid", (order_id,)
        )
    ]
    after_sales = [
        pb.AfterSale.FromString(case_pb)
        for (case_pb,) in conn.execute(
            "SELECT after_sale_pb FROM settlement_after_sales WHERE order_id = ? ORDER BY opened_at_us, rowid",
            (order_id,),
        )
    ]
    return OrderDetails(
        stored.order,
        stored.state,
        open_cases(conn, order_id) > 0,
        stored.lines,
        refunds,
        after_sales,
        stored.confirmed_at_us,
        stored.settle_after_us,
        stored.settled_at_us,
    )


def pending_fen(conn: Connection, account: str) -> int:
    """What the account receives when its recorded, unsettled (PAID or RECEIPT_CONFIRMED)
    orders settle."""
    row = conn.execute("SELECT pending_fen FROM settlement_pending WHERE account = ?", (account,)).fetchone()
    return int(row[0]) if row else 0


class GuidePerformance(NamedTuple):
    """A guide's orders paid in a time range: how many, their paid and refunded fen, and how
    many of them have settled."""

    order_count: int
    paid_fen: int
    refunded_fen: int
    settled_order_count: int


def guide_performance(conn: Connection, guide_id: str, start_us: int | None, end_us: int | None) -> GuidePerformance:
    """The guide's orders paid in [start, end). SQLite's SUM fails on an integer overflow
    rather than turning into a float: sums that would leave int64 are FAILED_PRECONDITION,
    SUM_OUT_OF_RANGE (a narrower time range answers)."""
    try:
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(CAST(SUM(paid_fen) AS BIGINT), 0),"
            " COALESCE(CAST(SUM(refunded_fen) AS BIGINT), 0),"
            " COALESCE(SUM(CASE WHEN state = ? THEN 1 ELSE 0 END), 0) FROM settlement_orders"
            " WHERE guide_id = ? AND paid_at_us >= ? AND paid_at_us < ?",
            (
                SETTLED,
                guide_id,
                start_us if start_us is not None else ledger.INT64_MIN,
                end_us if end_us is not None else ledger.INT64_MAX,
            ),
        ).fetchone()
    except Exception as error:
        if not ledger.is_sum_overflow(error):
            raise
        raise FailedPrecondition(
            f"the amounts of guide {guide_id!r}'s orders in the time range add up to more than the range"
            f" amounts are kept in ({ledger.INT64_MAX:,} fen); ask for a narrower time range",
            reason="SUM_OUT_OF_RANGE",
            metadata={"guide_id": guide_id},
        ) from None
    return GuidePerformance(*row)


def orders_awaiting_settlement(conn: Connection) -> int:
    """Orders recorded and not yet settled or closed (PAID or RECEIPT_CONFIRMED): a metric."""
    row = conn.execute("SELECT COUNT(*) FROM settlement_orders WHERE state IN (?, ?)", (PAID, CONFIRMED)).fetchone()
    return int(row[0])
