"""Settlement suite: the split kernel (Rust vs the pure-Python reference, same orders, one
process) and durable recording of orders (in-process and through batched gRPC, SQLite with
WAL and synchronous=FULL).

Figures:
- split lines/s: the Rust kernel alone (`_core.time_split_orders`: inputs converted once, then
  timed runs of the kernel, each writing every order's packed split and totals, as the service
  needs them), through the tuple binding (`split_orders_packed`: Python tuples in, packed bytes
  and totals out; the service's path for an order its Rust reader does not take) and through
  the binding recording uses (`split_encoded_orders`: the encoded orders in, read in Rust), vs
  `xiaodian.reference.settlement.split_orders` on the same demo orders; the ratio of the kernel
  to the reference;
- durable orders/s in-process: `SettlementService.record_batch` (the encoded batch read and
  checked, split, one transaction per batch of 1,000 with its ledger transfers) on a fresh
  database;
- durable orders/s over gRPC, batches of 1,000 from a client in this process to a real server on
  127.0.0.1: through `StreamRecordOrders` (acknowledgements only) and `RecordOrders` calls
  (each answered with every order's split).
Each figure is the median of the repeats; warm-up excluded. The generated orders are moved out
of the garbage collector's sight (`gc.freeze()`) before timing: a server does not hold
100,000 orders in memory, and the collector walking them would be measured instead of the work.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import measure

SEED = 20261128
BATCH = 1_000


def _orders(count: int) -> list[Any]:
    from xiaodian.demo.catalog import DEFAULT_NOW_S, generate_catalog
    from xiaodian.demo.orders import generate_orders

    catalog = generate_catalog(SEED, 5_000)
    return generate_orders(SEED, catalog.products, count, DEFAULT_NOW_S).orders


def _kernel_batch(orders: list[Any]) -> tuple[list[Any], list[int]]:
    from xiaodian.reference.orders import kernel_order
    from xiaodian.settlement.orders import FeePolicy

    fees = FeePolicy()
    shops: dict[str, int] = {}
    kernel = [kernel_order(o, shops.setdefault(o.shop_id, len(shops)), fees) for o in orders]
    return kernel, [fees.new_merchant_cap_fen] * len(shops)


def _rates(work: int, run: Any, repeats: int) -> list[float]:
    """Units of work per second of each repeat of `run`, warm-up excluded."""
    return [work / seconds for seconds in measure.seconds(run, repeats)]


def _record_in_process(orders: list[Any]) -> float:
    from xiaodian.platform.db import SqliteDatabase
    from xiaodian.platform.server import MIGRATIONS
    from xiaodian.settlement.service import SettlementService
    from xiaodian.v1 import settlement_service_pb2 as pb

    with tempfile.TemporaryDirectory() as scratch:
        db = SqliteDatabase(Path(scratch) / "bench.db")
        db.migrate(MIGRATIONS["sqlite"])
        service = SettlementService(db)
        batches = [
            pb.StreamRecordOrdersRequest(request_id=f"b{i}", orders=orders[i : i + BATCH]).SerializeToString()
            for i in range(0, len(orders), BATCH)
        ]
        started = time.perf_counter()
        for batch in batches:
            service.record_batch(batch)
        elapsed = time.perf_counter() - started
        db.close()
    return len(orders) / elapsed


def _record_over_grpc(orders: list[Any], stream: bool) -> float:
    """Orders/s through a real server: `StreamRecordOrders` (a loader: one stream, each batch
    acknowledged once durable) or `RecordOrders` calls (each answered with every split)."""
    from xiaodian.platform.config import Config
    from xiaodian.platform.server import XiaodianServer
    from xiaodian.v1 import settlement_service_pb2 as pb

    with tempfile.TemporaryDirectory() as scratch:
        config = Config.ephemeral(scratch)
        server = XiaodianServer(config)
        server.start()
        try:
            with server.admin_client(timeout=300) as client:
                started = time.perf_counter()
                if stream:
                    batches = (
                        pb.StreamRecordOrdersRequest(request_id=f"b{i}", orders=orders[i : i + BATCH])
                        for i in range(0, len(orders), BATCH)
                    )
                    for _ack in client.stream_record_orders(batches):
                        pass
                else:
                    for i in range(0, len(orders), BATCH):
                        client.record_orders(request_id=f"b{i}", orders=orders[i : i + BATCH])
                elapsed = time.perf_counter() - started
        finally:
            server.stop(0)
    return len(orders) / elapsed


def run(quick: bool = False) -> dict[str, Any]:
    from xiaodian import _core
    from xiaodian.reference import settlement as reference
    from xiaodian.settlement.orders import FeePolicy

    order_count = 5_000 if quick else 100_000
    reference_count = 1_000 if quick else 10_000
    repeats = 3 if quick else 5
    orders = _orders(order_count)
    kernel, allowances = _kernel_batch(orders)
    gc.collect()
    gc.freeze()
    try:
        lines = sum(len(o.lines) for o in orders)
        results: dict[str, Any] = {"orders": order_count, "lines": lines}
        kernel_seconds = _core.time_split_orders(kernel, allowances, 10_000, repeats + 1)[1:]
        measure.record(results, "split_rust_lines_per_s", [lines / s for s in kernel_seconds])
        measure.record(
            results,
            "split_rust_binding_lines_per_s",
            _rates(lines, lambda: _core.split_orders_packed(kernel, list(allowances), 10_000), repeats),
        )
        encoded = [o.SerializeToString(deterministic=True) for o in orders]
        shops = [k[0] for k in kernel]
        fees = FeePolicy()
        measure.record(
            results,
            "split_rust_encoded_lines_per_s",
            _rates(
                lines,
                lambda: _core.split_encoded_orders(
                    encoded, shops, list(allowances), fees.new_merchant_rate_ppm, fees.default_rate_ppm, fees.rates
                ),
                repeats,
            ),
        )
        few = kernel[:reference_count]
        few_lines = sum(len(k[1]) for k in few)
        measure.record(
            results,
            "split_reference_lines_per_s",
            _rates(few_lines, lambda: reference.split_orders(few, list(allowances), 10_000), max(1, repeats // 2)),
        )
        results["split_speedup_vs_reference"] = (
            results["split_rust_lines_per_s"] / results["split_reference_lines_per_s"]
        )
        durable_repeats = 1 if quick else 3  # each on a fresh database: no warm-up to exclude
        measure.record(
            results, "record_in_process_orders_per_s", [_record_in_process(orders) for _ in range(durable_repeats)]
        )
        measure.record(
            results,
            "record_grpc_stream_orders_per_s",
            [_record_over_grpc(orders, stream=True) for _ in range(durable_repeats)],
        )
        measure.record(
            results,
            "record_grpc_batched_orders_per_s",
            [_record_over_grpc(orders, stream=False) for _ in range(durable_repeats)],
        )
    finally:
        gc.unfreeze()
    return results


def main(argv: list[str]) -> int:
    print(json.dumps(run(quick="--quick" in argv), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
