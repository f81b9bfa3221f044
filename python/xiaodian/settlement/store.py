"""Orders and their lifecycle in SQLite (SPEC §5): record → confirm receipt → settle, with
after-sale freezes and refunds, each operation one transaction that also posts its ledger
transfers.

Money flows (all through `escrow`):
- recording: buyer_funds → escrow (what was paid), each subsidy funder → escrow;
- settling: escrow → each party (merchant, platform:fee, creator, chain parties), the amounts
  in the order's `payouts_json` (the split, less what refunds before settlement reversed);
- a refund before settlement: escrow → buyer_funds and → the subsidy funders, and the
  parties' payouts shrink by their reversed parts;
- a refund after settlement (a clawback): each party → escrow its reversed part (balances may
  go negative), then escrow → buyer_funds and → the funders.
Invariant: escrow holds exactly the unsettled payouts of every order; `settlement_pending`
holds their sum per account (what `GetBalance` reports as pending), kept with every write.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from google.protobuf.message import Message

from xiaodian import _core
from xiaodian.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from xiaodian.platform.db import Migration, rows_with_ids
from xiaodian.platform.validation import TIMESTAMP_MAX_SECONDS, Violations
from xiaodian.settlement import ledger
from xiaodian.settlement.orders import (
    BUYER_FUNDS,
    ESCROW,
    FeePolicy,
    LineTuple,
    MoneyBounds,
    ReversalTuple,
    add_party_parts,
    kernel_order,
    pass_downs,
    payouts,
    split_message,
    split_totals,
    subsidy_accounts,
    unpack_split,
    validate_order,
)
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

#: Each account's pending payouts and each shop's new-merchant fee base used: running sums
#: kept in int64 (`ledger.add_sums`).
PENDING = ledger.RunningSums(
    "settlement_pending", "account", "pending_fen", "PENDING_OUT_OF_RANGE", "pending payouts of account"
)
ALLOWANCES = ledger.RunningSums(
    "settlement_allowances", "shop_id", "used_fen", "ALLOWANCE_OUT_OF_RANGE", "new-merchant fee base used by shop"
)

PAID, CONFIRMED, SETTLED, CLOSED = (
    pb.ORDER_STATE_PAID,
    pb.ORDER_STATE_RECEIPT_CONFIRMED,
    pb.ORDER_STATE_SETTLED,
    pb.ORDER_STATE_CLOSED,
)
STATE_NAMES: dict[int, str] = {PAID: "PAID", CONFIRMED: "RECEIPT_CONFIRMED", SETTLED: "SETTLED", CLOSED: "CLOSED"}
DAY_US = 86_400 * 1_000_000
#: The last microsecond a google.protobuf.Timestamp can hold (9999-12-31T23:59:59.999999Z).
MAX_TIMESTAMP_US = (TIMESTAMP_MAX_SECONDS + 1) * 1_000_000 - 1


@dataclass(frozen=True)
class Policy:
    """The settlement configuration: fees, how long after receipt an order settles, and the
    money bounds of an order (`MoneyBounds`). `new_merchant_window_days` > 0 limits the
    new-merchant allowance to shops opened (in the search catalog) within that many days
    before the order was paid."""

    fees: FeePolicy = FeePolicy()
    settle_after_days: int = 7
    new_merchant_window_days: int = 0
    bounds: MoneyBounds = MoneyBounds()


def content_digest(message: Message) -> bytes:
    """The digest of a request's content, its request_id left out (natural-key replays)."""
    copy = type(message)()
    copy.CopyFrom(message)
    if hasattr(copy, "request_id"):
        copy.request_id = ""  # type: ignore[attr-defined]
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).digest()


def check_same_content(stored_digest: bytes, digest: bytes, kind: str, field: str, key: str) -> None:
    """A natural key (order_id, refund_id, after_sale_id) seen before: the same content replays
    the original, other content is ALREADY_EXISTS (reason ORDER_ID_REUSED, ...)."""
    if stored_digest != digest:
        raise AlreadyExists(
            f"{kind} {key!r} was already recorded with different content",
            reason=f"{field.upper()}_REUSED",
            metadata={field: key},
        )


@dataclass
class StoredOrder:
    order: pb.Order
    state: int
    lines: list[LineTuple]
    line_refunds: list[int]
    confirmed_at_us: int | None
    settle_after_us: int | None
    settled_at_us: int | None
    #: What each party receives when the order settles (`payouts_json`).
    payouts: dict[str, int]


