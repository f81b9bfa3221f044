"""Schema migrations of the settlement store keep the data written before them."""

from __future__ import annotations

import json
from pathlib import Path

from xiaodian.platform.db import Database
from xiaodian.platform.server import MIGRATIONS
from xiaodian.settlement import store
from xiaodian.v1 import settlement_service_pb2 as pb

PAYOUTS_IN_ORDERS = "settlement-0004-payouts-in-orders"


def test_payouts_move_into_their_orders_and_pending_sums_are_kept(tmp_path: Path) -> None:
    """Orders recorded with a row per payout (`settlement_payouts`) get the same payouts in
    their own row, the pending sums are those of the PAID and RECEIPT_CONFIRMED orders, and a
    later settlement pays out what the old rows held."""
    db = Database(tmp_path / "old.db")
    db.migrate([m for m in MIGRATIONS if m.id != PAYOUTS_IN_ORDERS])
    payouts = {
        "o-paid": {"merchant:s1": 900, "platform:fee": 50, "creator:k1": 50},
        "o-confirmed": {"merchant:s1": 1_800, "platform:fee": 100, "party:AGENCY:a1": 100},
        "o-settled": {"merchant:s2": 450, "platform:fee": 25, "creator:k1": 25},
        "o-closed": {"merchant:s1": 0, "platform:fee": 0},
    }
    states = {
        "o-paid": store.PAID,
        "o-confirmed": store.CONFIRMED,
        "o-settled": store.SETTLED,
        "o-closed": store.CLOSED,
    }
    with db.transaction() as conn:
        for order_id, state in states.items():
            conn.execute(
                "INSERT INTO settlement_orders (order_id, shop_id, content_sha256, paid_at_us, state,"
                " settle_after_us, paid_fen, order_pb, split_blob, line_refunds_json)"
                " VALUES (?, 's1', x'00', 0, ?, ?, 0, x'', x'', '[0]')",
                (order_id, state, 5 if state == store.CONFIRMED else None),
            )
            conn.executemany(
                "INSERT INTO settlement_payouts (order_id, account, amount_fen) VALUES (?, ?, ?)",
                [(order_id, account, amount) for account, amount in payouts[order_id].items()],
            )
    assert db.migrate(MIGRATIONS) == [PAYOUTS_IN_ORDERS]
    conn = db.connection()
    stored = {
        order_id: json.loads(p) for order_id, p in conn.execute("SELECT order_id, payouts_json FROM settlement_orders")
    }
    assert stored == payouts
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'settlement_payouts'").fetchone()[0] == 0
    assert {a: store.pending_fen(conn, a) for a in ("merchant:s1", "merchant:s2", "platform:fee", "creator:k1")} == {
        "merchant:s1": 2_700,
        "merchant:s2": 0,
        "platform:fee": 150,
        "creator:k1": 50,
    }
    assert store.pending_fen(conn, "party:AGENCY:a1") == 100
    with db.transaction() as conn:
        settled = store.run_settlement(conn, 10)
    assert (settled.settled_count, settled.settled_fen) == (1, 2_000)
    assert store.pending_fen(conn, "merchant:s1") == 900 and store.pending_fen(conn, "party:AGENCY:a1") == 0
    transfers = conn.execute(
        "SELECT transfer_id, debit, credit, amount_fen, code FROM ledger_transfers ORDER BY seq"
    ).fetchall()
    assert transfers == [
        (f"o-confirmed/settlement/{account}", "escrow", account, amount, pb.TRANSFER_CODE_SETTLEMENT)
        for account, amount in sorted(payouts["o-confirmed"].items())
    ]
    db.close()
