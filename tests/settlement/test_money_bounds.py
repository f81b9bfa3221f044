"""Money stays in int64 (issue 19): the per-line and per-order bounds of the configuration,
sums over many orders refused before they leave int64, and dates derived past 9999 refused
as INVALID_ARGUMENT, all through a real server; the Rust fast path and the Python validator
agree on the bounds.

The bug this guards against: two orders of 9 x 10^18 fen were accepted, SQLite turned the
overflowing balances into REALs, and every read of them failed from then on.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import tempfile
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st
from xiaodian import Client, _core, errors
from xiaodian.platform.db import SqliteDatabase
from xiaodian.platform.server import MIGRATIONS, XiaodianServer
from xiaodian.platform.validation import TIMESTAMP_MAX_SECONDS, Violations
from xiaodian.reference.orders import validate_order
from xiaodian.settlement import gmv, ledger, schema
from xiaodian.settlement.orders import MAX_QUANTITY, MAX_UNIT_PRICE_FEN, MoneyBounds, Policy
from xiaodian.settlement.service import SettlementService, policy_of
from xiaodian.v1 import settlement_service_pb2 as pb

from tests import databases

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
DAY_S = 86_400
T0 = 1_790_000_000
#: The largest `max_order_fen` the configuration allows, and a line of exactly that gross.
LIMIT = 2**53
LIMIT_LINE = (2**34, 2**19)
#: A line of 2^53 - 1 fen (6361 x 20394401 = 129,728,784,761 fen, 69,431 of them).
LIMIT_LINE_LESS_ONE = (129_728_784_761, 69_431)
DEFAULTS = MoneyBounds()

#: Every column that holds money (`payouts_json` is checked apart).
MONEY_COLUMNS = (
    ("ledger_transfers", "amount_fen"),
    ("ledger_balances", "balance_fen"),
    ("settlement_pending", "pending_fen"),
    ("settlement_allowances", "used_fen"),
    ("settlement_orders", "paid_fen"),
    ("settlement_orders", "refunded_fen"),
)


def ts(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def order(order_id: str, *lines: tuple[int, int], shop_id: str = "s1", paid_at: int = T0, **fields) -> pb.Order:
    """An order of lines (unit_price_fen, quantity), without discounts or attribution unless
    `fields` add them."""
    message = pb.Order(order_id=order_id, shop_id=shop_id, paid_at=ts(paid_at), **fields)
    for i, (price, quantity) in enumerate(lines):
        message.lines.add(line_id=f"l{i}", product_id="p1", category_id="c1", unit_price_fen=price, quantity=quantity)
    return message


def use_bounds(server: XiaodianServer, max_line_fen: int, max_order_fen: int) -> None:
    """Serves with other money bounds, through `policy_of` as the server's configuration is."""
    config = dataclasses.replace(server.config.settlement, max_line_fen=max_line_fen, max_order_fen=max_order_fen)
    server.settlement.policy = policy_of(config)


def state(server: XiaodianServer) -> dict[str, object]:
    """Everything a write could change, to show that a refused one changed nothing."""
    conn = server.db.connection()
    tables = {
        "balances": "SELECT account, balance_fen FROM ledger_balances ORDER BY account",
        "pending": "SELECT account, pending_fen FROM settlement_pending ORDER BY account",
        "allowances": "SELECT shop_id, used_fen FROM settlement_allowances ORDER BY shop_id",
        "orders": "SELECT order_id, state, refunded_fen, settled_at_us, payouts_json FROM settlement_orders"
        " ORDER BY order_id",
        "transfers": "SELECT COUNT(*), MAX(seq) FROM ledger_transfers",
        "refunds": "SELECT COUNT(*) FROM settlement_refunds",
        "requests": "SELECT COUNT(*) FROM request_log",
    }
    return {name: conn.execute(sql).fetchall() for name, sql in tables.items()}


def assert_money_is_integer(server: XiaodianServer) -> None:
    conn = server.db.connection()
    for table, column in MONEY_COLUMNS:
        kinds = databases.value_kinds(conn, table, column)
        assert kinds <= {"integer"}, (table, column, kinds)
    kinds = databases.payout_kinds(conn)
    assert kinds <= {"integer"}, ("payouts_json", kinds)


