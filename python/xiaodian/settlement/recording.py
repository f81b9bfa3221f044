"""Recording orders (SPEC §5): validate, split in Rust, and write each new order with its
payment and subsidy transfers, in the caller's transaction; `PreviewSplit` is the same path
without the writes.

Invariants: a batch is recorded whole or not at all (a broken rule, a reused order_id with
other content, or a sum that would leave int64 raises before the transaction commits);
an order is recorded exactly once (its order_id again with the same content answers its
split as recorded, and writes nothing); recording moves buyer_funds → escrow what was paid
and each subsidy funder → escrow its part, and adds the order's payouts to
`settlement_pending`; each shop's new-merchant allowance is consumed in request order.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import NamedTuple

from xiaodian import _core
from xiaodian.errors import InvalidArgument
from xiaodian.platform.db import rows_with_ids
from xiaodian.platform.idempotency import check_same_content
from xiaodian.platform.validation import Violations
from xiaodian.search.catalog import shops_opened_at_s
from xiaodian.settlement import ledger
from xiaodian.settlement.orders import (
    BUYER_FUNDS,
    DAY_US,
    ESCROW,
    Policy,
    kernel_order,
    payouts,
    split_totals,
    subsidy_accounts,
    unpack_split,
    validate_order,
)
from xiaodian.settlement.schema import ALLOWANCES, PAID, add_pending, payouts_json
from xiaodian.v1 import settlement_service_pb2 as pb


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
        opened = {shop_id: opened_at_s * 1_000_000 for shop_id, opened_at_s in shops_opened_at_s(conn, ids).items()}
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
                payouts_json(owed),
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
    add_pending(conn, pending)