def _payouts_json(payouts: dict[str, int]) -> str:
    """The `payouts_json` of an order: `{"merchant:s1":900,"platform:fee":100}`."""
    return json.dumps(payouts, separators=(",", ":"))


def _add_pending(conn: sqlite3.Connection, deltas: Iterable[tuple[str, int]]) -> None:
    """Adds to accounts' pending payouts (`settlement_pending`); zero deltas are skipped. A sum
    that would leave int64 is FAILED_PRECONDITION, PENDING_OUT_OF_RANGE (`ledger.add_sums`)."""
    ledger.add_sums(conn, PENDING, [(account, amount) for account, amount in deltas if amount])


def _load(conn: sqlite3.Connection, order_id: str) -> StoredOrder:
    row = conn.execute(
        "SELECT order_pb, state, split_blob, line_refunds_json, confirmed_at_us, settle_after_us, settled_at_us,"
        " payouts_json FROM settlement_orders WHERE order_id = ?",
        (order_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no order {order_id!r}", reason="ORDER_NOT_FOUND", metadata={"order_id": order_id})
    order_pb, state, split_blob, refunds_json, confirmed, settle_after, settled, payouts_json = row
    lines = unpack_split(split_blob)
    return StoredOrder(
        pb.Order.FromString(order_pb),
        state,
        lines,
        json.loads(refunds_json),
        confirmed,
        settle_after,
        settled,  # type: ignore[arg-type]
        json.loads(payouts_json),
    )


def _wrong_state(order_id: str, state: int, wanted: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"order {order_id!r} is {STATE_NAMES[state]}; {wanted}",
        reason="ORDER_STATE",
        metadata={"order_id": order_id, "state": STATE_NAMES[state]},
    )


# --- recording ---------------------------------------------------------------------------


def _allowances(
    conn: sqlite3.Connection, shop_ids: Sequence[str], paid_at_us: Callable[[int], int], policy: Policy
) -> tuple[list[int], list[int], dict[str, int]]:
    """Each order's position in the allowance list, the allowances (per shop, the new-merchant
    fee base still allowed), and each shop's position; of orders of the shops `shop_ids`, the
    k-th paid at `paid_at_us(k)` (asked only with a new-merchant window)."""
    shops: dict[str, int] = {}
    positions = [shops.setdefault(shop_id, len(shops)) for shop_id in shop_ids]
    cap = policy.fees.new_merchant_cap_fen
    used: dict[str, int] = {}
    ids = list(shops)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        used.update(
            conn.execute(f"SELECT shop_id, used_fen FROM settlement_allowances WHERE shop_id IN ({marks})", chunk)
        )
    allowances = [max(0, cap - used.get(shop_id, 0)) for shop_id in shops]
    if policy.new_merchant_window_days > 0:
        # With a window, only orders of shops opened within it get the allowance: such orders
        # are split against their shop's allowance, the others against an empty one.
        window_us = policy.new_merchant_window_days * DAY_US
        opened = {
            shop_id: row[0] * 1_000_000
            for shop_id in shops
            if (row := conn.execute("SELECT opened_at_s FROM shops WHERE shop_id = ?", (shop_id,)).fetchone())
        }
        none = len(allowances)
        allowances.append(0)
        for k, shop_id in enumerate(shop_ids):
            opened_at_us = opened.get(shop_id)
            if opened_at_us is None or paid_at_us(k) >= opened_at_us + window_us:
                positions[k] = none
    return positions, allowances, shops


class Recorded(NamedTuple):
    """What `record_orders` answers: the orders' ids and packed splits (`unpack_split`), in the
    order of the request."""

    order_ids: list[str]
    splits: list[bytes]


def record_orders(
    conn: sqlite3.Connection,
    orders: Sequence[pb.Order],
    policy: Policy,
    field: str = "orders",
    preview: bool = False,
    encoded: Sequence[bytes] | None = None,
) -> Recorded:
    """Validates and records orders in one go (all or nothing), or only splits them when
    `preview`. An order already recorded with the same content is answered with its split as
    recorded; with other content it is ALREADY_EXISTS. `encoded` holds the orders'
    deterministic encodings when the caller has them (`_core.repeated_field` of the
    request's)."""
    if encoded is None or len(encoded) != len(orders):
        encoded = [o.SerializeToString(deterministic=True) for o in orders]
    elif not isinstance(encoded, list):
        encoded = list(encoded)
    # Most batches are valid: the Rust reader checks the rules on the encodings (and reads the
    # ids there: every read of a protobuf field in Python builds new objects), and only a batch
    # it does not pass goes through `validate_order`, which names every violation.
    bounds = policy.bounds
    keys = _core.valid_order_keys(encoded, bounds.max_line_fen, bounds.max_order_fen)
    fast = keys is not None
    if keys is not None:
        order_ids, shop_ids = keys
    else:
        order_ids, shop_ids = [o.order_id for o in orders], [o.shop_id for o in orders]
    if not fast or len(set(order_ids)) != len(order_ids):
        v = Violations()
        seen: set[str] = set()
        for i, order in enumerate(orders):
            at = f"{field}[{i}]" if field == "orders" else field
            validate_order(v, at, order, bounds)
            if order.order_id in seen:
                v.add(f"{at}.order_id", "must be unique within the batch")
            seen.add(order.order_id)
        v.raise_if_any()
    digests = [hashlib.sha256(e).digest() for e in encoded]
    stored: dict[str, tuple[bytes, bytes]] = {}
    if not preview:
        select = "SELECT order_id, content_sha256, split_blob FROM settlement_orders WHERE order_id IN ({ids})"
        for order_id, digest, split_blob in rows_with_ids(conn, select, order_ids):
            stored[order_id] = (digest, split_blob)
    new = list(range(len(order_ids)))  # positions of the orders not recorded before
    if stored:
        new = [i for i in new if order_ids[i] not in stored]
        for order_id, digest in zip(order_ids, digests, strict=True):
            if order_id in stored:
                check_same_content(stored[order_id][0], digest, "order", "order_id", order_id)
    positions, allowances, shops = _allowances(
        conn, [shop_ids[i] for i in new], lambda k: orders[new[k]].paid_at.ToMicroseconds(), policy
    )
    fees = policy.fees
    try:
        if fast:
            blobs, left = _core.split_encoded_blobs(
                [encoded[i] for i in new],
                positions,
                allowances,
                fees.new_merchant_rate_ppm,
                fees.default_rate_ppm,
                fees.rates,
            )
        else:
            kernel = [kernel_order(orders[i], p, fees) for i, p in zip(new, positions, strict=True)]
            packed, left = _core.split_orders_packed(kernel, allowances, fees.new_merchant_rate_ppm)
            blobs = [blob for blob, _totals in packed]
    except InvalidArgument as error:
        # The kernel numbers the new orders only; name them as the request does.
        violations = []
        for f, d in error.violations:
            head, _, rest = f.partition("].")
            i = new[int(head.removeprefix("orders["))]
            violations.append((f"{field}[{i}].{rest}" if field == "orders" else f"{field}.{rest}", d))
        raise InvalidArgument("invalid request: " + "; ".join(f"{f}: {d}" for f, d in violations), violations) from None
    if not preview and new:
        _insert(conn, orders, new, encoded, digests, blobs)
        ledger.add_sums(
            conn,
            ALLOWANCES,
            [(shop_id, allowances[k] - left[k]) for shop_id, k in shops.items() if allowances[k] != left[k]],
        )
    if stored:
        split_of = dict(zip((order_ids[i] for i in new), blobs, strict=True))
        blobs = [split_of[order_id] if order_id in split_of else stored[order_id][1] for order_id in order_ids]
    return Recorded(order_ids, blobs)


@functools.cache
def _no_refunds(line_count: int) -> str:
    """`line_refunds_json` of an order of `line_count` lines nothing of which is refunded."""
    return json.dumps([0] * line_count)


#: A `settlement_orders` row as recording inserts it: (order_id, shop_id, content_sha256,
#: paid_at_us, state, guide_id ("" for none, stored as NULL), paid_fen, order_pb, split_blob,
#: line_refunds_json, payouts_json). The byte strings are bytearrays and no value is None:
#: sqlite3 binds str, int and bytearray as they are, but sends bytes and None through its
#: adapter lookup first, which took a third of the insert's time.
OrderRow = tuple[str, str, bytearray, int, int, str, int, bytearray, bytearray, str, str]


def recording_rows(
    new: Sequence[tuple[pb.Order, bytes, bytes]], splits: Sequence[bytes]
) -> tuple[list[OrderRow], list[ledger.TransferRow | None], list[tuple[str, int]]]:
    """What recording new orders (each with its encoding and digest) with their packed splits writes:
    their `settlement_orders` rows (with their payouts), their payment and subsidy transfers,
    and what they add to each account's pending payouts (summed, by account, zeros left out).
    `_core.recording_rows` builds the same in Rust from the encoded orders; this is their
    definition, and the path for an order Rust cannot read."""
    order_rows: list[OrderRow] = []
    transfers: list[ledger.TransferRow | None] = []
    pending: dict[str, int] = {}
    movement = ledger.movement
    payment, subsidised = pb.TRANSFER_CODE_PAYMENT, pb.TRANSFER_CODE_SUBSIDY
    for (order, order_pb, digest), blob in zip(new, splits, strict=True):
        totals = split_totals(unpack_split(blob))
        order_id = order.order_id
        paid_at_us = order.paid_at.ToMicroseconds()
        paid, subsidy = totals[0], totals[1]
        owed = payouts(order, totals)
        for account, amount in owed.items():
            pending[account] = pending.get(account, 0) + amount
        order_rows.append(
            (
                order_id,
                order.shop_id,
                bytearray(digest),
                paid_at_us,
                PAID,
                order.guide_id,
                paid,
                bytearray(order_pb),
                bytearray(blob),
                _no_refunds(len(order.lines)),
                _payouts_json(owed),
            )
        )
        transfers.append(movement(f"{order_id}/payment", BUYER_FUNDS, ESCROW, paid, payment, order_id, paid_at_us))
        if any(subsidy):
            for account, amount in zip(subsidy_accounts(order), subsidy, strict=True):
                transfers.append(
                    movement(f"{order_id}/subsidy/{account}", account, ESCROW, amount, subsidised, order_id, paid_at_us)
                )
    return order_rows, transfers, sorted((a, amount) for a, amount in pending.items() if amount)


def _insert(
    conn: sqlite3.Connection,
    orders: Sequence[pb.Order],
    new: Sequence[int],
    encoded: Sequence[bytes],
    digests: Sequence[bytes],
    splits: Sequence[bytes],
) -> None:
    """Inserts the orders at positions `new` (with their encodings and digests, and in that
    order their splits) with their payouts, adds these to the accounts' pending payouts, and
    books the orders' payment and subsidy transfers."""
    rows: tuple[Sequence[OrderRow], Sequence[ledger.TransferRow | None], Sequence[tuple[str, int]]] | None
    rows = _core.recording_rows([encoded[i] for i in new], list(splits), [digests[i] for i in new])
    if rows is None:
        rows = recording_rows([(orders[i], encoded[i], digests[i]) for i in new], splits)
    order_rows, transfers, pending = rows
    conn.executemany(
        "INSERT INTO settlement_orders (order_id, shop_id, content_sha256, paid_at_us, state, guide_id, paid_fen,"
        " order_pb, split_blob, line_refunds_json, payouts_json) VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?)",
        order_rows,
    )
    # The balances first: escrow holds at least every pending payout, so a batch that would
    # take a pending sum out of int64 takes escrow (or buyer_funds) out first, and is named so.
    ledger.post(conn, transfers)
    _add_pending(conn, pending)


def record_response(order: pb.Order, split_blob: bytes) -> pb.RecordOrderResponse:
    return pb.RecordOrderResponse(
        order_id=order.order_id, split=split_message(order, unpack_split(split_blob)), state=PAID
    )


def record_responses(
    orders: Sequence[pb.Order], splits: Sequence[bytes], encoded_orders: Sequence[bytes] | None = None
) -> pb.RecordOrdersResponse:
    """`record_response` of every recorded order with its packed split, built in Rust from the
    encoded orders (`_core.record_responses`; `encoded_orders` when the caller has them); in
    Python if Rust cannot read one of them."""
    if encoded_orders is None or len(encoded_orders) != len(orders):
        encoded_orders = [o.SerializeToString(deterministic=True) for o in orders]
    encoded = _core.record_responses(list(encoded_orders), list(splits))
    if encoded is None:
        return pb.RecordOrdersResponse(
            orders=[record_response(o, blob) for o, blob in zip(orders, splits, strict=True)]
        )
    return pb.RecordOrdersResponse.FromString(encoded)


# --- lifecycle ---------------------------------------------------------------------------


def confirm_receipt(
    conn: sqlite3.Connection, request: pb.ConfirmReceiptRequest, policy: Policy
) -> pb.ConfirmReceiptResponse:
    v = Violations()
    v.check_id("order_id", request.order_id)
    v.check(request.HasField("confirmed_at"), "confirmed_at", "is required")
    v.raise_if_any()
    stored = _load(conn, request.order_id)
    confirmed_at_us = request.confirmed_at.ToMicroseconds()
    if confirmed_at_us < stored.order.paid_at.ToMicroseconds():
        raise InvalidArgument.of("confirmed_at", "must not be before the order's paid_at")
    response = pb.ConfirmReceiptResponse(state=CONFIRMED)
    if stored.confirmed_at_us is not None:
        if stored.confirmed_at_us != confirmed_at_us:
            raise _wrong_state(request.order_id, stored.state, "its receipt was confirmed at another time")
        response.state = stored.state  # type: ignore[assignment]
        response.settle_after.FromMicroseconds(stored.settle_after_us or 0)
        return response
    if stored.state != PAID:
        raise _wrong_state(request.order_id, stored.state, "only a PAID order can be confirmed")
    settle_after_us = confirmed_at_us + policy.settle_after_days * DAY_US
    if settle_after_us > MAX_TIMESTAMP_US:
        raise InvalidArgument.of(
            "confirmed_at",
            f"the order would settle {policy.settle_after_days} days after it, past 9999-12-31 (the last date"
            " a timestamp can hold)",
        )
    conn.execute(
        "UPDATE settlement_orders SET state = ?, confirmed_at_us = ?, settle_after_us = ? WHERE order_id = ?",
        (CONFIRMED, confirmed_at_us, settle_after_us, request.order_id),
    )
    response.settle_after.FromMicroseconds(settle_after_us)
    return response


def _open_cases(conn: sqlite3.Connection, order_id: str) -> int:
    return int(
        conn.execute(
            "SELECT COUNT(*) FROM settlement_after_sales WHERE order_id = ? AND resolved_at_us IS NULL", (order_id,)
        ).fetchone()[0]
    )


def _case(conn: sqlite3.Connection, order_id: str, after_sale_id: str) -> tuple[pb.AfterSale, bool]:
    """The order's after-sale case and whether it is open."""
    row = conn.execute(
        "SELECT after_sale_pb, resolved_at_us FROM settlement_after_sales WHERE after_sale_id = ? AND order_id = ?",
        (after_sale_id, order_id),
    ).fetchone()
    if row is None:
        raise NotFound(
            f"order {order_id!r} has no after-sale case {after_sale_id!r}",
            reason="AFTER_SALE_NOT_FOUND",
            metadata={"order_id": order_id, "after_sale_id": after_sale_id},
        )
    return pb.AfterSale.FromString(row[0]), row[1] is None


def _resolve_case(conn: sqlite3.Connection, case: pb.AfterSale, resolved_at_us: int, refund_id: str) -> None:
    case.resolved_at.FromMicroseconds(resolved_at_us)
    case.refund_id = refund_id
    conn.execute(
        "UPDATE settlement_after_sales SET resolved_at_us = ?, refund_id = ?, after_sale_pb = ?"
        " WHERE after_sale_id = ?",
        (resolved_at_us, refund_id or None, case.SerializeToString(deterministic=True), case.after_sale_id),
    )


def open_after_sale(conn: sqlite3.Connection, request: pb.OpenAfterSaleRequest) -> pb.OpenAfterSaleResponse:
    v = Violations()
    v.check_id("order_id", request.order_id)
    v.check_id("after_sale_id", request.after_sale_id)
    v.check(request.HasField("opened_at"), "opened_at", "is required")
    v.check(len(request.reason) <= 500, "reason", "must be at most 500 characters")
    v.raise_if_any()
    digest = content_digest(request)
    row = conn.execute(
        "SELECT content_sha256 FROM settlement_after_sales WHERE after_sale_id = ?", (request.after_sale_id,)
    ).fetchone()
    if row is not None:
        check_same_content(row[0], digest, "after-sale case", "after_sale_id", request.after_sale_id)
        return pb.OpenAfterSaleResponse(frozen=True)
    stored = _load(conn, request.order_id)
    line_ids = {line.line_id for line in stored.order.lines}
    for line_id in request.line_ids:
        if line_id not in line_ids:
            raise InvalidArgument.of("line_ids", f"names no line of the order: {line_id!r}")
    if stored.state == CLOSED:
        raise _wrong_state(request.order_id, stored.state, "a fully refunded order has no after-sale")
    case = pb.AfterSale(after_sale_id=request.after_sale_id, line_ids=request.line_ids, opened_at=request.opened_at)
    conn.execute(
        "INSERT INTO settlement_after_sales (after_sale_id, order_id, content_sha256, opened_at_us, after_sale_pb)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            request.after_sale_id,
            request.order_id,
            digest,
            request.opened_at.ToMicroseconds(),
            case.SerializeToString(deterministic=True),
        ),
    )
    return pb.OpenAfterSaleResponse(frozen=True)


def close_after_sale(conn: sqlite3.Connection, request: pb.CloseAfterSaleRequest) -> pb.CloseAfterSaleResponse:
    v = Violations()
    v.check_id("order_id", request.order_id)
    v.check_id("after_sale_id", request.after_sale_id)
    v.check(request.HasField("closed_at"), "closed_at", "is required")
    v.raise_if_any()
    case, is_open = _case(conn, request.order_id, request.after_sale_id)
    if not is_open:
        if case.resolved_at == request.closed_at and not case.refund_id:
            return pb.CloseAfterSaleResponse(frozen=_open_cases(conn, request.order_id) > 0)  # the same close again
        raise FailedPrecondition(
            f"after-sale case {request.after_sale_id!r} is already resolved",
            reason="AFTER_SALE_RESOLVED",
            metadata={"after_sale_id": request.after_sale_id},
        )
    _resolve_case(conn, case, request.closed_at.ToMicroseconds(), "")
    return pb.CloseAfterSaleResponse(frozen=_open_cases(conn, request.order_id) > 0)


def _reversals(stored: StoredOrder, refunded: Sequence[int]) -> list[ReversalTuple]:
    """Each line's cumulative reversal once `refunded[i]` of line i is refunded (SPEC §5; a
    paid-0 line reverses when every line is refunded in full)."""
    whole = all(r == line[2] for r, line in zip(refunded, stored.lines, strict=True))
    chain = pass_downs(stored.order)
    return [
        _core.reverse_line((paid, subsidy, fee, creator, kept, merchant), r, whole, chain)
        for r, (_gross, _shares, paid, subsidy, _base, fee, creator, kept, merchant) in zip(
            refunded, stored.lines, strict=True
        )
    ]


def _account_totals(stored: StoredOrder, reversals: Sequence[ReversalTuple]) -> tuple[dict[str, int], dict[str, int]]:
    """(funders' subsidy returned, parties' parts reversed) per account, summed over lines."""
    funders: dict[str, int] = {}
    parties: dict[str, int] = {}
    subsidy_to = subsidy_accounts(stored.order)
    for subsidy, fee, creator_commission, kept, merchant_fen in reversals:
        for account, amount in zip(subsidy_to, subsidy, strict=True):
            if amount:
                funders[account] = funders.get(account, 0) + amount
        add_party_parts(parties, stored.order, fee, creator_commission, kept, merchant_fen)
    return funders, parties


def record_refund(conn: sqlite3.Connection, request: pb.RecordRefundRequest) -> pb.RecordRefundResponse:
    v = Violations()
    v.check_id("order_id", request.order_id)
    v.check_id("refund_id", request.refund_id)
    v.check(request.HasField("refunded_at"), "refunded_at", "is required")
    v.check(len(request.lines) >= 1, "lines", "must name at least one line")
    named: set[str] = set()
    for i, line in enumerate(request.lines):
        v.check(line.line_id not in named, f"lines[{i}].line_id", "must not repeat a line")
        named.add(line.line_id)
        v.check(line.amount_fen > 0, f"lines[{i}].amount_fen", "must be > 0")
    if request.after_sale_id:
        v.check_id("after_sale_id", request.after_sale_id)
    v.raise_if_any()
    digest = content_digest(request)
    row = conn.execute(
        "SELECT content_sha256, response_pb FROM settlement_refunds WHERE refund_id = ?", (request.refund_id,)
    ).fetchone()
    if row is not None:
        check_same_content(row[0], digest, "refund", "refund_id", request.refund_id)
        return pb.RecordRefundResponse.FromString(row[1])
    stored = _load(conn, request.order_id)
    position = {line.line_id: i for i, line in enumerate(stored.order.lines)}
    for i, line in enumerate(request.lines):
        if line.line_id not in position:
            raise InvalidArgument.of(f"lines[{i}].line_id", f"names no line of order {request.order_id!r}")
    if stored.state == CLOSED:
        raise _wrong_state(request.order_id, stored.state, "nothing is left to refund")
    refunded_at_us = request.refunded_at.ToMicroseconds()
    if refunded_at_us < stored.order.paid_at.ToMicroseconds():
        raise InvalidArgument.of("refunded_at", "must not be before the order's paid_at")
    case = None
    if request.after_sale_id:
        case, is_open = _case(conn, request.order_id, request.after_sale_id)
        if not is_open:
            raise FailedPrecondition(
                f"after-sale case {request.after_sale_id!r} is already resolved",
                reason="AFTER_SALE_RESOLVED",
                metadata={"after_sale_id": request.after_sale_id},
            )
    refunded = list(stored.line_refunds)
    for i, line in enumerate(request.lines):
        p = position[line.line_id]
        refundable = stored.lines[p][2] - refunded[p]
        if line.amount_fen > refundable:
            raise FailedPrecondition(
                f"lines[{i}]: {line.amount_fen} fen is more than the {refundable} fen"
                f" still refundable on line {line.line_id!r}",
                reason="REFUND_EXCEEDS_REFUNDABLE",
                metadata={"line_id": line.line_id, "refundable_fen": str(refundable)},
            )
        refunded[p] += line.amount_fen
    before_funders, before_parties = _account_totals(stored, _reversals(stored, stored.line_refunds))
    after_funders, after_parties = _account_totals(stored, _reversals(stored, refunded))
    returned = {a: after_funders.get(a, 0) - before_funders.get(a, 0) for a in after_funders}
    taken = {a: after_parties.get(a, 0) - before_parties.get(a, 0) for a in {*after_parties, *before_parties}}
    buyer = sum(line.amount_fen for line in request.lines)
    order_id, refund_id = request.order_id, request.refund_id
    settled = stored.state == SETTLED
    code = pb.TRANSFER_CODE_CLAWBACK if settled else pb.TRANSFER_CODE_REFUND
    transfers = [
        ledger.movement(
            f"{order_id}/refund/{refund_id}/{BUYER_FUNDS}",
            ESCROW,
            BUYER_FUNDS,
            buyer,
            code,
            order_id,
            refunded_at_us,
            refund_id,
        )
    ]
    transfers += [
        ledger.movement(
            f"{order_id}/refund/{refund_id}/{account}",
            ESCROW,
            account,
            amount,
            code,
            order_id,
            refunded_at_us,
            refund_id,
        )
        for account, amount in sorted(returned.items())
    ]
    if settled:
        transfers += [
            ledger.movement(
                f"{order_id}/clawback/{refund_id}/{account}",
                account,
                ESCROW,
                amount,
                code,
                order_id,
                refunded_at_us,
                refund_id,
            )
            for account, amount in sorted(taken.items())
        ]
    ledger.post(conn, transfers)
    fully = all(r == line[2] for r, line in zip(refunded, stored.lines, strict=True))
    state = CLOSED if fully and not settled else stored.state
    remaining = dict(stored.payouts)
    if not settled:
        # The parties' payouts shrink by their reversed parts, and so does what is pending for
        # them; a CLOSED order has nothing pending any more (what remains is nothing, as every
        # line is reversed whole, but it is left out all the same).
        reversed_parts = [(a, amount) for a, amount in taken.items() if amount and a in remaining]
        for account, amount in reversed_parts:
            remaining[account] -= amount
        _add_pending(conn, [(a, -amount) for a, amount in reversed_parts])
        if state == CLOSED:
            _add_pending(conn, [(a, -amount) for a, amount in remaining.items()])
    conn.execute(
        "UPDATE settlement_orders SET line_refunds_json = ?, refunded_fen = refunded_fen + ?, state = ?,"
        " payouts_json = ? WHERE order_id = ?",
        (json.dumps(refunded), buyer, state, _payouts_json(remaining), order_id),
    )
    if case is not None:
        _resolve_case(conn, case, refunded_at_us, refund_id)
    response = pb.RecordRefundResponse(refund_id=refund_id, refunded_fen=buyer, state=state)  # type: ignore[arg-type]
    for account, amount in sorted(taken.items()):
        if amount:
            response.reversals.add(account=account, amount_fen=amount)
    stored_refund = pb.Refund(
        refund_id=refund_id, lines=request.lines, refunded_at=request.refunded_at, after_settlement=settled
    )
    conn.execute(
        "INSERT INTO settlement_refunds (refund_id, order_id, content_sha256, refunded_at_us, refund_pb, response_pb)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            refund_id,
            order_id,
            digest,
            refunded_at_us,
            stored_refund.SerializeToString(deterministic=True),
            response.SerializeToString(deterministic=True),
        ),
    )
    return response


