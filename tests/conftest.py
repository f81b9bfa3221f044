"""Shared fixtures: a real xiaodian server on a free 127.0.0.1 port, and a client for it.

The suite runs on either backend (`pytest --backend sqlite|postgresql`, `./dev test` runs
both). On PostgreSQL a throwaway cluster (`benchmarks.pgcluster`) serves the session, and
every test gets a fresh database of its own through `XIAODIAN_SERVER_DATABASE_URL`, which
`Config.ephemeral` and every server process the test starts read; it is dropped after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from benchmarks.pgcluster import Cluster
from xiaodian import Client
from xiaodian.platform.config import Config
from xiaodian.platform.server import XiaodianServer

BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend", choices=BACKENDS, default="sqlite", help="database of the servers the tests start (default sqlite)"
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"xiaodian database backend: {config.getoption('--backend')}"


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.config.getoption("--backend")
    return backend


@pytest.fixture(scope="session")
def pg_cluster(backend: str) -> Iterator[Cluster | None]:
    """The session's PostgreSQL cluster (None on SQLite)."""
    if backend != "postgresql":
        yield None
        return
    from benchmarks.pgcluster import Cluster

    with Cluster.start() as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def database_url(pg_cluster: Cluster | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This test's database URL ("" on SQLite: each server's own file), also in the
    environment for `Config.ephemeral` and the server processes the test starts."""
    if pg_cluster is None:
        monkeypatch.delenv("XIAODIAN_SERVER_DATABASE_URL", raising=False)
        yield ""
        return
    url = pg_cluster.create_database()
    monkeypatch.setenv("XIAODIAN_SERVER_DATABASE_URL", url)
    yield url
    pg_cluster.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def module_database_url(pg_cluster: Cluster | None) -> Iterator[str]:
    """A database for a module's long-lived servers ("" on SQLite), in the environment while
    the module's fixtures start them; dropped after the module."""
    if pg_cluster is None:
        yield ""
        return
    url = pg_cluster.create_database()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("XIAODIAN_SERVER_DATABASE_URL", url)
        yield url
    pg_cluster.drop_database(url.rsplit("/", 1)[1])


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
