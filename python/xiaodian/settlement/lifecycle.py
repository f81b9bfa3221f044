"""An order's life after recording (SPEC §5): confirm receipt → settle, with after-sale
cases that freeze it and refunds, before or after settlement. Each function runs in the
caller's transaction (one per request) and posts its ledger transfers there.

Money flows (all through `escrow`):
- settling: escrow → each party (merchant, platform:fee, creator, chain parties), the amounts
  in the order's `payouts_json` (the split, less what refunds before settlement reversed);
- a refund before settlement: escrow → buyer_funds and → the subsidy funders, and the
  parties' payouts shrink by their reversed parts;
- a refund after settlement (a clawback): each party → escrow its reversed part (balances may
  go negative), then escrow → buyer_funds and → the funders.
Invariants: escrow holds exactly the unsettled payouts of every order; `settlement_pending`
and the creators' settled GMV (`gmv`) change in the same transaction as the order; a refund
or after-sale case happens once per id (the same content again answers as the first time,
other content is ALREADY_EXISTS); reversals are cumulative, so a line refunded in full nets
every party to zero.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

from xiaodian import _core
from xiaodian.errors import FailedPrecondition, InvalidArgument, NotFound
from xiaodian.platform.db import Connection
from xiaodian.platform.idempotency import check_same_content, content_digest
from xiaodian.platform.validation import TIMESTAMP_MAX_SECONDS, Violations
from xiaodian.settlement import gmv, ledger
from xiaodian.settlement.orders import (
    BUYER_FUNDS,
    DAY_US,
    ESCROW,
    Policy,
    ReversalTuple,
    add_party_parts,
    pass_downs,
    subsidy_accounts,
)
from xiaodian.settlement.schema import (
    CLOSED,
    CONFIRMED,
    PAID,
    SETTLED,
    STATE_NAMES,
    StoredOrder,
    add_pending,
    load_order,
    open_cases,
    payouts_json,
)
from xiaodian.v1 import settlement_service_pb2 as pb

#: The last microsecond a google.protobuf.Timestamp can hold (9999-12-31T23:59:59.999999Z).
MAX_TIMESTAMP_US = (TIMESTAMP_MAX_SECONDS + 1) * 1_000_000 - 1


class Receipt(NamedTuple):
    """A confirmed receipt: the order's state and when it settles (µs since the epoch)."""

    state: pb.OrderState
    settle_after_us: int


class Refunded(NamedTuple):
    """A recorded refund: the fen returned to the buyer, the order's state after it, and each
    account's part taken back by it (nonzero, by account name)."""

    refund_id: str
    refunded_fen: int
    state: pb.OrderState
    reversals: list[tuple[str, int]]


class SettlementRun(NamedTuple):
    """A settlement run: orders settled, due orders left frozen by an after-sale case, and the
    fen paid out of escrow (in int64)."""

    settled_count: int
    frozen_count: int
    settled_fen: int


def _stored_refunded(refund: Refunded) -> bytes:
    """A refund's outcome as `settlement_refunds.response_pb` keeps it (a RecordRefundResponse:
    the column's format since it was made)."""
    message = pb.RecordRefundResponse(
        refund_id=refund.refund_id,
        refunded_fen=refund.refunded_fen,
        state=refund.state,
        reversals=[pb.PartyReversal(account=a, amount_fen=amount) for a, amount in refund.reversals],
    )
    return message.SerializeToString(deterministic=True)


def _refunded_of(response_pb: bytes) -> Refunded:
    message = pb.RecordRefundResponse.FromString(response_pb)
    reversals = [(r.account, r.amount_fen) for r in message.reversals]
    return Refunded(message.refund_id, message.refunded_fen, message.state, reversals)


def _wrong_state(order_id: str, state: pb.OrderState, wanted: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"order {order_id!r} is {STATE_NAMES[state]}; {wanted}",
        reason="ORDER_STATE",
        metadata={"order_id": order_id, "state": STATE_NAMES[state]},
    )


def confirm_receipt(conn: Connection, request: pb.ConfirmReceiptRequest, policy: Policy) -> Receipt:
    """Confirms the order's receipt: RECEIPT_CONFIRMED, to settle `policy.settle_after_days`
    later. The same confirmation again answers as the first did; another time is
    FAILED_PRECONDITION."""
    v = Violations()
    v.check_id("order_id", request.order_id)
    v.check(request.HasField("confirmed_at"), "confirmed_at", "is required")
    v.raise_if_any()
    stored = load_order(conn, request.order_id)
    confirmed_at_us = request.confirmed_at.ToMicroseconds()
    if confirmed_at_us < stored.order.paid_at.ToMicroseconds():
        raise InvalidArgument.of("confirmed_at", "must not be before the order's paid_at")
    if stored.confirmed_at_us is not None:
        if stored.confirmed_at_us != confirmed_at_us:
            raise _wrong_state(request.order_id, stored.state, "its receipt was confirmed at another time")
        return Receipt(stored.state, stored.settle_after_us or 0)
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
    return Receipt(CONFIRMED, settle_after_us)


