"""The product catalog in SQLite: the source of truth that the in-memory index is built from.

Shops and products are validated here (SPEC §3) and stored as the API defines them; the hero
image is stored as its `HeroImageReport` only. `shop_record` and `product_record` turn rows
into the dicts the Rust engine (`xiaodian._core.SearchEngine`) indexes, and `load_index`
rebuilds an engine from the database at start.

Invariants: every product's shop exists; a product's stored `version` never decreases.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from xiaodian.platform.db import Connection, Cursor, Migration, rows_with_ids, upsert_sql
from xiaodian.platform.validation import Violations
from xiaodian.search import changelog
from xiaodian.v1 import search_service_pb2 as pb

MIGRATIONS = [
    Migration(
        "search-0002-catalog",
        """
        CREATE TABLE shops (
            shop_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            is_brand INTEGER NOT NULL,
            opened_at_s INTEGER NOT NULL,
            experience_score REAL NOT NULL,
            experience_review_count INTEGER NOT NULL
        );
        CREATE TABLE products (
            product_id TEXT PRIMARY KEY,
            shop_id TEXT NOT NULL REFERENCES shops (shop_id),
            title TEXT NOT NULL,
            brand TEXT NOT NULL,
            category_id TEXT NOT NULL,
            price_fen INTEGER NOT NULL,
            sales_30d INTEGER NOT NULL,
            stock INTEGER NOT NULL,
            image_count INTEGER NOT NULL,
            rating_sum INTEGER NOT NULL,
            rating_count INTEGER NOT NULL,
            version INTEGER NOT NULL,
            hero_report BLOB,
            listed_at_s INTEGER NOT NULL
        )
        """,
    )
]
POSTGRES_MIGRATIONS = [
    Migration(
        "search-0002-catalog",
        """
        CREATE TABLE shops (
            shop_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            is_brand INTEGER NOT NULL,
            opened_at_s BIGINT NOT NULL,
            experience_score DOUBLE PRECISION NOT NULL,
            experience_review_count BIGINT NOT NULL
        );
        CREATE TABLE products (
            product_id TEXT PRIMARY KEY,
            shop_id TEXT NOT NULL REFERENCES shops (shop_id),
            title TEXT NOT NULL,
            brand TEXT NOT NULL,
            category_id TEXT NOT NULL,
            price_fen BIGINT NOT NULL,
            sales_30d BIGINT NOT NULL,
            stock BIGINT NOT NULL,
            image_count BIGINT NOT NULL,
            rating_sum BIGINT NOT NULL,
            rating_count BIGINT NOT NULL,
            version BIGINT NOT NULL,
            hero_report BYTEA,
            listed_at_s BIGINT NOT NULL
        )
        """,
    )
]

SHOP_NAME_MAX_CHARS = 50
TITLE_MIN_CHARS = 5
TITLE_MAX_CHARS = 60
BRAND_MAX_CHARS = 30
EXPERIENCE_SCORE_MAX = 5.0
MAX_RATING = 5

_SHOP_COLUMNS = "shop_id, name, is_brand, opened_at_s, experience_score, experience_review_count"
_PRODUCT_COLUMNS = (
    "product_id, shop_id, title, brand, category_id, price_fen, sales_30d, stock, image_count,"
    " rating_sum, rating_count, version, hero_report, listed_at_s"
)


class Engine(Protocol):
    """What the catalog needs of a search engine (the Rust one or the Python reference)."""

    def upsert_shops(self, shops: list[dict[str, Any]]) -> None: ...
    def upsert_products(self, products: list[dict[str, Any]]) -> None: ...
    def delete_products(self, product_ids: list[str]) -> int: ...


def _unique_ids(violations: Violations, field: str, ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for i, item_id in enumerate(ids):
        if item_id and item_id in seen:
            violations.add(f"{field}[{i}]", f"duplicate id {item_id!r} in this request")
        seen.add(item_id)


def validate_shops(shops: Sequence[pb.Shop], field: str = "shops") -> None:
    """Raises InvalidArgument listing every broken rule."""
    v = Violations()
    v.check_batch(field, len(shops))
    for i, shop in enumerate(shops):
        at = f"{field}[{i}]"
        v.check_id(f"{at}.shop_id", shop.shop_id)
        v.check_text(f"{at}.name", shop.name, 1, SHOP_NAME_MAX_CHARS)
        v.check(shop.HasField("opened_at"), f"{at}.opened_at", "is required")
        v.check_range(f"{at}.experience_score", shop.experience_score, 0.0, EXPERIENCE_SCORE_MAX)
    _unique_ids(v, field, [s.shop_id for s in shops])
    v.raise_if_any()


def validate_products(conn: Connection, products: Sequence[pb.Product], field: str = "products") -> None:
    """Raises InvalidArgument listing every broken rule, including shops that do not exist."""
    v = Violations()
    v.check_batch(field, len(products))
    shop_ids: dict[str, list[int]] = {}
    for i, p in enumerate(products):
        at = f"{field}[{i}]"
        v.check_id(f"{at}.product_id", p.product_id)
        if v.check_id(f"{at}.shop_id", p.shop_id):
            shop_ids.setdefault(p.shop_id, []).append(i)
        v.check_text(f"{at}.title", p.title, TITLE_MIN_CHARS, TITLE_MAX_CHARS)
        v.check_text(f"{at}.brand", p.brand, 0, BRAND_MAX_CHARS)
        v.check_id(f"{at}.category_id", p.category_id)
        for name in ("price_fen", "sales_30d", "stock", "rating_count", "version"):
            v.check(getattr(p, name) >= 0, f"{at}.{name}", "must be >= 0")
        if p.rating_count >= 0 and not p.rating_count <= p.rating_sum <= MAX_RATING * p.rating_count:
            v.add(f"{at}.rating_sum", "must be between rating_count and 5 x rating_count (each rating is 1-5)")
        if p.HasField("hero_image"):
            source = p.hero_image.WhichOneof("source")
            if source is None:
                v.add(f"{at}.hero_image", "must set image_bytes or report")
            elif source == "report":
                _validate_report(v, f"{at}.hero_image.report", p.hero_image.report)
    _unique_ids(v, field, [p.product_id for p in products])
    known = _existing_shop_ids(conn, list(shop_ids))
    for shop_id, indexes in shop_ids.items():
        if shop_id not in known:
            for i in indexes:
                v.add(f"{field}[{i}].shop_id", f"shop {shop_id!r} does not exist (UpsertShops first)")
    v.raise_if_any()


def _validate_report(v: Violations, at: str, report: pb.HeroImageReport) -> None:
    v.check(report.width > 0 and report.height > 0, f"{at}.width", "width and height must be > 0")
    v.check_range(f"{at}.quality", report.quality, 0.0, 1.0)
    v.check_range(f"{at}.squareness", report.squareness, 0.0, 1.0)
    v.check_range(f"{at}.exposure", report.exposure, 0.0, 1.0)
    v.check_range(f"{at}.border_whiteness", report.border_whiteness, 0.0, 1.0)
    v.check_range(f"{at}.sharpness", report.sharpness, 0.0, float("inf"))


def _existing_shop_ids(conn: Connection, shop_ids: list[str]) -> set[str]:
    return {row[0] for row in rows_with_ids(conn, "SELECT shop_id FROM shops WHERE shop_id IN ({ids})", shop_ids)}


def shops_opened_at_s(conn: Connection, shop_ids: Sequence[str]) -> dict[str, int]:
    """When each shop opened (`Shop.opened_at`, seconds since the epoch), by shop id; shops not
    in the catalog are absent. Other domains ask this rather than reading the table."""
    select = "SELECT shop_id, opened_at_s FROM shops WHERE shop_id IN ({ids})"
    return {shop_id: opened_at_s for shop_id, opened_at_s in rows_with_ids(conn, select, shop_ids)}


def _shop_row(shop: pb.Shop) -> tuple[Any, ...]:
    return (
        shop.shop_id,
        shop.name.strip(),
        int(shop.is_brand),
        shop.opened_at.seconds,
        shop.experience_score,
        shop.experience_review_count,
    )


def _product_row(p: pb.Product, report: pb.HeroImageReport | None, listed_at_s: int) -> tuple[Any, ...]:
    return (
        p.product_id, p.shop_id, p.title.strip(), p.brand.strip(), p.category_id, p.price_fen,
        p.sales_30d, p.stock, p.image_count, p.rating_sum, p.rating_count, p.version,
        report.SerializeToString(deterministic=True) if report is not None else None,
        listed_at_s,
    )  # fmt: skip


def engine_records(
    shops: Sequence[pb.Shop], products: Sequence[pb.Product]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shop and product messages (with hero-image reports, not bytes) as the engine's dicts,
    exactly as the service would index them; for tests and benchmarks."""
    shop_records = [shop_record(_shop_row(s)) for s in shops]
    product_records = [
        product_record(_product_row(p, p.hero_image.report if p.hero_image.HasField("report") else None,
                                    p.listed_at.seconds))
        for p in products
    ]  # fmt: skip
    return shop_records, product_records


