"""The Rust commission split against its pure-Python reference, and the SPEC §5 invariants.

`xiaodian.reference.settlement` is the executable specification of `xiaodian._core.split_orders`
and `reverse_line`. Differential tests require the same splits, allowances and reversals, or the
same refusal (message, field paths and descriptions). Invariant tests hold the kernel to the
SPEC: every line balances to the fen, every rounded amount is within half a fen of its exact
rational value, discount shares follow the largest-remainder rule, partial refunds add up to
the full reversal without clawing back more than a party received, and the new-merchant
allowance is consumed line by line across a shop's orders.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from xiaodian import _core, errors
from xiaodian.reference import settlement as ref
from xiaodian.settlement.orders import unpack_split

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

Line = tuple[int, int, int]
Discount = tuple[int, int, list[int]]
Terms = tuple[int, int, list[int]]
Order = tuple[int, list[Line], list[Discount], Terms]
Batch = tuple[list[Order], list[int], int]
SplitOrders = Callable[[list[Order], list[int], int], tuple[list[list[ref.LineSplit]], list[int]]]
SplitParts = tuple[int, list[int], int, int, list[int], int]
Reverse = Callable[[SplitParts, int, bool, list[int]], ref.Reversal]
BOTH: list[SplitOrders] = [_core.split_orders, ref.split_orders]
BOTH_REVERSALS: list[Reverse] = [_core.reverse_line, ref.reverse_line]

HALF = Fraction(1, 2)


def exact(numerator: int, denominator: int) -> Fraction:
    return Fraction(numerator, denominator)


def rounded(value: Fraction) -> int:
    """Half up, computed apart from the code under test."""
    return math.floor(value + HALF)


def refusal(error: errors.InvalidArgument) -> tuple[str, list[tuple[str, str]]]:
    return error.message, [(v.field, v.description) for v in error.violations]


def outcome(split: SplitOrders, batch: Batch) -> object:
    """The splits and allowances left, or the refusal; the allowances passed in stay as given."""
    orders, allowances, new_merchant_ppm = batch
    given_allowances = list(allowances)
    try:
        result: object = split(orders, allowances, new_merchant_ppm)
    except errors.InvalidArgument as error:
        result = refusal(error)
    assert allowances == given_allowances
    return result


def kernel_split(batch: Batch) -> tuple[list[list[ref.LineSplit]], list[int]]:
    """The kernel's split of a batch meant to be valid (a rare rounding refusal is skipped)."""
    try:
        return _core.split_orders(*batch)
    except errors.InvalidArgument as error:
        # Three parts each rounded up can exceed a tiny line's gmv by a fen.
        assume(not error.violations or any("exceed the line's gmv" not in v.description for v in error.violations))
        raise


# -- strategies ---------------------------------------------------------------------------------

prices = st.one_of(st.integers(0, 10**6), st.integers(0, 100), st.integers(10**9, 10**12))
category_ppms = st.one_of(st.sampled_from([0, 10_000, 50_000, 60_000]), st.integers(0, 100_000))
rare = st.integers(0, 49).map(lambda n: n == 49)


