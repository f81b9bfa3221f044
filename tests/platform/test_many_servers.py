"""Many servers, one PostgreSQL database (issue 22): three real `xiaodian serve` processes on
one database. Catalog and profile writes through one reach every server's search index;
concurrent RecordOrders, RecordRefund and RunSettlement across servers lose nothing, double
nothing, settle nothing twice, never overspend a new merchant's allowance, and keep the ledger
balanced.

The servers share one data directory (as servers share their admin token and page-token key
in a deployment: README, "Many servers"), and each is one process (`--workers 1`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian import Client
from xiaodian.platform.db import open_database
from xiaodian.v1 import search_service_pb2 as search_pb
from xiaodian.v1 import settlement_service_pb2 as pb

from benchmarks.crash import Server

SERVERS = 3
T0 = 1_790_000_000
DAY_S = 86_400
#: The new-merchant allowance (fee base at the lower rate) of every shop, small enough that
#: the concurrent recordings below use it up many times over.
ALLOWANCE_FEN = 250_000


@pytest.fixture(scope="module")
def servers(backend: str, module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    if backend != "postgresql":
        pytest.skip("many servers share one database on PostgreSQL (pytest --backend postgresql)")
    data_dir = tmp_path_factory.mktemp("many")
    started: list[Server] = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("XIAODIAN_SETTLEMENT_NEW_MERCHANT_CAP_FEN", str(ALLOWANCE_FEN))
        try:
            for _ in range(SERVERS):  # one after another: they append to one log
                started.append(Server(data_dir, module_database_url))
            yield started
        finally:
            for server in started:
                server.kill()


@pytest.fixture(scope="module")
def clients(servers: list[Server]) -> Iterator[list[Client]]:
    opened = [server.admin_client(timeout=60) for server in servers]
    yield opened
    for client in opened:
        client.close()


def on_every(clients: list[Client], call: Callable[[int, Client], Any]) -> list[Any]:
    """`call(index, client)` on every server at once (released together); the results."""
    barrier = threading.Barrier(len(clients))
    results: list[Any] = [None] * len(clients)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[index] = call(index, clients[index])
        except BaseException as error:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def order(order_id: str, shop_id: str = "m1") -> pb.Order:
    return pb.Order(
        order_id=order_id,
        shop_id=shop_id,
        paid_at=Timestamp(seconds=T0),
        lines=[pb.OrderLine(line_id="l1", product_id="p1", category_id="c1", unit_price_fen=10_000, quantity=1)],
    )


def batch(request_id: str, prefix: str) -> pb.RecordOrdersRequest:
    """20 orders `{prefix}-0` … `{prefix}-19`."""
    return pb.RecordOrdersRequest(request_id=request_id, orders=[order(f"{prefix}-{i}") for i in range(20)])


def ledger_facts(url: str) -> dict[str, int]:
    db = open_database(url, Path("."))
    try:
        conn = db.connection()
        return {
            "balance_sum": conn.execute(
                "SELECT COALESCE(CAST(SUM(balance_fen) AS BIGINT), 0) FROM ledger_balances"
            ).fetchone()[0],
            "orders": conn.execute("SELECT COUNT(*) FROM settlement_orders").fetchone()[0],
            "payments": conn.execute(
                "SELECT COUNT(*) FROM ledger_transfers WHERE transfer_id LIKE '%/payment'"
            ).fetchone()[0],
            "max_allowance_used": conn.execute(
                "SELECT COALESCE(MAX(used_fen), 0) FROM settlement_allowances"
            ).fetchone()[0],
        }
    finally:
        db.close()


def found(client: Client, query: str) -> list[str]:
    return sorted(hit.product_id for hit in client.search(query=query, page_size=50).hits)


def test_catalog_and_profile_writes_through_one_server_reach_every_server(clients: list[Client]) -> None:
    clients[0].upsert_shops(shops=[search_pb.Shop(shop_id="s1", name="暖冬小店", opened_at=Timestamp(seconds=T0))])
    clients[0].upsert_products(
        products=[
            search_pb.Product(product_id=f"p{i}", shop_id="s1", title="羊绒围巾女款冬季", category_id="c1")
            for i in range(3)
        ]
    )
    for index, client in enumerate(clients):
        assert eventually(lambda c=client: found(c, "羊绒围巾") == ["p0", "p1", "p2"]), f"server {index}"
    clients[2].delete_products(product_ids=["p1"])
    for index, client in enumerate(clients):
        assert eventually(lambda c=client: found(c, "羊绒围巾") == ["p0", "p2"]), f"server {index}"

    latest = clients[1].get_ranking_profile(name="default").profile.version
    clients[1].update_ranking_profile(
        profile=search_pb.RankingProfile(name="default", brand_multiplier=2.5), expected_version=latest
    )
    for index, client in enumerate(clients):
        assert eventually(lambda c=client: c.search(query="围巾").profile_version == latest + 1), f"server {index}"


def test_the_same_batches_recorded_through_every_server_at_once_are_recorded_once(
    clients: list[Client], module_database_url: str
) -> None:
    before = ledger_facts(module_database_url)
    # Every server gets the same 10 batches (same request_ids) in its own order, and 5 of its own.
    shared = [
        pb.RecordOrdersRequest(request_id=f"shared-{b}", orders=[order(f"sh-{b}-{i}") for i in range(20)])
        for b in range(10)
    ]

    def record(index: int, client: Client) -> list[list[str]]:
        own = [
            pb.RecordOrdersRequest(
                request_id=f"own-{index}-{b}", orders=[order(f"own-{index}-{b}-{i}") for i in range(20)]
            )
            for b in range(5)
        ]
        batches = shared[index:] + shared[:index] + own
        return [client.record_orders(batch).SerializeToString(deterministic=True) for batch in batches]

    answers = on_every(clients, record)
    for index in range(SERVERS):  # every server answers each shared batch exactly alike
        in_shared_order = [answers[index][(j - index) % 10] for j in range(10)]
        assert in_shared_order == answers[0][:10], f"server {index}"
    after = ledger_facts(module_database_url)
    recorded = 10 * 20 + SERVERS * 5 * 20
    assert after["orders"] - before["orders"] == recorded
    assert after["payments"] - before["payments"] == recorded
    assert after["balance_sum"] == 0
    assert after["max_allowance_used"] <= ALLOWANCE_FEN
    assert after["max_allowance_used"] == ALLOWANCE_FEN  # used up, by many servers at once
    for client in clients:
        assert client.get_order(order_id="sh-9-19").order.order_id == "sh-9-19"
        assert client.get_order(order_id=f"own-{SERVERS - 1}-4-19").order.order_id == f"own-{SERVERS - 1}-4-19"


def test_refunds_and_settlement_runs_on_every_server_at_once_happen_once(
    clients: list[Client], module_database_url: str
) -> None:
    orders = [order(f"settle-{i}", shop_id="m2") for i in range(30)]
    clients[0].record_orders(request_id="settle-orders", orders=orders)
    for item in orders:
        clients[1].confirm_receipt(order_id=item.order_id, confirmed_at=Timestamp(seconds=T0 + DAY_S))

    def refund(index: int, client: Client) -> bytes:  # the same refund of 1,000 fen through every server
        response = client.record_refund(
            request_id="refund-settle-0",
            order_id="settle-0",
            refund_id="r-settle-0",
            lines=[pb.RefundLine(line_id="l1", amount_fen=1_000)],
            refunded_at=Timestamp(seconds=T0 + DAY_S + 60),
        )
        return response.SerializeToString(deterministic=True)

    answers = on_every(clients, refund)
    assert len(set(answers)) == 1  # the replays answer what the first recording did
    assert [r.refund_id for r in clients[2].get_order(order_id="settle-0").refunds] == ["r-settle-0"]

    runs = on_every(
        clients,
        lambda index, client: client.run_settlement(
            request_id=f"run-{index}", as_of=Timestamp(seconds=T0 + 30 * DAY_S)
        ),
    )
    assert sum(run.settled_count for run in runs) == len(orders)
    assert sum(run.settled_fen for run in runs) == 10_000 * len(orders) - 1_000
    for client in clients:
        assert client.get_balance(account="escrow").settled_fen >= 0
        states = {client.get_order(order_id=item.order_id).state for item in orders}
        assert states == {pb.ORDER_STATE_SETTLED}
    assert ledger_facts(module_database_url)["balance_sum"] == 0
