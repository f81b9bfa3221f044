"""The settlement tables (SPEC §5) and the rows read from them, shared by recording,
lifecycle and reads.

- `settlement_orders`: one row per recorded order: its request content digest, the order as
  sent (`order_pb`), the kernel's packed line splits (`split_blob`), each line's refunded fen
  (`line_refunds_json`), its state and times, and `payouts_json`: what each party receives
  when it settles (the split, less what refunds before settlement reversed).
- `settlement_refunds`, `settlement_after_sales`: one row per refund and after-sale case, each
  under its natural key (refund_id, after_sale_id) with its content digest.
- `settlement_pending` and `settlement_allowances`: running sums kept with every write (each
  account's unsettled payouts; each shop's new-merchant fee base used), always in int64
  (`ledger.add_sums`).

Invariant: `settlement_pending` holds, per account, the sum of the `payouts_json` of every
PAID or RECEIPT_CONFIRMED order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from xiaodian.errors import NotFound
from xiaodian.platform.db import Connection, Migration
from xiaodian.settlement import ledger
from xiaodian.settlement.orders import LineTuple, unpack_split
from xiaodian.v1 import settlement_service_pb2 as pb

MIGRATIONS = [
    *ledger.MIGRATIONS,
    Migration(
        "settlement-0002-orders",
        """
        CREATE TABLE settlement_orders (
            order_id TEXT PRIMARY KEY,
            shop_id TEXT NOT NULL,
            content_sha256 BLOB NOT NULL,
            paid_at_us INTEGER NOT NULL,
            state INTEGER NOT NULL,
            confirmed_at_us INTEGER,
            settle_after_us INTEGER,
            settled_at_us INTEGER,
            guide_id TEXT,
            paid_fen INTEGER NOT NULL,
            refunded_fen INTEGER NOT NULL DEFAULT 0,
            order_pb BLOB NOT NULL,
            split_blob BLOB NOT NULL,
            line_refunds_json TEXT NOT NULL
        );
        CREATE INDEX settlement_orders_due ON settlement_orders (state, settle_after_us);
        CREATE INDEX settlement_orders_guide ON settlement_orders (guide_id, paid_at_us) WHERE guide_id IS NOT NULL;
        CREATE TABLE settlement_payouts (
            order_id TEXT NOT NULL,
            account TEXT NOT NULL,
            amount_fen INTEGER NOT NULL,
            PRIMARY KEY (order_id, account)
        ) WITHOUT ROWID;
        CREATE INDEX settlement_payouts_account ON settlement_payouts (account);
        CREATE TABLE settlement_allowances (
            shop_id TEXT PRIMARY KEY,
            used_fen INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE settlement_refunds (
            refund_id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL,
            content_sha256 BLOB NOT NULL,
            refunded_at_us INTEGER NOT NULL,
            refund_pb BLOB NOT NULL,
            response_pb BLOB NOT NULL
        );
        CREATE INDEX settlement_refunds_order ON settlement_refunds (order_id, refunded_at_us);
        CREATE TABLE settlement_after_sales (
            after_sale_id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL,
            content_sha256 BLOB NOT NULL,
            opened_at_us INTEGER NOT NULL,
            resolved_at_us INTEGER,
            refund_id TEXT,
            after_sale_pb BLOB NOT NULL
        );
        CREATE INDEX settlement_after_sales_order ON settlement_after_sales (order_id, opened_at_us)
        """,
    ),
    # Recording wrote a `settlement_payouts` row per party of each order, indexed twice: most of
    # its cost. An order's payouts are now one JSON object in its own row, read only when it
    # settles or is refunded, and the per-account sum GetBalance needs is kept in
    # `settlement_pending` (a few rows a batch instead of a row per payout). The migration
    # moves every payout into its order and sums the pending ones (orders PAID = 1 or
    # RECEIPT_CONFIRMED = 2), so nothing is lost. The due index leaves out orders without a
    # settle time (every order as it is recorded).
    Migration(
        "settlement-0004-payouts-in-orders",
        """
        ALTER TABLE settlement_orders ADD COLUMN payouts_json TEXT NOT NULL DEFAULT '{}';
        UPDATE settlement_orders SET payouts_json = (
            SELECT json_group_object(account, amount_fen) FROM settlement_payouts p
            WHERE p.order_id = settlement_orders.order_id
        );
        CREATE TABLE settlement_pending (
            account TEXT PRIMARY KEY,
            pending_fen INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO settlement_pending (account, pending_fen)
            SELECT p.account, SUM(p.amount_fen) FROM settlement_payouts p JOIN settlement_orders o USING (order_id)
            WHERE o.state IN (1, 2) GROUP BY p.account;
        DROP TABLE settlement_payouts;
        DROP INDEX settlement_orders_due;
        CREATE INDEX settlement_orders_due ON settlement_orders (state, settle_after_us)
            WHERE settle_after_us IS NOT NULL
        """,
    ),
    # The running sums (balances, pending payouts, allowances used) are rebuilt so that each
    # refuses anything but an integer: SQLite turns an integer `a + b` that overflows into a
    # REAL instead of failing (issue 19: two orders of 9 x 10^18 fen left escrow at 1.8e19).
    # `ledger.add_sums` answers the refusal. A database already holding such a REAL fails
    # this migration (CHECK constraint failed): its money has to be repaired by hand first.
    Migration(
        "settlement-0005-integer-money",
        """
        CREATE TABLE ledger_balances_checked (
            account TEXT PRIMARY KEY,
            balance_fen INTEGER NOT NULL CHECK (typeof(balance_fen) = 'integer')
        ) WITHOUT ROWID;
        INSERT INTO ledger_balances_checked (account, balance_fen)
            SELECT account, balance_fen FROM ledger_balances;
        DROP TABLE ledger_balances;
        ALTER TABLE ledger_balances_checked RENAME TO ledger_balances;
        CREATE TABLE settlement_pending_checked (
            account TEXT PRIMARY KEY,
            pending_fen INTEGER NOT NULL CHECK (typeof(pending_fen) = 'integer')
        ) WITHOUT ROWID;
        INSERT INTO settlement_pending_checked (account, pending_fen)
            SELECT account, pending_fen FROM settlement_pending;
        DROP TABLE settlement_pending;
        ALTER TABLE settlement_pending_checked RENAME TO settlement_pending;
        CREATE TABLE settlement_allowances_checked (
            shop_id TEXT PRIMARY KEY,
            used_fen INTEGER NOT NULL CHECK (typeof(used_fen) = 'integer')
        ) WITHOUT ROWID;
        INSERT INTO settlement_allowances_checked (shop_id, used_fen)
            SELECT shop_id, used_fen FROM settlement_allowances;
        DROP TABLE settlement_allowances;
        ALTER TABLE settlement_allowances_checked RENAME TO settlement_allowances
        """,
    ),
]
#: PostgreSQL's tables, as SQLite's are after its history. `rowid` keeps insertion order where
#: reads break ties by it (refunds and after-sale cases of one order, oldest first), as
#: SQLite's implicit rowid does.
POSTGRES_MIGRATIONS = [
    *ledger.POSTGRES_MIGRATIONS,
    Migration(
        "settlement-0002-orders",
        """
        CREATE TABLE settlement_orders (
            order_id TEXT PRIMARY KEY,
            shop_id TEXT NOT NULL,
            content_sha256 BYTEA NOT NULL,
            paid_at_us BIGINT NOT NULL,
            state INTEGER NOT NULL,
            confirmed_at_us BIGINT,
            settle_after_us BIGINT,
            settled_at_us BIGINT,
            guide_id TEXT,
            paid_fen BIGINT NOT NULL,
            refunded_fen BIGINT NOT NULL DEFAULT 0,
            order_pb BYTEA NOT NULL,
            split_blob BYTEA NOT NULL,
            line_refunds_json TEXT NOT NULL,
            payouts_json TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX settlement_orders_due ON settlement_orders (state, settle_after_us)
            WHERE settle_after_us IS NOT NULL;
        CREATE INDEX settlement_orders_guide ON settlement_orders (guide_id, paid_at_us) WHERE guide_id IS NOT NULL;
        CREATE TABLE settlement_pending (
            account TEXT PRIMARY KEY,
            pending_fen BIGINT NOT NULL
        );
        CREATE TABLE settlement_allowances (
            shop_id TEXT PRIMARY KEY,
            used_fen BIGINT NOT NULL
        );
        CREATE TABLE settlement_refunds (
            refund_id TEXT PRIMARY KEY,
            rowid BIGINT GENERATED ALWAYS AS IDENTITY,
            order_id TEXT NOT NULL,
            content_sha256 BYTEA NOT NULL,
            refunded_at_us BIGINT NOT NULL,
            refund_pb BYTEA NOT NULL,
            response_pb BYTEA NOT NULL
        );
        CREATE INDEX settlement_refunds_order ON settlement_refunds (order_id, refunded_at_us);
        CREATE TABLE settlement_after_sales (
            after_sale_id TEXT PRIMARY KEY,
            rowid BIGINT GENERATED ALWAYS AS IDENTITY,
            order_id TEXT NOT NULL,
            content_sha256 BYTEA NOT NULL,
            opened_at_us BIGINT NOT NULL,
            resolved_at_us BIGINT,
            refund_id TEXT,
            after_sale_pb BYTEA NOT NULL
        );
        CREATE INDEX settlement_after_sales_order ON settlement_after_sales (order_id, opened_at_us)
        """,
    ),
]

#: Each account's pending payouts and each shop's new-merchant fee base used: running sums
#: kept in int64 (`ledger.add_sums`).
PENDING = ledger.RunningSums(
    "settlement_pending", "account", "pending_fen", "PENDING_OUT_OF_RANGE", "pending payouts of account"
)
ALLOWANCES = ledger.RunningSums(
    "settlement_allowances", "shop_id", "used_fen", "ALLOWANCE_OUT_OF_RANGE", "new-merchant fee base used by shop"
)

#: An order's states (`settlement_orders.state`): PAID → RECEIPT_CONFIRMED → SETTLED, or
#: CLOSED when every line is refunded before it settles.
PAID, CONFIRMED, SETTLED, CLOSED = (
    pb.ORDER_STATE_PAID,
    pb.ORDER_STATE_RECEIPT_CONFIRMED,
    pb.ORDER_STATE_SETTLED,
    pb.ORDER_STATE_CLOSED,
)
STATE_NAMES: dict[pb.OrderState, str] = {
    PAID: "PAID",
    CONFIRMED: "RECEIPT_CONFIRMED",
    SETTLED: "SETTLED",
    CLOSED: "CLOSED",
}


@dataclass
class StoredOrder:
    """A `settlement_orders` row, decoded."""

    order: pb.Order
    state: pb.OrderState
    lines: list[LineTuple]
    #: Fen refunded so far on each line, in line order.
    line_refunds: list[int]
    confirmed_at_us: int | None
    settle_after_us: int | None
    settled_at_us: int | None
    #: What each party receives when the order settles (`payouts_json`).
    payouts: dict[str, int]


def load_order(conn: Connection, order_id: str) -> StoredOrder:
    """The stored order; NOT_FOUND (ORDER_NOT_FOUND) when there is none."""
    row = conn.execute(
        "SELECT order_pb, state, split_blob, line_refunds_json, confirmed_at_us, settle_after_us, settled_at_us,"
        " payouts_json FROM settlement_orders WHERE order_id = ?",
        (order_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no order {order_id!r}", reason="ORDER_NOT_FOUND", metadata={"order_id": order_id})
    order_pb, state, split_blob, refunds_json, confirmed, settle_after, settled, payouts_json = row
    return StoredOrder(
        pb.Order.FromString(order_pb),
        state,
        unpack_split(split_blob),
        json.loads(refunds_json),
        confirmed,
        settle_after,
        settled,
        json.loads(payouts_json),
    )


def payouts_json(payouts: dict[str, int]) -> str:
    """The `payouts_json` of an order: `{"merchant:s1":900,"platform:fee":100}`."""
    return json.dumps(payouts, separators=(",", ":"))


def add_pending(conn: Connection, deltas: Iterable[tuple[str, int]]) -> None:
    """Adds to accounts' pending payouts (`settlement_pending`); zero deltas are skipped. A sum
    that would leave int64 is FAILED_PRECONDITION, PENDING_OUT_OF_RANGE (`ledger.add_sums`)."""
    ledger.add_sums(conn, PENDING, [(account, amount) for account, amount in deltas if amount])


def open_cases(conn: Connection, order_id: str) -> int:
    """How many after-sale cases of the order are open (each freezes the whole order)."""
    return int(
        conn.execute(
            "SELECT COUNT(*) FROM settlement_after_sales WHERE order_id = ? AND resolved_at_us IS NULL", (order_id,)
        ).fetchone()[0]
    )
