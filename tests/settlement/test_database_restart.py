"""PostgreSQL going away and coming back (issue 22): calls made while it is down are
UNAVAILABLE with a retry hint, never a wrong answer or INTERNAL, and write nothing; the server
recovers by itself when it returns; a loader that retries with the same request_id through a
restart of PostgreSQL loses nothing and doubles nothing, and the ledger balances.

(The kill -9 soak of `test_crash.py` runs on PostgreSQL too, in the suite's PostgreSQL pass.)"""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from xiaodian import Client
from xiaodian.errors import Unavailable
from xiaodian.platform.server import XiaodianServer
from xiaodian.settlement import ledger
from xiaodian.v1 import settlement_service_pb2 as pb
from xiaodian.v1 import settlement_service_pb2_grpc

T0 = 1_790_000_000
PAID_FEN = 10_000


@pytest.fixture(autouse=True)
def _postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("restarts PostgreSQL (pytest --backend postgresql)")


def batch(name: str, count: int = 10) -> pb.RecordOrdersRequest:
    return pb.RecordOrdersRequest(
        request_id=name,
        orders=[
            pb.Order(
                order_id=f"{name}-{i}",
                shop_id="m1",
                paid_at=Timestamp(seconds=T0),
                lines=[
                    pb.OrderLine(line_id="l1", product_id="p1", category_id="c1", unit_price_fen=PAID_FEN, quantity=1)
                ],
            )
            for i in range(count)
        ],
    )


def test_calls_while_the_database_is_down_are_unavailable_with_a_retry_hint_and_recover(
    pg_cluster, server: XiaodianServer, client: Client
) -> None:
    client.record_orders(batch("before"))
    pg_cluster.halt()
    try:
        with pytest.raises(Unavailable) as refused:
            client.record_orders(batch("during"))
        assert refused.value.reason == "DATABASE_UNAVAILABLE"
        with pytest.raises(Unavailable):
            client.get_balance(account="escrow")
        # The raw status carries RetryInfo, for callers in every language.
        with grpc.insecure_channel(server.address) as channel:
            stub = settlement_service_pb2_grpc.SettlementServiceStub(channel)
            token = server.config.admin_token_path.read_text().strip()
            with pytest.raises(grpc.RpcError) as raw:
                stub.GetBalance(
                    pb.GetBalanceRequest(account="escrow"), metadata=[("authorization", f"Bearer {token}")], timeout=10
                )
        assert raw.value.code() == grpc.StatusCode.UNAVAILABLE
        status = rpc_status.from_call(raw.value)
        retry = error_details_pb2.RetryInfo()
        assert any(detail.Unpack(retry) for detail in status.details)
        assert retry.retry_delay.ToMilliseconds() == 1000
    finally:
        pg_cluster.resume()
    # Back: the refused batch was not written, its retry is, once.
    deadline = time.monotonic() + 30
    while True:
        try:
            client.record_orders(batch("during"))
            break
        except Unavailable:
            assert time.monotonic() < deadline, "the server did not recover within 30 s"
            time.sleep(0.2)
    client.record_orders(batch("during"))  # a replay
    assert client.get_balance(account="escrow").settled_fen == 2 * 10 * PAID_FEN


def test_a_loader_that_retries_through_a_postgresql_restart_loses_and_doubles_nothing(
    pg_cluster, server: XiaodianServer, client: Client
) -> None:
    batches = [batch(f"load-{n}") for n in range(120)]
    acknowledged: list[str] = []

    def load() -> None:
        for request in batches:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.record_orders(request)
                    acknowledged.append(request.request_id)
                    break
                except Unavailable:  # PostgreSQL restarting: retry with the same request_id
                    assert time.monotonic() < deadline
                    time.sleep(0.05)

    loader = threading.Thread(target=load)
    loader.start()
    while len(acknowledged) < 20 and loader.is_alive():
        time.sleep(0.01)
    pg_cluster.restart()
    loader.join(timeout=120)
    assert not loader.is_alive()
    assert len(acknowledged) == len(batches)
    assert client.get_balance(account="escrow").settled_fen == len(batches) * 10 * PAID_FEN
    assert ledger.balances_total(server.db.connection()) == 0