def _case(conn: Connection, order_id: str, after_sale_id: str) -> tuple[pb.AfterSale, bool]:
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


def _resolve_case(conn: Connection, case: pb.AfterSale, resolved_at_us: int, refund_id: str) -> None:
    case.resolved_at.FromMicroseconds(resolved_at_us)
    case.refund_id = refund_id
    conn.execute(
        "UPDATE settlement_after_sales SET resolved_at_us = ?, refund_id = ?, after_sale_pb = ?"
        " WHERE after_sale_id = ?",
        (resolved_at_us, refund_id or None, case.SerializeToString(deterministic=True), case.after_sale_id),
    )


def open_after_sale(conn: Connection, request: pb.OpenAfterSaleRequest) -> bool:
    """Opens an after-sale case on lines of the order, which freezes the whole order until the
    case is resolved (`record_refund` naming it, or `close_after_sale`); answers whether the
    order is frozen (always). The same case again is answered alike."""
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
        return True
    stored = load_order(conn, request.order_id)
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
    return True


def close_after_sale(conn: Connection, request: pb.CloseAfterSaleRequest) -> bool:
    """Closes an open after-sale case without a refund; answers whether the order is still
    frozen (by another open case). Closing it again at the same time is answered alike."""
    v = Violations()
    v.check_id("order_id", request.order_id)
    v.check_id("after_sale_id", request.after_sale_id)
    v.check(request.HasField("closed_at"), "closed_at", "is required")
    v.raise_if_any()
    case, is_open = _case(conn, request.order_id, request.after_sale_id)
    if not is_open:
        if case.resolved_at == request.closed_at and not case.refund_id:
            return open_cases(conn, request.order_id) > 0  # the same close again
        raise FailedPrecondition(
            f"after-sale case {request.after_sale_id!r} is already resolved",
            reason="AFTER_SALE_RESOLVED",
            metadata={"after_sale_id": request.after_sale_id},
        )
    _resolve_case(conn, case, request.closed_at.ToMicroseconds(), "")
    return open_cases(conn, request.order_id) > 0


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


def record_refund(conn: Connection, request: pb.RecordRefundRequest) -> Refunded:
    """Refunds amounts of lines of the order (each at most what is still refundable on its
    line), exactly once per refund_id (the same refund again answers as the first did).
    Before settlement the escrowed payouts shrink (and the order is CLOSED once every line is
    refunded in full); after it the parties' reversed parts are clawed back into escrow, and
    the creators' settled GMV (`gmv`) loses what was refunded. An after-sale case it names is
    resolved."""
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
        return _refunded_of(row[1])
    stored = load_order(conn, request.order_id)
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
        add_pending(conn, [(a, -amount) for a, amount in reversed_parts])
        if state == CLOSED:
            add_pending(conn, [(a, -amount) for a, amount in remaining.items()])
    conn.execute(
        "UPDATE settlement_orders SET line_refunds_json = ?, refunded_fen = refunded_fen + ?, state = ?,"
        " payouts_json = ? WHERE order_id = ?",
        (json.dumps(refunded), buyer, state, payouts_json(remaining), order_id),
    )
    if settled:
        gmv.refunded_after_settlement(conn, order_id, buyer)
    if case is not None:
        _resolve_case(conn, case, refunded_at_us, refund_id)
    refund = Refunded(refund_id, buyer, state, [(a, amount) for a, amount in sorted(taken.items()) if amount])
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
            _stored_refunded(refund),
        ),
    )
    return refund


def run_settlement(conn: Connection, as_of_us: int) -> SettlementRun:
    """Settles every confirmed order due at `as_of` without an open after-sale case: pays each
    party its payouts out of escrow, and credits the orders' creators with their settled GMV
    (`gmv.record_settled`), in the caller's transaction. Idempotent: a settled order is never
    due again."""
    frozen_count = 0
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
    for order_id, payouts_text, frozen in due:
        if frozen:
            frozen_count += 1
            continue
        settled.append(order_id)
        for account, amount in sorted(json.loads(payouts_text).items()):
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
    settled_total = ledger.checked_total(settled_fen, "settled amount of the run")
    conn.executemany(
        "UPDATE settlement_orders SET state = ?, settled_at_us = ? WHERE order_id = ?",
        [(SETTLED, as_of_us, order_id) for order_id in settled],
    )
    ledger.post(conn, transfers)
    add_pending(conn, [(account, -amount) for account, amount in sorted(paid_out.items())])
    gmv.record_settled(conn, settled)
    return SettlementRun(len(settled), frozen_count, settled_total)
