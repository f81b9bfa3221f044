"""A second language: the Go client generated from proto/ against a running Python server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent  # a client's calls over the wire

GO_MODULE = Path(__file__).resolve().parents[2] / "clients" / "go"


def test_go_client_calls_health_and_ranking_profiles(server) -> None:
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is not installed")
    result = subprocess.run(
        [go, "test", "-count=1", "-v", "./..."],
        cwd=GO_MODULE,
        env={**os.environ, "XIAODIAN_ADDR": server.address, "XIAODIAN_SERVER_DATA_DIR": server.config.server.data_dir},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "--- SKIP" not in output, output
    assert "--- PASS" in output, output
