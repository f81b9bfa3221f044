"""Crash suite: `kill -9` the server while a client streams acknowledged `RecordOrder` batches.

Each trial starts the real server process (`xiaodian serve`) on one database, checks the
previous trial (every acknowledged order is there; the unacknowledged batches, retried with
the same request_id, write nothing twice), streams new batches and kills the server with
SIGKILL after a random delay. Between trials the database file is examined directly: no order
is half-written (each has its payment transfer and its payouts) and the ledger's balances sum
to zero.

`python -m benchmarks.crash [TRIALS]` (default 1,000) prints the figures as JSON; the test suite
runs 20 trials.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from google.protobuf.timestamp_pb2 import Timestamp

if TYPE_CHECKING:
    from xiaodian.platform.db import Database

ORDERS_PER_BATCH = 20
BATCHES_PER_TRIAL = 100
#: Each order pays this much (two lines) and gets this platform subsidy.
PAID_FEN = 17_000
SUBSIDY_FEN = 1_000


def demo_order(order_id: str) -> Any:
    from xiaodian.v1 import settlement_service_pb2 as pb

    return pb.Order(
        order_id=order_id,
        shop_id="s1",
        paid_at=Timestamp(seconds=1_790_000_000),
        lines=[
            pb.OrderLine(line_id="l1", product_id="p1", category_id="c1", unit_price_fen=5_000, quantity=2),
            pb.OrderLine(line_id="l2", product_id="p2", category_id="c1", unit_price_fen=10_000, quantity=1),
        ],
        discounts=[
            pb.Discount(discount_id="d1", funder=pb.DISCOUNT_FUNDER_MERCHANT, amount_fen=2_000),
            pb.Discount(discount_id="d2", funder=pb.DISCOUNT_FUNDER_PLATFORM, amount_fen=SUBSIDY_FEN, line_ids=["l2"]),
        ],
        attribution=pb.Attribution(creator=pb.CreatorCommission(creator_id="c1", ratio_ppm=100_000)),
    )


def batch(trial: int, number: int) -> Any:
    from xiaodian.v1 import settlement_service_pb2 as pb

    return pb.StreamRecordOrdersRequest(
        request_id=f"t{trial}-b{number}",
        orders=[demo_order(f"t{trial}-b{number}-o{i}") for i in range(ORDERS_PER_BATCH)],
    )


class Server:
    """`xiaodian serve` in its own process, on a free port of 127.0.0.1."""

    def __init__(self, data_dir: Path, database_url: str = "") -> None:
        self.data_dir = data_dir
        self.log = data_dir / "server.log"
        self.log.touch()
        offset = self.log.stat().st_size
        with self.log.open("a") as log:
            # One process (`--workers 1`): the kill -9 must land on the process that serves.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "xiaodian.cli", "serve", "--workers", "1", "--port", "0"]
                + ["--data-dir", str(data_dir)]
                + (["--database-url", database_url] if database_url else []),
                stderr=log,
                stdout=subprocess.DEVNULL,
                env={
                    **os.environ,
                    "XIAODIAN_SERVER_LOG_FORMAT": "text",
                    "XIAODIAN_METRICS_PORT": "0",
                    "XIAODIAN_SERVER_SHUTDOWN_DELAY_SECONDS": "0",
                },
            )
        self.address = self._address(offset, started=time.monotonic())

    def admin_client(self, timeout: float) -> Any:
        """A client with the admin token the server keeps in its data directory."""
        from xiaodian import Client

        return Client(self.address, timeout=timeout, data_dir=self.data_dir)

    def _address(self, offset: int, started: float) -> str:
        """The address this process logs (the log is appended to by every trial's server)."""
        while time.monotonic() - started < 60:
            with self.log.open() as log:
                log.seek(offset)
                for line in log:
                    if "serving address=" in line:
                        return line.split("address=")[1].split()[0]
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log}")
            time.sleep(0.02)
        self.kill()
        raise RuntimeError("server did not report its address within 60 s")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def check_database(db: Database, trial: int) -> dict[str, int]:
    """Reads the database of a killed server: no order of this trial is half-written (each
    has its payment transfer and its payouts, and no transfer lacks its order), and the
    balances of all accounts sum to zero."""
    low, high = f"t{trial}-", f"t{trial}."  # the ids of this trial's orders and transfers
    conn = db.connection()
    without_payment = conn.execute(
        "SELECT COUNT(*) FROM settlement_orders o WHERE o.order_id >= ? AND o.order_id < ? AND (NOT EXISTS"
        " (SELECT 1 FROM ledger_transfers t WHERE t.transfer_id = o.order_id || '/payment')"
        " OR o.payouts_json = '{}')",
        (low, high),
    ).fetchone()[0]
    orphans = conn.execute(
        "SELECT COUNT(*) FROM ledger_transfers t WHERE t.transfer_id >= ? AND t.transfer_id < ? AND NOT EXISTS"
        " (SELECT 1 FROM settlement_orders o WHERE o.order_id = t.order_id)",
        (low, high),
    ).fetchone()[0]
    total = conn.execute("SELECT COALESCE(CAST(SUM(balance_fen) AS BIGINT), 0) FROM ledger_balances").fetchone()[0]
    escrow = conn.execute(
        "SELECT COALESCE(CAST(SUM(balance_fen) AS BIGINT), 0) FROM ledger_balances WHERE account = 'escrow'"
    ).fetchone()[0]
    return {"half_written": without_payment + orphans, "balance_sum": total, "escrow": escrow}