@st.composite
def orders(draw: st.DrawFn, shops: int, valid: bool) -> Order:
    """1-5 lines, 0-4 discounts over what is still payable (`valid`: never too large), random
    funders and line subsets, creator and agency terms with a chain of 0-5 parties."""
    lines = [(draw(prices), draw(st.integers(1, 20)), draw(category_ppms)) for _ in range(draw(st.integers(1, 5)))]
    payable = [price * quantity for price, quantity, _ in lines]
    discounts: list[Discount] = []
    for _ in range(draw(st.integers(0, 4))):
        positions = draw(st.lists(st.integers(0, len(lines) - 1), unique=True, max_size=len(lines)))
        covered = positions or list(range(len(lines)))
        room = sum(payable[line] for line in covered)
        amount = room if draw(st.integers(0, 9)) == 9 else draw(st.integers(0, room // 2))  # 10 %: all of it
        funder = draw(st.integers(1, 4))
        if not valid and draw(rare):
            amount = room + draw(st.integers(1, 10))
        if not valid and draw(rare):
            positions = [*positions, len(lines) + draw(st.integers(0, 2))]
        if not valid and draw(rare):
            funder = draw(st.sampled_from([0, 5]))
        discounts.append((funder, amount, positions))
        if amount <= room:
            for line, share in zip(covered, ref.apportion(amount, [payable[line] for line in covered]), strict=True):
                payable[line] -= share
    top = 450_000 if valid else 900_000
    creator_ppm = draw(st.one_of(st.integers(0, 300_000), st.integers(0, top)))
    service_ppm = draw(st.one_of(st.integers(0, 300_000), st.integers(0, top)))
    chain = draw(st.lists(st.integers(0, 900_000), max_size=5))
    if chain and (valid or not draw(rare)):
        chain[-1] = 0
    if not valid and draw(rare):
        creator_ppm = draw(st.integers(900_001, 1_000_000))
    shop = draw(st.integers(0, shops - 1))
    if not valid and draw(rare):
        shop = shops
    return shop, lines, discounts, (creator_ppm, service_ppm, chain)


@st.composite
def batches(draw: st.DrawFn, valid: bool = False, max_orders: int = 6) -> Batch:
    shops = draw(st.integers(1, 3))
    allowances = draw(st.lists(st.one_of(st.integers(0, 10**8), st.integers(0, 5_000)), min_size=shops, max_size=shops))
    new_merchant_ppm = draw(st.one_of(st.just(10_000), st.integers(0, 100_000)))
    batch = draw(st.lists(orders(shops, valid), min_size=1, max_size=max_orders))
    return batch, allowances, new_merchant_ppm


def kernel_apportion(amount_fen: int, weights: list[int]) -> list[int]:
    """The kernel's apportionment, observed as the shares of one discount over lines of gross wᵢ."""
    order: Order = (0, [(w, 1, 0) for w in weights], [(1, amount_fen, [])], (0, 0, []))
    [lines], _ = _core.split_orders([order], [0], 0)
    return [line[1][0] for line in lines]


def parts(line: ref.LineSplit) -> SplitParts:
    """What `reverse_line` takes of a line split."""
    _gross, _shares, paid, subsidy, _base, fee, creator, kept, merchant = line
    return paid, subsidy, fee, creator, kept, merchant


# -- differential -------------------------------------------------------------------------------


@settings(max_examples=1000, deadline=None)
@given(batches())
def test_split_orders_agrees_with_the_reference(batch: Batch) -> None:
    assert outcome(_core.split_orders, batch) == outcome(ref.split_orders, batch)


@settings(max_examples=300, deadline=None)
@given(batches(valid=True))
def test_the_packed_split_the_service_stores_is_the_same_split(batch: Batch) -> None:
    orders_, allowances, new_merchant_ppm = batch
    try:
        plain, left = _core.split_orders(orders_, list(allowances), new_merchant_ppm)
    except errors.InvalidArgument:
        return
    packed, packed_left = _core.split_orders_packed(orders_, list(allowances), new_merchant_ppm)
    assert packed_left == left
    for lines, (blob, totals) in zip(plain, packed, strict=True):
        assert unpack_split(blob) == lines
        paid, subsidy, fee, creator, merchant, kept = totals
        assert paid == sum(line[2] for line in lines) and fee == sum(line[5] for line in lines)
        assert subsidy == [sum(line[3][j] for line in lines) for j in range(3)]
        assert (creator, merchant) == (sum(line[6] for line in lines), sum(line[8] for line in lines))
        assert kept == [sum(k) for k in zip(*(line[7] for line in lines), strict=True)] if lines else kept == []


split_parts = st.tuples(
    st.integers(0, 1000),
    st.lists(st.integers(0, 1000), min_size=3, max_size=3),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.lists(st.integers(0, 500), max_size=5),
    st.integers(0, 1000),
)


@st.composite
def kernel_lines(draw: st.DrawFn) -> tuple[SplitParts, list[int]]:
    """A line as the kernel splits it, with its chain's pass-downs."""
    batch = draw(batches(valid=True, max_orders=1))
    [lines], _ = kernel_split(batch)
    line = draw(st.integers(0, len(lines) - 1))
    return parts(lines[line]), batch[0][0][3][2]


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(kernel_lines(), st.tuples(split_parts, st.lists(st.integers(0, 1_000_000), max_size=5))),
    st.data(),
)
def test_reverse_line_agrees_with_the_reference(line: tuple[SplitParts, list[int]], data: st.DataObject) -> None:
    """Kernel splits and arbitrary ones (which need not balance): same reversal or same refusal."""
    split, pass_downs = line
    paid = split[0]
    refunded = data.draw(st.one_of(st.integers(0, paid), st.just(paid), st.integers(-3, paid + 3)))
    whole_order = data.draw(st.booleans())
    results: list[object] = []
    for reverse in BOTH_REVERSALS:
        try:
            results.append(reverse(split, refunded, whole_order, pass_downs))
        except errors.InvalidArgument as error:
            results.append(refusal(error))
    assert results[0] == results[1]


# -- invariants of the kernel -------------------------------------------------------------------


@settings(max_examples=1000, deadline=None)
@given(batches(valid=True))
def test_every_line_balances_and_every_share_is_exact_within_a_fen(batch: Batch) -> None:
    orders_, _allowances, new_merchant_ppm = batch
    splits, _left = kernel_split(batch)
    for (_shop, lines, discounts, (creator_ppm, service_ppm, chain)), order in zip(orders_, splits, strict=True):
        payable = [price * quantity for price, quantity, _ in lines]
        for d, (_funder, amount, positions) in enumerate(discounts):
            covered = positions or list(range(len(lines)))
            base = sum(payable[i] for i in covered)
            shares = [line[1][d] for line in order]
            assert sum(shares) == amount
            for i, share in enumerate(shares):
                if i not in covered:
                    assert share == 0
                    continue
                assert 0 <= share <= payable[i]
                assert abs(share - exact(amount * payable[i], max(base, 1))) < 1
                payable[i] -= share
        for (price, quantity, category_ppm), line in zip(lines, order, strict=True):
            gross, shares, paid, subsidy, low, fee, creator, kept, merchant = line
            assert gross == price * quantity and paid == gross - sum(shares)
            assert subsidy == [
                sum(s for (funder, _, _), s in zip(discounts, shares, strict=True) if funder == f) for f in (2, 3, 4)
            ]
            assert min(paid, *subsidy, low, fee, creator, *kept, merchant) >= 0
            gmv = paid + sum(subsidy)
            assert gmv == merchant + fee + creator + sum(kept)
            exact_creator = exact(paid * creator_ppm, 10**6)
            exact_fee = exact(low * new_merchant_ppm + (gmv - low) * category_ppm, 10**6)
            exact_head = exact(paid * service_ppm, 10**6) if chain else Fraction(0)
            received = sum(kept)
            assert abs(creator - exact_creator) <= HALF and abs(fee - exact_fee) <= HALF
            assert abs(received - exact_head) <= HALF and len(kept) == len(chain)
            assert abs(merchant - (gmv - exact_fee - exact_creator - exact_head)) <= 3 * HALF  # the residual
            for party, pass_down_ppm in enumerate(chain[:-1]):
                passed = received - kept[party]
                assert abs(passed - exact(received * pass_down_ppm, 10**6)) <= HALF
                received = passed
            assert not chain or kept[-1] == received


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 6), st.integers(0, 10**6)), min_size=1, max_size=6), st.data())
def test_apportionment_is_the_largest_remainder_rule(weights: list[int], data: st.DataObject) -> None:
    """Weights often small, so that ties happen; the same input gives the same shares."""
    amount = data.draw(st.integers(0, sum(weights)))
    shares = kernel_apportion(amount, weights)
    assert shares == ref.apportion(amount, weights) == kernel_apportion(amount, weights)
    assert sum(shares) == amount
    total = max(sum(weights), 1)
    assert all(abs(s - exact(amount * w, total)) < 1 and s <= w for s, w in zip(shares, weights, strict=True))
    permutation = data.draw(st.permutations(range(len(weights))))
    moved = kernel_apportion(amount, [weights[i] for i in permutation])
    assert sorted(moved) == sorted(shares)
    if len(set(weights)) == len(weights):  # no tie left to the position: the shares follow their lines
        assert moved == [shares[i] for i in permutation]
    for j in range(len(weights)):
        for i in range(j):
            if weights[i] == weights[j]:  # equal weights: the earlier line gets the leftover fen
                assert shares[i] - shares[j] in (0, 1)


