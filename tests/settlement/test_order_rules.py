"""The wire layer (`crates/xiaodian-py/src/wire.rs`) against its plain-Python definition
(`xiaodian.reference.orders`).

`_core.read_orders` reads a request's encoded orders in Rust and must name exactly the
violations that `validate_order` names, field path for field path, in the same order (here
without money bounds, `NO_BOUNDS`: `test_money_bounds.py` holds the two to the same answer on
those); `_core.split_encoded_orders` must split them exactly as `split_orders_packed` splits
`kernel_order`'s tuples; the rows and responses recording builds in Rust must be the Python ones.
"""

from __future__ import annotations

import hashlib
import json
from typing import TypeVar

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st
from xiaodian import _core, errors
from xiaodian.demo.catalog import generate_catalog
from xiaodian.demo.orders import generate_orders
from xiaodian.platform.validation import Violations
from xiaodian.reference.orders import kernel_order, record_responses, recording_rows, validate_order
from xiaodian.settlement.orders import (
    MAX_CHAIN,
    MAX_DISCOUNTS,
    MAX_LINES,
    FeePolicy,
    MoneyBounds,
    split_totals,
    unpack_split,
)
from xiaodian.v1 import settlement_service_pb2 as pb

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

T = TypeVar("T")

#: No money bound but the fields' own: these tests are about the other rules.
NO_BOUNDS = MoneyBounds(max_line_fen=2**63 - 1, max_order_fen=2**63 - 1)


def rust_violations(batch: list[pb.Order]) -> list[tuple[str, str]]:
    """What `_core.read_orders` names in a RecordOrdersRequest of `batch` ([] when nothing)."""
    request = pb.RecordOrdersRequest(request_id="r", orders=batch).SerializeToString(deterministic=True)
    try:
        _core.read_orders(request, "orders", 10_000, NO_BOUNDS.max_line_fen, NO_BOUNDS.max_order_fen)
    except errors.InvalidArgument as error:
        return [(v.field, v.description) for v in error.violations]
    return []


def python_violations(batch: list[pb.Order]) -> list[tuple[str, str]]:
    """What the definition names in the same request."""
    v = Violations()
    v.check_batch("orders", len(batch), 10_000)
    seen: set[str] = set()
    for i, order in enumerate(batch):
        validate_order(v, f"orders[{i}]", order, NO_BOUNDS)
        if order.order_id in seen:
            v.add(f"orders[{i}].order_id", "must be unique within the batch")
        seen.add(order.order_id)
    return v.items


def orders_valid(batch: list[pb.Order]) -> bool:
    return not rust_violations(batch)


good_ids = st.one_of(
    st.sampled_from(["a", "x" * 64, "ok-1.a:b_c"]), st.from_regex(r"[A-Za-z0-9_.:-]{1,8}", fullmatch=True)
)
bad_ids = st.sampled_from(["", "x" * 65, "a b", "é", "id/1"])
good_ratios = st.sampled_from([0, 1, 50_000, 900_000])
bad_ratios = st.sampled_from([900_001, 2**32 - 1])


