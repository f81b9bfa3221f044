"""Recording orders (SPEC §5): read and check them in Rust from the request's bytes, split them
in Rust, and write each new order with its payment and subsidy transfers (rows built in Rust),
in the caller's transaction; `PreviewSplit` is the same path without the writes. Python keeps
the storage, the idempotency and the allowances; there is no Python path for an order.

Invariants: a batch is recorded whole or not at all (a broken rule, a reused order_id with
other content, or a sum that would leave int64 raises before the transaction commits);
an order is recorded exactly once (its order_id again with the same content answers its
split as recorded, and writes nothing); recording moves buyer_funds → escrow what was paid
and each subsidy funder → escrow its part, and adds the order's payouts to
`settlement_pending`; each shop's new-merchant allowance is consumed in request order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import NamedTuple

from xiaodian import _core
from xiaodian.errors import InvalidArgument
from xiaodian.platform.db import Connection, rows_with_ids
from xiaodian.platform.idempotency import check_same_content
from xiaodian.search.catalog import shops_opened_at_s
from xiaodian.settlement import ledger
from xiaodian.settlement.orders import DAY_US, Policy
from xiaodian.settlement.schema import ALLOWANCES, add_pending


def _allowances(
    conn: Connection, shop_ids: Sequence[str], paid_at_us: Callable[[int], int], policy: Policy
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
        opened = {shop_id: opened_at_s * 1_000_000 for shop_id, opened_at_s in shops_opened_at_s(conn, ids).items()}
        none = len(allowances)
        allowances.append(0)
        for k, shop_id in enumerate(shop_ids):
            opened_at_us = opened.get(shop_id)
            if opened_at_us is None or paid_at_us(k) >= opened_at_us + window_us:
                positions[k] = none
    return positions, allowances, shops


#: Most orders in one batch request.
MAX_BATCH = 10_000


class OrderBatch(NamedTuple):
    """The orders of one request, read and checked in Rust (`read_orders`): their encodings
    as sent, ids, shops and payment times (µs), in request order."""

    request_id: str
    orders: list[bytes]
    order_ids: list[str]
    shop_ids: list[str]
    paid_at_us: list[int]
    #: How the request names its orders: "orders" (`orders[i]`) or "order".
    field: str


def read_orders(request: bytes, shape: str, policy: Policy) -> OrderBatch:
    """The orders of an encoded request (`shape`: "orders" for RecordOrders and
    StreamRecordOrders, "order" for RecordOrder, "preview" for PreviewSplit), each checked
    against every rule of SPEC §5 within the money bounds, in Rust (`_core.read_orders`,
    `crates/xiaodian-py/src/wire.rs`, the one place of these rules); `InvalidArgument` names
    every broken rule."""
    bounds = policy.bounds
    read = _core.read_orders(request, shape, MAX_BATCH, bounds.max_line_fen, bounds.max_order_fen)
    return OrderBatch(*read, field="orders" if shape == "orders" else "order")


class Recorded(NamedTuple):
    """What `record_orders` answers: the orders' ids and packed splits (`unpack_split`), in the
    order of the request."""

    order_ids: list[str]
    splits: list[bytes]


def record_orders(conn: Connection, batch: OrderBatch, policy: Policy, preview: bool = False) -> Recorded:
    """Records a checked batch in one go (all or nothing), or only splits it when `preview`.
    An order already recorded with the same content (the same encoding) is answered with its
    split as recorded; with other content it is ALREADY_EXISTS. Splitting and the rows written
    are Rust's (`_core.split_encoded_blobs`, `_core.recording_rows`), from the encodings."""
    encoded, order_ids, shop_ids = batch.orders, batch.order_ids, batch.shop_ids
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
        conn, [shop_ids[i] for i in new], lambda k: batch.paid_at_us[new[k]], policy
    )
    fees = policy.fees
    try:
        blobs, left = _core.split_encoded_blobs(
            [encoded[i] for i in new],
            positions,
            allowances,
            fees.new_merchant_rate_ppm,
            fees.default_rate_ppm,
            fees.rates,
        )
    except InvalidArgument as error:
        # The kernel numbers the new orders only; name them as the request does.
        violations = []
        for f, d in error.violations:
            head, _, rest = f.partition("].")
            i = new[int(head.removeprefix("orders["))]
            violations.append((f"orders[{i}].{rest}" if batch.field == "orders" else f"order.{rest}", d))
        raise InvalidArgument("invalid request: " + "; ".join(f"{f}: {d}" for f, d in violations), violations) from None
    if not preview and new:
        _insert(conn, new, encoded, digests, blobs)
        ledger.add_sums(
            conn,
            ALLOWANCES,
            [(shop_id, allowances[k] - left[k]) for shop_id, k in shops.items() if allowances[k] != left[k]],
        )
    if stored:
        split_of = dict(zip((order_ids[i] for i in new), blobs, strict=True))
        blobs = [split_of[order_id] if order_id in split_of else stored[order_id][1] for order_id in order_ids]
    return Recorded(order_ids, blobs)


def _insert(
    conn: Connection,
    new: Sequence[int],
    encoded: Sequence[bytes],
    digests: Sequence[bytes],
    splits: Sequence[bytes],
) -> None:
    """Inserts the orders at positions `new` (with their encodings and digests, and in that
    order their splits) with their payouts, adds these to the accounts' pending payouts, and
    books the orders' payment and subsidy transfers; the rows are built in Rust
    (`_core.recording_rows`, whose pure-Python definition is `xiaodian.reference.orders`)."""
    rows = _core.recording_rows([encoded[i] for i in new], list(splits), [digests[i] for i in new])
    if rows is None:
        # `read_orders` passed these orders: their ids are ASCII and their sums within int64.
        raise RuntimeError("recording rows could not be built for orders that passed read_orders")
    order_rows, transfers, pending = rows
    conn.executemany(
        "INSERT INTO settlement_orders (order_id, shop_id, content_sha256, paid_at_us, state, guide_id, paid_fen,"
        " order_pb, split_blob, line_refunds_json, payouts_json) VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?)",
        order_rows,
    )
    # The balances first: escrow holds at least every pending payout, so a batch that would
    # take a pending sum out of int64 takes escrow (or buyer_funds) out first, and is named so.
    ledger.post(conn, transfers)
    add_pending(conn, pending)
