"""Hostile callers against a real server: malformed bytes to every RPC, extreme integers and
timestamps in every field, forged and replayed page tokens, error floods, idle and flooding
streams while Health is polled, more calls than the server admits. Each asserts the status
and that nothing stored changed. (kill -9 during a stream: tests/settlement/test_crash.py.)"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xiaodian import Client, errors
from xiaodian.platform.config import Config
from xiaodian.platform.server import XiaodianServer
from xiaodian.v1 import creator_service_pb2 as creator_pb
from xiaodian.v1 import search_service_pb2 as search_pb
from xiaodian.v1 import settlement_service_pb2 as settlement_pb

from tests import databases
from tests.platform.methods import METHODS

#: What a hostile request may be answered with; never INTERNAL or UNKNOWN.
ACCEPTABLE = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def snapshot(server: XiaodianServer) -> str:
    """A digest of every row of every table: equal before and after means nothing changed."""
    return databases.digest(server.db)


def seed(client: Client) -> None:
    """A shop, products, an order, creators scored: so handlers reach their stored paths."""
    client.upsert_shops(
        shops=[search_pb.Shop(shop_id="s1", name="山下有松", opened_at=Timestamp(seconds=1_700_000_000))]
    )
    client.upsert_products(
        products=[
            search_pb.Product(
                product_id=f"p{i}",
                shop_id="s1",
                title=f"羊绒围巾女款 {i} 号",
                category_id="c1",
                price_fen=100 + i,
                version=1,
            )
            for i in range(30)
        ]
    )
    for order_id in ("o1", "o2"):
        order = settlement_pb.Order(
            order_id=order_id,
            shop_id="s1",
            paid_at=Timestamp(seconds=1_790_000_000),
            lines=[
                settlement_pb.OrderLine(line_id="l1", product_id="p1", category_id="c", unit_price_fen=1000, quantity=1)
            ],
        )
        client.record_order(order=order)
    client.upsert_creator_metrics(
        metrics=[
            creator_pb.CreatorMetrics(
                creator_id=f"c{i}",
                period="2026-09",
                settled_gmv_fen=i * 1000,
                effective_followers=100 * i,
                sales_score=50.0,
            )
            for i in range(5)
        ]
    )
    client.score_creators(period="2026-09")


@pytest.fixture
def seeded(server: XiaodianServer, client: Client) -> XiaodianServer:
    seed(client)
    return server


def call(
    channel: grpc.Channel, name: str, method: descriptor.MethodDescriptor, payload: bytes, metadata
) -> grpc.StatusCode:
    """Sends `payload` (each message of a stream) as the request bytes; the status answered."""
    try:
        if method.client_streaming and method.server_streaming:
            for _ in channel.stream_stream(name)(iter([payload]), metadata=metadata, timeout=10):
                pass
        elif method.client_streaming:
            channel.stream_unary(name)(iter([payload]), metadata=metadata, timeout=10)
        else:
            channel.unary_unary(name)(payload, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_malformed_bytes_to_every_rpc_are_invalid_argument_and_change_nothing(seeded, client) -> None:
    before = snapshot(seeded)
    with grpc.insecure_channel(seeded.address) as channel:
        for payload in (b"\xff\xff\xff\xff", b"\x0a\xff\x01", b"\x12\x03\xe4\xbd"):  # bad tag, bad length, cut UTF-8
            for name, method in METHODS:
                assert call(channel, name, method, payload, client._metadata) == grpc.StatusCode.INVALID_ARGUMENT, (
                    name,
                    payload,
                )
    assert snapshot(seeded) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=200), which=st.integers(0, len(METHODS) - 1))
def test_random_bytes_are_never_internal(seeded, client, payload: bytes, which: int) -> None:
    name, method = METHODS[which]
    with grpc.insecure_channel(seeded.address) as channel:
        assert call(channel, name, method, payload, client._metadata) in ACCEPTABLE


INT_EXTREMES = {
    descriptor.FieldDescriptor.CPPTYPE_INT64: (2**63 - 1, -(2**63), -1),
    descriptor.FieldDescriptor.CPPTYPE_UINT64: (2**64 - 1,),
    descriptor.FieldDescriptor.CPPTYPE_INT32: (2**31 - 1, -(2**31), -1),
    descriptor.FieldDescriptor.CPPTYPE_UINT32: (2**32 - 1,),
    descriptor.FieldDescriptor.CPPTYPE_DOUBLE: (float("inf"), float("nan"), -1e308, 1e308),
    descriptor.FieldDescriptor.CPPTYPE_FLOAT: (float("inf"), float("nan")),
}
TIMESTAMP_EXTREMES = ((253_402_300_799, 999_999_999), (-62_135_596_800, 0), (253_402_300_800, 0), (0, -1))


def extreme(message_type: type[Message], choice: int, depth: int = 0) -> Message:
    """A message of `message_type` with every number at the `choice`-th extreme of its kind and
    every id a plausible one (so the numbers are what the server meets), one element per
    repeated field, nested messages filled to depth 3."""
    message = message_type()
    if message.DESCRIPTOR.full_name == "google.protobuf.Timestamp":
        seconds, nanos = TIMESTAMP_EXTREMES[choice % len(TIMESTAMP_EXTREMES)]
        return Timestamp(seconds=seconds, nanos=nanos)
    for field in message.DESCRIPTOR.fields:
        if field.containing_oneof is not None and message.WhichOneof(field.containing_oneof.name):
            continue
        values = INT_EXTREMES.get(field.cpp_type)
        if field.cpp_type == field.CPPTYPE_MESSAGE:
            if depth >= 3:
                continue
            child = extreme(field.message_type._concrete_class, choice, depth + 1)
            if field.is_repeated:
                getattr(message, field.name).add().CopyFrom(child)
            else:
                getattr(message, field.name).CopyFrom(child)
            continue
        if field.cpp_type == field.CPPTYPE_STRING:
            value = (
                b"\x89PNG\r\n" if field.type == field.TYPE_BYTES else ("2026-09" if field.name == "period" else "x1")
            )
        elif field.cpp_type == field.CPPTYPE_BOOL:
            value = True
        elif field.cpp_type == field.CPPTYPE_ENUM:
            value = [v.number for v in field.enum_type.values][-1] if choice % 2 else 999
        elif values is not None:
            value = values[choice % len(values)]
        else:
            continue
        if field.is_repeated:
            getattr(message, field.name).append(value)
        else:
            setattr(message, field.name, value)
    return message


@pytest.mark.parametrize("choice", range(4))
def test_extreme_integers_and_timestamps_in_every_field_are_never_internal(seeded, client, choice: int) -> None:
    with grpc.insecure_channel(seeded.address) as channel:
        for name, method in METHODS:
            before = snapshot(seeded)
            request = extreme(method.input_type._concrete_class, choice)
            code = call(channel, name, method, request.SerializeToString(), client._metadata)
            assert code in ACCEPTABLE, (name, code)
            if code != grpc.StatusCode.OK:
                assert snapshot(seeded) == before, name


def test_orders_at_9e18_fen_are_invalid_argument_and_the_ledger_stays_integer(seeded, client) -> None:
    before = snapshot(seeded)
    for i in range(2):
        order = settlement_pb.Order(
            order_id=f"huge-{i}",
            shop_id="s1",
            paid_at=Timestamp(seconds=1_790_000_000),
            lines=[
                settlement_pb.OrderLine(
                    line_id="l1", product_id="p1", category_id="c", unit_price_fen=9 * 10**18, quantity=1
                )
            ],
        )
        with pytest.raises(errors.InvalidArgument):
            client.record_order(order=order)
    assert snapshot(seeded) == before
    conn = seeded.db.connection()
    assert databases.value_kinds(conn, "ledger_balances", "balance_fen") == {"integer"}
    assert client.get_balance(account="escrow").settled_fen == 2000


def test_a_thousand_bad_orders_give_a_small_error_listing_the_first_violations(seeded, client) -> None:
    before = snapshot(seeded)
    orders = [
        settlement_pb.Order(
            order_id=f"zero-{i}",
            shop_id="s1",
            paid_at=Timestamp(seconds=1_790_000_000),
            lines=[
                settlement_pb.OrderLine(line_id="l1", product_id="p1", category_id="c", unit_price_fen=100, quantity=0)
            ],
        )
        for i in range(1000)
    ]
    try:
        client._settlement.RecordOrders(
            settlement_pb.RecordOrdersRequest(request_id="zeros", orders=orders), metadata=client._metadata, timeout=10
        )
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # not RESOURCE_EXHAUSTED: the trailer fits
        trailer_bytes = sum(len(k) + len(v) for k, v in error.trailing_metadata())
        assert trailer_bytes < 8192 // 2, trailer_bytes
        invalid = errors.from_rpc_error(error)
    else:
        raise AssertionError("accepted")
    assert isinstance(invalid, errors.InvalidArgument)
    assert len(invalid.violations) == errors.MAX_FIELD_VIOLATIONS
    assert invalid.violation_count == 1000
    assert invalid.violations[0].field.startswith("orders[0].lines[0]")
    assert invalid.metadata["violation_count"] == "1000"
    assert snapshot(seeded) == before


# --- page tokens ------------------------------------------------------------------------------


def _edited(token: str, edit) -> str:
    """`token` with its JSON payload changed by `edit`, the old tag kept (a forgery)."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    payload, tag = raw[:-16], raw[-16:]
    values = json.loads(payload)
    edit(values)
    forged = json.dumps(values, separators=(",", ":")).encode() + tag
    return base64.urlsafe_b64encode(forged).decode().rstrip("=")


