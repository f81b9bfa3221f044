"""The server end to end through gRPC: health, reflection, errors on the wire, shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from xiaodian import Client, errors
from xiaodian.platform.interceptors import ServingInterceptor
from xiaodian.platform.server import SERVICE_NAMES


def test_health_is_serving_for_the_server_and_each_service(client: Client) -> None:
    for service in ("", *SERVICE_NAMES):
        assert client.health(service) == "SERVING"


def test_health_of_an_unknown_service_is_not_found(client: Client) -> None:
    with pytest.raises(errors.NotFound):
        client.health("xiaodian.v1.NoSuchService")


def test_reflection_lists_the_services_health_and_reflection(server) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for s in next(responses).list_services_response.service}
    assert names == {
        *SERVICE_NAMES,
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }


class _ExpiredContext:
    """A servicer context whose deadline has passed; records how the call was answered."""

    def __init__(self) -> None:
        self.status = None

    def time_remaining(self) -> float:
        return 0.0

    def abort_with_status(self, status) -> None:
        self.status = status
        raise RuntimeError("aborted")


def test_a_call_whose_deadline_passed_is_deadline_exceeded_without_running() -> None:
    ran = []
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: ran.append(request))
    interceptor = ServingInterceptor(authenticator=None)
    wrapped = interceptor.intercept_service(lambda details: handler, _Details("/x.v1.S/M"))
    context = _ExpiredContext()
    with pytest.raises(RuntimeError):
        wrapped.unary_unary(b"request", context)
    interceptor.close()
    assert ran == []
    assert context.status.code == grpc.StatusCode.DEADLINE_EXCEEDED


class _Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def test_an_unexpected_exception_is_internal_with_a_correlation_id_and_no_traceback(
    server, client, monkeypatch
) -> None:
    from xiaodian.search import profiles

    def boom(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(profiles, "get_profile", boom)
    with pytest.raises(errors.Internal) as caught:
        client.get_ranking_profile(name="default")
    assert "correlation id" in caught.value.message
    assert "secret detail" not in caught.value.message
    assert caught.value.metadata["correlation_id"] in caught.value.message


def test_sigterm_reports_not_serving_while_still_serving_then_stops_cleanly(tmp_path) -> None:
    """The real command: serve, answer; on SIGTERM health says NOT_SERVING for the configured
    delay while calls are still answered, then the process exits 0."""
    process = subprocess.Popen(
        [sys.executable, "-m", "xiaodian.cli", "serve", "--port", "0", "--data-dir", str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "XIAODIAN_SERVER_LOG_FORMAT": "text",
            "XIAODIAN_METRICS_PORT": "0",
            "XIAODIAN_SERVER_SHUTDOWN_DELAY_SECONDS": "3",
        },
    )
    try:
        address = None
        deadline = time.monotonic() + 30
        while address is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if "serving address=" in line:
                address = line.split("address=")[1].split()[0]
        assert address, "server did not report its address"
        with Client(address, timeout=5, data_dir=tmp_path) as client:
            assert client.health() == "SERVING"
            process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 2
            while client.health() == "SERVING" and time.monotonic() < deadline:
                time.sleep(0.02)
            assert client.health() == "NOT_SERVING"
            assert client.get_ranking_profile(name="default").profile.name == "default"  # still served
            assert process.wait(timeout=20) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_graceful_stop_lets_calls_in_flight_finish_and_refuses_new_ones(server, monkeypatch) -> None:
    import threading

    from xiaodian.search import profiles

    started = threading.Event()
    real_get_profile = profiles.get_profile

    def slow_get_profile(*args, **kwargs):
        started.set()
        time.sleep(1.0)
        return real_get_profile(*args, **kwargs)

    monkeypatch.setattr(profiles, "get_profile", slow_get_profile)
    results: list[object] = []
    with server.admin_client(timeout=10) as client:
        caller = threading.Thread(target=lambda: results.append(client.get_ranking_profile(name="default")))
        caller.start()
        assert started.wait(5)
        stopper = threading.Thread(target=server.stop, kwargs={"grace": 5.0})
        stopper.start()
        caller.join(10)
        stopper.join(10)
    assert len(results) == 1 and results[0].profile.name == "default"
    # The port is closed now, so ask the health servicer itself what it would answer.
    for service in ("", *SERVICE_NAMES):
        answer = server.health.Check(health_pb2.HealthCheckRequest(service=service), None)
        assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
    with server.admin_client(timeout=2) as client, pytest.raises(errors.Unavailable):
        client.health()


def test_cli_profile_set_and_get(server, capsys) -> None:
    from xiaodian import cli

    assert (
        cli.main(
            [
                "profile",
                "set",
                "default",
                "brand_multiplier=3",
                "--addr",
                server.address,
                "--data-dir",
                server.config.server.data_dir,
            ]
        )
        == 0
    )
    assert '"version": 2' in capsys.readouterr().out
    assert (
        cli.main(
            [
                "profile",
                "set",
                "default",
                "title_weight=-1",
                "--addr",
                server.address,
                "--data-dir",
                server.config.server.data_dir,
            ]
        )
        == 1
    )
    assert "profile.title_weight" in capsys.readouterr().err
    assert (
        cli.main(["profile", "get", "default", "--addr", server.address, "--data-dir", server.config.server.data_dir])
        == 0
    )
    assert '"brand_multiplier": 3.0' in capsys.readouterr().out
