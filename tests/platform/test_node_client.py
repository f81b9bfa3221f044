"""A third language: the Node.js client generated from proto/ (protoc-gen-es, Connect's gRPC
transport) against a running Python server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent  # a client's calls over the wire

NODE_PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "node"


def test_node_client_searches_scores_and_settles(server) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed")
    if not (NODE_PACKAGE / "node_modules").is_dir():
        pytest.fail("clients/node/node_modules is missing: run the tests through ./dev test, which installs it")
    result = subprocess.run(
        [node, "--test", "--test-reporter=spec", "client.test.js"],
        cwd=NODE_PACKAGE,
        env={**os.environ, "XIAODIAN_ADDR": server.address, "XIAODIAN_SERVER_DATA_DIR": server.config.server.data_dir},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Every test ran (none skipped for want of the address) and passed.
    assert re.search(r"\bpass 4\b", output) and re.search(r"\bskipped 0\b", output), output
