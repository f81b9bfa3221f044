"""The API contract: buf lint, buf breaking against the released API (released/), committed stubs
equal a fresh generation, the client covers it."""

from __future__ import annotations

import filecmp
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from xiaodian import Client
from xiaodian.v1 import creator_service_pb2, search_service_pb2, settlement_service_pb2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import gen_protos  # noqa: E402

pytestmark = pytest.mark.backend_independent  # the API's files and generated code


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: run the tests with ./dev test, which installs it")
    return path


def test_buf_lint_passes() -> None:
    result = subprocess.run([_tool("buf"), "lint"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_breaking_against_the_released_api_passes() -> None:
    result = subprocess.run(
        [_tool("buf"), "breaking", "--against", "released/xiaodian-v1.binpb"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_breaking_fails_on_a_renumbered_field(tmp_path: Path) -> None:
    """The check can fail: the same protos with one field number changed break the release."""
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(ROOT / "proto", tmp_path / "proto")
    changed = tmp_path / "proto" / "xiaodian" / "v1" / "settlement_service.proto"
    text = changed.read_text()
    assert "int64 amount_fen = 2;" in text
    changed.write_text(text.replace("int64 amount_fen = 2;", "int64 amount_fen = 9;", 1))
    result = subprocess.run(
        [_tool("buf"), "breaking", "--against", str(ROOT / "released" / "xiaodian-v1.binpb")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "amount_fen" in result.stdout + result.stderr


def _differences(left: Path, right: Path) -> list[str]:
    comparison = filecmp.dircmp(left, right, ignore=["__pycache__"])
    found = [f"only committed: {n}" for n in comparison.left_only] + [
        f"only generated: {n}" for n in comparison.right_only
    ]
    found += [f"differs: {n}" for n in comparison.common_files if not filecmp.cmp(left / n, right / n, shallow=False)]
    return found


@pytest.mark.parametrize("lang", sorted(gen_protos.TARGETS))
def test_committed_stubs_equal_a_fresh_generation(lang: str, tmp_path: Path) -> None:
    if lang == "go":
        _tool("protoc-gen-go")
    generated = gen_protos.generate(lang, tmp_path)
    committed = ROOT / gen_protos.TARGETS[lang]
    assert _differences(committed, generated) == [], "stubs are stale: run ./dev gen and commit the result"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_the_client_has_one_method_per_rpc() -> None:
    for module in (search_service_pb2, creator_service_pb2, settlement_service_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                assert callable(getattr(Client, _snake(method.name), None)), f"Client lacks {_snake(method.name)}"