@st.composite
def orders(draw: st.DrawFn, odds: int = 25) -> pb.Order:
    """Orders near every rule's edge: each value valid, or (1 in `odds`; never with 0) breaking
    its rule, so that most orders break none or one rule."""

    def pick(good: st.SearchStrategy[T], bad: st.SearchStrategy[T]) -> T:
        return draw(bad) if odds and draw(st.integers(0, odds - 1)) == 0 else draw(good)

    def ident() -> str:
        return pick(good_ids, bad_ids)

    def ratio() -> int:
        return pick(good_ratios, bad_ratios)

    order = pb.Order(order_id=ident(), shop_id=ident())
    if pick(st.just(True), st.just(False)):
        seconds = pick(st.integers(0, 253_402_300_799), st.sampled_from([253_402_300_800, 2**40]))
        order.paid_at.CopyFrom(Timestamp(seconds=seconds))
    for i in range(pick(st.integers(1, 4), st.just(0))):
        order.lines.add(
            line_id=pick(st.just(f"l{i + 1}"), st.sampled_from(["l1", "", "l 4"])),
            product_id=ident(),
            category_id=pick(st.sampled_from(["c1", "c-2", "c3"]), st.sampled_from(["", "c 3"])),
            unit_price_fen=int(
                pick(
                    st.sampled_from([0, 1, 10**12]) | st.integers(0, 10**6), st.sampled_from([-1, 10**12 + 1, -(2**63)])
                )
            ),
            quantity=pick(st.sampled_from([1, 2, 10**6]), st.sampled_from([-1, 0, 10**6 + 1])),
        )
    has_creator = pick(st.booleans(), st.just(False))
    has_chain = pick(st.booleans(), st.just(False))
    present = [line.line_id for line in order.lines]
    for d in range(draw(st.integers(0, 3))):
        funder = pick(st.sampled_from([1, 3, 4, 2] if has_creator else [1, 3, 4]), st.sampled_from([0, 5, 2]))
        covered = draw(st.lists(st.sampled_from(present), unique=True)) if present else []
        order.discounts.add(
            discount_id=pick(st.just(f"d{d + 1}"), st.sampled_from(["d1", "", "d 4"])),
            funder=funder,  # type: ignore[arg-type]
            amount_fen=pick(st.sampled_from([1, 100, 10**9]), st.sampled_from([-1, 0])),
            line_ids=list(
                pick(st.just(covered), st.lists(st.sampled_from(["l1", "l2", "l9", ""]), min_size=1, max_size=3))
            ),
        )
    if has_creator or has_chain or pick(st.just(False), st.just(True)):
        order.attribution.SetInParent()
    if has_creator:
        order.attribution.creator.creator_id = ident()
        order.attribution.creator.ratio_ppm = ratio()
    if has_chain:
        chain = order.attribution.agency_chain
        chain.SetInParent()
        chain.service_ratio_ppm = ratio()
        parties = pick(st.integers(1, 5), st.sampled_from([0, 6]))
        for p in range(parties):
            last = p == parties - 1
            chain.parties.add(
                kind=pick(st.integers(1, 5), st.sampled_from([0, 6])),  # type: ignore[arg-type]
                party_id=ident(),
                pass_down_ppm=pick(st.just(0), bad_ratios | st.just(1)) if last else ratio(),
            )
    order.guide_id = pick(st.sampled_from(["", "g-1"]), st.just("g 1"))
    order.is_gift = draw(st.booleans())
    order.giver_id = pick(st.just(ident() if order.is_gift else ""), st.sampled_from(["", "buyer-1", "buyer 1"]))
    return order


def python_valid(order: pb.Order) -> bool:
    return not python_violations([order])


def encoded(order: pb.Order) -> bytes:
    return order.SerializeToString(deterministic=True)


@settings(max_examples=3000, deadline=None)
@given(orders())
def test_the_rust_check_names_exactly_the_python_violations(order: pb.Order) -> None:
    assert rust_violations([order]) == python_violations([order])
    batch = [order, valid_order(), order]  # and an order_id repeated within the batch
    assert rust_violations(batch) == python_violations(batch)
    other = valid_order()
    other.order_id = order.order_id + "-other"
    if python_valid(order) and python_valid(other):
        # What recording reads off the orders it passes.
        request = pb.RecordOrdersRequest(request_id="r", orders=[order, other])
        read = _core.read_orders(request.SerializeToString(), "orders", 10_000, 2**63 - 1, 2**63 - 1)
        assert read[0] == "r"
        assert read[1] == [encoded(order), encoded(other)]
        ids = [order.order_id, other.order_id]
        assert read[2:] == (ids, [order.shop_id, "s1"], [order.paid_at.ToMicroseconds(), 1_000_000])


def valid_order() -> pb.Order:
    order = pb.Order(order_id="o1", shop_id="s1", paid_at=Timestamp(seconds=1))
    order.lines.add(line_id="l1", product_id="p1", category_id="c1", unit_price_fen=100, quantity=1)
    order.attribution.agency_chain.service_ratio_ppm = 10_000
    order.attribution.agency_chain.parties.add(kind=pb.PARTY_KIND_AGENCY, party_id="a1")
    return order


@pytest.mark.parametrize(
    ("lines", "discounts", "parties"),
    [(MAX_LINES, MAX_DISCOUNTS, MAX_CHAIN), (MAX_LINES + 1, 0, 1), (1, MAX_DISCOUNTS + 1, 1), (1, 0, MAX_CHAIN + 1)],
)
def test_the_limits_are_the_same(lines: int, discounts: int, parties: int) -> None:
    order = valid_order()
    for i in range(2, lines + 1):
        order.lines.add(line_id=f"l{i}", product_id="p1", category_id="c1", unit_price_fen=100, quantity=1)
    for d in range(discounts):
        order.discounts.add(discount_id=f"d{d}", funder=pb.DISCOUNT_FUNDER_MERCHANT, amount_fen=1)
    chain = order.attribution.agency_chain.parties
    for p in range(1, parties):
        chain.add(kind=pb.PARTY_KIND_PROMOTER, party_id=f"a{p + 1}")
    chain[0].pass_down_ppm = 100_000 if parties > 1 else 0
    assert python_valid(order) == (lines <= MAX_LINES and discounts <= MAX_DISCOUNTS and parties <= MAX_CHAIN)
    assert rust_violations([order]) == python_violations([order])