def shop_record(row: Sequence[Any]) -> dict[str, Any]:
    """A `shops` row as the engine's shop dict."""
    shop_id, name, is_brand, opened_at_s, score, reviews = row
    return {
        "shop_id": shop_id,
        "name": name,
        "is_brand": bool(is_brand),
        "opened_at_s": opened_at_s,
        "experience_score": score,
        "experience_review_count": reviews,
    }


def product_record(row: Sequence[Any]) -> dict[str, Any]:
    """A `products` row as the engine's product dict."""
    (product_id, shop_id, title, brand, category_id, price_fen, sales_30d, stock, _image_count,
     rating_sum, rating_count, _version, hero_report, listed_at_s) = row  # fmt: skip
    report = pb.HeroImageReport.FromString(hero_report) if hero_report is not None else None
    return {
        "product_id": product_id,
        "shop_id": shop_id,
        "title": title,
        "brand": brand,
        "category_id": category_id,
        "price_fen": price_fen,
        "sales_30d": sales_30d,
        "stock": stock,
        "rating_sum": rating_sum,
        "rating_count": rating_count,
        "hero_quality": report.quality if report else 0.0,
        "dhash": report.dhash if report else None,
        "listed_at_s": listed_at_s,
    }


def upsert_shops(conn: Connection, shops: Sequence[pb.Shop]) -> list[dict[str, Any]]:
    """Stores validated shops; returns their engine records."""
    rows = [_shop_row(s) for s in shops]
    conn.executemany(
        f"INSERT INTO shops ({_SHOP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (shop_id) DO UPDATE SET name = excluded.name, is_brand = excluded.is_brand,"
        " opened_at_s = excluded.opened_at_s, experience_score = excluded.experience_score,"
        " experience_review_count = excluded.experience_review_count",
        rows,
    )
    changelog.record(conn, changelog.SHOP, [r[0] for r in rows])
    return [shop_record(r) for r in rows]


