"""Same answers on both backends (issue 22): one operation stream — the demo's catalog, a month
of orders, after-sale cases, refunds, receipts, a settlement run, creator metrics and a
scoring run, all through gRPC — replayed on a SQLite server and on a PostgreSQL server gives
identical orders, balances, statements, creator scores and ledger hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from xiaodian.demo.catalog import DEFAULT_NOW_S, generate_catalog
from xiaodian.demo.load import DEMO_PERIOD, load_demo
from xiaodian.demo.orders import DAY_S, generate_orders
from xiaodian.platform.config import Config
from xiaodian.platform.server import XiaodianServer

SEED = 11
PRODUCTS = 1_000
ORDERS = 1_500


def replay(data_dir: Path, database_url: str) -> dict[str, object]:
    """Loads the stream into a fresh server on `database_url` ("" for SQLite) and reads back
    everything it answers about money and creators."""
    config = Config.ephemeral(data_dir)
    config.server.database_url = database_url
    server = XiaodianServer(config)
    server.start()
    try:
        with server.admin_client(timeout=60) as client:
            load_demo(client, seed=SEED, product_count=PRODUCTS, order_count=ORDERS)
            catalog = generate_catalog(SEED, PRODUCTS)
            demo = generate_orders(SEED, catalog.products, ORDERS, DEFAULT_NOW_S - 30 * DAY_S)
            orders = [client.get_order(order_id=o.order_id).SerializeToString(deterministic=True) for o in demo.orders]
            conn = server.db.connection()
            balances = conn.execute("SELECT account, balance_fen FROM ledger_balances ORDER BY account").fetchall()
            transfers = conn.execute(
                "SELECT transfer_id, debit, credit, amount_fen, code, order_id, refund_id, booked_at_us"
                " FROM ledger_transfers ORDER BY seq"
            ).fetchall()
            statements = {}
            for account, _ in balances[:: max(1, len(balances) // 25)]:  # about 25 accounts, every kind
                pages, token = [], ""
                while True:
                    page = client.get_statement(account=account, page_size=100, page_token=token)
                    pages.extend(t.SerializeToString(deterministic=True) for t in page.transfers)
                    token = page.next_page_token
                    if not token:
                        break
                statements[account] = pages
            top = client.list_top_creators(period=DEMO_PERIOD, page_size=100)
            scores = [(s.creator_id, s.rank, s.score, s.settled_gmv_fen, s.tier) for s in top.scores]
    finally:
        server.stop()
    ledger_hash = hashlib.sha256(repr([tuple(row) for row in transfers]).encode()).hexdigest()
    return {
        "orders": orders,
        "balances": [tuple(row) for row in balances],
        "ledger_hash": ledger_hash,
        "statements": statements,
        "creator_scores": scores,
    }


def test_one_operation_stream_gives_the_same_answers_on_sqlite_and_postgresql(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip("compares with PostgreSQL (pytest --backend postgresql)")
    on_sqlite = replay(tmp_path / "sqlite", "")
    on_postgresql = replay(tmp_path / "postgresql", database_url)
    assert len(on_sqlite["orders"]) == ORDERS  # type: ignore[arg-type]
    assert len(on_sqlite["balances"]) > 20  # type: ignore[arg-type]
    assert sum(balance for _, balance in on_sqlite["balances"]) == 0  # type: ignore[attr-defined]
    for key in ("orders", "balances", "ledger_hash", "statements", "creator_scores"):
        assert on_sqlite[key] == on_postgresql[key], key