def test_unknown_fields_are_skipped_and_one_bad_order_fails_the_batch() -> None:
    order = valid_order()
    with_unknown = pb.Order.FromString(encoded(order) + b"\x98\x06\x01")  # field 99 = 1
    assert encoded(with_unknown) != encoded(order)
    assert orders_valid([with_unknown])
    broken = valid_order()
    broken.order_id, broken.lines[0].quantity = "o2", 0
    assert rust_violations([order, broken]) == [("orders[1].lines[0].quantity", "must be 1-1,000,000")]
    assert rust_violations([]) == [("orders", "must hold 1-10,000 items")]


@settings(max_examples=500, deadline=None)
@given(st.lists(orders(odds=0), min_size=1, max_size=5), st.sampled_from([(), (("c1", 20_000), ("c-2", 0))]))
def test_encoded_orders_split_as_their_tuples(batch: list[pb.Order], rates: tuple[tuple[str, int], ...]) -> None:
    assert all(python_valid(o) for o in batch)
    fees = FeePolicy(rate_ppm_by_category=rates)
    shops = [i % 2 for i in range(len(batch))]
    allowances = [150, 10**8]
    try:
        expected = _core.split_orders_packed(
            [kernel_order(o, s, fees) for o, s in zip(batch, shops, strict=True)], list(allowances), 10_000
        )
    except errors.InvalidArgument as error:  # the same refusal is expected
        with pytest.raises(errors.InvalidArgument) as raised:
            _core.split_encoded_orders(
                [encoded(o) for o in batch], shops, list(allowances), 10_000, fees.default_rate_ppm, fees.rates
            )
        assert str(raised.value) == str(error)
        return
    got = _core.split_encoded_orders(
        [encoded(o) for o in batch], shops, list(allowances), 10_000, fees.default_rate_ppm, fees.rates
    )
    assert got == expected


def test_demo_orders_split_as_their_tuples() -> None:
    batch = generate_orders(5, generate_catalog(5, 500).products, 2_000, 1_790_000_000).orders
    assert orders_valid(list(batch))
    fees = FeePolicy()
    shops: dict[str, int] = {}
    positions = [shops.setdefault(o.shop_id, len(shops)) for o in batch]
    allowances = [50_000] * len(shops)
    expected = _core.split_orders_packed(
        [kernel_order(o, p, fees) for o, p in zip(batch, positions, strict=True)], list(allowances), 10_000
    )
    got = _core.split_encoded_orders(
        [encoded(o) for o in batch], positions, list(allowances), 10_000, fees.default_rate_ppm, fees.rates
    )
    assert got == expected


def test_an_order_the_check_did_not_pass_is_refused() -> None:
    broken = valid_order()
    broken.shop_id = ""
    with pytest.raises(ValueError, match="read_orders"):
        _core.split_encoded_orders([encoded(broken)], [0], [0], 10_000, 50_000, {})


def test_the_generated_orders_are_mostly_valid_or_break_one_rule() -> None:
    """The differential test is only as good as its mix: many valid orders, many just invalid."""
    valid = 0

    @settings(max_examples=400, deadline=None, database=None)
    @given(orders())
    def count(order: pb.Order) -> None:
        nonlocal valid
        valid += python_valid(order)

    count()
    assert 40 <= valid <= 360


@settings(max_examples=500, deadline=None)
@given(st.lists(orders(odds=0), min_size=1, max_size=5))
def test_the_rust_record_responses_are_the_python_ones(batch: list[pb.Order]) -> None:
    fees = FeePolicy()
    try:
        splits, _ = _core.split_orders_packed([kernel_order(o, 0, fees) for o in batch], [5_000], 10_000)
    except errors.InvalidArgument:
        return  # nothing recorded, no response
    blobs = [blob for blob, _ in splits]
    rust = _core.record_responses([encoded(o) for o in batch], blobs)
    assert pb.RecordOrdersResponse.FromString(rust) == record_responses(batch, blobs)
    for order, blob, expected in zip(batch, blobs, record_responses(batch, blobs).orders, strict=True):
        assert pb.RecordOrderResponse.FromString(_core.record_order_response(encoded(order), blob)) == expected
        preview = pb.PreviewSplitResponse.FromString(_core.preview_split_response(encoded(order), blob))
        assert preview.split == expected.split


def test_record_responses_of_the_demo_orders_and_of_a_split_that_is_not_the_orders() -> None:
    batch = generate_orders(6, generate_catalog(6, 500).products, 1_000, 1_790_000_000).orders
    fees = FeePolicy()
    splits, _ = _core.split_orders_packed([kernel_order(o, 0, fees) for o in batch], [10**6], 10_000)
    blobs = [blob for blob, _ in splits]
    rust = _core.record_responses([encoded(o) for o in batch], blobs)
    assert pb.RecordOrdersResponse.FromString(rust) == record_responses(batch, blobs)
    one_line = next(i for i, o in enumerate(batch) if len(o.lines) == 1)
    two_lines = next(i for i, o in enumerate(batch) if len(o.lines) == 2)
    with pytest.raises(RuntimeError):
        _core.record_responses([encoded(batch[one_line])], [blobs[two_lines]])