def read_back(client: Client, server: XiaodianServer) -> dict[str, int]:
    """Every ledger account's balance through GetBalance, exactly as stored (and every pending
    sum); the balances sum to zero, as Python ints (SQL's SUM could itself overflow)."""
    conn = server.db.connection()
    stored = dict(conn.execute("SELECT account, balance_fen FROM ledger_balances").fetchall())
    pending = dict(conn.execute("SELECT account, pending_fen FROM settlement_pending").fetchall())
    got = {}
    for account in sorted({*stored, *pending}):
        balance = client.get_balance(account=account)
        assert (balance.settled_fen, balance.pending_fen) == (stored.get(account, 0), pending.get(account, 0))
        if account in stored:
            got[account] = balance.settled_fen
    assert all(type(v) is int for v in got.values())
    assert sum(got.values()) == 0
    assert_money_is_integer(server)
    return got


def statement_balance(client: Client, account: str) -> int:
    """The account's balance added up from its statement, page by page."""
    total, token = 0, ""
    while True:
        page = client.get_statement(account=account, page_size=1_000, page_token=token)
        for t in page.transfers:
            assert t.amount_fen > 0
            total += t.amount_fen if t.credit_account == account else -t.amount_fen
        token = page.next_page_token
        if not token:
            return total


def refused(call, error_type: type[errors.XiaodianError]) -> errors.XiaodianError:  # type: ignore[no-untyped-def]
    with pytest.raises(error_type) as raised:
        call()
    return raised.value


# --- the bounds of a line and of an order -------------------------------------------------


def test_the_bounds_are_inclusive_and_a_violation_names_the_line_or_the_order(
    client: Client, server: XiaodianServer
) -> None:
    max_line, max_order = DEFAULTS.max_line_fen, DEFAULTS.max_order_fen
    assert (max_line, max_order) == (10**12, 10**13)
    at_line = order("at-line", (10**6, 10**6))
    at_order = order("at-order", *[(10**12, 1)] * 10)
    recorded = client.record_orders(request_id="r1", orders=[at_line, at_order])
    assert [o.split.paid_fen for o in recorded.orders] == [max_line, max_order]

    before = state(server)
    over_line = order("over-line", (500_000_000_001, 2), (1, 1))
    error = refused(lambda: client.record_order(request_id="r2", order=over_line), errors.InvalidArgument)
    assert [v.field for v in error.violations] == ["order.lines[0]"]
    assert "1,000,000,000,002 fen" in error.violations[0].description
    over_order = order("over-order", *[(10**12, 1)] * 10, (1, 1))
    error = refused(lambda: client.preview_split(order=over_order), errors.InvalidArgument)
    assert [v.field for v in error.violations] == ["order.lines"]
    assert "10,000,000,000,001 fen" in error.violations[0].description
    # In a batch, every violation of every order is named, with the order's position.
    batch = [order("fine", (1, 1)), over_line, over_order, order("both", *[(10**12, 1)] * 9, (10**6, 10**6 + 1))]
    error = refused(lambda: client.record_orders(request_id="r3", orders=batch), errors.InvalidArgument)
    assert [v.field for v in error.violations] == [
        "orders[1].lines[0]",
        "orders[2].lines",
        "orders[3].lines[9].quantity",
    ]
    assert state(server) == before
    balances = read_back(client, server)
    assert balances["escrow"] == max_line + max_order == statement_balance(client, "escrow")
    assert balances["buyer_funds"] == -(max_line + max_order) == statement_balance(client, "buyer_funds")


