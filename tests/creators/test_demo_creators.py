"""The demo's creators: deterministic, long-tailed, loaded by `--demo` and scored from the
ledger; `xiaodian creators top` prints the leaderboard."""

from __future__ import annotations

import statistics

import pytest
from xiaodian import Client, cli
from xiaodian.creators.store import period_range_us
from xiaodian.demo.catalog import generate_catalog
from xiaodian.demo.creators import generate_creator_metrics
from xiaodian.demo.load import DEMO_PERIOD, load_demo
from xiaodian.demo.orders import generate_orders
from xiaodian.settlement.gmv import settled_gmv_by_creator


def test_demo_creators_are_deterministic_and_long_tailed() -> None:
    orders = generate_orders(3, generate_catalog(3, 500).products, 1_000, 1_790_000_000).orders
    first = generate_creator_metrics(3, orders, "2026-09")
    assert first == generate_creator_metrics(3, orders, "2026-09")
    ids = [m.creator_id for m in first]
    assert ids == sorted(set(ids)) and len(ids) > 1_500
    followers = sorted(m.follower_counts.followers for m in first)
    assert followers[-1] > 50 * statistics.median(followers)  # a few creators have most followers
    assert {m.WhichOneof("sales") for m in first} == {"sales_score", "sales_score_components"}
    assert any(m.sales_score_components.order_count_90d < 20 for m in first if m.HasField("sales_score_components"))


def test_the_demo_scores_its_creators_from_the_ledger(
    server, client: Client, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with server.admin_client(timeout=120) as admin:
        load_demo(admin, product_count=1_000, order_count=800)
    top = client.list_top_creators(period=DEMO_PERIOD, page_size=1_000)
    assert top.cohort_size > 1_500
    ledger = settled_gmv_by_creator(server.db.connection(), *period_range_us(DEMO_PERIOD))
    assert ledger and all(v > 0 for v in ledger.values())
    scores = {s.creator_id: s for s in top.scores}
    for creator_id, gmv in ledger.items():
        if creator_id in scores:
            assert scores[creator_id].settled_gmv_fen == gmv
    # The leaderboard is led by creators who actually sold.
    assert top.scores[0].settled_gmv_fen > 0 and top.scores[0].rank == 1

    monkeypatch.setenv("COLUMNS", "200")  # rich fits the table to the terminal's width
    assert (
        cli.main(
            [
                "creators",
                "top",
                DEMO_PERIOD,
                "--limit",
                "5",
                "--addr",
                server.address,
                "--data-dir",
                server.config.server.data_dir,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert top.scores[0].creator_id in out and "weights GMV 40 %" in out
    assert (
        cli.main(["creators", "top", "2026-13", "--addr", server.address, "--data-dir", server.config.server.data_dir])
        == 1
    )
