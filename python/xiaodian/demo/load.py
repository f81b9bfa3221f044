"""`xiaodian serve --demo`: loads the generated demo data through the server's own API.

The writes carry request ids derived from the seed and size, so loading twice (say, after a
restart on the same data directory) replays them instead of writing anything again.
"""

from __future__ import annotations

import logging
import time

from google.protobuf.timestamp_pb2 import Timestamp

from xiaodian.client import Client
from xiaodian.creators.store import period_of
from xiaodian.demo.catalog import DEFAULT_NOW_S, generate_catalog
from xiaodian.demo.creators import generate_creator_metrics
from xiaodian.demo.orders import DAY_S, generate_orders
from xiaodian.v1 import creator_service_pb2 as creator_pb
from xiaodian.v1 import settlement_service_pb2 as settlement_pb

log = logging.getLogger("xiaodian.demo")

DEMO_SEED = 7
DEMO_PRODUCTS = 20_000
DEMO_ORDERS = 20_000
#: The calendar month (China Standard Time) of the demo's settlement run: its creators are scored in it.
DEMO_PERIOD = period_of(DEFAULT_NOW_S)
BATCH = 1_000


def load_demo(
    client: Client, seed: int = DEMO_SEED, product_count: int = DEMO_PRODUCTS, order_count: int = DEMO_ORDERS
) -> None:
    """Loads the demo through the API, with `client` (which needs every write scope)."""
    started = time.perf_counter()
    catalog = generate_catalog(seed, product_count)
    prefix = f"demo-{seed}-{product_count}"
    for i in range(0, len(catalog.shops), BATCH):
        client.upsert_shops(request_id=f"{prefix}-shops-{i}", shops=catalog.shops[i : i + BATCH])
    for i in range(0, len(catalog.products), BATCH):
        client.upsert_products(request_id=f"{prefix}-products-{i}", products=catalog.products[i : i + BATCH])
    # A month of orders up to the catalog's "now", what happened to them, and a settlement run.
    demo = generate_orders(seed, catalog.products, order_count, DEFAULT_NOW_S - 30 * DAY_S)
    splits: dict[str, settlement_pb.OrderSplit] = {}
    for i in range(0, len(demo.orders), BATCH):
        recorded = client.record_orders(request_id=f"{prefix}-orders-{i}", orders=demo.orders[i : i + BATCH])
        splits.update((o.order_id, o.split) for o in recorded.orders)
    for case in demo.after_sales:
        client.open_after_sale(case)
    for plan in demo.refunds:
        refund = plan.request(splits[plan.order_id])
        if refund is not None:
            client.record_refund(refund)
    for confirmation in demo.confirmations:
        client.confirm_receipt(confirmation)
    client.run_settlement(request_id=f"{prefix}-settlement", as_of=Timestamp(seconds=DEFAULT_NOW_S))
    # Creators: metrics for everyone the orders credit and a long tail, scored from the ledger.
    creators = generate_creator_metrics(seed, demo.orders, DEMO_PERIOD)
    for i in range(0, len(creators), BATCH):
        client.upsert_creator_metrics(request_id=f"{prefix}-creators-{i}", metrics=creators[i : i + BATCH])
    client.score_creators(
        request_id=f"{prefix}-creator-scores", period=DEMO_PERIOD, gmv_source=creator_pb.GMV_SOURCE_LEDGER
    )
    log.info(
        "demo data loaded",
        extra={
            "shops": len(catalog.shops),
            "products": len(catalog.products),
            "orders": order_count,
            "creators": len(creators),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
