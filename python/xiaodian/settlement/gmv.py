"""Settled GMV (结算GMV) per creator, read from the settlement store for creator scoring.

A creator's settled GMV over a time range is the commissionable amount (可分佣金额, the lines'
`paid`) of the orders that settled within the range and credit the creator, net of every
refund recorded on them so far. An order credits a creator through its direct creator
commission (`attribution.creator`) or as a chain party of kind CREATOR; an order counts once
per creator even when it names the creator in both places.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

from xiaodian.errors import FailedPrecondition
from xiaodian.platform.db import Migration
from xiaodian.settlement.ledger import INT64_MAX
from xiaodian.v1 import settlement_service_pb2 as pb

MIGRATIONS = [
    Migration(
        "settlement-0003-settled-at",
        "CREATE INDEX settlement_orders_settled ON settlement_orders (settled_at_us) WHERE settled_at_us IS NOT NULL",
    )
]


def creators_of(order: pb.Order) -> set[str]:
    """The creators an order credits: the direct creator and the chain's CREATOR parties."""
    attribution = order.attribution
    creators = {attribution.creator.creator_id} if attribution.HasField("creator") else set()
    creators.update(party.party_id for party in attribution.agency_chain.parties if party.kind == pb.PARTY_KIND_CREATOR)
    return creators


def settled_gmv_by_creator(conn: sqlite3.Connection, start_us: int, end_us: int) -> dict[str, int]:
    """Fen per creator id over orders settled in [start_us, end_us); creators without such
    orders are absent. A creator's sum above int64 is FAILED_PRECONDITION, SUM_OUT_OF_RANGE
    (each order's net paid is at least 0, so the sums only grow)."""
    gmv: dict[str, int] = defaultdict(int)
    rows = conn.execute(
        "SELECT order_pb, paid_fen - refunded_fen FROM settlement_orders"
        " WHERE settled_at_us >= ? AND settled_at_us < ?",
        (start_us, end_us),
    )
    for order_pb, net_paid_fen in rows:
        for creator_id in creators_of(pb.Order.FromString(order_pb)):
            gmv[creator_id] += net_paid_fen
    for creator_id, fen in gmv.items():
        if fen > INT64_MAX:
            raise FailedPrecondition(
                f"creator {creator_id!r}'s settled GMV in the period is {fen:,} fen, more than the range amounts"
                f" are kept in ({INT64_MAX:,} fen)",
                reason="SUM_OUT_OF_RANGE",
                metadata={"creator_id": creator_id},
            )
    return dict(gmv)