@settings(max_examples=500, deadline=None)
@given(
    st.lists(orders(odds=0), min_size=1, max_size=5),
    st.integers(-62_135_596_801, 253_402_300_800),
    st.integers(-1, 10**9),
)
def test_the_rust_recording_rows_are_the_python_ones(batch: list[pb.Order], seconds: int, nanos: int) -> None:
    batch[0].paid_at.seconds, batch[0].paid_at.nanos = seconds, nanos
    fees = FeePolicy()
    try:
        splits, _ = _core.split_orders_packed([kernel_order(o, 0, fees) for o in batch], [5_000], 10_000)
    except errors.InvalidArgument:
        return  # nothing recorded
    # Recording keeps the packed splits only, and reads the totals off them where it needs them.
    assert [split_totals(unpack_split(blob)) for blob, _ in splits] == [totals for _, totals in splits]
    blobs = [blob for blob, _ in splits]
    shops = [0] * len(batch)
    if all(orders_valid([o]) for o in batch):
        encoded_split = _core.split_encoded_blobs([encoded(o) for o in batch], shops, [5_000], 10_000, 50_000, {})
        assert encoded_split[0] == blobs
    new = [(o, encoded(o), hashlib.sha256(encoded(o)).digest()) for o in batch]
    rust = _core.recording_rows([e for _, e, _ in new], blobs, [d for _, _, d in new])
    try:
        order_rows, transfers, pending = recording_rows(new, blobs)
    except ValueError:  # not a valid Timestamp: Python refuses it, Rust leaves it to Python
        assert rust is None
        return
    assert rust == (order_rows, [tuple(t) for t in transfers if t is not None], pending)


def test_recording_rows_merge_a_party_named_twice_and_refuse_a_split_not_the_orders() -> None:
    order = valid_order()
    chain = order.attribution.agency_chain
    chain.parties[0].pass_down_ppm = 500_000
    chain.parties.add(kind=pb.PARTY_KIND_AGENCY, party_id="a1")  # the same account as the head
    [(blob, totals)], _ = _core.split_orders_packed([kernel_order(order, 0, FeePolicy())], [0], 10_000)
    digest = hashlib.sha256(encoded(order)).digest()
    rows = _core.recording_rows([encoded(order)], [blob], [digest])
    assert rows is not None and rows == recording_rows([(order, encoded(order), digest)], [blob])
    payouts = json.loads(rows[0][0][10])
    assert list(payouts).count("party:AGENCY:a1") == 1 and sum(payouts.values()) == totals[0] + sum(totals[1])
    assert [account for account, _ in rows[2]].count("party:AGENCY:a1") == 1
    other = valid_order()
    other.lines.add(line_id="l2", product_id="p2", category_id="c1", unit_price_fen=5, quantity=1)
    assert _core.recording_rows([encoded(other)], [blob], [digest]) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(orders(), max_size=5), st.text(max_size=5))
def test_the_orders_read_from_a_request_are_their_own_encodings(batch: list[pb.Order], request_id: str) -> None:
    """Recording reads each order's encoding out of the request's bytes (never serializing the
    orders again): the same bytes as each order serialized alone."""
    if python_violations(batch):
        return
    for request in (
        pb.RecordOrdersRequest(request_id=request_id, orders=batch),
        pb.StreamRecordOrdersRequest(request_id=request_id, orders=batch),
    ):
        read = _core.read_orders(request.SerializeToString(deterministic=True), "orders", 10_000, 2**62, 2**62)
        assert read[:2] == (request_id, [encoded(o) for o in batch])


def test_orders_with_unknown_fields_are_read_from_a_request_as_they_serialize() -> None:
    order = valid_order()
    order.MergeFromString(bytes([0xF8, 0x06, 0x01]))  # field 111 (unknown), varint 1
    order.order_id = "o2"
    request = pb.StreamRecordOrdersRequest(request_id="r", orders=[order, valid_order()])
    read = _core.read_orders(request.SerializeToString(deterministic=True), "orders", 10_000, 2**62, 2**62)
    assert read[1] == [encoded(order), encoded(valid_order())]
    assert len(encoded(order)) == len(encoded(valid_order())) + 3
    for malformed in (b"\x12\x05ab", b"\x12\x01\xff"):  # cut short; an order that is not one
        with pytest.raises(errors.InvalidArgument) as raised:
            _core.read_orders(malformed, "orders", 10_000, 2**62, 2**62)
        assert raised.value.reason == "MALFORMED_REQUEST"
