"""The plain-Python definition of what the wire layer (`crates/xiaodian-py/src/wire.rs`) does
with orders: the rules an order must keep (`validate_order`, whose violations `_core.read_orders`
must name the same), the split's input (`kernel_order`), the rows recording writes
(`recording_rows`) and the responses it answers (`record_response`).

The service never calls these: it hands the request's bytes to Rust, and there is no Python
path. `tests/settlement/test_order_rules.py` and `test_money_bounds.py` hold the two to the
same answers, field path for field path and row for row.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

from xiaodian.platform.validation import (
    ID_PATTERN,
    TIMESTAMP_MAX_SECONDS,
    TIMESTAMP_MIN_SECONDS,
    TIMESTAMP_RULE,
    Violations,
)
from xiaodian.settlement import ledger
from xiaodian.settlement.orders import (
    BUYER_FUNDS,
    ESCROW,
    FUNDER_NAMES,
    MAX_CHAIN,
    MAX_DISCOUNTS,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_RATIO_PPM,
    MAX_UNIT_PRICE_FEN,
    PARTY_KIND_NAMES,
    FeePolicy,
    MoneyBounds,
    OrderTuple,
    pass_downs,
    payouts,
    split_message,
    split_totals,
    subsidy_accounts,
    unpack_split,
)
from xiaodian.settlement.schema import PAID, payouts_json
from xiaodian.v1 import settlement_service_pb2 as pb


def validate_order(v: Violations, at: str, order: pb.Order, bounds: MoneyBounds) -> None:
    """Every rule of SPEC §5 that can be checked without the split (the split itself refuses
    a discount larger than its lines' payable total and a line whose fee and commissions
    exceed its gmv), with the money bounds: a line whose gross is above
    `bounds.max_line_fen` is named `{at}.lines[i]`, an order whose gross is above
    `bounds.max_order_fen` `{at}.lines`. Field paths are only formatted for a broken rule."""
    ok_id = ID_PATTERN.fullmatch
    if not ok_id(order.order_id):
        v.check_id(f"{at}.order_id", order.order_id)
    if not ok_id(order.shop_id):
        v.check_id(f"{at}.shop_id", order.shop_id)
    if not order.HasField("paid_at"):
        v.add(f"{at}.paid_at", "is required")
    if not 1 <= len(order.lines) <= MAX_LINES:
        v.add(f"{at}.lines", f"must hold 1-{MAX_LINES} lines")
    line_ids: set[str] = set()
    order_gross = 0
    for i, line in enumerate(order.lines):
        if not ok_id(line.line_id):
            v.check_id(f"{at}.lines[{i}].line_id", line.line_id)
        elif line.line_id in line_ids:
            v.add(f"{at}.lines[{i}].line_id", "must be unique within the order")
        line_ids.add(line.line_id)
        if not ok_id(line.product_id):
            v.check_id(f"{at}.lines[{i}].product_id", line.product_id)
        if not ok_id(line.category_id):
            v.check_id(f"{at}.lines[{i}].category_id", line.category_id)
        price_ok = 0 <= line.unit_price_fen <= MAX_UNIT_PRICE_FEN
        if not price_ok:
            v.add(f"{at}.lines[{i}].unit_price_fen", f"must be 0-{MAX_UNIT_PRICE_FEN:,} fen")
        quantity_ok = 1 <= line.quantity <= MAX_QUANTITY
        if not quantity_ok:
            v.add(f"{at}.lines[{i}].quantity", f"must be 1-{MAX_QUANTITY:,}")
        if price_ok and quantity_ok:
            gross = line.unit_price_fen * line.quantity
            if gross > bounds.max_line_fen:
                v.add(
                    f"{at}.lines[{i}]",
                    f"unit_price_fen x quantity is {gross:,} fen; a line's gross must be at most"
                    f" {bounds.max_line_fen:,} fen (max_line_fen)",
                )
            order_gross += gross
    if order_gross > bounds.max_order_fen:
        v.add(
            f"{at}.lines",
            f"the lines' gross adds up to {order_gross:,} fen; an order's must be at most"
            f" {bounds.max_order_fen:,} fen (max_order_fen)",
        )
    if len(order.discounts) > MAX_DISCOUNTS:
        v.add(f"{at}.discounts", f"must hold at most {MAX_DISCOUNTS} discounts")
    discount_ids: set[str] = set()
    has_attribution = order.HasField("attribution")
    attribution = order.attribution
    has_creator = has_attribution and attribution.HasField("creator")
    for d, discount in enumerate(order.discounts):
        if not ok_id(discount.discount_id):
            v.check_id(f"{at}.discounts[{d}].discount_id", discount.discount_id)
        elif discount.discount_id in discount_ids:
            v.add(f"{at}.discounts[{d}].discount_id", "must be unique within the order")
        discount_ids.add(discount.discount_id)
        if discount.funder not in FUNDER_NAMES:
            v.add(f"{at}.discounts[{d}].funder", "must be MERCHANT, CREATOR, PLATFORM or GOVERNMENT")
        elif discount.funder == pb.DISCOUNT_FUNDER_CREATOR and not has_creator:
            v.add(f"{at}.discounts[{d}].funder", "a CREATOR-funded discount needs attribution.creator (its funder)")
        if discount.amount_fen <= 0:
            v.add(f"{at}.discounts[{d}].amount_fen", "must be > 0")
        if len(set(discount.line_ids)) != len(discount.line_ids):
            v.add(f"{at}.discounts[{d}].line_ids", "must not repeat a line")
        for line_id in discount.line_ids:
            if line_id not in line_ids:
                v.add(f"{at}.discounts[{d}].line_ids", f"names no line of the order: {line_id!r}")
    if has_creator:
        if not ok_id(attribution.creator.creator_id):
            v.check_id(f"{at}.attribution.creator.creator_id", attribution.creator.creator_id)
        if attribution.creator.ratio_ppm > MAX_RATIO_PPM:
            v.add(f"{at}.attribution.creator.ratio_ppm", f"must be at most {MAX_RATIO_PPM:,}")
    if has_attribution and attribution.HasField("agency_chain"):
        chain = attribution.agency_chain
        where = f"{at}.attribution.agency_chain"
        if chain.service_ratio_ppm > MAX_RATIO_PPM:
            v.add(f"{where}.service_ratio_ppm", f"must be at most {MAX_RATIO_PPM:,}")
        if not 1 <= len(chain.parties) <= MAX_CHAIN:
            v.add(f"{where}.parties", f"must hold 1-{MAX_CHAIN} parties")
        for p, party in enumerate(chain.parties):
            if party.kind not in PARTY_KIND_NAMES:
                v.add(f"{where}.parties[{p}].kind", "is required")
            if not ok_id(party.party_id):
                v.check_id(f"{where}.parties[{p}].party_id", party.party_id)
            if party.pass_down_ppm > MAX_RATIO_PPM:
                v.add(f"{where}.parties[{p}].pass_down_ppm", f"must be at most {MAX_RATIO_PPM:,}")
        if chain.parties and chain.parties[-1].pass_down_ppm != 0:
            v.add(
                f"{where}.parties[{len(chain.parties) - 1}].pass_down_ppm",
                "must be 0 for the last party (it keeps all it receives)",
            )
    if order.guide_id:
        v.check_id(f"{at}.guide_id", order.guide_id)
    if order.is_gift:
        v.check_id(f"{at}.giver_id", order.giver_id)
    elif order.giver_id:
        v.add(f"{at}.giver_id", "must be empty unless is_gift")
    paid_at = order.paid_at
    if order.HasField("paid_at") and not (
        TIMESTAMP_MIN_SECONDS <= paid_at.seconds <= TIMESTAMP_MAX_SECONDS and 0 <= paid_at.nanos < 10**9
    ):
        v.add(f"{at}.paid_at", TIMESTAMP_RULE)


def kernel_order(order: pb.Order, shop_position: int, fees: FeePolicy) -> OrderTuple:
    """The order as `_core.split_orders` takes it."""
    positions = {line.line_id: i for i, line in enumerate(order.lines)}
    rates = dict(fees.rate_ppm_by_category)
    lines = [
        (line.unit_price_fen, line.quantity, rates.get(line.category_id, fees.default_rate_ppm)) for line in order.lines
    ]
    discounts = [(int(d.funder), d.amount_fen, [positions[i] for i in d.line_ids]) for d in order.discounts]
    attribution = order.attribution
    creator_ppm = attribution.creator.ratio_ppm if attribution.HasField("creator") else 0
    service_ppm = attribution.agency_chain.service_ratio_ppm if attribution.HasField("agency_chain") else 0
    return (shop_position, lines, discounts, (creator_ppm, service_ppm, pass_downs(order)))


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
    definition."""
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


def record_response(order: pb.Order, split_blob: bytes) -> pb.RecordOrderResponse:
    """What recording `order` with its packed split answers for it."""
    return pb.RecordOrderResponse(
        order_id=order.order_id, split=split_message(order, unpack_split(split_blob)), state=pb.ORDER_STATE_PAID
    )


def record_responses(orders: Sequence[pb.Order], splits: Sequence[bytes]) -> pb.RecordOrdersResponse:
    """`record_response` of every recorded order with its packed split."""
    return pb.RecordOrdersResponse(orders=[record_response(o, blob) for o, blob in zip(orders, splits, strict=True)])