def run_settlement(conn: sqlite3.Connection, as_of_us: int) -> pb.RunSettlementResponse:
    """Settles every confirmed order due at `as_of` without an open after-sale case."""
    response = pb.RunSettlementResponse()
    due = conn.execute(
        "SELECT o.order_id, o.payouts_json, EXISTS (SELECT 1 FROM settlement_after_sales a"
        " WHERE a.order_id = o.order_id AND a.resolved_at_us IS NULL) FROM settlement_orders o"
        " WHERE o.state = ? AND o.settle_after_us <= ? ORDER BY o.settle_after_us, o.order_id",
        (CONFIRMED, as_of_us),
    ).fetchall()
    settled = []
    transfers: list[ledger.Transfer | None] = []
    paid_out: dict[str, int] = {}
    settled_fen: list[int] = []
    for order_id, payouts_json, frozen in due:
        if frozen:
            response.frozen_count += 1
            continue
        settled.append(order_id)
        for account, amount in sorted(json.loads(payouts_json).items()):
            paid_out[account] = paid_out.get(account, 0) + amount
            transfers.append(
                ledger.movement(
                    f"{order_id}/settlement/{account}",
                    ESCROW,
                    account,
                    amount,
                    pb.TRANSFER_CODE_SETTLEMENT,
                    order_id,
                    as_of_us,
                )
            )
            settled_fen.append(amount)
    # Never out of int64 while the balances are not (it is what leaves escrow), but checked.
    response.settled_fen = ledger.checked_total(settled_fen, "settled amount of the run")
    conn.executemany(
        "UPDATE settlement_orders SET state = ?, settled_at_us = ? WHERE order_id = ?",
        [(SETTLED, as_of_us, order_id) for order_id in settled],
    )
    ledger.post(conn, transfers)
    _add_pending(conn, [(account, -amount) for account, amount in sorted(paid_out.items())])
    response.settled_count = len(settled)
    return response


