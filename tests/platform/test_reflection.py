"""Reflection that tools understand (issue 23): grpcurl and ghz find every service, method and
message through `grpc.reflection.v1` with no .proto at hand, and v1alpha still answers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2 as pb
from xiaodian.platform.server import XiaodianServer

pytestmark = pytest.mark.backend_independent  # what the server says about its API

TOOLS = Path(__file__).resolve().parents[2] / ".tools" / "bin"


def tool(name: str) -> str:
    found = shutil.which(name) or str(TOOLS / name)
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed: ./dev test installs it into .tools/bin")
    return found


def run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_grpcurl_lists_and_describes_services_methods_and_messages(server: XiaodianServer) -> None:
    grpcurl = tool("grpcurl")
    services = run(grpcurl, "-plaintext", server.address, "list").split()
    assert {"xiaodian.v1.SearchService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} <= set(
        services
    )
    method = run(grpcurl, "-plaintext", server.address, "describe", "xiaodian.v1.SearchService.Search")
    assert "rpc Search ( .xiaodian.v1.SearchRequest ) returns ( .xiaodian.v1.SearchResponse )" in method
    message = run(grpcurl, "-plaintext", server.address, "describe", "xiaodian.v1.RecordOrdersRequest")
    assert "repeated .xiaodian.v1.Order orders = 2;" in message
    assert "Symbol not found" not in run(
        grpcurl, "-plaintext", server.address, "describe", "xiaodian.v1.SettlementService.RecordOrders"
    )


def test_ghz_calls_a_method_it_found_by_reflection(server: XiaodianServer, tmp_path: Path) -> None:
    token = server.config.admin_token_path.read_text().strip()
    metadata = tmp_path / "metadata.json"  # the token stays off the command line
    metadata.write_text(json.dumps({"authorization": f"Bearer {token}"}))
    report = json.loads(
        run(
            tool("ghz"),
            "--insecure",
            "--call",
            "xiaodian.v1.SearchService.Search",
            "--data",
            json.dumps({"query": "羊绒围巾", "page_size": 5}),
            "--metadata-file",
            str(metadata),
            "--total",
            "20",
            "--format",
            "json",
            server.address,
        )
    )
    assert report["statusCodeDistribution"] == {"OK": 20}, report.get("errorDistribution")


def test_both_reflection_versions_answer_a_method_symbol(server: XiaodianServer) -> None:
    request = pb.ServerReflectionRequest(file_containing_symbol="xiaodian.v1.CreatorService.GetCreatorScore")
    with grpc.insecure_channel(server.address) as channel:
        for service in ("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"):
            call = channel.stream_stream(
                f"/{service}/ServerReflectionInfo",
                request_serializer=pb.ServerReflectionRequest.SerializeToString,
                response_deserializer=pb.ServerReflectionResponse.FromString,
            )
            (response,) = list(call(iter([request]), timeout=10))
            assert response.WhichOneof("message_response") == "file_descriptor_response", service
            assert response.file_descriptor_response.file_descriptor_proto, service
        missing = pb.ServerReflectionRequest(file_containing_symbol="xiaodian.v1.CreatorService.NoSuchMethod")
        (response,) = list(call(iter([missing]), timeout=10))
        assert response.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
