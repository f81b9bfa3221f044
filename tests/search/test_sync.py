"""The change log and `search.sync` without a server: two services with engines of their own on
one database file (as two workers), a write through one applied to the other by `poll()`."""

from __future__ import annotations

import uuid
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian.platform.db import SqliteDatabase
from xiaodian.platform.server import MIGRATIONS
from xiaodian.search import changelog, profiles, sync
from xiaodian.search.service import SearchService
from xiaodian.v1 import search_service_pb2 as pb


class Worker:
    """A search service with its own `Database` object (own connections) and its own engine."""

    def __init__(self, path: Path) -> None:
        self.db = SqliteDatabase(path)
        engine, last_seen = sync.load_engine(self.db)
        self.service = SearchService(self.db, engine)
        self.sync = sync.EngineSync(self.db, self.service, last_seen)

    def found(self, query: str, profile_version: int = 0) -> list[str]:
        request = pb.SearchRequest(query=query, page_size=50, profile_version=profile_version)
        encoded = self.service.Search(request.SerializeToString(), None)  # type: ignore[arg-type]
        return sorted(hit.product_id for hit in pb.SearchResponse.FromString(encoded).hits)

    def upsert(self, *product_ids: str, title: str = "羊绒围巾女款冬季") -> None:
        self.service.UpsertShops(
            pb.UpsertShopsRequest(
                request_id=str(uuid.uuid4()),
                shops=[pb.Shop(shop_id="s1", name="暖冬小店", opened_at=Timestamp(seconds=1_700_000_000))],
            ),
            None,  # type: ignore[arg-type]
        )
        products = [pb.Product(product_id=p, shop_id="s1", title=title, category_id="c1") for p in product_ids]
        self.service.UpsertProducts(
            pb.UpsertProductsRequest(request_id=str(uuid.uuid4()), products=products),
            None,  # type: ignore[arg-type]
        )

    def delete(self, *product_ids: str) -> None:
        self.service.DeleteProducts(
            pb.DeleteProductsRequest(request_id=str(uuid.uuid4()), product_ids=list(product_ids)),
            None,  # type: ignore[arg-type]
        )


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "xiaodian.db"
    db = SqliteDatabase(path)
    db.migrate(MIGRATIONS["sqlite"])
    with db.transaction() as conn:
        profiles.ensure_default_profile(conn, {})
    db.close()
    return path


def test_writes_through_one_engine_reach_the_other_and_reapplying_them_changes_nothing(tmp_path) -> None:
    path = _database(tmp_path)
    a, b = Worker(path), Worker(path)
    a.upsert("p1", "p2")
    assert a.found("围巾") == ["p1", "p2"]  # its own write, at commit
    assert b.found("围巾") == []
    assert b.sync.poll() == 3  # one shop, two products
    assert b.found("围巾") == ["p1", "p2"]
    assert b.sync.poll() == 0  # nothing committed since: no table read

    a.upsert("p2", title="真丝围巾桑蚕丝")
    a.delete("p1")
    b.sync.poll()
    assert b.found("围巾") == ["p2"] and b.found("真丝") == ["p2"] and b.found("羊绒") == []
    assert a.sync.poll() > 0  # a's own writes come back through the log ...
    assert a.found("围巾") == ["p2"] and a.found("羊绒") == []  # ... and change nothing

    with a.db.transaction() as conn:
        stored = profiles.update_profile(conn, "default", {"brand_multiplier": 3.0})
    b.sync.poll()
    assert b.found("真丝", profile_version=stored.version) == ["p2"]  # b keeps the new version


def test_a_worker_behind_the_pruned_log_rebuilds_and_misses_nothing(tmp_path) -> None:
    path = _database(tmp_path)
    a, b = Worker(path), Worker(path)
    a.upsert("p1", "p2", "p3")
    a.delete("p3")
    with a.db.transaction() as conn:
        assert changelog.prune(conn, keep_rows=1, keep_seconds=0) > 0
    # b never saw the pruned rows: it must rebuild rather than apply only the last one.
    assert b.sync.poll() >= 0
    assert b.sync.rebuilds == 1
    assert b.found("围巾") == ["p1", "p2"]
    a.upsert("p4")
    b.sync.poll()
    assert b.sync.rebuilds == 1  # caught up: later rows are applied as usual
    assert b.found("围巾") == ["p1", "p2", "p4"]


def test_the_log_is_pruned_by_age_and_count_keeping_the_newest(tmp_path) -> None:
    path = _database(tmp_path)
    db = SqliteDatabase(path)
    with db.transaction() as conn:
        changelog.record(conn, changelog.PRODUCT, [f"p{i}" for i in range(10)])
        last = changelog.last_seq(conn)
        assert changelog.prune(conn) == 0  # everything is younger than an hour
        assert changelog.prune(conn, keep_rows=4, keep_seconds=0) == last - 4
        assert changelog.first_seq(conn) == last - 3
        assert [c.seq for c in changelog.since(conn, 0)] == list(range(last - 3, last + 1))
        assert changelog.last_seq(conn) == last  # numbers are never reused


def test_the_change_head_starts_where_an_older_database_log_ended(tmp_path: Path) -> None:
    """A database written before the head row (migration search-0004) numbered its log with
    SQLite's AUTOINCREMENT: the head starts at the highest number ever given, pruned rows
    included, and the next write continues after it."""
    db = SqliteDatabase(tmp_path / "old.db")
    db.migrate([m for m in MIGRATIONS["sqlite"] if m.id != "search-0004-change-head"])
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO search_changes (kind, key, at_us) VALUES (?, ?, 0)", [("product", f"p{i}") for i in range(7)]
        )
        conn.execute("DELETE FROM search_changes WHERE seq > 5")  # AUTOINCREMENT still remembers 7
    assert db.migrate(MIGRATIONS["sqlite"]) == ["search-0004-change-head"]
    with db.transaction() as conn:
        assert changelog.last_seq(conn) == 7
        changelog.record(conn, changelog.PRODUCT, ["p9"])
        assert [c.seq for c in changelog.since(conn, 5)] == [8]
    db.close()
