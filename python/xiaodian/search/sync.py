"""Keeping a process's search engine in step with the catalog that other processes write.

With `xiaodian serve --workers N` every worker holds an engine of its own. A worker's own
writes reach its engine after they commit (`SearchService._after_commit`); the writes of the
other workers (and, on PostgreSQL, of other servers) reach it through the change log
(`search.changelog`): `EngineSync` runs one thread that wakes every `interval` seconds, reads
the log's head (one row), and if it moved past `last_seen` applies every log row after it by
reading the current stored state of each key.

Invariants:
- `load_engine` reads the catalog, the profiles and the log's last seq in one read
  transaction: the engine holds exactly the writes numbered <= that seq, and every later
  write has a larger one. Nothing committed is missed, nothing is needed twice.
- Rows are applied, and `last_seen` advances, under the process's write lock: no write of
  this process commits between the snapshot that is read and its application, so the engine
  never goes back to an older state than one this process already applied. The process's own
  writes come back through the log too and are applied again from the stored rows, which
  leaves the engine as it was (applying a key is idempotent).
- A worker whose `last_seen` fell behind the pruned part of the log (or whose application
  failed) rebuilds its engine from the tables, then applies the rows after the new seq.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from xiaodian import _core
from xiaodian.platform.db import Connection, Database, is_unavailable
from xiaodian.search import catalog, changelog, profiles

log = logging.getLogger("xiaodian.search.sync")

#: Seconds between two looks at the database (a look reads the change log's head row).
DEFAULT_INTERVAL = 0.15


class HoldsEngine(Protocol):
    """What the sync needs of the search service: the engine searches use, replaceable."""

    engine: _core.SearchEngine


def load_engine(db: Database, negating_modifiers: list[str] | None = None) -> tuple[_core.SearchEngine, int]:
    """An engine holding the whole stored catalog and every version of every ranking profile,
    and the change log's last seq as of that load (same read transaction); its analysis has
    `negating_modifiers` (None: the built-in list)."""
    started = time.perf_counter()
    engine = _core.SearchEngine("full", negating_modifiers)
    with db.snapshot() as conn:  # one snapshot for the log's position and everything loaded
        seq = changelog.last_seq(conn)
        loaded = catalog.load_index(conn, engine)
        for stored in profiles.all_profiles(conn):
            engine.put_profile(stored.name, stored.version, stored.as_engine_dict())
    engine.refresh_suggestions()  # so the first Suggest does not build them
    log.info("index built", extra={"products": loaded, "seq": seq, "seconds": round(time.perf_counter() - started, 3)})
    return engine, seq


def apply_changes(conn: Connection, engine: _core.SearchEngine, changes: list[changelog.Change]) -> None:
    """Applies the current stored state of every key in `changes` to `engine`: shops first
    (a product needs its shop), then products (upserted if stored, else deleted), then
    profile versions. Read in the caller's transaction, so the rows are one snapshot."""
    keys: dict[str, dict[str, None]] = {changelog.SHOP: {}, changelog.PRODUCT: {}, changelog.PROFILE: {}}
    for change in changes:
        keys[change.kind][change.key] = None
    shop_ids = list(keys[changelog.SHOP])
    if shop_ids:
        engine.upsert_shops(catalog.shop_records(conn, shop_ids))
    product_ids = list(keys[changelog.PRODUCT])
    if product_ids:
        records = catalog.product_records(conn, product_ids)
        if records:
            engine.upsert_products(records)
        stored = {record["product_id"] for record in records}
        gone = [product_id for product_id in product_ids if product_id not in stored]
        if gone:
            engine.delete_products(gone)
    for key in keys[changelog.PROFILE]:
        name, version = changelog.parse_profile_key(key)
        profile = profiles.get_profile(conn, name, version)
        engine.put_profile(profile.name, profile.version, profile.as_engine_dict())


class EngineSync:
    """Applies every write committed by other processes to `holder.engine`; see the module.

    `last_seen` is the seq of the last log row applied (from `load_engine` at first)."""

    def __init__(self, db: Database, holder: HoldsEngine, last_seen: int, interval: float = DEFAULT_INTERVAL) -> None:
        self.db = db
        self.holder = holder
        self.last_seen = last_seen
        self.interval = interval
        self.rebuilds = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="search-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        waiter = self.db.waiter(changelog.CHANNEL, self._stop)
        try:
            while True:
                waiter.wait(self.interval)  # on PostgreSQL, a commit elsewhere ends it early
                if self._stop.is_set():
                    return
                try:
                    self.poll()
                except Exception as error:  # noqa: BLE001 - the thread must keep running; next poll retries
                    if is_unavailable(error):
                        log.warning("search sync: the database is unavailable; retrying", extra={"error": str(error)})
                    else:
                        log.exception("search sync failed; retrying")
        finally:
            waiter.close()

    def poll(self) -> int:
        """Applies what was committed since the last poll; returns the number of log rows
        applied (0 when nothing changed). Called by the thread, or directly by tests."""
        if changelog.last_seq(self.db.connection()) == self.last_seen:
            return 0
        try:
            with self.db.write_lock:
                applied = self._apply_pending()
        except Exception:  # noqa: BLE001 - the tables are still the truth: rebuild from them
            log.exception("applying search changes failed; rebuilding the index from the database")
            applied = None
        if applied is None:
            applied = self._rebuild()
        return applied

    def _apply_pending(self) -> int | None:
        """Under the write lock: applies the rows after `last_seen`, or returns None when some
        of them were pruned (the engine must be rebuilt)."""
        with self.db.snapshot() as conn:
            first = changelog.first_seq(conn)
            if (first is None and changelog.last_seq(conn) > self.last_seen) or (
                first is not None and first > self.last_seen + 1
            ):
                log.warning("search change log pruned past this worker", extra={"last_seen": self.last_seen})
                return None
            changes = changelog.since(conn, self.last_seen)
            if changes:
                apply_changes(conn, self.holder.engine, changes)
                self.last_seen = changes[-1].seq
            return len(changes)

    def _rebuild(self) -> int:
        """A new engine from the tables, swapped in with the rows written while it loaded."""
        engine, seq = load_engine(self.db, self.holder.engine.negating_modifiers())
        with self.db.write_lock:
            self.holder.engine = engine
            self.last_seen = seq
            self.rebuilds += 1
            applied = self._apply_pending()
        if applied is None:  # pruned again while loading (far behind a fast writer): next poll
            return 0
        return applied
