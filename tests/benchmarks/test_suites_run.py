"""The benchmark suites run (on small inputs) and report every figure; no speed is asserted
here: speed goals are checked by reading the benchmark's ratios, not by timed tests."""

from __future__ import annotations

import math

from benchmarks import engine, images, settlement


def test_engine_suite_reports_every_figure() -> None:
    results = engine.run(quick=True)
    for name in (
        "index_rust_full_products_per_s",
        "index_tantivy_products_per_s",
        "index_reference_products_per_s",
        "bm25_speedup_vs_tantivy_geomean",
        "business_or_speedup_vs_tantivy_geomean",
        "reference_query_slowdown_geomean",
        "rss_after_mb",
    ):
        assert math.isfinite(results[name]) and results[name] > 0, name
    for name in ("bm25_rust", "bm25_tantivy", "business_or_rust", "business_or_tantivy", "heavy_term_rust"):
        assert 0 < results[name]["p50_ms"] <= results[name]["p99_ms"], name
    assert 0.6 < results["heavy_term_share"] < 0.8
    assert results["or_queries_falling_back_share"] > 0.3
    assert math.isfinite(results["shaping_overhead_us_median"])


def test_images_suite_reports_every_figure() -> None:
    results = images.run(quick=True)
    for name in ("jpeg_rust_per_s", "jpeg_reference_per_s", "png_rust_per_s", "png_speedup_vs_reference"):
        assert math.isfinite(results[name]) and results[name] > 0, name


def test_settlement_suite_reports_every_figure() -> None:
    results = settlement.run(quick=True)
    for name in (
        "split_rust_lines_per_s",
        "split_rust_binding_lines_per_s",
        "split_rust_encoded_lines_per_s",
        "split_reference_lines_per_s",
        "split_speedup_vs_reference",
        "record_in_process_orders_per_s",
        "record_grpc_stream_orders_per_s",
        "record_grpc_batched_orders_per_s",
    ):
        assert math.isfinite(results[name]) and results[name] > 0, name
