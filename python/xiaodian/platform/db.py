"""The database behind every store: an embedded SQLite file (the default) or PostgreSQL (many
servers, one database), chosen by `[server] database_url` (`open_database`).

Both backends behave the same to the stores, which write portable SQL with `?` placeholders:
- Each thread reads through its own connection, in autocommit mode (transactions are explicit).
- Every write transaction is serialised: SQLite by `BEGIN IMMEDIATE`; PostgreSQL by a
  transaction-level advisory lock (`WRITE_LOCK_KEY`) that every server takes first, so writers
  on many machines still commit one at a time, in one order, and a write never meets a
  deadlock or a serialization failure. Within a process, one lock orders the writes and their
  `after_commit` callbacks.
- A write either commits whole (and is durable when the call returns: SQLite synchronous=FULL,
  PostgreSQL's default synchronous_commit) or leaves nothing behind.
- A database that cannot be reached is `DatabaseUnavailable` (UNAVAILABLE to callers); the
  next call connects again.
"""

from __future__ import annotations

import abc
import functools
import select
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.errors

from xiaodian.platform.epoch import Epoch, TableEpoch

T = TypeVar("T")

#: The PostgreSQL advisory lock every write transaction takes first (any fixed 64-bit number
#: that no other application on the same database uses: "xiaodian" in ASCII).
WRITE_LOCK_KEY = 0x7869616F6469616E
#: Seconds to wait for a PostgreSQL connection before the call is UNAVAILABLE.
CONNECT_TIMEOUT_SECONDS = 5


