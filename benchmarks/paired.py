"""Paired A/B of two builds of the Rust extension: both loaded side by side in one process,
each indexing the same generated catalog, the engine suite's business-signal OR queries timed
interleaved (the same machine noise hits both). On this machine a single run of the engine
suite moves by ±10 % from run to run, so a change of a few percent shows only here.

    # build the baseline, keep its extension, rebuild the change
    git stash && ./dev setup && cp python/xiaodian/_core.abi3.so /tmp/before.so && git stash pop
    ./dev setup && cp python/xiaodian/_core.abi3.so /tmp/after.so
    .venv/bin/python -m benchmarks.paired /tmp/before.so /tmp/after.so

It first checks that both builds give the same hits and totals, then prints each build's
median and geometric-mean time per query and the geometric mean of the per-query speed-ups.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import random
import statistics
from collections.abc import Callable
from types import ModuleType

from benchmarks.engine import BATCH, SEED, catalog_batches, geomean_ratio, or_queries, request, time_each


def load_build(path: str, package: str) -> ModuleType:
    """Loads an extension file as `<package>._core` (its init symbol is named after `_core`)."""
    spec = importlib.util.spec_from_file_location(f"{package}._core", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"not an extension module: {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="the baseline build's _core .so")
    parser.add_argument("after", help="the changed build's _core .so")
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    builds = {"before": load_build(args.before, "paired_before"), "after": load_build(args.after, "paired_after")}
    shops, batches = catalog_batches(args.products)
    products = [p for batch in batches for p in batch]
    engines = {}
    for name, build in builds.items():
        engine = build.SearchEngine("full")
        engine.upsert_shops(shops)
        for i in range(0, len(products), BATCH):
            engine.upsert_products(products[i : i + BATCH])
        engines[name] = (engine, build.default_ranking_profile())

    rng = random.Random(SEED)
    queries = or_queries([p["title"] for p in products], args.queries, rng)
    differing = 0
    for query in queries:
        results = [engine.search(profile, request(query)) for engine, profile in engines.values()]
        pages = [([h["product_id"] for h in r["hits"]], r["total_matched"]) for r in results]
        differing += pages[0] != pages[1]
    print(f"queries whose hits or totals differ: {differing} of {len(queries)}")

    def searcher(name: str) -> Callable[[str], object]:
        engine, profile = engines[name]
        return lambda query: engine.search(profile, request(query))

    timings = time_each({name: searcher(name) for name in engines}, queries, args.repeats)
    for name in engines:
        times = timings[name]
        geomean_ms = 1000 * math.exp(statistics.fmean(map(math.log, times)))
        print(f"{name}: median {1000 * statistics.median(times):.3f} ms, geometric mean {geomean_ms:.3f} ms")
    print(f"speed-up of after over before (geometric mean): {geomean_ratio(timings['before'], timings['after']):.3f}")


if __name__ == "__main__":
    main()
