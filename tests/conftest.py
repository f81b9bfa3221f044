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
    config = Config()
    config.server.port = 0
    config.server.data_dir = str(tmp_path / "data")
    config.server.shutdown_grace_seconds = 2.0
    server = XiaodianServer(config)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(server: XiaodianServer) -> Iterator[Client]:
    with Client(server.address, timeout=10) as client:
        yield client
