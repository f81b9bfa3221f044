"""Authentication and scopes through a real server: who may call what, and nothing changes
for a caller who may not."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from xiaodian import Client, errors
from xiaodian.platform import auth
from xiaodian.platform.config import Config
from xiaodian.platform.server import StartupError, XiaodianServer
from xiaodian.v1 import search_service_pb2

from tests.platform.methods import METHODS


def test_every_method_of_every_service_has_exactly_one_scope() -> None:
    assert {name for name, _ in METHODS} == set(auth.METHOD_SCOPES)
    assert auth.METHOD_SCOPES["/xiaodian.v1.SettlementService/RunSettlement"] == "settlement:admin"
    assert auth.METHOD_SCOPES["/xiaodian.v1.SearchService/UpdateRankingProfile"] == "ranking:admin"
    assert auth.METHOD_SCOPES["/xiaodian.v1.SearchService/AnalyzeHeroImage"] == "search:read"


def _raw_call(channel: grpc.Channel, name: str, method, metadata=()) -> grpc.RpcError:
    """Calls `name` with an empty request of the right shape; returns the error it fails with."""
    request = b""  # an empty message of any type
    try:
        if method.client_streaming and method.server_streaming:
            list(channel.stream_stream(name)(iter([request]), metadata=metadata, timeout=5))
        elif method.client_streaming:
            channel.stream_unary(name)(iter([request]), metadata=metadata, timeout=5)
        else:
            channel.unary_unary(name)(request, metadata=metadata, timeout=5)
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"{name} succeeded")


def test_anonymous_calls_to_every_method_are_unauthenticated_with_error_info(server) -> None:
    with grpc.insecure_channel(server.address) as channel:
        for name, method in METHODS:
            error = _raw_call(channel, name, method)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, name
            assert errors.from_rpc_error(error).reason == "TOKEN_MISSING", name


def test_forged_malformed_and_unknown_tokens_are_unauthenticated(server) -> None:
    real = server.config.admin_token_path.read_text().strip()
    name, method = METHODS[0]
    with grpc.insecure_channel(server.address) as channel:
        for header, reason in (
            (f"Bearer {real[:-1]}{'A' if real[-1] != 'A' else 'B'}", "TOKEN_UNKNOWN"),  # one character changed
            ("Bearer xd_" + "A" * 43, "TOKEN_UNKNOWN"),
            (f"Basic {real}", "TOKEN_MALFORMED"),
            ("Bearer", "TOKEN_MALFORMED"),
        ):
            error = _raw_call(channel, name, method, metadata=(("authorization", header),))
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert errors.from_rpc_error(error).reason == reason


def test_health_and_reflection_stay_open(server) -> None:
    with grpc.insecure_channel(server.address) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        answer = next(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        assert answer.list_services_response.service


def _server_with_callers(tmp_path: Path, **callers: list[str]) -> tuple[XiaodianServer, dict[str, str]]:
    config = Config.ephemeral(tmp_path / "data")
    tokens = {}
    for name, scopes in callers.items():
        tokens[name] = auth.new_token()
        config.auth.tokens[name] = {"sha256": auth.token_sha256(tokens[name]), "scopes": scopes}
    server = XiaodianServer(config)
    server.start()
    return server, tokens


def test_a_caller_without_the_scope_is_permission_denied_naming_it_and_nothing_changes(tmp_path) -> None:
    server, tokens = _server_with_callers(tmp_path, storefront=["search:read"], finance=["settlement:read"])
    try:
        with Client(server.address, token=tokens["storefront"], timeout=10) as storefront:
            before = storefront.get_ranking_profile(name="default").profile
            with pytest.raises(errors.PermissionDenied) as caught:
                storefront.update_ranking_profile(
                    profile=search_service_pb2.RankingProfile(name="default", brand_multiplier=100)
                )
            assert caught.value.reason == "SCOPE_MISSING"
            assert caught.value.metadata["scope"] == "ranking:admin"
            assert "ranking:admin" in caught.value.message
            assert storefront.get_ranking_profile(name="default").profile == before
        with Client(server.address, token=tokens["finance"], timeout=10) as finance:
            assert finance.get_balance(account="escrow").settled_fen == 0
            with pytest.raises(errors.PermissionDenied) as caught:
                finance.run_settlement(as_of=Timestamp(seconds=1_800_000_000))
            assert caught.value.metadata["scope"] == "settlement:admin"
            with pytest.raises(errors.PermissionDenied):
                finance.search(query="围巾")
    finally:
        server.stop()


def test_the_admin_token_is_made_once_with_mode_0600_and_kept_across_restarts(tmp_path, caplog) -> None:
    config = Config.ephemeral(tmp_path / "data")
    first = XiaodianServer(config)
    path = config.admin_token_path
    token = path.read_text().strip()
    assert token.startswith(auth.TOKEN_PREFIX) and len(token) > 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first.start()
    first.stop()
    second = XiaodianServer(config)
    assert path.read_text().strip() == token
    second.start()
    try:
        with second.admin_client(timeout=5) as client:
            client.get_ranking_profile(name="default")
    finally:
        second.stop()
    assert token not in caplog.text


def test_config_tokens_from_token_new_work_and_the_token_is_printed_only_to_the_person(tmp_path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "xiaodian.cli", "token", "new", "reports", "--scope", "creators:read"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    token = made.stderr.split(": ")[-1].strip()
    assert token not in made.stdout and "sha256 = " in made.stdout
    config_file = tmp_path / "xiaodian.toml"
    config_file.write_text(made.stdout)
    from xiaodian.platform.config import load_config

    config = load_config(config_file, environ={})
    config.server.port, config.metrics.port, config.server.data_dir = 0, 0, str(tmp_path / "data")
    server = XiaodianServer(config)
    server.start()
    try:
        with Client(server.address, token=token, timeout=5) as reports:
            with pytest.raises(errors.NotFound):  # allowed, and nothing is scored yet
                reports.list_top_creators(period="2026-09")
            with pytest.raises(errors.PermissionDenied):
                reports.get_balance(account="escrow")
    finally:
        server.stop()


def test_unknown_scopes_in_the_config_refuse_to_start(tmp_path) -> None:
    config = Config.ephemeral(tmp_path / "data")
    config.auth.tokens["x"] = {"sha256": "00" * 32, "scopes": ["settlement:wirte"]}
    with pytest.raises(StartupError, match="settlement:wirte"):
        XiaodianServer(config)


def test_a_non_loopback_host_without_tls_is_refused_with_one_line(tmp_path) -> None:
    config = Config.ephemeral(tmp_path / "data")
    config.server.host = "0.0.0.0"
    with pytest.raises(StartupError, match="without TLS"):
        XiaodianServer(config)
    result = subprocess.run(
        [sys.executable, "-m", "xiaodian.cli", "serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "cli")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XIAODIAN_METRICS_PORT": "0"},
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("xiaodian:")]
    assert len(lines) == 1 and "--allow-insecure-remote" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_authentication_off_lets_anonymous_callers_in(tmp_path) -> None:
    config = Config.ephemeral(tmp_path / "data")
    config.auth.enabled = False
    server = XiaodianServer(config)
    server.start()
    try:
        with Client(server.address, token="", data_dir=tmp_path / "nowhere", timeout=5) as client:
            assert client.get_ranking_profile(name="default").profile.name == "default"
        assert not config.admin_token_path.exists()
    finally:
        server.stop()


def test_the_client_finds_the_token_in_the_environment_or_the_data_directory(server, monkeypatch) -> None:
    data_dir = server.config.server.data_dir
    token = server.config.admin_token_path.read_text().strip()
    monkeypatch.delenv("XIAODIAN_TOKEN", raising=False)
    monkeypatch.setenv("XIAODIAN_SERVER_DATA_DIR", data_dir)
    with Client(server.address, timeout=5) as client:
        client.get_ranking_profile(name="default")
    monkeypatch.setenv("XIAODIAN_SERVER_DATA_DIR", "/nonexistent")
    monkeypatch.setenv("XIAODIAN_TOKEN", token)
    with Client(server.address, timeout=5) as client:
        client.get_ranking_profile(name="default")
    monkeypatch.delenv("XIAODIAN_TOKEN")
    with Client(server.address, timeout=5) as client, pytest.raises(errors.Unauthenticated):
        client.get_ranking_profile(name="default")


def test_the_readme_cli_commands_need_no_extra_step_with_authentication_on(tmp_path) -> None:
    """As the README runs them: `xiaodian serve` with the default data directory, then the CLI
    from the same folder, with no token given anywhere."""
    env = {k: v for k, v in os.environ.items() if k not in ("XIAODIAN_TOKEN", "XIAODIAN_SERVER_DATA_DIR")}
    env["XIAODIAN_METRICS_PORT"] = "0"
    env["XIAODIAN_SERVER_SHUTDOWN_DELAY_SECONDS"] = "0"
    server = subprocess.Popen(
        [sys.executable, "-m", "xiaodian.cli", "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        address = None
        for _ in range(500):  # the start-up lines; the server prints a few dozen at most
            line = server.stderr.readline()
            assert line or server.poll() is None, "the server exited"
            if "serving address=" in line:
                address = line.split("address=")[1].split()[0]
                break
        assert address, "the server did not report its address"
        assert (tmp_path / "xiaodian-data" / "admin.token").exists()

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            command = [sys.executable, "-m", "xiaodian.cli", *args, "--addr", address]
            return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

        assert cli("health").returncode == 0
        assert cli("profile", "set", "default", "brand_multiplier=3").returncode == 0
        got = cli("profile", "get", "default")
        assert got.returncode == 0 and '"brand_multiplier": 3.0' in got.stdout
        searched = cli("search", "羊绒围巾")
        assert searched.returncode == 0, searched.stderr
        suggested = cli("suggest", "yangr")
        assert suggested.returncode == 0, suggested.stderr
        elsewhere = subprocess.run(  # from another folder there is no token to find
            [sys.executable, "-m", "xiaodian.cli", "profile", "get", "default", "--addr", address],
            cwd=tmp_path.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert elsewhere.returncode == 1 and "UNAUTHENTICATED" in elsewhere.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
