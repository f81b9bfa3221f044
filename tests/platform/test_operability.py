"""What operators see: Prometheus metrics, JSON access lines, trace propagation, refusing a
corrupt or read-only database at start, unknown environment variables."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian import errors
from xiaodian.platform.config import Config, ConfigError, load_config
from xiaodian.platform.server import XiaodianServer
from xiaodian.v1 import search_service_pb2 as search_pb
from xiaodian.v1 import settlement_service_pb2 as settlement_pb


def scrape(server: XiaodianServer) -> dict[str, float]:
    """The metrics endpoint's samples, by their name with labels."""
    assert server.metrics is not None
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics.port}/metrics", timeout=5).read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_metrics_count_calls_by_method_and_code_and_show_the_business_gauges(server, client) -> None:
    client.upsert_shops(shops=[search_pb.Shop(shop_id="s1", name="店", opened_at=Timestamp(seconds=1_700_000_000))])
    client.upsert_products(
        products=[
            search_pb.Product(product_id=f"p{i}", shop_id="s1", title="羊绒围巾女", category_id="c") for i in range(3)
        ]
    )
    order = settlement_pb.Order(
        order_id="o1",
        shop_id="s1",
        paid_at=Timestamp(seconds=1_790_000_000),
        lines=[settlement_pb.OrderLine(line_id="l1", product_id="p1", category_id="c", unit_price_fen=500, quantity=1)],
    )
    client.record_order(order=order)
    for _ in range(3):
        client.search(query="围巾")
    with pytest.raises(errors.InvalidArgument):
        client.search(query="")
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError):
        channel.unary_unary("/xiaodian.v1.SearchService/Search")(b"", timeout=5)  # anonymous
    samples = scrape(server)
    search = 'method="/xiaodian.v1.SearchService/Search"'
    assert samples[f'xiaodian_rpc_calls_total{{code="OK",{search}}}'] == 3
    assert samples[f'xiaodian_rpc_calls_total{{code="INVALID_ARGUMENT",{search}}}'] == 1
    assert samples[f'xiaodian_rpc_calls_total{{code="UNAUTHENTICATED",{search}}}'] == 1
    assert samples[f"xiaodian_rpc_duration_seconds_count{{{search}}}"] == 5
    assert samples[f'xiaodian_rpc_duration_seconds_bucket{{le="+Inf",{search}}}'] == 5
    assert samples["xiaodian_rpc_in_flight"] == 0
    assert samples["xiaodian_rpc_streams_open"] == 0
    assert samples["xiaodian_catalog_products"] == 3
    assert samples["xiaodian_escrow_balance_fen"] == 500
    assert samples["xiaodian_orders_awaiting_settlement"] == 1


def test_json_mode_writes_one_access_line_per_call(tmp_path, caplog) -> None:
    config = Config.ephemeral(tmp_path / "data")
    config.server.log_format = "json"
    server = XiaodianServer(config)
    server.start()
    caplog.set_level(logging.INFO, logger="xiaodian.access")
    try:
        with server.admin_client(timeout=5) as client:
            client._search.GetRankingProfile(
                search_pb.GetRankingProfileRequest(name="default"),
                metadata=(*client._metadata, ("x-request-id", "req-42")),
                timeout=5,
            )
            with pytest.raises(errors.NotFound):
                client.get_ranking_profile(name="nope")
            client.health()
    finally:
        server.stop()
    lines = [r for r in caplog.records if r.name == "xiaodian.access"]
    assert [(r.method.rsplit("/", 1)[1], r.code) for r in lines] == [
        ("GetRankingProfile", "OK"),
        ("GetRankingProfile", "NOT_FOUND"),
        ("Check", "OK"),
    ]
    assert lines[0].request_id == "req-42" and lines[1].request_id  # given, or made up
    assert [r.caller for r in lines] == ["admin", "admin", "anonymous"]
    assert all(r.duration_ms >= 0 for r in lines)
    token = config.admin_token_path.read_text().strip()
    assert token not in caplog.text