def test_forged_and_replayed_page_tokens_are_invalid_argument(seeded, client) -> None:
    first = client.search(query="羊绒围巾", page_size=5)
    assert first.next_page_token
    for page in (4294967296, 4294967295, -1, 2):

        def set_page(values: list, page: int = page) -> None:
            values[1] = page

        with pytest.raises(errors.InvalidArgument) as caught:
            client.search(query="羊绒围巾", page_size=5, page_token=_edited(first.next_page_token, set_page))
        assert caught.value.violations[0].field == "page_token"
    # Signed by the server itself, but out of range (as a token from a server with a wider window).
    deep = seeded.search.tokens.issue("search", 4294967295, int(time.time()), 1, "x")
    with pytest.raises(errors.InvalidArgument):
        client.search(query="羊绒围巾", page_size=5, page_token=deep)
    # A token of another method, or of another account, is refused as well.
    statement = client.get_statement(account="escrow", page_size=1)
    assert statement.next_page_token
    with pytest.raises(errors.InvalidArgument):
        client.search(query="羊绒围巾", page_size=5, page_token=statement.next_page_token)
    with pytest.raises(errors.InvalidArgument):
        client.get_statement(account="buyer_funds", page_size=1, page_token=statement.next_page_token)
    leaderboard = client.list_top_creators(period="2026-09", page_size=2)
    with pytest.raises(errors.InvalidArgument):
        client.get_statement(account="escrow", page_size=1, page_token=leaderboard.next_page_token)
    with pytest.raises(errors.InvalidArgument):
        client.list_top_creators(
            period="2026-09",
            page_size=2,
            page_token=_edited(leaderboard.next_page_token, lambda v: v.__setitem__(4, 0)),
        )
    # The honest tokens still work.
    assert client.search(query="羊绒围巾", page_size=5, page_token=first.next_page_token).hits
    assert client.get_statement(account="escrow", page_size=1, page_token=statement.next_page_token).transfers


