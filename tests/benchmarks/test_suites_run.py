"""`xiaodian bench --quick` runs every suite (on small inputs), records each in the history,
and regenerates the report and the plots; every suite reports every figure. No speed is
asserted here: speed goals are checked by reading the benchmark's ratios, not by timed tests."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from xiaodian import cli

from benchmarks import report, runner

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """One `xiaodian bench --quick` into a scratch folder (the committed results stay untouched)."""
    scratch = tmp_path_factory.mktemp("bench")
    argv = ["bench", "--quick", "--results-dir", str(scratch / "results"), "--report", str(scratch / "RESULTS.md")]
    assert cli.main(argv) == 0
    history = [json.loads(line) for line in (scratch / "results" / "history.jsonl").read_text().splitlines()]
    return scratch, {record["suite"]: record["figures"] for record in history}


def test_every_suite_is_recorded_with_the_machine_and_the_commit(quick_run) -> None:  # type: ignore[no-untyped-def]
    scratch, figures = quick_run
    assert set(figures) == set(runner.SUITES)
    records = report.load_history(scratch / "results")
    for record in records:
        assert record["quick"] is True and len(record["commit"]) == 12
        assert record["machine"]["logical_cores"] >= 1 and record["machine"]["rustc"].startswith("rustc")


def test_the_report_lists_every_goal_and_the_plots_are_drawn(quick_run) -> None:  # type: ignore[no-untyped-def]
    scratch, _ = quick_run
    text = (scratch / "RESULTS.md").read_text()
    for goal in report.GOALS:
        assert goal.text in text
    assert "not measured" not in text
    plots = sorted(p.name for p in (scratch / "results" / "plots").glob("*.png"))
    assert plots == sorted([*(f"{s}-history.png" for s in runner.SUITES), "latency.png"])
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in (scratch / "results" / "plots").glob("*.png"))


def test_engine_suite_reports_every_figure(quick_run) -> None:  # type: ignore[no-untyped-def]
    results = quick_run[1]["engine"]
    for name in (
        "index_rust_full_products_per_s",
        "index_tantivy_products_per_s",
        "index_reference_products_per_s",
        "bm25_speedup_vs_tantivy_geomean",
        "business_or_speedup_vs_tantivy_geomean",
        "business_or_rerank_depth_20_speedup_vs_tantivy_geomean",
        "reference_query_slowdown_geomean",
        "rss_after_mb",
    ):
        assert math.isfinite(results[name]) and results[name] > 0, name
    for name in ("bm25_rust", "bm25_tantivy", "business_or_rust", "business_or_tantivy", "heavy_term_rust"):
        assert 0 < results[name]["p50_ms"] <= results[name]["p99_ms"], name
    assert 0.6 < results["heavy_term_share"] < 0.8
    assert 0.3 < results["or_queries_falling_back_share"] < 1
    # The business-signal ratio apart for the queries that fall back and those that do not.
    for name in ("business_or_fallback_speedup_vs_tantivy_geomean", "business_or_all_terms_speedup_vs_tantivy_geomean"):
        assert math.isfinite(results[name]) and results[name] > 0, name
        low, high = results[f"{name}_spread"]
        assert 0 < low <= high, name
    assert math.isfinite(results["shaping_overhead_us_median"])


def test_images_suite_reports_every_figure(quick_run) -> None:  # type: ignore[no-untyped-def]
    results = quick_run[1]["images"]
    for name in ("jpeg_rust_per_s", "jpeg_reference_per_s", "png_rust_per_s", "png_speedup_vs_reference"):
        assert math.isfinite(results[name]) and results[name] > 0, name


def test_settlement_suite_reports_every_figure(quick_run) -> None:  # type: ignore[no-untyped-def]
    results = quick_run[1]["settlement"]
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


def test_storage_suite_reports_both_backends(quick_run) -> None:  # type: ignore[no-untyped-def]
    results = quick_run[1]["storage"]
    for name in (
        "record_batches_100_sqlite_orders_per_s",
        "record_batches_100_postgresql_1_servers_orders_per_s",
        "record_batches_100_postgresql_2_servers_orders_per_s",
        "record_batches_100_postgresql_4_servers_orders_per_s",
        "record_batches_100_postgresql_vs_sqlite",
        "record_batches_100_postgresql_best_orders_per_s",
    ):
        assert math.isfinite(results[name]) and results[name] > 0, name


def test_creators_suite_reports_every_figure(quick_run) -> None:  # type: ignore[no-untyped-def]
    results = quick_run[1]["creators"]
    for name in (
        "score_rust_20k_creators_per_s",
        "score_rust_200k_creators_per_s",
        "score_reference_20k_creators_per_s",
        "score_reference_200k_creators_per_s",
        "score_speedup_vs_reference_20k",
        "score_speedup_vs_reference",
        "largest_seconds",
    ):
        assert math.isfinite(results[name]) and results[name] > 0, name


def test_service_suite_reports_every_figure(quick_run) -> None:  # type: ignore[no-untyped-def]
    results = quick_run[1]["service"]
    calls = ("health_check", "search", "search_any_term", "list_top_creators", "get_creator_score", "record_orders")
    assert results["rounds"] >= 2
    for call in ("bare_health", *calls):
        figures = results[call]
        for name in ("qps", "p50_ms", "p99_ms", "server_cpu_us_per_call"):
            assert math.isfinite(figures[name]) and figures[name] > 0, (call, name)
            low, high = figures[f"{name}_spread"]
            assert low <= figures[name] <= high
        assert figures["p50_ms"] <= figures["p99_ms"]
    # Each call against the bare grpcio Health server, measured in the same rounds.
    for call in calls:
        name = f"{call}_cpu_vs_bare_health"
        assert math.isfinite(results[name]) and results[name] > 0, name
        low, high = results[f"{name}_spread"]
        assert low <= results[name] <= high, name
        assert results[call]["bare_health_server_cpu_us_per_call"] > 0, call
    assert math.isfinite(results["record_orders_orders_per_s"]) and results["record_orders_orders_per_s"] > 0
    assert results["record_orders"]["server_cpu_us_per_order"] > 0
    assert math.isfinite(results["search_qps_workers_2_vs_1"]) and results["search_qps_workers_2_vs_1"] > 0


def test_crash_suite_loses_nothing(quick_run) -> None:  # type: ignore[no-untyped-def]
    results = quick_run[1]["crash"]
    assert results["trials"] == 5 and results["acknowledged_batches"] > 0
    assert results["lost_orders"] == results["duplicated_orders"] == results["half_written_orders"] == 0
    assert results["unbalanced_ledgers"] == 0
