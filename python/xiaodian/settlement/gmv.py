"""Settled GMV (结算GMV) per creator, kept as orders settle, for creator scoring.

A creator's settled GMV over a time range is the commissionable amount (可分佣金额, the lines'
`paid`) of the orders that settled within the range and credit the creator, net of every
refund recorded on them so far. An order credits a creator through its direct creator
commission (`attribution.creator`) or as a chain party of kind CREATOR; an order counts once
per creator even when it names the creator in both places.

`settlement_creator_gmv` holds one row per (settled order, creator it credits): when the
order settled and its net paid fen (`paid_fen - refunded_fen` of `settlement_orders`). It is
written in the transaction that settles the order (`record_settled`) and lowered in the
transaction that records a refund after settlement (`refunded_after_settlement`), so it always
agrees with the orders. Net paid is at least 0, so a creator's sum only grows with the range.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from xiaodian.errors import FailedPrecondition
from xiaodian.platform.db import Connection, Migration, rows_with_ids, savepoint
from xiaodian.settlement import ledger
from xiaodian.v1 import settlement_service_pb2 as pb

#: A settled order as its creators' rows are made from it: (order_id, order_pb, settled_at_us,
#: net paid fen).
_SETTLED_ORDERS = "SELECT order_id, order_pb, settled_at_us, paid_fen - refunded_fen FROM settlement_orders"


def creators_of(order: pb.Order) -> set[str]:
    """The creators an order credits: the direct creator and the chain's CREATOR parties."""
    attribution = order.attribution
    creators = {attribution.creator.creator_id} if attribution.HasField("creator") else set()
    creators.update(party.party_id for party in attribution.agency_chain.parties if party.kind == pb.PARTY_KIND_CREATOR)
    return creators


def _insert_creator_rows(conn: Connection, settled: Iterable[tuple[str, bytes, int, int]]) -> None:
    """Inserts a `settlement_creator_gmv` row per creator of each settled order (`_SETTLED_ORDERS`'
    rows); the one place an order's creators and net paid become rows."""
    conn.executemany(
        "INSERT INTO settlement_creator_gmv (order_id, creator_id, settled_at_us, net_paid_fen) VALUES (?, ?, ?, ?)",
        [
            (order_id, creator_id, settled_at_us, net_paid_fen)
            for order_id, order_pb, settled_at_us, net_paid_fen in settled
            for creator_id in sorted(creators_of(pb.Order.FromString(order_pb)))
        ],
    )


def _backfill(conn: Connection) -> None:
    """The rows of every order settled before the table existed (each order_pb decoded once)."""
    _insert_creator_rows(conn, conn.execute(f"{_SETTLED_ORDERS} WHERE settled_at_us IS NOT NULL"))


MIGRATIONS = [
    Migration(
        "settlement-0003-settled-at",
        "CREATE INDEX settlement_orders_settled ON settlement_orders (settled_at_us) WHERE settled_at_us IS NOT NULL",
    ),
    # Scoring decoded every order_pb settled in the period to find its creators, at every
    # ScoreCreators; the creators are now found once, as the order settles. The orders'
    # settled_at index served only that read.
    Migration(
        "settlement-0006-creator-gmv",
        """
        CREATE TABLE settlement_creator_gmv (
            order_id TEXT NOT NULL,
            creator_id TEXT NOT NULL,
            settled_at_us INTEGER NOT NULL,
            net_paid_fen INTEGER NOT NULL CHECK (typeof(net_paid_fen) = 'integer' AND net_paid_fen >= 0),
            PRIMARY KEY (order_id, creator_id)
        ) WITHOUT ROWID;
        CREATE INDEX settlement_creator_gmv_settled ON settlement_creator_gmv (settled_at_us);
        DROP INDEX settlement_orders_settled
        """,
        backfill=_backfill,
    ),
]
POSTGRES_MIGRATIONS = [
    Migration(
        "settlement-0006-creator-gmv",
        """
        CREATE TABLE settlement_creator_gmv (
            order_id TEXT NOT NULL,
            creator_id TEXT NOT NULL,
            settled_at_us BIGINT NOT NULL,
            net_paid_fen BIGINT NOT NULL CHECK (net_paid_fen >= 0),
            PRIMARY KEY (order_id, creator_id)
        );
        CREATE INDEX settlement_creator_gmv_settled ON settlement_creator_gmv (settled_at_us)
        """,
    ),
]


def record_settled(conn: Connection, order_ids: Sequence[str]) -> None:
    """Credits the creators of orders that have just settled (their `settled_at_us` written)."""
    select = f"{_SETTLED_ORDERS} WHERE order_id IN ({{ids}})"
    _insert_creator_rows(conn, rows_with_ids(conn, select, order_ids))


def refunded_after_settlement(conn: Connection, order_id: str, refunded_fen: int) -> None:
    """A refund of `refunded_fen` recorded on a settled order lowers its creators' net paid."""
    conn.execute(
        "UPDATE settlement_creator_gmv SET net_paid_fen = net_paid_fen - ? WHERE order_id = ?",
        (refunded_fen, order_id),
    )


def settled_gmv_by_creator(conn: Connection, start_us: int, end_us: int) -> dict[str, int]:
    """Fen per creator id over orders settled in [start_us, end_us); creators without such
    orders are absent. A creator's sum above int64 is FAILED_PRECONDITION, SUM_OUT_OF_RANGE."""
    where = " FROM settlement_creator_gmv WHERE settled_at_us >= ? AND settled_at_us < ?"
    try:
        with savepoint(conn, "settled_gmv"):
            rows = conn.execute(
                f"SELECT creator_id, CAST(SUM(net_paid_fen) AS BIGINT){where} GROUP BY creator_id", (start_us, end_us)
            ).fetchall()
    except Exception as error:
        if not ledger.is_sum_overflow(error):
            raise
        # Only here: sum each creator's rows in Python to name the first one out of range.
        sums: dict[str, int] = {}
        for creator_id, fen in conn.execute(
            f"SELECT creator_id, net_paid_fen{where} ORDER BY creator_id", (start_us, end_us)
        ):
            sums[creator_id] = sums.get(creator_id, 0) + fen
        creator_id, fen = next((c, fen) for c, fen in sums.items() if fen > ledger.INT64_MAX)
        raise FailedPrecondition(
            f"creator {creator_id!r}'s settled GMV in the period is {fen:,} fen, more than the range amounts"
            f" are kept in ({ledger.INT64_MAX:,} fen)",
            reason="SUM_OUT_OF_RANGE",
            metadata={"creator_id": creator_id},
        ) from None
    return dict(rows)