def test_the_reported_order_of_9e18_fen_is_invalid_and_changes_nothing(client: Client, server: XiaodianServer) -> None:
    """Issue 19: nine lines of 10^12 fen x 10^6, each within the fields' own limits."""
    client.record_order(request_id="r0", order=order("small", (1_000, 1)))
    before = state(server)
    huge = [order(f"o{k}", *[(MAX_UNIT_PRICE_FEN, MAX_QUANTITY)] * 9) for k in range(2)]
    for k, message in enumerate(huge):
        error = refused(
            lambda m=message, k=k: client.record_order(request_id=f"r{k + 1}", order=m), errors.InvalidArgument
        )
        assert [v.field for v in error.violations] == [f"order.lines[{i}]" for i in range(9)] + ["order.lines"]
        assert "9,000,000,000,000,000,000 fen" in error.violations[-1].description
    error = refused(lambda: client.record_orders(request_id="r3", orders=huge), errors.InvalidArgument)
    assert {v.field for v in error.violations} == {f"orders[{k}].lines" for k in range(2)} | {
        f"orders[{k}].lines[{i}]" for k in range(2) for i in range(9)
    }
    batches = [pb.StreamRecordOrdersRequest(request_id="r4", orders=huge)]
    refused(lambda: list(client.stream_record_orders(iter(batches))), errors.InvalidArgument)
    assert state(server) == before
    refused(lambda: client.get_order(order_id="o0"), errors.NotFound)
    assert read_back(client, server) == {"buyer_funds": -1_000, "escrow": 1_000}


# --- sums over many orders ----------------------------------------------------------------


def test_escrow_fills_to_int64_max_exactly_and_no_further(client: Client, server: XiaodianServer) -> None:
    """With the largest bounds the configuration allows (2^53 fen a line and an order), 1,023
    orders of 2^53 fen and one of 2^53 - 1 put exactly 2^63 - 1 fen in escrow; one more fen
    is FAILED_PRECONDITION naming escrow, and nothing is written. Once settled, buyer_funds
    is the account at the edge: it can go down to -2^63 and no further."""
    use_bounds(server, LIMIT, LIMIT)
    orders = [order(f"o{k:04}", LIMIT_LINE) for k in range(1_023)] + [order("o1023", LIMIT_LINE_LESS_ONE)]
    paid = 0
    for start in range(0, len(orders), 256):
        recorded = client.record_orders(request_id=f"b{start}", orders=orders[start : start + 256])
        paid += sum(o.split.paid_fen for o in recorded.orders)
    assert paid == INT64_MAX
    balances = read_back(client, server)
    assert balances == {"buyer_funds": -INT64_MAX, "escrow": INT64_MAX}
    pending = [client.get_balance(account=a).pending_fen for a in ("merchant:s1", "platform:fee")]
    assert sum(pending) == INT64_MAX
    assert statement_balance(client, "escrow") == INT64_MAX

    before = state(server)
    one_fen = order("one-fen", (1, 1))
    assert client.preview_split(order=one_fen).split.paid_fen == 1  # a preview writes nothing
    one_fen_stream = [pb.StreamRecordOrdersRequest(request_id="over-3", orders=[one_fen])]
    for call, account, balance in (
        (lambda: client.record_order(request_id="over-1", order=one_fen), "escrow", 2**63),
        # Two fen: buyer_funds would leave int64 too (at -2^63 - 1), and is named first.
        (
            lambda: client.record_orders(request_id="over-2", orders=[order("other", (1, 1)), one_fen]),
            "buyer_funds",
            -(2**63) - 1,
        ),
        (lambda: list(client.stream_record_orders(iter(one_fen_stream))), "escrow", 2**63),
    ):
        error = refused(call, errors.FailedPrecondition)
        assert error.reason == "BALANCE_OUT_OF_RANGE"
        assert error.metadata == {"account": account, "balance_fen": str(balance)}
    assert state(server) == before
    refused(lambda: client.get_order(order_id="one-fen"), errors.NotFound)

    for k, o in enumerate(orders):
        client.confirm_receipt(request_id=f"c{k}", order_id=o.order_id, confirmed_at=ts(T0))
    run = client.run_settlement(request_id="run", as_of=ts(T0 + 7 * DAY_S))
    assert (run.settled_count, run.settled_fen) == (1_024, INT64_MAX)
    balances = read_back(client, server)
    assert balances["escrow"] == 0 and balances["merchant:s1"] + balances["platform:fee"] == INT64_MAX
    assert statement_balance(client, "merchant:s1") == balances["merchant:s1"]

    client.record_order(request_id="last-fen", order=one_fen)  # buyer_funds: -2^63, the last fen it can give
    assert client.get_balance(account="buyer_funds").settled_fen == INT64_MIN
    before = state(server)
    error = refused(
        lambda: client.record_order(request_id="beyond", order=order("beyond", (1, 1))), errors.FailedPrecondition
    )
    assert (error.reason, error.metadata["account"]) == ("BALANCE_OUT_OF_RANGE", "buyer_funds")
    assert state(server) == before
    read_back(client, server)