@pytest.mark.parametrize(
    ("amount", "weights", "shares"),
    [
        (10, [10, 10, 10], [4, 3, 3]),  # one leftover fen, all tied: the first line
        (5, [30, 10], [4, 1]),  # 3.75 and 1.25: the largest remainder
        (2, [1, 3], [0, 2]),  # remainders tie (2 of 4): the larger weight
        (2, [1, 2, 1], [1, 1, 0]),  # remainders 2, 0, 2 of 4, equal weights: the earlier line
        (3, [2, 2, 4], [1, 1, 1]),  # remainders 6, 6, 4 of 8
        (0, [0, 0], [0, 0]),
        (7, [0, 5, 2], [0, 5, 2]),  # the whole payable amount
    ],
)
def test_apportionment_examples(amount: int, weights: list[int], shares: list[int]) -> None:
    assert kernel_apportion(amount, weights) == ref.apportion(amount, weights) == shares


@st.composite
def refund_plans(draw: st.DrawFn) -> tuple[Order, list[ref.LineSplit], list[tuple[int, int]]]:
    """One valid order, its kernel split, and a random interleaving of partial refunds: steps
    (line, refunded so far) ending with every line refunded in full."""
    batch = draw(batches(valid=True, max_orders=1))
    [lines], _ = kernel_split(batch)
    steps: list[list[int]] = []
    for line in lines:
        paid = line[2]
        cuts = draw(st.lists(st.integers(1, paid - 1), unique=True, max_size=4)) if paid > 1 else []
        steps.append([*sorted(cuts), paid] if paid else [])
    schedule = draw(st.permutations([i for i, totals in enumerate(steps) for _ in totals]))
    seen = [0] * len(lines)
    plan = []
    for i in schedule:
        plan.append((i, steps[i][seen[i]]))
        seen[i] += 1
    return batch[0][0], lines, plan