class Cursor(Protocol):
    """What the stores read from a statement: sqlite3's and psycopg's cursors both are one."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int, /) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection as the stores use it: portable SQL with `?` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...
    @property
    def in_transaction(self) -> bool: ...


def rows_with_ids(conn: Connection, select: str, ids: Sequence[str]) -> Iterator[Any]:
    """Rows of `select ... IN ({ids})` for any number of ids, 500 bound parameters at a time
    (under SQLite's limit)."""
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        yield from conn.execute(select.format(ids=",".join("?" * len(chunk))), chunk)


def upsert_sql(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """`INSERT … ON CONFLICT (key) DO UPDATE SET` every other column: a row replaced whole, in
    SQL both backends take."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


@dataclass(frozen=True)
class Migration:
    """One schema change. `id` is unique across the project (`search-0001-…`) and never edited.
    `backfill`, when given, fills what SQL cannot (data read from stored protobuf messages,
    say): it runs after `sql`, in the same transaction.

    Each backend has its own list of steps (a module's `MIGRATIONS` for SQLite and
    `POSTGRES_MIGRATIONS`): PostgreSQL started at today's schema, SQLite carries its history."""

    id: str
    sql: str
    backfill: Callable[[Connection], None] | None = None


class StorageError(Exception):
    """The database cannot be used: corrupt, unreadable or read-only. One line, for people."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached now (PostgreSQL down or restarting, the network gone).
    Callers get UNAVAILABLE and may retry with the same request_id; nothing was written."""


#: Errors of a statement that a rule of the schema refused (a CHECK, a key).
INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.IntegrityError)


def is_out_of_range(error: BaseException) -> bool:
    """Whether the database refused an integer beyond int64: SQLite's "integer overflow" of a
    `SUM`, PostgreSQL's `bigint out of range` (a sum, a cast or a bound value)."""
    if isinstance(error, sqlite3.OperationalError):
        return "integer overflow" in str(error)
    return isinstance(error, psycopg.errors.NumericValueOutOfRange)


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database could not be reached (as opposed to a refused
    statement): then the call is UNAVAILABLE, never a wrong answer."""
    if isinstance(error, DatabaseUnavailable):
        return True
    return isinstance(error, psycopg.OperationalError) and not isinstance(error, psycopg.errors.QueryCanceled)


@contextmanager
def savepoint(conn: Connection, name: str) -> Iterator[None]:
    """Inside a transaction: the block's statements are undone if it raises, and the
    transaction carries on (PostgreSQL refuses every later statement of a transaction after an
    error that was not rolled back to a savepoint). Outside one: just the block."""
    if not conn.in_transaction:
        yield
        return
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        _end_savepoint(conn, name)
        raise
    conn.execute(f"RELEASE {name}")


def _end_savepoint(conn: Connection, name: str) -> None:
    try:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
    except psycopg.OperationalError:
        pass  # the connection is gone, and its transaction with it


def notify(conn: Connection, channel: str) -> None:
    """Wakes the servers listening on `channel` (`Database.waiter`) when the current
    transaction commits: PostgreSQL's NOTIFY; nothing on SQLite, whose readers look often."""
    if isinstance(conn, _PostgresConnection):
        conn.execute(f"NOTIFY {channel}")


class Waiter:
    """Waits up to a timeout for a wake-up on a channel (`notify`); on SQLite, just the timeout."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def wait(self, timeout: float) -> None:
        self._stop.wait(timeout)

    def close(self) -> None:
        pass


class _GroupedWrite:
    """One write waiting for its group: set by the thread that commits the group, read by its
    caller after taking the write lock (which orders the two)."""

    __slots__ = ("write", "done", "result", "error")

    def __init__(self, write: Callable[[Connection], Any]) -> None:
        self.write = write
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class Database(abc.ABC):
    """One database, its per-thread connections and its write transactions (module docstring)."""

    #: "sqlite" or "postgresql": which list of migrations applies.
    backend: ClassVar[str]

    def __init__(self) -> None:
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._waiting: list[_GroupedWrite] = []
        self._waiting_lock = threading.Lock()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Where the data is, for logs and errors (never a password)."""

    @property
    @abc.abstractmethod
    def epoch(self) -> Epoch | TableEpoch:
        """Advanced by writes that change what processes keep in memory (`platform.epoch`)."""

    @abc.abstractmethod
    def check(self) -> None:
        """Refuses a database that cannot be used, with StorageError and one clear line. Run
        once at start, before anything is served."""

    @abc.abstractmethod
    def _connect(self) -> Any:
        """A new connection in autocommit mode."""

    def _usable(self, conn: Any) -> bool:
        """Whether this thread's kept connection can still be used."""
        return True

    def waiter(self, channel: str, stop: threading.Event) -> Waiter:
        """A `Waiter` for `channel` that also returns as soon as `stop` is set."""
        return Waiter(stop)

    @abc.abstractmethod
    def _begin_write(self, conn: Connection) -> None:
        """Opens a write transaction that no other writer of the database runs beside."""

    @abc.abstractmethod
    def _begin_snapshot(self, conn: Connection) -> None:
        """Opens a read transaction whose statements all see one snapshot."""

    @property
    def write_lock(self) -> threading.Lock:
        """The lock every write transaction of this `Database` holds, with its `after_commit`
        callbacks. Hold it to read and apply state with no write of this process in between."""
        return self._write_lock

    def connection(self) -> Connection:
        """This thread's connection (autocommit mode: transactions are explicit)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and not self._usable(conn):
            self._forget(conn)
            self._local.conn = conn = None
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        result: Connection = conn
        return result

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read transaction: every statement in the block sees the same committed state."""
        conn = self.connection()
        self._begin_snapshot(conn)
        try:
            yield conn
        finally:
            _end(conn, "COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Functions registered with `after_commit` during the block run after the COMMIT, still
        under the write lock, so in-memory state (the search index) changes in commit order."""
        conn = self.connection()
        with self._write_lock:
            self._local.after_commit = []
            try:
                self._begin_write(conn)
                yield conn
            except BaseException:
                _end(conn, "ROLLBACK")
                self._local.after_commit = None
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                self._local.after_commit = None
                raise
            callbacks, self._local.after_commit = self._local.after_commit, None
            for callback in callbacks:
                callback()

    def grouped(self, write: Callable[[Connection], T]) -> T:
        """Runs `write(conn)` in a group transaction and returns its result once that
        transaction has committed, or raises what it raised (then nothing of it is written).
        Whoever takes the write lock first commits every write waiting by then, in the order
        they came, each in a SAVEPOINT; `write` must not use `after_commit`."""
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
        conn: Connection | None = None
        try:
            conn = self.connection()
            self._begin_write(conn)
            for item in group:
                conn.execute("SAVEPOINT grouped_write")
                try:
                    item.result = item.write(conn)
                except Exception as error:  # noqa: BLE001 - the write's caller gets it
                    if is_unavailable(error):
                        raise
                    conn.execute("ROLLBACK TO grouped_write")
                    item.error = error
                conn.execute("RELEASE grouped_write")
            conn.execute("COMMIT")
        except BaseException as error:
            if conn is not None:
                _end(conn, "ROLLBACK")
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
        """Applies the migrations not yet applied, in order, each in its own transaction. Many
        servers may start at once: each step checks, under the write lock, that no other
        server applied it meanwhile."""
        with self.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at_us BIGINT NOT NULL)"
            )
        applied = []
        for migration in migrations:
            try:
                with self.transaction() as conn:
                    if conn.execute("SELECT 1 FROM schema_migrations WHERE id = ?", (migration.id,)).fetchone():
                        continue
                    for statement in migration.sql.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    if migration.backfill is not None:
                        migration.backfill(conn)
                    conn.execute(
                        "INSERT INTO schema_migrations (id, applied_at_us) VALUES (?, ?)",
                        (migration.id, time.time_ns() // 1000),
                    )
            except INTEGRITY_ERRORS as error:
                # The stored data breaks a rule the migration adds (say, a balance an older
                # version let SQLite turn into a float): a person must repair it first.
                raise StorageError(
                    f"migration {migration.id} of {self.description} refuses the stored data ({error}); "
                    "nothing was changed: repair those rows, or restore a backup, then start again"
                ) from None
            applied.append(migration.id)
        return applied

    def _forget(self, conn: Any) -> None:
        """Closes a connection this thread will not use again."""
        with self._connections_lock:
            self._connections.remove(conn)
        conn.close()

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


def _end(conn: Connection, statement: str) -> None:
    """Ends the connection's transaction if it has one; a connection already lost has none."""
    try:
        if conn.in_transaction:
            conn.execute(statement)
    except psycopg.OperationalError:
        pass


class SqliteDatabase(Database):
    """One SQLite file: WAL, synchronous=FULL; writers serialised by `BEGIN IMMEDIATE`."""

    backend = "sqlite"

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(
                f"cannot create the data directory {self.path.parent}: {error.strerror or error}"
            ) from None

    @property
    def description(self) -> str:
        return str(self.path)

    @functools.cached_property
    def epoch(self) -> Epoch:
        """Opened on first use, so a read-only data directory is refused by `check` first."""
        return Epoch(self.path)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        # Checkpoint the WAL into the database every ~40 MB of it rather than every 4 MB (the
        # default): a batch of 1,000 orders writes about that much, so the default copied
        # pages back at nearly every commit. Durability is the same: each commit is still
        # fsynced to the WAL (synchronous=FULL), and a checkpoint fsyncs the database.
        conn.execute("PRAGMA wal_autocheckpoint=10000")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _begin_write(self, conn: Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def _begin_snapshot(self, conn: Connection) -> None:
        conn.execute("BEGIN")

    def check(self) -> None:
        """Refuses a database that is not one, fails SQLite's `quick_check` (corruption), or
        cannot be written (a read-only file or directory)."""
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


class _PostgresConnection:
    """A psycopg connection that takes the stores' portable SQL (`?` placeholders)."""

    raw: psycopg.Connection[Any]

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        return self.raw.execute(_numbered(sql), parameters)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        """An `INSERT … VALUES (…)` runs as multi-row INSERTs (`_multirow`): one statement,
        one round trip and one plan per up to `MAX_BOUND_PARAMETERS` values instead of one per
        row; anything else row by row, pipelined by psycopg."""
        cursor = self.raw.cursor()
        shape = _insert_shape(sql)
        if shape is None:
            cursor.executemany(_numbered(sql), parameters)
            return cursor
        rows = list(parameters)
        per_statement = max(1, MAX_BOUND_PARAMETERS // shape[1].count("?"))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            cursor.execute(_multirow(sql, len(chunk)), [value for row in chunk for value in row])
        return cursor

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


#: Values bound to one PostgreSQL statement at most (its protocol allows 65,535).
MAX_BOUND_PARAMETERS = 30_000


@functools.lru_cache(maxsize=256)
def _insert_shape(sql: str) -> tuple[str, str, str] | None:
    """(head, the VALUES tuple, tail) of `INSERT INTO … VALUES (…) [ON CONFLICT …]`, or None
    for any other statement. The tuple is found by matching its parentheses."""
    head, marker, rest = sql.partition(" VALUES (")
    if not marker or not head.lstrip().upper().startswith("INSERT INTO"):
        return None
    depth = 1
    for end, char in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return head + " VALUES ", "(" + rest[: end + 1], rest[end + 1 :]
    return None


@functools.lru_cache(maxsize=256)
def _multirow(sql: str, rows: int) -> str:
    """`sql` (an INSERT, `_insert_shape`) with its VALUES tuple repeated for `rows` rows."""
    shape = _insert_shape(sql)
    assert shape is not None
    head, values, tail = shape
    return _numbered(head + ", ".join([values] * rows) + tail)


@functools.lru_cache(maxsize=1024)
def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's own `$1`, `$2`, … (the connection's cursors are
    psycopg's `RawCursor`, which sends the query as it is: no client-side parsing). The
    stores' SQL has no `?` inside a string literal."""
    parts = sql.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], start=1)) + parts[-1]


class PostgresDatabase(Database):
    """One PostgreSQL database shared by any number of servers; writers serialised by the
    advisory lock `WRITE_LOCK_KEY`, taken first in every write transaction."""

    backend = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    @property
    def description(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{parts.username}@{host}" if parts.username else host
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    @functools.cached_property
    def epoch(self) -> TableEpoch:
        return TableEpoch(self.connection)

    def _connect(self) -> _PostgresConnection:
        try:
            raw = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name="xiaodian",
                cursor_factory=psycopg.RawCursor,
            )
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable(f"cannot connect to {self.description}: {_first_line(error)}") from None
        return _PostgresConnection(raw)

    def _usable(self, conn: Any) -> bool:
        """False for a connection that broke, or that the server spoke on while it was idle:
        a server that shuts down or restarts tells each idle connection so (and closes it), and
        the call that would use it next would fail; it is replaced before it is used instead."""
        raw = conn.raw
        if raw.closed or raw.broken:
            return False
        if raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            readable, _, _ = select.select([raw.fileno()], [], [], 0)
            return not readable
        return True

    def waiter(self, channel: str, stop: threading.Event) -> Waiter:
        return _PostgresWaiter(self.url, channel, stop)

    def _begin_write(self, conn: Connection) -> None:
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK_KEY,))

    def _begin_snapshot(self, conn: Connection) -> None:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def check(self) -> None:
        """Refuses a database that cannot be reached, or a read-only standby."""
        try:
            conn = self.connection()
            if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                raise StorageError(f"the database {self.description} is a read-only standby; name the primary")
        except (DatabaseUnavailable, psycopg.Error) as error:
            raise StorageError(f"the database {self.description} cannot be used: {_first_line(error)}") from None


