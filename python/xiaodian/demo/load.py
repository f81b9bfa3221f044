"""`xiaodian serve --demo`: loads the generated demo data through the server's own API.

The writes carry request ids derived from the seed and size, so loading twice (say, after a
restart on the same data directory) replays them instead of writing anything again.
"""

from __future__ import annotations

import logging
import time

from xiaodian.client import Client
from xiaodian.demo.catalog import generate_catalog

log = logging.getLogger("xiaodian.demo")

DEMO_SEED = 7
DEMO_PRODUCTS = 20_000
BATCH = 1_000


def load_demo(address: str, seed: int = DEMO_SEED, product_count: int = DEMO_PRODUCTS) -> None:
    started = time.perf_counter()
    catalog = generate_catalog(seed, product_count)
    prefix = f"demo-{seed}-{product_count}"
    with Client(address, timeout=120) as client:
        for i in range(0, len(catalog.shops), BATCH):
            client.upsert_shops(request_id=f"{prefix}-shops-{i}", shops=catalog.shops[i : i + BATCH])
        for i in range(0, len(catalog.products), BATCH):
            client.upsert_products(request_id=f"{prefix}-products-{i}", products=catalog.products[i : i + BATCH])
    log.info(
        "demo data loaded",
        extra={
            "shops": len(catalog.shops),
            "products": len(catalog.products),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