# --- reads -------------------------------------------------------------------------------


def get_order(conn: sqlite3.Connection, order_id: str) -> pb.GetOrderResponse:
    stored = _load(conn, order_id)
    response = pb.GetOrderResponse(
        order=stored.order,
        state=stored.state,  # type: ignore[arg-type]
        frozen=_open_cases(conn, order_id) > 0,
        split=split_message(stored.order, stored.lines),
    )
    for (refund_pb,) in conn.execute(
        "SELECT refund_pb FROM settlement_refunds WHERE order_id = ? ORDER BY refunded_at_us, rowid", (order_id,)
    ):
        response.refunds.append(pb.Refund.FromString(refund_pb))
    for (case_pb,) in conn.execute(
        "SELECT after_sale_pb FROM settlement_after_sales WHERE order_id = ? ORDER BY opened_at_us, rowid", (order_id,)
    ):
        response.after_sales.append(pb.AfterSale.FromString(case_pb))
    for field, value in (
        ("confirmed_at", stored.confirmed_at_us),
        ("settle_after", stored.settle_after_us),
        ("settled_at", stored.settled_at_us),
    ):
        if value is not None:
            getattr(response, field).FromMicroseconds(value)
    return response


def pending_fen(conn: sqlite3.Connection, account: str) -> int:
    """What the account receives when its recorded, unsettled (PAID or RECEIPT_CONFIRMED)
    orders settle."""
    row = conn.execute("SELECT pending_fen FROM settlement_pending WHERE account = ?", (account,)).fetchone()
    return int(row[0]) if row else 0


