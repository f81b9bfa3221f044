"""The executable specification of the commission split and refund reversal (SPEC §5), in plain
integer Python.

It mirrors `crates/xiaodian-core/src/settle/mod.rs` rule for rule, with the tuple shapes of the bindings
`xiaodian._core.split_orders` and `xiaodian._core.reverse_line`, and the same refusals: an
`InvalidArgument` with the same field paths, descriptions and message, checked in the same
order. `tests/settlement/test_split_reference.py` holds the two to that.

Invariants, per line: `paid + Σ subsidy = merchant + fee + creator_commission + Σ chain_kept`,
every amount >= 0; a discount's shares add up to its amount; every rounded amount is within half
a fen of its exact value (a discount share within one fen); a reversal stays within
[0, share] for every party, balances the same way with `refunded` for `paid`, and at
`refunded == paid` equals the split.

Only integers: `round_half_up(a / b) = (2a + b) div 2b`. An amount beyond 64 bits is refused
(`InvalidArgument` without violations, as the kernel's overflow errors). Inputs are taken within
the binding's types (ppm values and positions >= 0: the binding raises `OverflowError` for
others). Three inputs the kernel accepts are refused here; the service never sends them (its
validation and its fee-rate cap of 100 % keep them out): a negative unit price or quantity, a
discount naming a line twice, and fee plus commissions beyond 64 bits (the kernel's sum wraps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from xiaodian.errors import InvalidArgument

#: Parts per million in one whole.
PPM: Final = 1_000_000
#: Largest accepted commission or pass-down ratio: 90 %.
MAX_RATIO_PPM: Final = 900_000
#: `DiscountFunder` numbers; the funders other than the merchant subsidise the merchant.
FUNDERS: Final = {1: "MERCHANT", 2: "CREATOR", 3: "PLATFORM", 4: "GOVERNMENT"}
#: Where each subsidising funder's part goes in a line's `[creator, platform, government]`.
SUBSIDY_SLOT: Final = {2: 0, 3: 1, 4: 2}
_INT64_MAX: Final = 2**63 - 1

#: (unit_price_fen, quantity, category_fee_ppm).
Line = tuple[int, int, int]
#: (funder 1-4, amount_fen, line positions; empty = every line).
Discount = tuple[int, int, Sequence[int]]
#: (creator_ppm, service_ppm, each chain party's pass_down_ppm, head first).
Terms = tuple[int, int, Sequence[int]]
#: (shop position in the allowances, lines, discounts, terms).
Order = tuple[int, Sequence[Line], Sequence[Discount], Terms]
#: (gross, discount shares in discount order, paid, [creator, platform, government] subsidy,
#: new_merchant_base, fee, creator_commission, chain_kept, merchant).
LineSplit = tuple[int, list[int], int, list[int], int, int, int, list[int], int]
#: What `reverse_line` reads of a split: (paid, subsidy, fee, creator_commission, chain_kept, merchant).
SplitParts = tuple[int, Sequence[int], int, int, Sequence[int], int]
#: What was reversed in total: (subsidy, fee, creator_commission, chain_kept, merchant).
Reversal = tuple[list[int], int, int, list[int], int]


def _refused(violations: Sequence[tuple[str, str]]) -> InvalidArgument:
    """The kernel's `InvalidArgument`: message `invalid argument: field: rule; ...`."""
    return InvalidArgument("invalid argument: " + "; ".join(f"{f}: {d}" for f, d in violations), violations)


def _under(error: InvalidArgument, prefix: str) -> InvalidArgument:
    """`error` with `prefix` put before each field path (overflow errors have none)."""
    if not error.violations:
        return error
    return _refused([(prefix + v.field, v.description) for v in error.violations])


def _as_field(error: InvalidArgument, field: str) -> InvalidArgument:
    """`error` with each violation's field path replaced by `field`."""
    if not error.violations:
        return error
    return _refused([(field, v.description) for v in error.violations])


