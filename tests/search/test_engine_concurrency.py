"""The Rust index under threads: the GIL is released around batches and queries, readers run
while a writer applies a batch, and every reader sees the index before or after a batch,
never half of it."""

from __future__ import annotations

import threading
import time

import pytest
from xiaodian import _core
from xiaodian.demo.catalog import generate_catalog
from xiaodian.search.catalog import engine_records
from xiaodian.search.query import engine_request
from xiaodian.v1 import search_service_pb2 as pb

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only


def request(query: str) -> dict[str, object]:
    """The engine request the service builds for a first page of 10."""
    return engine_request(pb.SearchRequest(query=query, page_size=10, keep_duplicates=True))


def test_python_threads_run_while_rust_indexes() -> None:
    catalog = generate_catalog(seed=3, product_count=30_000)
    shops, products = engine_records(catalog.shops, catalog.products)
    engine = _core.SearchEngine()
    engine.upsert_shops(shops)
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        time.sleep(0.01)
        before = ticks
        started = time.perf_counter()
        engine.upsert_products(products)  # one call of a few hundred milliseconds
        elapsed = time.perf_counter() - started
        during = ticks - before
    finally:
        stop.set()
        counter.join(timeout=10)
    # Had the call held the GIL, the counter could not have moved between `before` and the
    # call's return; released, it counts for most of the call.
    assert elapsed > 0.05
    assert during > 10_000


def test_readers_see_whole_batches_while_a_writer_applies_them() -> None:
    engine = _core.SearchEngine()
    engine.upsert_shops(
        [
            {
                "shop_id": "s",
                "name": "店",
                "is_brand": False,
                "opened_at_s": 0,
                "experience_score": 4.0,
                "experience_review_count": 0,
            }
        ]
    )
    batch_size, batches = 2_000, 10

    def batch(b: int) -> list[dict[str, object]]:
        return [
            {
                "product_id": f"b{b}-{i}",
                "shop_id": "s",
                "title": f"羊绒围巾 第{b}批",
                "brand": "",
                "category_id": "c",
                "price_fen": 100,
                "sales_30d": i,
                "stock": 1,
                "rating_sum": 0,
                "rating_count": 0,
                "hero_quality": 0.0,
                "dhash": None,
                "listed_at_s": 0,
            }
            for i in range(batch_size)
        ]

    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()
    profile = _core.default_ranking_profile()

    def read() -> None:
        try:
            deadline = time.monotonic() + 60
            while not done.is_set() and time.monotonic() < deadline:
                seen.append(engine.search(profile, request("羊绒围巾"))["total_matched"])
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for b in range(batches):
            engine.upsert_products(batch(b))
    finally:
        done.set()
        for reader in readers:
            reader.join(timeout=60)
    assert not errors
    assert seen, "the readers ran"
    assert all(total % batch_size == 0 for total in seen), "a reader saw part of a batch"
    assert engine.search(profile, request("羊绒围巾"))["total_matched"] == batch_size * batches