def guide_performance(
    conn: sqlite3.Connection, guide_id: str, start_us: int | None, end_us: int | None
) -> pb.GetGuidePerformanceResponse:
    """The guide's orders paid in [start, end). SQLite's SUM fails on an integer overflow
    rather than turning into a float: sums that would leave int64 are FAILED_PRECONDITION,
    SUM_OUT_OF_RANGE (a narrower time range answers)."""
    try:
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(paid_fen), 0), COALESCE(SUM(refunded_fen), 0),"
            " COALESCE(SUM(state = ?), 0) FROM settlement_orders"
            " WHERE guide_id = ? AND paid_at_us >= ? AND paid_at_us < ?",
            (
                SETTLED,
                guide_id,
                start_us if start_us is not None else -(2**63),
                end_us if end_us is not None else 2**63 - 1,
            ),
        ).fetchone()
    except sqlite3.OperationalError as error:
        if "integer overflow" not in str(error):
            raise
        raise FailedPrecondition(
            f"the amounts of guide {guide_id!r}'s orders in the time range add up to more than the range"
            f" amounts are kept in ({ledger.INT64_MAX:,} fen); ask for a narrower time range",
            reason="SUM_OUT_OF_RANGE",
            metadata={"guide_id": guide_id},
        ) from None
    return pb.GetGuidePerformanceResponse(
        guide_id=guide_id, order_count=row[0], paid_fen=row[1], refunded_fen=row[2], settled_order_count=row[3]
    )


def orders_awaiting_settlement(conn: sqlite3.Connection) -> int:
    """Orders recorded and not yet settled or closed (PAID or RECEIPT_CONFIRMED): a metric."""
    row = conn.execute("SELECT COUNT(*) FROM settlement_orders WHERE state IN (?, ?)", (PAID, CONFIRMED)).fetchone()
    return int(row[0])