def test_pages_stop_at_the_result_window(tmp_path: Path) -> None:
    config = Config.ephemeral(tmp_path / "data")
    config.search.max_result_window = 100
    server = XiaodianServer(config)
    server.start()
    try:
        with server.admin_client(timeout=10) as client:
            client.upsert_shops(
                shops=[search_pb.Shop(shop_id="s1", name="店", opened_at=Timestamp(seconds=1_700_000_000))]
            )
            client.upsert_products(
                products=[
                    search_pb.Product(
                        product_id=f"p{i:03}", shop_id="s1", title=f"羊绒围巾 {i} 号", category_id="c1", version=1
                    )
                    for i in range(150)
                ]
            )
            token, pages = "", 0
            while True:
                page = client.search(query="羊绒围巾", page_size=40, page_token=token, keep_duplicates=True)
                pages += 1
                token = page.next_page_token
                if not token:
                    break
            assert pages == 2 and page.total_matched == 150  # results 0-79; a third page would end at 120
    finally:
        server.stop()


# --- streams and admission --------------------------------------------------------------------


def _limited_server(tmp_path: Path, **server_settings: object) -> XiaodianServer:
    config = Config.ephemeral(tmp_path / "data")
    config.server.max_workers = 4
    config.server.max_concurrent_streams = 2
    config.server.stream_idle_timeout_seconds = 1.5
    for key, value in server_settings.items():
        setattr(config.server, key, value)
    server = XiaodianServer(config)
    server.start()
    return server