@settings(max_examples=1000, deadline=None)
@given(refund_plans())
def test_partial_refunds_add_up_to_the_full_reversal_and_stay_within_each_share(
    plan: tuple[Order, list[ref.LineSplit], list[tuple[int, int]]],
) -> None:
    order, lines, steps = plan
    pass_downs = order[3][2]
    refunded = [0] * len(lines)
    states = []
    for i, total in steps:
        refunded[i] = total
        states.append(list(refunded))
    states.append([line[2] for line in lines])  # every line refunded in full (paid-0 lines included)
    for refunded in states:
        whole_order = all(r == line[2] for r, line in zip(refunded, lines, strict=True))
        for r, line in zip(refunded, lines, strict=True):
            paid, subsidy, fee, creator, kept, merchant = parts(line)
            back = _core.reverse_line(parts(line), r, whole_order, pass_downs)
            subsidy_back, fee_back, creator_back, kept_back, merchant_back = back
            assert r + sum(subsidy_back) == merchant_back + fee_back + creator_back + sum(kept_back)
            reversed_parts = [*subsidy_back, fee_back, creator_back, *kept_back, merchant_back]
            shares = [*subsidy, fee, creator, *kept, merchant]
            assert all(0 <= b <= s for b, s in zip(reversed_parts, shares, strict=True)), (back, line)
            if r == paid and (paid > 0 or whole_order):  # refunded in full: the split undone exactly
                assert back == (subsidy, fee, creator, kept, merchant)
    assert whole_order


@settings(max_examples=1000, deadline=None)
@given(batches(valid=True))
def test_the_new_merchant_allowance_is_consumed_line_by_line_across_a_shops_orders(batch: Batch) -> None:
    """The fee of each line, by the SPEC rule with a running allowance per shop, in Fractions."""
    orders_, allowances, new_merchant_ppm = batch
    splits, left = kernel_split(batch)
    running = list(allowances)
    for (shop, lines, _discounts, _terms), order in zip(orders_, splits, strict=True):
        for (_price, _quantity, category_ppm), line in zip(lines, order, strict=True):
            gmv = line[2] + sum(line[3])
            low = max(0, min(gmv, running[shop]))
            running[shop] -= low
            fee = rounded(exact(low * new_merchant_ppm, 10**6) + exact((gmv - low) * category_ppm, 10**6))
            assert (line[4], line[5]) == (low, fee)
    assert left == running