def _int64(amount: int, what: str) -> int:
    if not -_INT64_MAX - 1 <= amount <= _INT64_MAX:
        raise InvalidArgument(f"arithmetic overflow: {what}")
    return amount


def round_half_up(a: int, b: int) -> int:
    """`a / b` rounded half up to an integer, for `a >= 0`, `b > 0`: `(2a + b) div 2b`."""
    if a < 0 or b <= 0:
        raise ValueError(f"round_half_up needs a >= 0 and b > 0, not {a} / {b}")
    return _int64((2 * a + b) // (2 * b), "rounded amount")


def apply_ppm(amount_fen: int, ratio_ppm: int) -> int:
    """`amount × ratio_ppm / 1,000,000`, rounded half up to the fen."""
    return round_half_up(amount_fen * ratio_ppm, PPM)


def apportion(amount_fen: int, weights: Sequence[int]) -> list[int]:
    """Splits `amount_fen` over `weights` (W their sum) by the largest-remainder method.

    Share i is ⌊amount·wᵢ/W⌋; the leftover fen go one each to the largest remainders
    (amount·wᵢ mod W), ties to the larger weight, then to the earlier position. The shares add up
    to `amount_fen`, each within one fen of amount·wᵢ/W and at most wᵢ. Refused (field
    `amount_fen`) when `amount_fen` exceeds W or anything is negative; an amount of 0 gives zeros.
    """
    total = sum(weights)
    if amount_fen < 0 or any(w < 0 for w in weights):
        raise _refused([("amount_fen", "amounts and weights must be >= 0")])
    if amount_fen > total:
        raise _refused([("amount_fen", f"{amount_fen} fen is more than the {total} fen it applies to")])
    if amount_fen == 0:
        return [0] * len(weights)
    shares = [amount_fen * w // total for w in weights]
    remainders = [amount_fen * w % total for w in weights]
    by_claim = sorted(range(len(weights)), key=lambda i: (-remainders[i], -weights[i], i))
    for i in by_claim[: amount_fen - sum(shares)]:
        shares[i] += 1
    return shares


def apply_discounts(gross_fen: Sequence[int], discounts: Sequence[Discount]) -> list[list[int]]:
    """What each discount takes off each line (`[d][line]`, 0 where it does not apply): the
    discounts in order, each apportioned over its lines' payable amounts at that point (gross
    minus the discounts before it). Refused: `discounts[d].line_ids` naming no line (or a line
    twice), `discounts[d].amount_fen` more than its lines' payable total."""
    payable = list(gross_fen)
    per_discount = []
    for d, (_funder, amount_fen, positions) in enumerate(discounts):
        lines = list(positions) or list(range(len(gross_fen)))
        bad = next((line for line in lines if not 0 <= line < len(gross_fen)), None)
        if bad is not None:
            raise _refused([(f"discounts[{d}].line_ids", f"no line {bad}")])
        if len(set(lines)) != len(lines):
            raise _refused([(f"discounts[{d}].line_ids", "must not repeat a line")])
        try:
            shares = apportion(amount_fen, [payable[line] for line in lines])
        except InvalidArgument as error:
            raise _under(error, f"discounts[{d}].") from None
        row = [0] * len(gross_fen)
        for line, share in zip(lines, shares, strict=True):
            row[line] = share
            payable[line] -= share
        per_discount.append(row)
    return per_discount


def chain_kept(head_fen: int, pass_downs_ppm: Sequence[int]) -> list[int]:
    """What each chain party keeps, head first, when the head receives `head_fen`: each passes
    `round_half_up(received × pass_down_ppm / 1,000,000)` to the next and the last keeps all it
    receives (its own pass-down is ignored). They add up to `head_fen`."""
    kept = []
    received = head_fen
    for i, pass_down_ppm in enumerate(pass_downs_ppm):
        passed = 0 if i == len(pass_downs_ppm) - 1 else apply_ppm(received, pass_down_ppm)
        kept.append(received - passed)
        received = passed
    return kept


def line_fee(gmv_fen: int, allowance_fen: int, new_merchant_ppm: int, category_ppm: int) -> tuple[int, int, int]:
    """The platform fee of a line: `(fee, low, allowance_left)`. `low`, the part of the gmv
    still under the shop's new-merchant allowance (never below 0), is charged `new_merchant_ppm`,
    the rest `category_ppm`; `fee = round_half_up((low × new + (gmv − low) × category) / 10⁶)`."""
    low = max(min(gmv_fen, allowance_fen), 0)
    fee = round_half_up(low * new_merchant_ppm + (gmv_fen - low) * category_ppm, PPM)
    return fee, low, allowance_fen - low


def split_line(paid_fen: int, subsidy_fen: Sequence[int], fee_fen: int, terms: Terms) -> tuple[int, list[int], int]:
    """One line's `(creator_commission, chain_kept, merchant)` on `paid_fen` after discounts:
    the creator commission and the chain head's agency service fee are `paid × ratio` (no chain,
    no agency fee), and the merchant keeps `gmv − fee − creator − head` (gmv = paid + subsidy).
    Refused: a ratio above 90 % (field `ratio_ppm`), fee and commissions above the gmv
    (field `lines`)."""
    creator_ppm, service_ppm, pass_downs_ppm = terms
    if any(ratio > MAX_RATIO_PPM for ratio in (creator_ppm, service_ppm, *pass_downs_ppm)):
        raise _refused([("ratio_ppm", f"every ratio must be at most {MAX_RATIO_PPM} ppm")])
    creator_commission = apply_ppm(paid_fen, creator_ppm)
    head = apply_ppm(paid_fen, service_ppm) if pass_downs_ppm else 0
    kept = chain_kept(head, pass_downs_ppm)
    gmv = _int64(paid_fen + sum(subsidy_fen), "gmv")
    taken = _int64(fee_fen + creator_commission + head, "fee and commissions")
    if taken > gmv:
        raise _refused([("lines", f"fee and commissions ({taken} fen) exceed the line's gmv ({gmv} fen)")])
    return creator_commission, kept, gmv - taken


def split_order(
    lines: Sequence[Line], discounts: Sequence[Discount], terms: Terms, allowance_fen: int, new_merchant_ppm: int
) -> tuple[list[LineSplit], int]:
    """Splits every line of one order: `(splits, allowance_left)`. Discounts first (see
    `apply_discounts`), then line by line in line order: paid = gross − its discounts, the
    subsidies by funder, the fee consuming the allowance, the commissions. Refused lines are
    named `lines[i]`; an order whose sums (paid, each subsidy, fee, commissions, merchant, each
    chain party's kept) do not fit in int64 is refused as an overflow."""
    gross = []
    for i, (unit_price_fen, quantity, _category_ppm) in enumerate(lines):
        if unit_price_fen < 0 or quantity < 0:
            raise _refused([(f"lines[{i}]", "unit_price_fen and quantity must be >= 0")])
        gross.append(_int64(unit_price_fen * quantity, "gross"))
    per_discount = apply_discounts(gross, discounts)
    splits: list[LineSplit] = []
    totals: list[int] = []  # the order's paid, subsidies, fee, creator, merchant, chain kept
    for i, (_price, _quantity, category_ppm) in enumerate(lines):
        shares = [row[i] for row in per_discount]
        subsidy = [0, 0, 0]
        for (funder, _amount, _lines), share in zip(discounts, shares, strict=True):
            if funder in SUBSIDY_SLOT:
                subsidy[SUBSIDY_SLOT[funder]] += share
        paid = gross[i] - sum(shares)
        fee, low, allowance_fen = line_fee(paid + sum(subsidy), allowance_fen, new_merchant_ppm, category_ppm)
        try:
            creator_commission, kept, merchant = split_line(paid, subsidy, fee, terms)
        except InvalidArgument as error:
            raise _as_field(error, f"lines[{i}]") from None
        splits.append((gross[i], shares, paid, subsidy, low, fee, creator_commission, kept, merchant))
        parts = [paid, *subsidy, fee, creator_commission, merchant, *kept]
        totals = [_int64(t + p, "order totals") for t, p in zip(totals or [0] * len(parts), parts, strict=True)]
    return splits, allowance_fen


def split_orders(
    orders: Sequence[Order], allowances: Sequence[int], new_merchant_ppm: int
) -> tuple[list[list[LineSplit]], list[int]]:
    """`xiaodian._core.split_orders`: splits a batch of orders in order, each consuming its
    shop's new-merchant allowance (`allowances[shop]`, fee base still at `new_merchant_ppm`) as
    if recorded one by one; returns the splits and the allowances left (a new list).

    All or nothing: every discount's funder is checked first (`orders[i].discounts[d].funder`),
    then the orders in turn; the first refused order raises `InvalidArgument` with its paths
    under `orders[i].`, and nothing is returned or consumed."""
    for i, (_shop, _lines, discounts, _terms) in enumerate(orders):
        for d, (funder, _amount, _positions) in enumerate(discounts):
            if funder not in FUNDERS:
                field = f"orders[{i}].discounts[{d}].funder"
                raise _refused([(field, "must be MERCHANT, CREATOR, PLATFORM or GOVERNMENT")])
    remaining = list(allowances)
    splits = []
    for i, (shop, lines, discounts, terms) in enumerate(orders):
        if not 0 <= shop < len(remaining):
            raise _refused([(f"orders[{i}]", "no allowance for the order's shop")])
        try:
            order_splits, remaining[shop] = split_order(lines, discounts, terms, remaining[shop], new_merchant_ppm)
        except InvalidArgument as error:
            raise _under(error, f"orders[{i}].") from None
        splits.append(order_splits)
    return splits, remaining


def reverse_line(split: SplitParts, refunded_fen: int, whole_order: bool, pass_downs_ppm: Sequence[int]) -> Reversal:
    """`xiaodian._core.reverse_line`: what a line's refunds reversed in total once
    `refunded_fen` of its paid came back: `(subsidy, fee, creator_commission, chain_kept,
    merchant)`.

    Cumulative (SPEC §5): each component c (each subsidy, the fee, the creator commission, the
    chain head) reverses `round_half_up(c × refunded / paid)`, the chain is recomputed on the
    reversed head, and the merchant gives back the rest. That rest is kept within [0, the
    merchant's share]: a deficit is taken from the fee, then the creator commission, then the
    head (each down to 0); an excess is pushed onto them in the same order (each up to its
    share). A paid-0 line (all subsidies) reverses whole when `whole_order` is refunded, else
    nothing. So `refunded + Σ subsidy = merchant + fee + creator + Σ chain_kept`, each part is
    within [0, its share], and `refunded == paid` reverses the split exactly. Refused (field
    `amount_fen`): `refunded_fen` outside [0, paid]."""
    paid, subsidy, fee, creator_commission, kept, merchant = split
    if not 0 <= refunded_fen <= paid:
        raise _refused([("amount_fen", f"at most {paid} fen of this line can be refunded")])
    numerator, denominator = (int(whole_order), 1) if paid == 0 else (refunded_fen, paid)
    subsidy_back = [round_half_up(s * numerator, denominator) for s in subsidy]
    shares = [fee, creator_commission, sum(kept)]
    back = [round_half_up(s * numerator, denominator) for s in shares]
    merchant_back = refunded_fen + sum(subsidy_back) - sum(back)
    if merchant_back < 0:
        deficit = -merchant_back
        for k in range(len(back)):
            take = min(deficit, back[k])
            back[k] -= take
            deficit -= take
        merchant_back = 0
    elif merchant_back > merchant:
        excess = merchant_back - merchant
        for k in range(len(back)):
            add = min(excess, shares[k] - back[k])
            back[k] += add
            excess -= add
        merchant_back = merchant
    fee_back, creator_back, head_back = back
    return subsidy_back, fee_back, creator_back, chain_kept(head_back, pass_downs_ppm), merchant_back
