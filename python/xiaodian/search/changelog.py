"""The search change log: one row per catalog or ranking-profile write, in commit order.

Every write that changes what a search engine holds (a shop or product upserted, a product
deleted, a profile version stored) adds a row `(seq, kind, key)` in the same transaction as
the write itself, so a row exists exactly when its write committed. Processes that keep an
engine of their own (`xiaodian serve --workers N`) read the rows after the last `seq` they
applied and apply the current stored state of each key (`search.sync`).

Invariants:
- `seq` grows in commit order: a write numbers its rows after the head row
  (`search_change_head`), which it advances in its own transaction, and writers are
  serialised (`platform.db`); so "every row with seq > s" is exactly "every write committed
  after the one numbered s", and a number is never reused.
- Only a prefix of the log is ever deleted (`prune`): a reader whose `last_seen + 1` is below
  the smallest stored seq has missed rows and must rebuild its engine from the tables.
- A row names a key, not a value: applying a row reads the key's current state, so applying a
  row twice, or an older row after a newer one, leaves the engine as the tables are.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from xiaodian.platform.db import Connection, Migration, notify

MIGRATIONS = [
    Migration(
        "search-0003-change-log",
        """
        CREATE TABLE search_changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            at_us INTEGER NOT NULL
        )
        """,
    ),
    Migration(
        "search-0004-change-head",
        """
        CREATE TABLE search_change_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_seq INTEGER NOT NULL
        );
        INSERT INTO search_change_head (id, last_seq)
            SELECT 1, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'search_changes'), 0)
        """,
    ),
]
POSTGRES_MIGRATIONS = [
    Migration(
        "search-0003-change-log",
        """
        CREATE TABLE search_changes (
            seq BIGINT PRIMARY KEY,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            at_us BIGINT NOT NULL
        );
        CREATE TABLE search_change_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_seq BIGINT NOT NULL
        );
        INSERT INTO search_change_head (id, last_seq) VALUES (1, 0)
        """,
    ),
]

#: Where a write wakes the readers of other servers (PostgreSQL NOTIFY, on commit); the head
#: row stays the truth, the wake-up only shortens the wait.
CHANNEL = "xiaodian_search_changes"

#: Kinds of change; the key is a shop id, a product id (upserted or deleted: its row says
#: which), or a profile as `name:version` (`profile_key`).
SHOP = "shop"
PRODUCT = "product"
PROFILE = "profile"

#: Rows are kept while they are among the newest `KEEP_ROWS` or younger than `KEEP_SECONDS`;
#: older ones are pruned. A reader that far behind rebuilds its engine instead.
KEEP_ROWS = 100_000
KEEP_SECONDS = 3600.0
#: Pruning runs in the write transaction that takes the log past a multiple of this many rows.
PRUNE_EVERY_ROWS = 1000


@dataclass(frozen=True)
class Change:
    seq: int
    kind: str
    key: str


def profile_key(name: str, version: int) -> str:
    return f"{name}:{version}"


def parse_profile_key(key: str) -> tuple[str, int]:
    """(name, version) of a `profile_key` (a profile name may itself contain ':')."""
    name, _, version = key.rpartition(":")
    return name, int(version)


def record(conn: Connection, kind: str, keys: Iterable[str]) -> None:
    """Logs that `keys` of `kind` changed; call inside the write's own transaction."""
    keys = list(keys)
    if not keys:
        return
    now_us = time.time_ns() // 1000
    before = last_seq(conn)
    after = before + len(keys)
    conn.execute("UPDATE search_change_head SET last_seq = ?", (after,))
    conn.executemany(
        "INSERT INTO search_changes (seq, kind, key, at_us) VALUES (?, ?, ?, ?)",
        [(before + 1 + i, kind, key, now_us) for i, key in enumerate(keys)],
    )
    notify(conn, CHANNEL)
    if after // PRUNE_EVERY_ROWS != before // PRUNE_EVERY_ROWS:
        prune(conn, now_us)


def last_seq(conn: Connection) -> int:
    """The highest seq ever written (0 for none), pruned rows included: the head row, written
    in the same transaction as the rows, so a snapshot sees it agree with them."""
    return int(conn.execute("SELECT last_seq FROM search_change_head").fetchone()[0])


def first_seq(conn: Connection) -> int | None:
    """The smallest seq still stored, or None when the log is empty."""
    row = conn.execute("SELECT MIN(seq) FROM search_changes").fetchone()
    return None if row[0] is None else int(row[0])


def since(conn: Connection, seq: int) -> list[Change]:
    """Every row after `seq`, in seq order. All of them, not a page: the caller reads them and
    the rows they name in one snapshot, so a product's current shop is always among them."""
    rows = conn.execute("SELECT seq, kind, key FROM search_changes WHERE seq > ? ORDER BY seq", (seq,)).fetchall()
    return [Change(*row) for row in rows]


def prune(
    conn: Connection,
    now_us: int | None = None,
    keep_rows: int = KEEP_ROWS,
    keep_seconds: float = KEEP_SECONDS,
) -> int:
    """Deletes the rows that are neither among the newest `keep_rows` nor younger than
    `keep_seconds`; returns how many. Only ever a prefix of the log (everything up to a seq)."""
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    cutoff_us = now_us - int(keep_seconds * 1_000_000)
    row = conn.execute("SELECT MIN(seq) FROM search_changes WHERE at_us >= ?", (cutoff_us,)).fetchone()
    newest_kept_by_time = row[0]
    bound = last_seq(conn) - keep_rows
    if newest_kept_by_time is not None:
        bound = min(bound, int(newest_kept_by_time) - 1)
    if bound <= 0:
        return 0
    return conn.execute("DELETE FROM search_changes WHERE seq <= ?", (bound,)).rowcount
