"""Group commit (`Database.grouped`): writes that arrive together commit together, each all or
nothing; every caller gets its own result or its own error, and nothing of a failed write stays."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from xiaodian.platform.db import SqliteDatabase


class Refused(Exception):
    pass


def test_concurrent_grouped_writes_each_commit_or_leave_nothing(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "db")
    with db.transaction() as conn:
        conn.execute("CREATE TABLE t (writer INTEGER, k INTEGER, PRIMARY KEY (writer, k))")
    results: dict[tuple[int, int], object] = {}
    lock = threading.Lock()

    def writer(w: int) -> None:
        for k in range(40):

            def write(conn, w: int = w, k: int = k) -> int:  # type: ignore[no-untyped-def]
                conn.execute("INSERT INTO t VALUES (?, ?)", (w, k))
                conn.execute("INSERT INTO t VALUES (?, ?)", (w, 1000 + k))
                if k % 7 == 3:
                    raise Refused(f"{w}/{k}")  # after writing: its rows must go
                return w * 1000 + k

            try:
                outcome: object = db.grouped(write)
            except Refused as error:
                outcome = str(error)
            with lock:
                results[w, k] = outcome

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    rows = set(db.connection().execute("SELECT writer, k FROM t"))
    for w in range(8):
        for k in range(40):
            if k % 7 == 3:
                assert results[w, k] == f"{w}/{k}"
                assert (w, k) not in rows and (w, 1000 + k) not in rows
            else:
                assert results[w, k] == w * 1000 + k
                assert (w, k) in rows and (w, 1000 + k) in rows
    assert len(rows) == 8 * 2 * sum(1 for k in range(40) if k % 7 != 3)


def test_a_write_that_uses_after_commit_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "db")
    with db.transaction() as conn:
        conn.execute("CREATE TABLE t (k INTEGER)")

    def write(conn) -> None:  # type: ignore[no-untyped-def]
        conn.execute("INSERT INTO t VALUES (1)")
        db.after_commit(lambda: None)

    with pytest.raises(RuntimeError, match="outside a transaction"):
        db.grouped(write)
    assert db.connection().execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert db.grouped(lambda conn: conn.execute("INSERT INTO t VALUES (2)").rowcount) == 1