def seed(server: XiaodianServer, name: str, *moves: tuple[str, str, int]) -> None:
    """Money moved between accounts by ledger transfers (source, target, amount), to bring a
    balance near an end of int64 without a billion orders."""
    with server.db.transaction() as conn:
        ledger.post(
            conn,
            [
                ledger.movement(f"{name}/{k}", source, target, amount, pb.TRANSFER_CODE_SUBSIDY, name, 0)
                for k, (source, target, amount) in enumerate(moves)
            ],
        )


def test_settling_into_a_full_balance_is_refused_and_changes_nothing(client: Client, server: XiaodianServer) -> None:
    client.record_order(request_id="r1", order=order("o1", (10_000, 1)))
    client.confirm_receipt(request_id="r2", order_id="o1", confirmed_at=ts(T0))
    merchant_payout = client.get_balance(account="merchant:s1").pending_fen
    assert merchant_payout == 9_900  # the new-merchant rate: 1 %
    seed(server, "seed-1", ("platform:subsidy", "merchant:s1", INT64_MAX - merchant_payout + 1))
    before = state(server)
    error = refused(
        lambda: client.run_settlement(request_id="r3", as_of=ts(T0 + 30 * DAY_S)), errors.FailedPrecondition
    )
    assert (error.reason, error.metadata["account"]) == ("BALANCE_OUT_OF_RANGE", "merchant:s1")
    assert state(server) == before
    assert client.get_order(order_id="o1").state == pb.ORDER_STATE_RECEIPT_CONFIRMED
    # One fen less in the merchant's balance and the same run settles, to int64's last fen.
    seed(server, "seed-2", ("merchant:s1", "platform:subsidy", 1))
    assert client.run_settlement(request_id="r4", as_of=ts(T0 + 30 * DAY_S)).settled_count == 1
    balances = read_back(client, server)
    assert balances["merchant:s1"] == INT64_MAX and balances["escrow"] == 0


def test_a_clawback_below_int64_min_is_refused_and_changes_nothing(client: Client, server: XiaodianServer) -> None:
    client.record_order(request_id="r1", order=order("o1", (10_000, 1), shop_id="s2"))
    client.confirm_receipt(request_id="r2", order_id="o1", confirmed_at=ts(T0))
    client.run_settlement(request_id="r3", as_of=ts(T0 + 30 * DAY_S))
    merchant = client.get_balance(account="merchant:s2").settled_fen
    assert merchant == 9_900
    # Balances may go negative (owed): bring the merchant's within 9,899 fen of int64's floor.
    rest = merchant - (INT64_MIN + 9_899)
    seed(
        server,
        "seed",
        ("merchant:s2", "platform:subsidy", INT64_MAX),
        ("merchant:s2", "government:subsidy", rest - INT64_MAX),
    )
    assert client.get_balance(account="merchant:s2").settled_fen == INT64_MIN + 9_899
    before = state(server)
    refund = pb.RefundLine(line_id="l0", amount_fen=10_000)
    error = refused(
        lambda: client.record_refund(
            request_id="r4", order_id="o1", refund_id="f1", lines=[refund], refunded_at=ts(T0 + 40 * DAY_S)
        ),
        errors.FailedPrecondition,
    )
    assert (error.reason, error.metadata["account"]) == ("BALANCE_OUT_OF_RANGE", "merchant:s2")
    assert state(server) == before
    stored = client.get_order(order_id="o1")
    assert stored.state == pb.ORDER_STATE_SETTLED and not stored.refunds
    read_back(client, server)


def test_guide_performance_beyond_int64_is_failed_precondition(client: Client, server: XiaodianServer) -> None:
    """Two orders of 2^62 fen paid by the same guide's customers (written to the store as
    they would be with a larger bound): their sum does not fit, a narrower range does."""
    with server.db.transaction() as conn:
        conn.executemany(
            "INSERT INTO settlement_orders (order_id, shop_id, content_sha256, paid_at_us, state, guide_id, paid_fen,"
            " order_pb, split_blob, line_refunds_json) VALUES (?, 's1', ?, ?, 1, 'g1', ?, ?, ?, '[0]')",
            [("o1", b"\0", T0 * 10**6, 2**62, b"", b""), ("o2", b"\0", (T0 + DAY_S) * 10**6, 2**62, b"", b"")],
        )
    error = refused(lambda: client.get_guide_performance(guide_id="g1"), errors.FailedPrecondition)
    assert (error.reason, error.metadata["guide_id"]) == ("SUM_OUT_OF_RANGE", "g1")
    one = client.get_guide_performance(guide_id="g1", start_time=ts(T0), end_time=ts(T0 + DAY_S))
    assert (one.order_count, one.paid_fen) == (1, 2**62)


