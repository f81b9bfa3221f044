"""`xiaodian serve --workers 2`, the real command: writes through one worker reach every
worker's index, settlement runs once across workers, a rescoring is seen by all at once,
metrics sum the workers, SIGTERM stops them all, a crashed worker is replaced, and a port in
use is refused.

Each new channel (with a subchannel pool of its own) is a new TCP connection, which the kernel
hands to one of the SO_REUSEPORT sockets; the `xiaodian-worker` trailer says which. Channels
are opened until every worker has been seen (bounded in count)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from xiaodian import Client
from xiaodian.platform.config import Config, ConfigError, load_config
from xiaodian.platform.interceptors import WORKER_TRAILER
from xiaodian.v1 import creator_service_pb2 as creator_pb
from xiaodian.v1 import search_service_pb2 as search_pb
from xiaodian.v1 import settlement_service_pb2 as settlement_pb

WORKERS = 2
DAY_S = 86_400
T0 = 1_790_000_000


@dataclass
class Served:
    process: subprocess.Popen[str]
    address: str
    metrics_url: str
    data_dir: Path
    log: list[str] = field(default_factory=list)

    def worker_pids(self) -> dict[int, int]:
        """Worker index -> pid of its latest start, from the log."""
        pids = {}
        for line in list(self.log):
            if "worker serving worker=" in line:
                index = int(line.split("worker=")[1].split()[0])
                pids[index] = int(line.split("pid=")[1].split()[0])
        return pids


def start(data_dir: Path, *args: str, shutdown_delay: float = 0) -> Served:
    process = subprocess.Popen(
        [sys.executable, "-m", "xiaodian.cli", "serve", "--workers", str(WORKERS), "--port", "0"]
        + ["--data-dir", str(data_dir), *args],
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "XIAODIAN_SERVER_LOG_FORMAT": "text",
            "XIAODIAN_METRICS_PORT": "0",
            "XIAODIAN_SERVER_SHUTDOWN_DELAY_SECONDS": str(shutdown_delay),
        },
    )
    assert process.stderr is not None
    log: list[str] = []
    address = metrics_url = ""
    deadline = time.monotonic() + 120
    while not address and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        log.append(line)
        if "metrics url=" in line:
            metrics_url = line.split("url=")[1].split()[0]
        if "serving address=" in line:
            address = line.split("address=")[1].split()[0]
    if not address:
        process.kill()
        raise AssertionError("the supervisor did not report its address:\n" + "".join(log))
    served = Served(process, address, metrics_url, data_dir, log)

    def drain() -> None:  # keep reading, so no process blocks on a full pipe
        for line in process.stderr:  # type: ignore[union-attr]
            log.append(line)

    threading.Thread(target=drain, daemon=True).start()
    return served


def stop(served: Served) -> int:
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGTERM)
    try:
        return served.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        served.process.kill()
        raise


def worker_of(channel: grpc.Channel) -> int:
    """The index of the worker serving this channel's connection (from a health check)."""
    _, call = health_pb2_grpc.HealthStub(channel).Check.with_call(health_pb2.HealthCheckRequest(), timeout=10)
    trailers = dict(call.trailing_metadata())
    return int(trailers[WORKER_TRAILER])


def clients_per_worker(served: Served) -> dict[int, Client]:
    """One client per worker, each on a connection of its own to that worker."""
    found: dict[int, Client] = {}
    for _ in range(200):
        channel = grpc.insecure_channel(served.address, options=[("grpc.use_local_subchannel_pool", 1)])
        index = worker_of(channel)
        if index in found:
            channel.close()
        else:
            found[index] = Client(channel=channel, timeout=30, data_dir=served.data_dir)
        if len(found) == WORKERS:
            return found
    for client in found.values():
        client.close()
    raise AssertionError(f"200 connections reached only workers {sorted(found)}")


def eventually(check: Callable[[], bool], seconds: float = 3.0) -> bool:
    """True once `check()` is, within `seconds` (propagation is promised within 1 s)."""
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Served]:
    served = start(tmp_path_factory.mktemp("workers") / "data")
    yield served
    assert stop(served) == 0


@pytest.fixture(scope="module")
def workers(served: Served) -> Iterator[dict[int, Client]]:
    clients = clients_per_worker(served)
    yield clients
    for client in clients.values():
        client.close()