@dataclass
class Soak:
    trials: int = 0
    acknowledged_batches: int = 0
    retried_batches: int = 0
    lost_orders: int = 0
    duplicated_orders: int = 0
    half_written: int = 0
    unbalanced: int = 0
    kill_delays_ms: list[float] = field(default_factory=list)


def run_trials(
    trials: int, data_dir: Path | None = None, seed: int = 7, max_delay_s: float = 0.6, database_url: str = ""
) -> Soak:
    """`trials` kills of a server on `database_url` (default: the SQLite file in the data
    directory)."""
    from xiaodian.platform.db import open_database

    rng = random.Random(seed)
    soak = Soak()
    with tempfile.TemporaryDirectory(prefix="xiaodian-crash-") as scratch:
        data = data_dir or Path(scratch)
        db = open_database(database_url, data)
        acknowledged: set[str] = set()  # order ids
        unacknowledged: list[Any] = []  # batches sent without an acknowledgement
        for trial in range(trials + 1):
            server = Server(data, database_url)
            try:
                with server.admin_client(timeout=30) as client:
                    for pending in unacknowledged:  # the retries: same request_id, no duplicates
                        ack = next(iter(client.stream_record_orders([pending])))
                        acknowledged.update(ack.order_ids)
                        soak.retried_batches += 1
                    unacknowledged = []
                    for order_id in rng.sample(sorted(acknowledged), min(20, len(acknowledged))):
                        client.get_order(order_id=order_id)  # NotFound would raise: a lost order
                    escrow = client.get_balance(account="escrow").settled_fen
                    expected = len(acknowledged) * (PAID_FEN + SUBSIDY_FEN)
                    if escrow != expected:
                        difference = (escrow - expected) // (PAID_FEN + SUBSIDY_FEN)
                        soak.duplicated_orders += max(0, difference)
                        soak.lost_orders += max(0, -difference)
                    if trial == trials:
                        break
                    batches = [batch(trial, n) for n in range(BATCHES_PER_TRIAL)]
                    delay = rng.uniform(0.0, max_delay_s)
                    soak.kill_delays_ms.append(1000 * delay)
                    killer = threading.Timer(delay, server.kill)
                    sent = 0
                    killer.start()
                    try:
                        for ack in client.stream_record_orders(iter(batches)):
                            acknowledged.update(ack.order_ids)
                            soak.acknowledged_batches += 1
                            sent += 1
                    except Exception:  # noqa: BLE001 — the kill ends the stream mid-flight
                        pass
                    killer.join()
                    unacknowledged = batches[sent:]
            finally:
                server.kill()
            soak.trials += 1 if trial < trials else 0
            state = check_database(db, trial)
            db.close()
            soak.half_written += state["half_written"]
            soak.unbalanced += state["balance_sum"] != 0
            if state["escrow"] < len(acknowledged) * (PAID_FEN + SUBSIDY_FEN):
                soak.lost_orders += 1
    return soak


def run(quick: bool = False) -> dict[str, Any]:
    trials = 5 if quick else 1_000
    started = time.perf_counter()
    soak = run_trials(trials)
    delays = sorted(soak.kill_delays_ms)
    return {
        "trials": soak.trials,
        "acknowledged_batches": soak.acknowledged_batches,
        "retried_batches": soak.retried_batches,
        "lost_orders": soak.lost_orders,
        "duplicated_orders": soak.duplicated_orders,
        "half_written_orders": soak.half_written,
        "unbalanced_ledgers": soak.unbalanced,
        "kill_delay_ms_median": delays[len(delays) // 2] if delays else 0.0,
        "seconds": time.perf_counter() - started,
    }


def main(argv: list[str]) -> int:
    trials = int(argv[0]) if argv else 1_000
    soak = run_trials(trials)
    print(json.dumps({k: v for k, v in soak.__dict__.items() if k != "kill_delays_ms"}, indent=2))
    return 0 if soak.lost_orders == soak.duplicated_orders == soak.half_written == soak.unbalanced == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
