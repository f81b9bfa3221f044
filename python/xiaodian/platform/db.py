"""The embedded SQLite database: one file in the data directory, WAL, synchronous=FULL.

Each thread reads through its own connection; writes are serialised by one lock and run in
`BEGIN IMMEDIATE` transactions, so a write either commits whole (and is on disk when the call
returns, thanks to synchronous=FULL) or leaves nothing behind.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from xiaodian.platform.epoch import Epoch

T = TypeVar("T")


def rows_with_ids(conn: sqlite3.Connection, select: str, ids: Sequence[str]) -> Iterator[Any]:
    """Rows of `select ... IN ({ids})` for any number of ids, 500 bound parameters at a time
    (under SQLite's limit)."""
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        yield from conn.execute(select.format(ids=",".join("?" * len(chunk))), chunk)


@dataclass(frozen=True)
class Migration:
    """One schema change. `id` is unique across the project (`search-0001-…`) and never edited.
    `backfill`, when given, fills what SQL cannot (data read from stored protobuf messages,
    say): it runs after `sql`, in the same transaction."""

    id: str
    sql: str
    backfill: Callable[[sqlite3.Connection], None] | None = None


class _GroupedWrite:
    """One write waiting for its group: set by the thread that commits the group, read by its
    caller after taking the write lock (which orders the two)."""

    __slots__ = ("write", "done", "result", "error")

    def __init__(self, write: Callable[[sqlite3.Connection], Any]) -> None:
        self.write = write
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class StorageError(Exception):
    """The database cannot be used: corrupt, unreadable or read-only. One line, for people."""


class Database:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(
                f"cannot create the data directory {self.path.parent}: {error.strerror or error}"
            ) from None
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._waiting: list[_GroupedWrite] = []
        self._waiting_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()

    @functools.cached_property
    def epoch(self) -> Epoch:
        """Advanced by writes that change what processes keep in memory (`platform.epoch`).
        Opened on first use, so a read-only data directory is refused by `check` first."""
        return Epoch(self.path)

    @property
    def write_lock(self) -> threading.Lock:
        """The lock every write transaction of this `Database` holds, with its `after_commit`
        callbacks. Hold it to read and apply state with no write of this process in between."""
        return self._write_lock

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode: transactions are explicit)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            # Checkpoint the WAL into the database every ~40 MB of it rather than every 4 MB (the
            # default): a batch of 1,000 orders writes about that much, so the default copied
            # pages back at nearly every commit. Durability is the same: each commit is still
            # fsynced to the WAL (synchronous=FULL), and a checkpoint fsyncs the database.
            conn.execute("PRAGMA wal_autocheckpoint=10000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def check(self) -> None:
        """Refuses a database that is not one, fails SQLite's `quick_check` (corruption), or
        cannot be written (a read-only file or directory): StorageError with one clear line.
        Run once at start, before anything is served."""
        where = str(self.path)
        try:
            conn = self.connection()
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise StorageError(
                    f"the database {where} is corrupt (SQLite quick_check: {'; '.join(problems)}); "
                    "restore it from a backup or move it away"
                )
            # A write proves the file, its WAL and the directory are writable.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("CREATE TABLE IF NOT EXISTS storage_check (id INTEGER PRIMARY KEY)")
            conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError) and "readonly" in str(error).replace("-", ""):
                raise StorageError(f"the database {where} is read-only: {error}") from None
            if isinstance(error, sqlite3.OperationalError) and "unable to open" in str(error):
                raise StorageError(f"cannot open the database {where} (is its directory writable?): {error}") from None
            raise StorageError(f"the database {where} cannot be used: {error}") from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Functions registered with `after_commit` during the block run after the COMMIT, still
        under the write lock, so in-memory state (the search index) changes in commit order."""
        conn = self.connection()
        with self._write_lock:
            self._local.after_commit = []
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                self._local.after_commit = None
                raise
            conn.execute("COMMIT")
            callbacks, self._local.after_commit = self._local.after_commit, None
            for callback in callbacks:
                callback()

    def grouped(self, write: Callable[[sqlite3.Connection], T]) -> T:
        """Runs `write(conn)` in a group transaction (module docstring) and returns its result
        once that transaction has committed, or raises what it raised (then nothing of it is
        written). Whoever takes the write lock first commits every write waiting by then, in
        the order they came; `write` must not use `after_commit`."""
        item = _GroupedWrite(write)
        with self._waiting_lock:
            self._waiting.append(item)
        with self._write_lock:
            if not item.done:
                with self._waiting_lock:
                    group, self._waiting = self._waiting, []
                self._commit_group(group)
        if item.error is not None:
            raise item.error
        result: T = item.result
        return result

    def _commit_group(self, group: list[_GroupedWrite]) -> None:
        """One transaction for `group`, each write in a SAVEPOINT; every item is done after it
        (with its result, or an error: its own, or the commit's for all of them)."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in group:
                conn.execute("SAVEPOINT grouped_write")
                try:
                    item.result = item.write(conn)
                except Exception as error:  # noqa: BLE001 - the write's caller gets it
                    conn.execute("ROLLBACK TO grouped_write")
                    item.error = error
                conn.execute("RELEASE grouped_write")
            conn.execute("COMMIT")
        except BaseException as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for item in group:
                if item.error is None:
                    item.error, item.result = error, None
            if not isinstance(error, Exception):
                raise
        finally:
            for item in group:
                item.done = True

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Runs `callback` once the current thread's transaction commits (never if it rolls back)."""
        pending: list[Callable[[], None]] | None = getattr(self._local, "after_commit", None)
        if pending is None:
            raise RuntimeError("after_commit called outside a transaction")
        pending.append(callback)

    def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Applies the migrations not yet applied, in order, each in its own transaction."""
        with self.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at_us INTEGER NOT NULL)"
            )
            done = {row[0] for row in conn.execute("SELECT id FROM schema_migrations")}
        applied = []
        for migration in migrations:
            if migration.id in done:
                continue
            try:
                with self.transaction() as conn:
                    for statement in migration.sql.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    if migration.backfill is not None:
                        migration.backfill(conn)
                    conn.execute(
                        "INSERT INTO schema_migrations (id, applied_at_us) VALUES (?, ?)",
                        (migration.id, time.time_ns() // 1000),
                    )
            except sqlite3.IntegrityError as error:
                # The stored data breaks a rule the migration adds (say, a balance an older
                # version let SQLite turn into a float): a person must repair it first.
                raise StorageError(
                    f"migration {migration.id} of {self.path} refuses the stored data ({error}); "
                    "nothing was changed: repair those rows, or restore a backup, then start again"
                ) from None
            applied.append(migration.id)
        return applied

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
