"""Schema migrations of the settlement store keep the data written before them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from xiaodian.platform.db import SqliteDatabase
from xiaodian.platform.server import MIGRATIONS
from xiaodian.settlement import lifecycle, reads, schema
from xiaodian.v1 import settlement_service_pb2 as pb

PAYOUTS_IN_ORDERS = "settlement-0004-payouts-in-orders"
INTEGER_MONEY = "settlement-0005-integer-money"


def test_payouts_move_into_their_orders_and_pending_sums_are_kept(tmp_path: Path) -> None:
    """Orders recorded with a row per payout (`settlement_payouts`) get the same payouts in
    their own row, the pending sums are those of the PAID and RECEIPT_CONFIRMED orders, and a
    later settlement pays out what the old rows held."""
    db = SqliteDatabase(tmp_path / "old.db")
    db.migrate([m for m in MIGRATIONS["sqlite"] if m.id not in (PAYOUTS_IN_ORDERS, INTEGER_MONEY)])
    payouts = {
        "o-paid": {"merchant:s1": 900, "platform:fee": 50, "creator:k1": 50},
        "o-confirmed": {"merchant:s1": 1_800, "platform:fee": 100, "party:AGENCY:a1": 100},
        "o-settled": {"merchant:s2": 450, "platform:fee": 25, "creator:k1": 25},
        "o-closed": {"merchant:s1": 0, "platform:fee": 0},
    }
    states = {
        "o-paid": schema.PAID,
        "o-confirmed": schema.CONFIRMED,
        "o-settled": schema.SETTLED,
        "o-closed": schema.CLOSED,
    }
    with db.transaction() as conn:
        for order_id, state in states.items():
            conn.execute(
                "INSERT INTO settlement_orders (order_id, shop_id, content_sha256, paid_at_us, state,"
                " settle_after_us, paid_fen, order_pb, split_blob, line_refunds_json)"
                " VALUES (?, 's1', x'00', 0, ?, ?, 0, x'', x'', '[0]')",
                (order_id, state, 5 if state == schema.CONFIRMED else None),
            )
            conn.executemany(
                "INSERT INTO settlement_payouts (order_id, account, amount_fen) VALUES (?, ?, ?)",
                [(order_id, account, amount) for account, amount in payouts[order_id].items()],
            )
    assert db.migrate(MIGRATIONS["sqlite"]) == [PAYOUTS_IN_ORDERS, INTEGER_MONEY]
    conn = db.connection()
    stored = {
        order_id: json.loads(p) for order_id, p in conn.execute("SELECT order_id, payouts_json FROM settlement_orders")
    }
    assert stored == payouts
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'settlement_payouts'").fetchone()[0] == 0
    assert {a: reads.pending_fen(conn, a) for a in ("merchant:s1", "merchant:s2", "platform:fee", "creator:k1")} == {
        "merchant:s1": 2_700,
        "merchant:s2": 0,
        "platform:fee": 150,
        "creator:k1": 50,
    }
    assert reads.pending_fen(conn, "party:AGENCY:a1") == 100
    with db.transaction() as conn:
        settled = lifecycle.run_settlement(conn, 10)
    assert (settled.settled_count, settled.settled_fen) == (1, 2_000)
    assert reads.pending_fen(conn, "merchant:s1") == 900 and reads.pending_fen(conn, "party:AGENCY:a1") == 0
    transfers = conn.execute(
        "SELECT transfer_id, debit, credit, amount_fen, code FROM ledger_transfers ORDER BY seq"
    ).fetchall()
    assert transfers == [
        (f"o-confirmed/settlement/{account}", "escrow", account, amount, pb.TRANSFER_CODE_SETTLEMENT)
        for account, amount in sorted(payouts["o-confirmed"].items())
    ]
    db.close()


def test_the_running_sums_keep_their_values_and_refuse_anything_but_an_integer(tmp_path: Path) -> None:
    """`settlement-0005-integer-money` rebuilds the balances, pending payouts and allowances
    with their values (the largest and smallest int64 included); afterwards a sum that
    overflows (SQLite would store it as a REAL) or a REAL written directly is refused."""
    import sqlite3

    db = SqliteDatabase(tmp_path / "old.db")
    db.migrate([m for m in MIGRATIONS["sqlite"] if m.id != INTEGER_MONEY])
    rows = {
        "ledger_balances": [("escrow", 2**63 - 1), ("buyer_funds", -(2**63)), ("merchant:s1", 0)],
        "settlement_pending": [("merchant:s1", 2**63 - 1), ("platform:fee", 7)],
        "settlement_allowances": [("s1", 100_000_000)],
    }
    columns = {
        "ledger_balances": ("account", "balance_fen"),
        "settlement_pending": ("account", "pending_fen"),
        "settlement_allowances": ("shop_id", "used_fen"),
    }
    with db.transaction() as conn:
        for table, values in rows.items():
            key, column = columns[table]
            conn.executemany(f"INSERT INTO {table} ({key}, {column}) VALUES (?, ?)", values)
        # Before the migration, an overflowing sum silently becomes a REAL.
        conn.execute("UPDATE ledger_balances SET balance_fen = balance_fen + 1 WHERE account = 'escrow'")
        assert conn.execute("SELECT typeof(balance_fen) FROM ledger_balances WHERE account = 'escrow'").fetchone() == (
            "real",
        )
        conn.execute("UPDATE ledger_balances SET balance_fen = ? WHERE account = 'escrow'", (2**63 - 1,))
    assert db.migrate(MIGRATIONS["sqlite"]) == [INTEGER_MONEY]
    conn = db.connection()
    for table, values in rows.items():
        key, column = columns[table]
        stored = conn.execute(f"SELECT {key}, {column}, typeof({column}) FROM {table} ORDER BY {key}").fetchall()
        assert stored == sorted((k, v, "integer") for k, v in values)
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"), db.transaction() as write:
            write.execute(f"UPDATE {table} SET {column} = {column} + ?", (2**63 - 1,))
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"), db.transaction() as write:
            write.execute(f"INSERT INTO {table} ({key}, {column}) VALUES ('x', 1.5)")
    assert conn.execute("SELECT balance_fen FROM ledger_balances WHERE account = 'escrow'").fetchone() == (2**63 - 1,)
    db.close()


def test_a_balance_stored_as_real_by_an_older_version_stops_the_migration_with_one_clear_line(tmp_path: Path) -> None:
    """The state the old bug left behind (escrow as REAL 1.8e19): the migration that makes money
    columns integer-only refuses it, changes nothing, and says so without a traceback."""
    from xiaodian.platform.db import StorageError

    db = SqliteDatabase(tmp_path / "old.db")
    db.migrate([m for m in MIGRATIONS["sqlite"] if m.id != INTEGER_MONEY])
    with db.transaction() as conn:
        conn.execute("INSERT INTO ledger_balances (account, balance_fen) VALUES ('escrow', ?)", (2**63 - 1,))
        conn.execute("UPDATE ledger_balances SET balance_fen = balance_fen + ?", (2**62,))
    with pytest.raises(StorageError, match=f"migration {INTEGER_MONEY}.*repair"):
        db.migrate(MIGRATIONS["sqlite"])
    conn = db.connection()
    assert conn.execute("SELECT typeof(balance_fen) FROM ledger_balances").fetchone() == ("real",)
    assert INTEGER_MONEY not in {row[0] for row in conn.execute("SELECT id FROM schema_migrations")}
    db.close()