def test_a_creators_settled_gmv_beyond_int64_is_refused(tmp_path: Path) -> None:
    """Orders settled with sums at int64's edge (written by the schema before the creators'
    GMV table; its migration credits them)."""
    db = SqliteDatabase(tmp_path / "gmv.db")
    db.migrate([m for m in MIGRATIONS["sqlite"] if m.id != "settlement-0006-creator-gmv"])
    credited = order(
        "o", (1, 1), attribution=pb.Attribution(creator=pb.CreatorCommission(creator_id="k1"))
    ).SerializeToString()
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO settlement_orders (order_id, shop_id, content_sha256, paid_at_us, state, settled_at_us,"
            " paid_fen, order_pb, split_blob, line_refunds_json) VALUES (?, 's1', x'00', 0, 3, ?, ?, ?, x'', '[0]')",
            [("o1", 10, 2**62, credited), ("o2", 20, 2**62 - 1, credited), ("o3", 30, 1, credited)],
        )
    db.migrate(MIGRATIONS["sqlite"])
    conn = db.connection()
    assert gmv.settled_gmv_by_creator(conn, 0, 30) == {"k1": INT64_MAX}
    with pytest.raises(errors.FailedPrecondition) as raised:
        gmv.settled_gmv_by_creator(conn, 0, 31)
    assert (raised.value.reason, raised.value.metadata["creator_id"]) == ("SUM_OUT_OF_RANGE", "k1")
    db.close()


