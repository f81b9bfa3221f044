"""The throwaway PostgreSQL cluster of the tests and benchmarks (benchmarks/pgcluster.py): it
starts on 127.0.0.1 only, gives separate databases that psql can write and read, keeps its data
and port through a restart, and leaves neither a directory nor a listening port after `stop()`."""

from __future__ import annotations

import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.pgcluster import Cluster, find_bin_dir

try:
    BIN_DIR: Path | None = find_bin_dir()
    MISSING = ""
except RuntimeError as missing:
    BIN_DIR, MISSING = None, str(missing)

pytestmark = [
    pytest.mark.backend_independent,  # its own cluster: run once, not per database backend
    pytest.mark.skipif(BIN_DIR is None, reason=f"no PostgreSQL bin directory: {MISSING}"),
]


def psql(url: str, sql: str) -> str:
    assert BIN_DIR is not None
    done = subprocess.run(
        [str(BIN_DIR / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster.start() as cluster:
        yield cluster


def test_a_new_database_takes_a_table_that_psql_writes_and_reads(cluster: Cluster) -> None:
    url = cluster.create_database()
    assert url.startswith(f"postgresql://postgres@127.0.0.1:{cluster.port}/xd_")
    psql(url, "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL)")
    psql(url, "INSERT INTO t VALUES (1, '小店'), (2, 'two')")
    assert psql(url, "SELECT name FROM t ORDER BY id") == "小店\ntwo"


def test_the_server_listens_on_loopback_only_with_the_settings_for_tests(cluster: Cluster) -> None:
    url = cluster.url()
    assert psql(url, "SHOW listen_addresses") == "127.0.0.1"
    assert Path(psql(url, "SHOW unix_socket_directories")) == cluster.directory
    assert psql(url, "SHOW fsync") == "on"
    assert psql(url, "SHOW max_connections") == "300"
    assert psql(url, "SHOW shared_buffers") == "128MB"
    assert psql(url, "SHOW server_encoding") == "UTF8"


def test_two_databases_are_separate_and_a_dropped_one_is_gone(cluster: Cluster) -> None:
    first, second = cluster.create_database(), cluster.create_database("xd_second")
    assert first != second and second.endswith("/xd_second")
    psql(first, "CREATE TABLE only_here (x INT)")
    assert psql(first, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'") == "1"
    assert psql(second, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'") == "0"
    cluster.drop_database("xd_second")
    assert psql(cluster.url(), "SELECT count(*) FROM pg_database WHERE datname = 'xd_second'") == "0"
    with pytest.raises(ValueError):
        cluster.create_database("Robert'; DROP TABLE students")


def test_a_restart_keeps_the_data_and_the_port(cluster: Cluster) -> None:
    url, port = cluster.create_database(), cluster.port
    psql(url, "CREATE TABLE kept (x INT); INSERT INTO kept VALUES (42)")
    cluster.restart()
    assert cluster.port == port
    assert psql(url, "SELECT x FROM kept") == "42"
    assert psql(url, "SHOW listen_addresses") == "127.0.0.1"  # the settings survive too


def test_stop_removes_the_directory_and_the_port_stops_answering() -> None:
    # Not pytest's tmp_path: as root the server runs as `postgres`, who cannot enter /tmp/pytest-of-root.
    with tempfile.TemporaryDirectory(prefix="xiaodian-pg-base-") as base:
        Path(base).chmod(0o755)
        with Cluster.start(Path(base), fsync=False) as cluster:  # stops it again if an assertion fails
            assert cluster.directory.parent == Path(base)
            assert psql(cluster.url(), "SHOW fsync") == "off"
            assert answers(cluster.port)
            cluster.stop()
            assert not cluster.directory.exists()
            assert not answers(cluster.port)