def found_ids(client: Client, query: str) -> list[str]:
    return sorted(hit.product_id for hit in client.search(query=query, page_size=50).hits)


def test_catalog_writes_through_one_worker_are_found_through_every_worker(workers) -> None:
    writer = workers[0]
    writer.upsert_shops(
        shops=[search_pb.Shop(shop_id="s1", name="暖冬小店", opened_at=Timestamp(seconds=1_700_000_000))]
    )
    writer.upsert_products(
        products=[
            search_pb.Product(product_id=f"p{i}", shop_id="s1", title="羊绒围巾女款冬季", category_id="c1")
            for i in range(3)
        ]
    )
    for index, client in workers.items():
        assert eventually(lambda c=client: found_ids(c, "羊绒围巾") == ["p0", "p1", "p2"]), f"worker {index}"

    workers[1].delete_products(product_ids=["p1"])
    for index, client in workers.items():
        assert eventually(lambda c=client: found_ids(c, "羊绒围巾") == ["p0", "p2"]), f"worker {index}"


def test_a_ranking_profile_update_is_used_by_every_worker(workers) -> None:
    latest = workers[1].get_ranking_profile(name="default").profile.version
    updated = workers[1].update_ranking_profile(
        profile=search_pb.RankingProfile(name="default", brand_multiplier=2.5), expected_version=latest
    )
    assert updated.profile.version == latest + 1

    def uses_it(client: Client) -> bool:
        return client.search(query="围巾").profile_version == latest + 1

    for index, client in workers.items():
        assert eventually(lambda c=client: uses_it(c)), f"worker {index}"


def _order(order_id: str) -> settlement_pb.Order:
    return settlement_pb.Order(
        order_id=order_id,
        shop_id="s9",
        paid_at=Timestamp(seconds=T0),
        lines=[
            settlement_pb.OrderLine(line_id="l1", product_id="p1", category_id="c1", unit_price_fen=10_000, quantity=1)
        ],
    )


