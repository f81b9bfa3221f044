"""The demo's orders: realistic, deterministic, and loaded through the API with their refunds,
after-sales, receipts and a settlement run."""

from __future__ import annotations

import json

from xiaodian import Client
from xiaodian.demo.catalog import generate_catalog
from xiaodian.demo.load import load_demo
from xiaodian.demo.orders import generate_orders
from xiaodian.settlement import ledger
from xiaodian.v1 import settlement_service_pb2 as pb


def test_demo_orders_are_deterministic_and_varied() -> None:
    catalog = generate_catalog(3, 1_000)
    first = generate_orders(3, catalog.products, 2_000, 1_790_000_000)
    assert first == generate_orders(3, catalog.products, 2_000, 1_790_000_000)
    orders = first.orders
    funders = {d.funder for o in orders for d in o.discounts}
    assert funders == {
        pb.DISCOUNT_FUNDER_MERCHANT,
        pb.DISCOUNT_FUNDER_PLATFORM,
        pb.DISCOUNT_FUNDER_GOVERNMENT,
        pb.DISCOUNT_FUNDER_CREATOR,
    }
    assert any(len(o.attribution.agency_chain.parties) == 5 for o in orders)
    assert any(o.is_gift for o in orders) and any(o.guide_id for o in orders)
    assert all(len({line.product_id for line in o.lines}) == len(o.lines) for o in orders)
    assert first.refunds and first.after_sales and first.confirmations


def test_the_demo_loads_settles_and_balances(server, client: Client) -> None:
    with server.admin_client(timeout=120) as admin:
        load_demo(admin, product_count=2_000, order_count=1_500)
    conn = server.db.connection()
    assert ledger.balances_total(conn) == 0
    counts = dict(conn.execute("SELECT state, COUNT(*) FROM settlement_orders GROUP BY state").fetchall())
    assert sum(counts.values()) == 1_500
    assert counts[pb.ORDER_STATE_SETTLED] > 500 and counts[pb.ORDER_STATE_CLOSED] > 0
    # Escrow holds exactly what the unsettled orders will pay out, and the pending payouts kept
    # per account add up to the same, account by account.
    pending: dict[str, int] = {}
    for (payouts_json,) in conn.execute(
        "SELECT payouts_json FROM settlement_orders WHERE state IN (?, ?)",
        (pb.ORDER_STATE_PAID, pb.ORDER_STATE_RECEIPT_CONFIRMED),
    ):
        for account, amount in json.loads(payouts_json).items():
            pending[account] = pending.get(account, 0) + amount
    assert ledger.balance(conn, "escrow") == sum(pending.values())
    kept = dict(conn.execute("SELECT account, pending_fen FROM settlement_pending WHERE pending_fen != 0"))
    assert kept == {account: amount for account, amount in pending.items() if amount}
    assert client.get_balance(account="platform:fee").settled_fen > 0
    # Loading again (a restart with --demo) replays and writes nothing twice.
    escrow = ledger.balance(conn, "escrow")
    with server.admin_client(timeout=120) as admin:
        load_demo(admin, product_count=2_000, order_count=1_500)
    assert ledger.balance(conn, "escrow") == escrow
