"""A throwaway PostgreSQL cluster for the tests and benchmarks of the PostgreSQL backend.

`Cluster.start()` runs `initdb` in a temporary directory and starts `postgres` on a free port
of 127.0.0.1 only (its Unix socket inside that directory); `create_database()` gives each test
a fresh database; `stop()` stops the server and removes the directory. PostgreSQL comes from
Debian's packages, which `./dev test` installs when they are missing. initdb and postgres
refuse to run as root, so as root they run as the `postgres` user the package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType

TIMEOUT_SECONDS = 60


def find_bin_dir() -> Path:
    """The directory of `initdb` and `pg_ctl`."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("PostgreSQL is not installed: `./dev test` installs it (Debian package postgresql)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Cluster:
    """One running PostgreSQL server in a temporary directory; a context manager."""

    def __init__(self, directory: Path, port: int, bin_dir: Path) -> None:
        self.directory = directory
        self.port = port
        self.bin_dir = bin_dir
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        self.options = ""  # the server's command-line settings (`start`)

    @classmethod
    def start(cls, fsync: bool = True) -> Cluster:
        bin_dir = find_bin_dir()
        directory = Path(tempfile.mkdtemp(prefix="xiaodian-pg-"))
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        cluster = cls(directory, _free_port(), bin_dir)
        try:
            cluster._run("initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "--no-sync")
            cluster.options = (
                f"-p {cluster.port} -c listen_addresses=127.0.0.1 -k {directory} -c max_connections=300"
                f" -c shared_buffers=128MB -c fsync={'on' if fsync else 'off'}"
            )
            cluster.resume()
        except BaseException:
            cluster._remove()
            raise
        return cluster

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its URL."""
        name = name or f"xd_{uuid.uuid4().hex[:16]}"
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def sql(self, statement: str) -> str:
        """Runs one statement in the `postgres` database with psql; its output."""
        return subprocess.run(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.url(), "-c", statement],
            check=True,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        ).stdout

    def restart(self) -> None:
        """Stops the server (fast: connections are cut) and starts it again on the same port."""
        self._pg_ctl("restart", "-w", "-m", "fast", "-l", str(self.log))

    def halt(self) -> None:
        """Stops the server (fast: connections are cut) and leaves it down: `resume` starts it."""
        self._pg_ctl("stop", "-w", "-m", "fast")

    def resume(self) -> None:
        self._pg_ctl("start", "-w", "-o", self.options, "-l", str(self.log))

    def stop(self) -> None:
        try:
            self._pg_ctl("stop", "-w", "-m", "fast")
        finally:
            self._remove()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), *args)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, cwd=self.directory, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed: {done.stderr.strip()}\n{log}")

    def _remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