def test_settlement_run_on_two_workers_at_once_settles_each_order_once(workers) -> None:
    orders = [_order(f"settle-{i}") for i in range(20)]
    recorded = workers[0].record_orders(orders=orders)
    merchant_fen = sum(result.split.merchant_fen for result in recorded.orders)
    for order in orders:
        workers[0].confirm_receipt(order_id=order.order_id, confirmed_at=Timestamp(seconds=T0 + DAY_S))
    as_of = Timestamp(seconds=T0 + 30 * DAY_S)
    barrier = threading.Barrier(WORKERS)
    runs: dict[int, settlement_pb.RunSettlementResponse] = {}

    def run(index: int) -> None:
        barrier.wait(timeout=10)
        runs[index] = workers[index].run_settlement(request_id=f"run-{index}", as_of=as_of)

    threads = [threading.Thread(target=run, args=(index,)) for index in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(runs) == sorted(workers)
    assert sum(r.settled_count for r in runs.values()) == len(orders)
    assert sum(r.settled_fen for r in runs.values()) == 10_000 * len(orders)
    for client in workers.values():
        assert client.get_balance(account="merchant:s9").settled_fen == merchant_fen
        assert client.get_balance(account="escrow").settled_fen == 0
        states = {client.get_order(order_id=order.order_id).state for order in orders}
        assert states == {settlement_pb.ORDER_STATE_SETTLED}


def test_a_rescoring_through_one_worker_is_answered_at_once_by_every_worker(workers) -> None:
    """Each worker keeps its creators' answers in memory; the shared epoch retires them the
    moment a run is acknowledged, with no wait for the change log."""
    period = "2025-07"
    workers[0].upsert_creator_metrics(
        metrics=[
            creator_pb.CreatorMetrics(
                creator_id=f"k{i}", period=period, settled_gmv_fen=100 * i, sales_score=50.0, effective_followers=i
            )
            for i in range(1, 4)
        ]
    )
    first = workers[0].score_creators(request_id="epoch-1", period=period)
    for client in workers.values():  # every worker now keeps the first run's answers
        assert client.get_creator_score(creator_id="k3", period=period).score.rank == 1
        assert client.list_top_creators(period=period).scores[0].creator_id == "k3"
    second = workers[1].score_creators(
        request_id="epoch-2",
        period=period,
        weights=creator_pb.CreatorScoreWeights(followers_weight_ppm=1_000_000),
    )
    assert second.scored_at != first.scored_at
    for index, client in workers.items():
        assert client.get_creator_score(creator_id="k3", period=period).score.scored_at == second.scored_at, index
        assert client.list_top_creators(period=period).scores[0].scored_at == second.scored_at, index


def scrape(url: str) -> dict[str, float]:
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_the_metrics_endpoint_counts_the_calls_of_every_worker(served, workers) -> None:
    method = 'method="/xiaodian.v1.SearchService/GetRankingProfile"'

    def calls() -> float:
        return sum(
            v
            for k, v in scrape(served.metrics_url).items()
            if k.startswith("xiaodian_rpc_calls_total{") and method in k and 'code="OK"' in k
        )

    before = calls()
    for client in workers.values():
        for _ in range(3):
            client.get_ranking_profile(name="default")
    assert calls() == before + 3 * WORKERS
    samples = scrape(served.metrics_url)
    assert samples["xiaodian_rpc_in_flight"] == 0  # summed over live workers
    assert "xiaodian_catalog_products" in samples  # computed once, by the supervisor


def test_sigterm_turns_every_worker_not_serving_then_stops_them_and_the_supervisor_exits_0(tmp_path) -> None:
    served = start(tmp_path / "data", shutdown_delay=3)
    clients = clients_per_worker(served)
    pids = served.worker_pids()
    try:
        assert sorted(pids) == list(range(WORKERS))
        for client in clients.values():
            assert client.health() == "SERVING"
        served.process.send_signal(signal.SIGTERM)
        for index, client in clients.items():  # within the delay: NOT_SERVING, still answering
            assert eventually(lambda c=client: c.health() == "NOT_SERVING", seconds=2.5), f"worker {index}"
            assert client.get_ranking_profile(name="default").profile.name == "default"
    finally:
        for client in clients.values():
            client.close()
    assert stop(served) == 0
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert sum("stopped" in line and "xiaodian.server" in line for line in served.log) == WORKERS


def test_a_worker_that_dies_is_restarted(tmp_path) -> None:
    served = start(tmp_path / "data")
    try:
        killed = served.worker_pids()[1]
        os.kill(killed, signal.SIGKILL)
        assert eventually(lambda: served.worker_pids().get(1) not in (None, killed), seconds=30)
        assert any("worker died unexpectedly" in line for line in served.log)
        # It could have died between a commit and advancing the epoch: the supervisor advances it.
        config = Config.ephemeral(tmp_path / "data")
        db = config.open_database()
        try:
            assert db.epoch.current() >= 1
        finally:
            db.close()
        clients = clients_per_worker(served)  # both serve again
        for client in clients.values():
            client.close()
    finally:
        assert stop(served) == 0


def test_a_port_in_use_is_refused_with_one_line(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "xiaodian.cli", "serve", "--workers", "2", "--port", str(port)]
            + ["--data-dir", str(tmp_path / "data")],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "XIAODIAN_METRICS_PORT": "0"},
        )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("xiaodian:")]
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0], result.stderr


def test_a_worker_that_fails_at_start_stops_the_start_with_one_line(tmp_path) -> None:
    (tmp_path / "bad.pem").write_text("not a certificate")  # read by the supervisor, refused by gRPC in a worker
    result = subprocess.run(
        [sys.executable, "-m", "xiaodian.cli", "serve", "--workers", "2", "--port", "0"]
        + ["--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "XIAODIAN_METRICS_PORT": "0",
            "XIAODIAN_TLS_CERT_FILE": str(tmp_path / "bad.pem"),
            "XIAODIAN_TLS_KEY_FILE": str(tmp_path / "bad.pem"),
        },
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("xiaodian:")]
    assert len(lines) == 1 and "worker 0 failed to start: cannot listen" in lines[0], result.stderr


def test_the_number_of_workers_is_a_setting_defaulting_to_one_per_core() -> None:
    assert load_config(None, environ={}).server.worker_count == (os.cpu_count() or 1)
    assert load_config(None, environ={"XIAODIAN_SERVER_WORKERS": "3"}).server.worker_count == 3
    with pytest.raises(ConfigError, match="workers"):
        load_config(None, environ={"XIAODIAN_SERVER_WORKERS": "-1"})