@dataclass(frozen=True)
class ProductUpsert:
    """What an upsert batch did: one result per product, and the engine records to apply."""

    results: list[pb.UpsertProductResult]
    records: list[dict[str, Any]]


def upsert_products(
    conn: Connection, products: Sequence[pb.Product], hero_reports: Sequence[pb.HeroImageReport | None]
) -> ProductUpsert:
    """Stores validated products, skipping those whose stored version is higher (stale).
    `hero_reports[i]` is product i's report (computed from bytes or as sent), or None."""
    select = "SELECT product_id, version, listed_at_s FROM products WHERE product_id IN ({ids})"
    stored: dict[str, tuple[int, int]] = {
        product_id: (version, listed_at_s)
        for product_id, version, listed_at_s in rows_with_ids(conn, select, [p.product_id for p in products])
    }
    now_s = int(time.time())
    results: list[pb.UpsertProductResult] = []
    rows: list[tuple[Any, ...]] = []
    for p, report in zip(products, hero_reports, strict=True):
        previous = stored.get(p.product_id)
        if previous is not None and previous[0] > p.version:
            results.append(
                pb.UpsertProductResult(
                    product_id=p.product_id, outcome=pb.UPSERT_OUTCOME_STALE, stored_version=previous[0]
                )
            )
            continue
        listed_at_s = previous[1] if previous else now_s  # kept unless the caller sets it
        if p.HasField("listed_at"):
            listed_at_s = p.listed_at.seconds
        rows.append(_product_row(p, report, listed_at_s))
        outcome = pb.UPSERT_OUTCOME_UPDATED if previous else pb.UPSERT_OUTCOME_CREATED
        result = pb.UpsertProductResult(product_id=p.product_id, outcome=outcome, stored_version=p.version)
        if report is not None:
            result.hero_image.CopyFrom(report)
        results.append(result)
    conn.executemany(
        upsert_sql("products", _PRODUCT_COLUMNS.replace(" ", "").split(","), ["product_id"]),
        rows,
    )
    changelog.record(conn, changelog.PRODUCT, [r[0] for r in rows])
    return ProductUpsert(results, [product_record(r) for r in rows])


def delete_products(conn: Connection, product_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Deletes products; returns (deleted ids, ids that were not there)."""
    deleted: list[str] = []
    missing: list[str] = []
    for product_id in dict.fromkeys(product_ids):
        cursor = conn.execute("DELETE FROM products WHERE product_id = ?", (product_id,))
        (deleted if cursor.rowcount else missing).append(product_id)
    changelog.record(conn, changelog.PRODUCT, deleted)
    return deleted, missing


def shop_records(conn: Connection, shop_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The engine records of the stored shops among `shop_ids` (missing ones are left out)."""
    select = f"SELECT {_SHOP_COLUMNS} FROM shops WHERE shop_id IN ({{ids}})"
    return [shop_record(r) for r in rows_with_ids(conn, select, shop_ids)]


def product_records(conn: Connection, product_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The engine records of the stored products among `product_ids` (missing ones are left out)."""
    select = f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE product_id IN ({{ids}})"
    return [product_record(r) for r in rows_with_ids(conn, select, product_ids)]


def product_count(conn: Connection) -> int:
    """Number of stored products."""
    return int(conn.execute("SELECT COUNT(*) FROM products").fetchone()[0])


def _batches(cursor: Cursor, size: int) -> Iterator[list[Any]]:
    while rows := cursor.fetchmany(size):
        yield rows


def load_index(conn: Connection, engine: Engine, batch_size: int = 10_000) -> int:
    """Fills an empty engine from the database; returns the number of products loaded.
    Products go in in product-id order: the engine then breaks score ties by document number
    instead of reading ids (`Index::ascending_ids`); results do not depend on the order."""
    engine.upsert_shops([shop_record(r) for r in conn.execute(f"SELECT {_SHOP_COLUMNS} FROM shops")])
    loaded = 0
    cursor = conn.execute(f"SELECT {_PRODUCT_COLUMNS} FROM products ORDER BY product_id")
    for rows in _batches(cursor, batch_size):
        engine.upsert_products([product_record(r) for r in rows])
        loaded += len(rows)
    return loaded