def test_tracing_continues_the_callers_trace(tmp_path, caplog) -> None:
    config = Config.ephemeral(tmp_path / "data")
    config.server.log_format = "json"
    config.tracing.enabled = True
    server = XiaodianServer(config)
    server.start()
    caplog.set_level(logging.INFO, logger="xiaodian.access")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    try:
        with server.admin_client(timeout=5) as client:
            client._search.GetRankingProfile(
                search_pb.GetRankingProfileRequest(name="default"),
                metadata=(*client._metadata, ("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01")),
                timeout=5,
            )
            client.get_ranking_profile(name="default")
    finally:
        server.stop()
    lines = [r for r in caplog.records if r.name == "xiaodian.access"]
    assert lines[0].trace_id == trace_id
    assert lines[1].trace_id and lines[1].trace_id != trace_id  # a new trace of its own


def _serve(data_dir: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    """`xiaodian serve` that is expected to refuse to start."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "xiaodian.cli", "serve", "--port", "0", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XIAODIAN_METRICS_PORT": "0"},
    )


def _one_line_refusal(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("xiaodian:")]
    assert len(lines) == 1 and words in lines[0], result.stderr


def _make_database(data_dir: Path) -> Path:
    server = XiaodianServer(Config.ephemeral(data_dir))
    server.start()
    server.stop()
    return data_dir / "xiaodian.db"


def test_a_corrupt_database_refuses_to_start(tmp_path, backend) -> None:
    if backend != "sqlite":
        pytest.skip("a property of the SQLite file")
    path = _make_database(tmp_path / "data")
    with path.open("r+b") as file:  # keep the header, overwrite pages after it
        file.seek(4096)
        file.write(b"\xa5" * 8192)
    _one_line_refusal(_serve(tmp_path / "data"), "corrupt")
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "xiaodian.db").write_bytes(b"this is not a database" * 100)
    _one_line_refusal(_serve(tmp_path / "garbage"), "cannot be used")


def test_a_read_only_data_directory_gives_one_line_and_a_non_zero_exit(tmp_path, backend) -> None:
    if backend != "sqlite":
        pytest.skip("a property of the SQLite file")
    data_dir = tmp_path / "data"
    _make_database(data_dir)
    # Root ignores permission bits: make the folder read-only the way root cannot ignore, a
    # read-only bind mount in a mount namespace of its own, else the immutable attribute.
    if shutil.which("unshare") and subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0:
        script = f'mount --bind -o ro "{data_dir}" "{data_dir}" && exec "$@"'
        result = _serve(data_dir, "unshare", "-m", "sh", "-c", script, "sh")
    elif (
        shutil.which("chattr") and subprocess.run(["chattr", "+i", str(data_dir)], capture_output=True).returncode == 0
    ):
        try:
            result = _serve(data_dir)
        finally:
            subprocess.run(["chattr", "-i", str(data_dir)], check=True)
    else:
        pytest.skip("no way to make a read-only folder here (neither unshare -m nor chattr works)")
    _one_line_refusal(result, "xiaodian.db")


def test_an_unknown_xiaodian_variable_is_an_error() -> None:
    with pytest.raises(ConfigError, match="XIAODIAN_SERVER_PROT"):
        load_config(None, environ={"XIAODIAN_SERVER_PROT": "50052"})
    assert load_config(None, environ={"XIAODIAN_TOKEN": "x", "XIAODIAN_ADDR": "h:1"}).server.port == 50051


def test_a_database_url_that_cannot_be_used_refuses_to_start_with_one_line(tmp_path) -> None:
    with socket.socket() as probe:  # a port of 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"postgresql://xiaodian@127.0.0.1:{port}/xiaodian"
    _one_line_refusal(_serve(tmp_path / "data", "env", f"XIAODIAN_SERVER_DATABASE_URL={closed}"), "cannot be used")
    _one_line_refusal(
        _serve(tmp_path / "data", "env", "XIAODIAN_SERVER_DATABASE_URL=mysql://127.0.0.1/x"), "postgresql://"
    )
