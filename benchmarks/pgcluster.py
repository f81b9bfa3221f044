"""A throwaway PostgreSQL cluster for the tests and benchmarks of the PostgreSQL backend (issue 22).

`Cluster.start()` runs `initdb` in a temporary directory and starts `postgres` on a free port
of 127.0.0.1 only (its Unix socket inside that directory, its log in `postgres.log` there);
`create_database()` gives each test a fresh database; `restart()` and `halt()`/`resume()` are
for the fault tests; `stop()` stops the server and removes the directory. PostgreSQL comes from
Debian's packages, which `./dev test` installs when they are missing. initdb and postgres
refuse to run as root, so as root they run as the `postgres` user the package creates
(`runuser`), and the directory is handed to that user: it must be able to reach it (/tmp can).
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType

TIMEOUT_SECONDS = 60
DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def find_bin_dir() -> Path:
    """The directory of `initdb` and `pg_ctl`: `pg_config --bindir`, else the newest
    /usr/lib/postgresql/*/bin, else that of `initdb` on PATH. (libpq-dev's pg_config names
    the server's directory even when the server is not installed, so initdb must be there.)"""
    if shutil.which("pg_config"):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=False)
        if done.returncode == 0 and (Path(done.stdout.strip()) / "initdb").is_file():
            return Path(done.stdout.strip())
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("PostgreSQL is not installed: `./dev test` installs it (Debian package postgresql)")


def _version(initdb: str) -> tuple[int, ...]:
    """/usr/lib/postgresql/15/bin/initdb: (15,); 9.6: (9, 6)."""
    return tuple(int(part) for part in Path(initdb).parts[-3].split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _checked(name: str) -> str:
    """A database name that needs no quoting (so its URL names it exactly)."""
    if not DATABASE_NAME.fullmatch(name):
        raise ValueError(f"database name {name!r}: lower-case letters, digits and _ only")
    return name


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
    def start(cls, base_dir: Path | None = None, *, fsync: bool = True) -> Cluster:
        """initdb in a new directory (under `base_dir`, else the system's temporary one), then
        the server. fsync stays on unless asked: the tests check durability."""
        bin_dir = find_bin_dir()
        directory = Path(tempfile.mkdtemp(prefix="xiaodian-pg-", dir=base_dir))
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        cluster = cls(directory, _free_port(), bin_dir)
        try:
            initdb = ["-D", str(cluster.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]
            cluster._run("initdb", *initdb)
            cluster.options = (
                f"-p {cluster.port} -c listen_addresses=127.0.0.1 -k {shlex.quote(str(directory))}"
                f" -c max_connections=300 -c shared_buffers=128MB -c fsync={'on' if fsync else 'off'}"
            )
            cluster.resume()
        except BaseException:
            cluster._remove()
            raise
        return cluster

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (named `xd_<hex>` unless `name` is given); its URL."""
        name = _checked(name or f"xd_{uuid.uuid4().hex[:16]}")
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {_checked(name)} WITH (FORCE)")

    def sql(self, statement: str, dbname: str = "postgres") -> str:
        """Runs one statement with psql; its output (unaligned, tuples only)."""
        psql = self.bin_dir / "psql" if (self.bin_dir / "psql").is_file() else "psql"
        command = [str(psql), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.url(dbname), "-c", statement]
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql {statement!r} failed: {done.stderr.strip()}")
        return done.stdout

    def restart(self) -> None:
        """Stops the server (fast: connections are cut) and starts it again on the same port."""
        self._pg_ctl("restart", "-w", "-m", "fast", "-l", str(self.log))

    def halt(self) -> None:
        """Stops the server (fast: connections are cut) and leaves it down: `resume` starts it."""
        self._pg_ctl("stop", "-w", "-m", "fast")

    def resume(self) -> None:
        self._pg_ctl("start", "-w", "-o", self.options, "-l", str(self.log))

    def stop(self) -> None:
        """Stops the server if it runs (fast, else immediate) and removes the directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                try:
                    self._pg_ctl("stop", "-w", "-m", "fast")
                except RuntimeError:
                    self._pg_ctl("stop", "-w", "-m", "immediate")
        finally:
            self._remove()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-t", str(TIMEOUT_SECONDS - 5), *args)

    def _run(self, program: str, *args: str) -> None:
        """Runs one of PostgreSQL's programs (as `postgres` when we are root); a failure's
        error names the command and ends with the tail of the server's log."""
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, cwd=self.directory, check=False
            )
            failure = "" if done.returncode == 0 else done.stderr.strip() or done.stdout.strip()
        except subprocess.TimeoutExpired:
            failure = f"no answer within {TIMEOUT_SECONDS} s"
        if failure:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else "(no log)"
            raise RuntimeError(f"{program} {' '.join(args)} failed: {failure}\n--- {self.log}:\n{log}")

    def _remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