@settings(max_examples=40, deadline=None)
@given(
    room=st.integers(0, 3 * LIMIT),
    batches=st.lists(
        st.lists(
            st.sampled_from([(1, 1), (2, 1), (2**33, 2**19), LIMIT_LINE_LESS_ONE, LIMIT_LINE]), min_size=1, max_size=3
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_near_int64_a_batch_is_recorded_whole_exactly_when_every_sum_fits(
    room: int, batches: list[list[tuple[int, int]]]
) -> None:
    """Escrow seeded `room` fen below int64's top; each batch of orders (of one line each) is
    recorded whole when escrow can take it and refused whole (BALANCE_OUT_OF_RANGE naming
    escrow, nothing written) when it cannot; the balances always sum to exactly zero, escrow
    holds the seed and what was recorded, and every sum is an integer."""
    with tempfile.TemporaryDirectory() as scratch:
        db = SqliteDatabase(Path(scratch) / "db")
        db.migrate(MIGRATIONS["sqlite"])
        service = SettlementService(db, Policy(bounds=MoneyBounds(LIMIT, LIMIT)))
        with db.transaction() as conn:
            ledger.post(conn, [ledger.movement("seed", "platform:subsidy", "escrow", INT64_MAX - room, 2, "seed", 0)])
        escrow = INT64_MAX - room
        for b, lines in enumerate(batches):
            orders = [order(f"o{b}-{k}", line) for k, line in enumerate(lines)]
            grosses = [price * quantity for price, quantity in lines]
            request = pb.RecordOrdersRequest(request_id=f"r{b}", orders=orders)
            if escrow + sum(grosses) <= INT64_MAX:
                service.RecordOrders(request.SerializeToString(), None)  # type: ignore[arg-type]
                escrow += sum(grosses)
            else:
                with pytest.raises(errors.FailedPrecondition) as raised:
                    service.RecordOrders(request.SerializeToString(), None)  # type: ignore[arg-type]
                assert (raised.value.reason, raised.value.metadata["account"]) == ("BALANCE_OUT_OF_RANGE", "escrow")
            conn = db.connection()
            balances = dict(conn.execute("SELECT account, balance_fen FROM ledger_balances").fetchall())
            assert balances["escrow"] == escrow and sum(balances.values()) == 0
            pending = sum(p for (p,) in conn.execute("SELECT pending_fen FROM settlement_pending"))
            assert pending == escrow - (INT64_MAX - room)
            kinds = {kind for table, column in MONEY_COLUMNS for kind in databases.value_kinds(conn, table, column)}
            assert kinds <= {"integer"}
        db.close()


def test_a_pending_sum_beyond_int64_is_refused_by_the_one_place_that_adds_sums(tmp_path: Path) -> None:
    """`ledger.add_sums` directly: an overflowing sum or delta is refused, the statement undone,
    the first key out of range named; sums within range are added."""
    db = SqliteDatabase(tmp_path / "sums.db")
    db.migrate(MIGRATIONS["sqlite"])
    with db.transaction() as conn:
        ledger.add_sums(conn, schema.PENDING, [("a", INT64_MAX - 1), ("b", INT64_MIN)])
    for deltas, named in (
        ([("c", 5), ("a", 2)], "a"),  # the first row is undone with the statement
        ([("b", -1)], "b"),
        ([("c", 2**64)], "c"),  # a delta sqlite3 cannot even bind
    ):
        with pytest.raises(errors.FailedPrecondition) as raised, db.transaction() as conn:
            ledger.add_sums(conn, schema.PENDING, deltas)
        assert (raised.value.reason, raised.value.metadata["account"]) == ("PENDING_OUT_OF_RANGE", named)
    conn = db.connection()
    assert conn.execute("SELECT account, pending_fen FROM settlement_pending ORDER BY account").fetchall() == [
        ("a", INT64_MAX - 1),
        ("b", INT64_MIN),
    ]
    with db.transaction() as conn:
        conn.execute("SAVEPOINT outer_work")
        ledger.add_sums(conn, schema.PENDING, [("a", 1), ("b", INT64_MAX), ("c", 3)])
    assert dict(conn.execute("SELECT account, pending_fen FROM settlement_pending").fetchall()) == {
        "a": INT64_MAX,
        "b": -1,
        "c": 3,
    }
    # A delta beyond int64 whose sum is within it is added all the same.
    with db.transaction() as conn:
        ledger.add_sums(conn, schema.PENDING, [("c", -3), ("a", -(2**64) + 1)])
    assert dict(conn.execute("SELECT account, pending_fen FROM settlement_pending").fetchall()) == {
        "a": INT64_MIN,
        "b": -1,
        "c": 0,
    }
    with pytest.raises(sqlite3.IntegrityError), db.transaction() as conn:
        # Anything else the database refuses is not taken for an overflow.
        conn.execute("CREATE TEMP TABLE t (k TEXT PRIMARY KEY, x INTEGER CHECK (x > 0))")
        ledger.add_sums(conn, ledger.RunningSums("t", "k", "x", "T", "t"), [("k1", -5)])
    db.close()


# --- dates derived past 9999 --------------------------------------------------------------

END = TIMESTAMP_MAX_SECONDS  # 9999-12-31T23:59:59Z


def test_a_receipt_that_would_settle_after_9999_is_invalid_argument(client: Client, server: XiaodianServer) -> None:
    client.record_order(request_id="r1", order=order("o1", (1_000, 1), paid_at=END - 20 * DAY_S))
    client.record_order(request_id="r2", order=order("o2", (1_000, 1), paid_at=END - 20 * DAY_S))
    before = state(server)
    error = refused(
        lambda: client.confirm_receipt(request_id="r3", order_id="o1", confirmed_at=ts(END - DAY_S)),
        errors.InvalidArgument,
    )
    assert [v.field for v in error.violations] == ["confirmed_at"]
    assert "9999-12-31" in error.violations[0].description
    assert state(server) == before
    assert client.get_order(order_id="o1").state == pb.ORDER_STATE_PAID
    # The last microsecond a timestamp holds is still a settle time.
    confirmed = client.confirm_receipt(request_id="r4", order_id="o2", confirmed_at=ts(END - 7 * DAY_S, 999_999_999))
    assert confirmed.settle_after == ts(END, 999_999_000)
    run = client.run_settlement(request_id="r5", as_of=ts(END, 999_999_999))
    assert (run.settled_count, run.settled_fen) == (1, 1_000)
    assert client.get_order(order_id="o2").settle_after == ts(END, 999_999_000)


# --- the Rust reader and the Python definition agree on the bounds ------------------------


def python_violations(message: pb.Order, bounds: MoneyBounds) -> list[str]:
    v = Violations()
    validate_order(v, "order", message, bounds)
    return [field for field, _ in v.items]


def rust_violations(message: pb.Order, bounds: MoneyBounds) -> list[str]:
    """The fields `_core.read_orders` names in a PreviewSplitRequest of `message`."""
    request = pb.PreviewSplitRequest(order=message).SerializeToString()
    try:
        _core.read_orders(request, "preview", 1, bounds.max_line_fen, bounds.max_order_fen)
    except errors.InvalidArgument as error:
        return [v.field for v in error.violations]
    return []


@st.composite
def bounded_orders(draw: st.DrawFn) -> tuple[pb.Order, MoneyBounds]:
    """Bounds anywhere the configuration allows (and beyond, up to int64), and lines whose
    gross falls on either side of the line bound, and whose sum on either side of the order
    bound, by a fen."""
    edge = st.sampled_from([1, 2, 10**12, 10**13, LIMIT - 1, LIMIT, 10**18, INT64_MAX])
    max_line = draw(edge | st.integers(1, LIMIT))
    max_order = draw(st.sampled_from([max_line, LIMIT, INT64_MAX]) | st.integers(max_line, max(max_line, LIMIT)))
    lines = []
    for _ in range(draw(st.integers(1, 5))):
        quantity = draw(st.sampled_from([1, 2, 7, MAX_QUANTITY]) | st.integers(1, MAX_QUANTITY))
        near = max_line // quantity + draw(st.integers(-1, 1))
        price = draw(st.sampled_from([0, 1, MAX_UNIT_PRICE_FEN, near]) | st.integers(0, MAX_UNIT_PRICE_FEN))
        lines.append((min(max(price, 0), MAX_UNIT_PRICE_FEN), quantity))
    if draw(st.booleans()):
        # The last line brings the order to its bound, a fen under or a fen over.
        rest = max_order - sum(p * q for p, q in lines[:-1]) + draw(st.integers(-1, 1))
        if 0 <= rest <= MAX_UNIT_PRICE_FEN:
            lines[-1] = (rest, 1)
    return order("o1", *lines), MoneyBounds(max_line, max_order)


@settings(max_examples=2_000, deadline=None)
@given(bounded_orders())
def test_rust_and_python_agree_on_the_money_bounds(case: tuple[pb.Order, MoneyBounds]) -> None:
    message, bounds = case
    grosses = [line.unit_price_fen * line.quantity for line in message.lines]
    expected = [f"order.lines[{i}]" for i, g in enumerate(grosses) if g > bounds.max_line_fen]
    if sum(grosses) > bounds.max_order_fen:
        expected.append("order.lines")
    assert python_violations(message, bounds) == expected
    assert rust_violations(message, bounds) == expected


def test_an_order_gross_beyond_int64_is_refused_by_both_without_overflow() -> None:
    """500 lines of 10^18 fen: 5 x 10^20 in all, which no int64 holds."""
    message = order("o1", *[(MAX_UNIT_PRICE_FEN, MAX_QUANTITY)] * 500)
    bounds = MoneyBounds(INT64_MAX, INT64_MAX)
    assert python_violations(message, bounds) == ["order.lines"]
    assert rust_violations(message, bounds) == ["order.lines"]
    assert rust_violations(order("o2", *[(MAX_UNIT_PRICE_FEN, MAX_QUANTITY)] * 9), bounds) == []


def test_the_bounded_orders_fall_on_both_sides_of_the_bounds() -> None:
    """The differential test is only as good as its mix: valid orders, lines over their bound
    and orders over theirs, each often."""
    seen = {"valid": 0, "line": 0, "order": 0}

    @settings(max_examples=400, deadline=None, database=None)
    @given(bounded_orders())
    def count(case: tuple[pb.Order, MoneyBounds]) -> None:
        fields = python_violations(*case)
        seen["valid"] += not fields
        seen["line"] += any(f.startswith("order.lines[") for f in fields)
        seen["order"] += "order.lines" in fields

    count()
    assert all(n >= 40 for n in seen.values()), seen