class _PostgresWaiter(Waiter):
    """LISTENs on its own connection; `wait` returns at the first NOTIFY, at the timeout, or
    when `stop` is set (it waits in slices of at most 0.2 s). A lost connection is opened again
    at the next wait; meanwhile it waits out the timeout, and the reader's look finds the rest."""

    def __init__(self, url: str, channel: str, stop: threading.Event) -> None:
        super().__init__(stop)
        self._url = url
        self._channel = channel
        self._conn: psycopg.Connection[Any] | None = None

    def wait(self, timeout: float) -> None:
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
                self._conn.execute(f"LISTEN {self._channel}")
            for _ in self._conn.notifies(timeout=min(timeout, 0.2), stop_after=1):
                pass
        except psycopg.OperationalError:
            self.close()
            super().wait(timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def open_database(database_url: str, data_dir: str | Path) -> Database:
    """The database `database_url` names (`postgresql://…`), or with an empty url the SQLite
    file `xiaodian.db` in `data_dir`."""
    if not database_url:
        return SqliteDatabase(Path(data_dir) / "xiaodian.db")
    scheme = urlsplit(database_url).scheme
    if scheme in ("postgresql", "postgres"):
        return PostgresDatabase(database_url)
    raise StorageError(f"database_url must start with postgresql:// (or be empty for SQLite), got {scheme!r}://")