# -- worked examples ----------------------------------------------------------------------------


def test_rounding() -> None:
    assert (ref.round_half_up(5, 10), ref.round_half_up(4, 10), ref.round_half_up(15, 10)) == (1, 0, 2)
    assert ref.apply_ppm(999, 500_000) == 500  # 499.5
    assert ref.apply_ppm(2**63 - 1, 900_000) == 8_301_034_833_169_298_226


@pytest.mark.parametrize("split", BOTH)
def test_the_five_party_chain_of_wechat(split: SplitOrders) -> None:
    """Merchant pays ¥10 → agency keeps ¥4 → sub-agency ¥2 → creator ¥2 → promoter agency ¥1 → promoter ¥1."""
    pass_downs = [600_000, 666_667, 500_000, 500_000, 0]
    assert ref.chain_kept(1000, pass_downs) == [400, 200, 200, 100, 100]
    [[line]], _ = split([(0, [(10_000, 1, 0)], [], (0, 100_000, pass_downs))], [0], 10_000)
    assert line[7] == [400, 200, 200, 100, 100]


@pytest.mark.parametrize("split", BOTH)
def test_an_order_worked_by_hand(split: SplitOrders) -> None:
    """2 × ¥50 and 1 × ¥100; a ¥20 merchant coupon on both lines, then a ¥10 platform coupon on
    line 1; creator 10 %, no chain; 5,000 fen of allowance at 1 %, category 5 %."""
    lines = [(5_000, 2, 50_000), (10_000, 1, 50_000)]
    discounts: list[tuple[int, int, list[int]]] = [(1, 2_000, []), (3, 1_000, [1])]
    [order], left = split([(0, lines, discounts, (100_000, 0, []))], [5_000], 10_000)
    assert order == [
        # 5,000 at 1 % + 4,000 at 5 % = 250; creator 900.
        (10_000, [1_000, 0], 9_000, [0, 0, 0], 5_000, 250, 900, [], 9_000 - 250 - 900),
        # paid 8,000 + 1,000 platform subsidy = gmv 9,000, all at 5 % = 450; creator 800.
        (10_000, [1_000, 1_000], 8_000, [0, 1_000, 0], 0, 450, 800, [], 9_000 - 450 - 800),
    ]
    assert left == [0]
    allowances = [5_000]
    with pytest.raises(errors.InvalidArgument) as refused:
        split([(0, lines, discounts, (900_000, 900_000, [0]))], allowances, 10_000)
    assert [v.field for v in refused.value.violations] == ["orders[0].lines[0]"]
    assert allowances == [5_000]


@pytest.mark.parametrize("split", BOTH)
def test_a_line_crossing_the_new_merchant_cap(split: SplitOrders) -> None:
    # 300 fen at 1 %, 700 at 5 %: (300 × 10,000 + 700 × 50,000 + 500,000) div 1,000,000 = 38.
    assert ref.line_fee(1000, 300, 10_000, 50_000) == (38, 300, 0)
    assert ref.line_fee(1000, 0, 10_000, 50_000) == (50, 0, 0)
    order: Order = (0, [(1000, 1, 50_000)], [], (0, 0, []))
    splits, left = split([order, order], [300], 10_000)
    assert [(o[0][4], o[0][5]) for o in splits] == [(300, 38), (0, 50)] and left == [0]


@pytest.mark.parametrize("reverse", BOTH_REVERSALS)
def test_reversal_examples(reverse: Reverse) -> None:
    # paid 46 + 22 government subsidy, creator 74 % and chain head 74 % (34 fen each): the SPEC's
    # rounding reverses 1 fen of each for a 1-fen refund, which would pay the merchant 1 fen;
    # the fee (0), then the creator commission give way.
    [[line]], _ = _core.split_orders([(0, [(68, 1, 0)], [(4, 22, [])], (740_000, 740_000, [0]))], [0], 0)
    assert parts(line) == (46, [0, 0, 22], 0, 34, [34], 0)
    assert reverse(parts(line), 1, False, [0]) == ([0, 0, 0], 0, 0, [1], 0)
    assert reverse(parts(line), 46, True, [0]) == ([0, 0, 22], 0, 34, [34], 0)
    # A line paid by subsidies alone reverses whole with the whole order, and not before.
    subsidised: SplitParts = (0, [0, 500, 0], 25, 0, [], 475)
    assert reverse(subsidised, 0, False, []) == ([0, 0, 0], 0, 0, [], 0)
    assert reverse(subsidised, 0, True, []) == ([0, 500, 0], 25, 0, [], 475)
    with pytest.raises(errors.InvalidArgument) as refused:
        reverse(subsidised, 1, True, [])
    assert refusal(refused.value)[1] == [("amount_fen", "at most 0 fen of this line can be refunded")]