def test_idle_streams_cannot_starve_health_search_or_balances_and_are_cancelled(tmp_path) -> None:
    server = _limited_server(tmp_path)
    release = threading.Event()
    outcomes: list[grpc.StatusCode] = []

    def one_then_silence() -> Iterator[creator_pb.StreamUpsertCreatorMetricsRequest]:
        """As in the report: one message, then the stream stays open and silent."""
        yield creator_pb.StreamUpsertCreatorMetricsRequest(
            request_id=f"idle-{threading.get_ident()}",
            metrics=[
                creator_pb.CreatorMetrics(creator_id="c1", period="2026-09", effective_followers=1, sales_score=60)
            ],
        )
        release.wait(30)

    try:
        with server.admin_client(timeout=10) as client:
            stub_call = client._creators.StreamUpsertCreatorMetrics

            def hold() -> None:
                try:
                    stub_call(one_then_silence(), metadata=client._metadata, timeout=30)
                    outcomes.append(grpc.StatusCode.OK)
                except grpc.RpcError as error:
                    outcomes.append(error.code())

            holders = [threading.Thread(target=hold) for _ in range(2)]
            for holder in holders:
                holder.start()
            time.sleep(0.3)
            with pytest.raises(errors.ResourceExhausted):  # the stream slots are taken
                client.stream_upsert_products(iter([]), timeout=3)
            for _ in range(20):  # unary calls and Health keep their capacity
                assert client.health(timeout=3) == "SERVING"
                client.search(query="围巾", timeout=3)
                client.get_balance(account="escrow", timeout=3)
            for holder in holders:
                holder.join(15)
            assert outcomes == [grpc.StatusCode.DEADLINE_EXCEEDED] * 2
            # The slots are free again.
            assert client.stream_upsert_products(iter([]), timeout=5).batch_count == 0
    finally:
        release.set()
        server.stop()


def test_a_flooding_stream_leaves_health_answering(tmp_path) -> None:
    server = _limited_server(tmp_path)
    try:
        with server.admin_client(timeout=30) as client:
            batches = (
                creator_pb.StreamUpsertCreatorMetricsRequest(
                    request_id=f"flood-{i}",
                    metrics=[
                        creator_pb.CreatorMetrics(
                            creator_id=f"c{i}", period="2026-09", effective_followers=i, sales_score=60.0
                        )
                    ],
                )
                for i in range(400)
            )
            done: list[int] = []
            flood = threading.Thread(
                target=lambda: done.append(client.stream_upsert_creator_metrics(batches).upserted_count)
            )
            flood.start()
            polls = 0
            while flood.is_alive() and polls < 200:
                assert client.health(timeout=3) == "SERVING"
                polls += 1
            flood.join(60)
            assert done == [400] and polls > 0
    finally:
        server.stop()


def test_calls_beyond_maximum_concurrent_rpcs_are_resource_exhausted_not_queued(tmp_path, monkeypatch) -> None:
    from xiaodian.search import profiles

    server = _limited_server(tmp_path, max_workers=2, maximum_concurrent_rpcs=2, max_concurrent_streams=1)
    real = profiles.get_profile
    monkeypatch.setattr(profiles, "get_profile", lambda *a, **k: (time.sleep(1.0), real(*a, **k))[1])
    codes: list[str] = []
    try:
        with server.admin_client(timeout=10) as client:

            def one() -> None:
                try:
                    client.get_ranking_profile(name="default")
                    codes.append("OK")
                except errors.ResourceExhausted:
                    codes.append("RESOURCE_EXHAUSTED")

            callers = [threading.Thread(target=one) for _ in range(6)]
            for caller in callers:
                caller.start()
            for caller in callers:
                caller.join(20)
            assert codes.count("OK") >= 2 and codes.count("RESOURCE_EXHAUSTED") >= 1, codes
            assert client.health(timeout=3) == "SERVING"
    finally:
        server.stop()


def test_page_token_keys_rotate_without_breaking_tokens_in_flight(tmp_path: Path) -> None:
    from xiaodian.platform.page_tokens import PageTokens

    old, new = b"o" * 32, b"n" * 32
    token = PageTokens(old).issue("statement", "escrow", 5, 7)
    assert PageTokens(new, previous_key=old).read(token, "statement", 3) == ["escrow", 5, 7]
    with pytest.raises(errors.InvalidArgument):
        PageTokens(new).read(token, "statement", 3)  # after the next rotation
    with pytest.raises(errors.InvalidArgument):
        PageTokens(new, previous_key=old).read(token, "search", 3)  # another method's
    # Without a configured key, the data directory's key file is made once and kept.
    first = PageTokens.from_config("", "", tmp_path).issue("search", 1)
    assert PageTokens.from_config("", "", tmp_path).read(first, "search", 1) == [1]
    assert oct((tmp_path / "page-token.key").stat().st_mode & 0o777) == "0o600"
