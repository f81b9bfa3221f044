"""Shared fixtures: a real xiaodian server on a free 127.0.0.1 port, and a client for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from xiaodian import Client
from xiaodian.platform.config import Config
from xiaodian.platform.server import XiaodianServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[XiaodianServer]:
    server = XiaodianServer(Config.ephemeral(tmp_path / "data"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(server: XiaodianServer) -> Iterator[Client]:
    with server.admin_client(timeout=10) as client:
        yield client