GOOD: Order = (0, [(1000, 1, 50_000)], [], (0, 0, []))


@pytest.mark.parametrize(
    ("orders_", "field"),
    [
        ([GOOD, GOOD, GOOD, (0, [(100, 1, 0)], [(2, 101, [0])], (0, 0, []))], "orders[3].discounts[0].amount_fen"),
        ([GOOD, (0, [(100, 1, 0)], [], (900_000, 200_000, [0]))], "orders[1].lines[0]"),
        ([GOOD, (0, [(100, 1, 0)], [], (900_001, 0, []))], "orders[1].lines[0]"),
        ([(0, [(100, 1, 0)], [(1, 1, []), (3, 1, []), (7, 1, [])], (0, 0, []))], "orders[0].discounts[2].funder"),
        # Funders are checked for the whole batch before any order is split.
        (
            [(0, [(100, 1, 0)], [(1, 101, [])], (0, 0, [])), (0, [], [(0, 0, [])], (0, 0, []))],
            "orders[1].discounts[0].funder",
        ),
        ([GOOD, (0, [(100, 1, 0)], [(1, 1, [1])], (0, 0, []))], "orders[1].discounts[0].line_ids"),
        ([GOOD, (2, [(100, 1, 0)], [], (0, 0, []))], "orders[1]"),
    ],
)
def test_refusals_name_the_same_field(orders_: list[Order], field: str) -> None:
    refusals = []
    for split in BOTH:
        allowances = [10_000, 10_000]
        with pytest.raises(errors.InvalidArgument) as refused:
            split(orders_, allowances, 10_000)
        assert allowances == [10_000, 10_000]
        refusals.append(refusal(refused.value))
    assert refusals[0] == refusals[1]
    assert [f for f, _ in refusals[0][1]] == [field]


def test_an_overflowing_amount_is_refused_not_wrapped() -> None:
    order: Order = (0, [(2**62, 4, 0)], [], (0, 0, []))
    for split in BOTH:
        with pytest.raises(errors.InvalidArgument) as refused:
            split([order], [0], 0)
        assert refusal(refused.value) == ("arithmetic overflow: gross", [])


def test_an_order_whose_sums_overflow_is_refused_not_wrapped() -> None:
    """Each line fits in int64 and so does each of its parts; the order's paid total does not."""
    half = 2**62
    order: Order = (0, [(half, 1, 0), (half, 1, 0)], [], (0, 0, []))
    for split in BOTH:
        with pytest.raises(errors.InvalidArgument) as refused:
            split([order], [0], 0)
        assert refusal(refused.value) == ("arithmetic overflow: order totals", [])


REFUSED = [
    # Line 0 named twice by one discount.
    (0, [(100, 1, 0)], [(1, 100, [0, 0])], (0, 0, [])),
    # A negative price (the service refuses it earlier; the kernel must not round it).
    (0, [(-100, 1, 50_000)], [], (900_000, 900_000, [0])),
    # A fee rate over 100 %: fee + commissions would pass 2⁶³; an error, never a wrapped sum.
    (0, [(2**62, 1, 1_999_999)], [], (900_000, 0, [])),
]
REFUSED_IDS = ["repeated-line", "negative-price", "overflowing-sum"]


@pytest.mark.parametrize("order", REFUSED, ids=REFUSED_IDS)
def test_both_refuse_what_the_service_never_sends(order: Order) -> None:
    refusals = []
    for split in BOTH:
        with pytest.raises(errors.InvalidArgument) as refused:
            split([order], [0], 10_000)
        refusals.append(refusal(refused.value))
    assert refusals[0] == refusals[1]
