"""Creator metrics and scores in SQLite.

- `creator_metrics`: one row per (period, cohort, creator): the request's `CreatorMetrics` as
  sent, plus the three values scoring reads (effective followers and the sales score are
  derived at upsert time; `settled_gmv_fen` is NULL when not given).
- `creator_scores`: the last scoring run of each (period, cohort), one row per creator;
  `creator_score_runs` holds that run's weights, GMV source, size and time. A run replaces
  the cohort's previous scores whole, in one transaction, so a leaderboard is never a mix of
  two runs.

Invariant: within a scored (period, cohort), ranks are exactly 1..cohort_size.
"""

from __future__ import annotations

import calendar
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from itertools import groupby
from typing import Any, NamedTuple

from xiaodian.creators.scoring import Weights, sales_scores, score_cohorts
from xiaodian.errors import FailedPrecondition, InvalidArgument, NotFound
from xiaodian.platform import page_tokens
from xiaodian.platform.db import Connection, Migration, upsert_sql
from xiaodian.platform.page_tokens import PageTokens
from xiaodian.settlement.gmv import settled_gmv_by_creator
from xiaodian.v1 import creator_service_pb2 as pb

MIGRATIONS = [
    Migration(
        "creators-0001-metrics-and-scores",
        """
        CREATE TABLE creator_metrics (
            period TEXT NOT NULL,
            cohort TEXT NOT NULL,
            creator_id TEXT NOT NULL,
            settled_gmv_fen INTEGER,
            effective_followers INTEGER NOT NULL,
            sales_score REAL NOT NULL,
            metrics_pb BLOB NOT NULL,
            updated_at_us INTEGER NOT NULL,
            PRIMARY KEY (period, cohort, creator_id)
        ) WITHOUT ROWID;
        CREATE TABLE creator_score_runs (
            period TEXT NOT NULL,
            cohort TEXT NOT NULL,
            cohort_size INTEGER NOT NULL,
            gmv_weight_ppm INTEGER NOT NULL,
            sales_weight_ppm INTEGER NOT NULL,
            followers_weight_ppm INTEGER NOT NULL,
            gmv_source INTEGER NOT NULL,
            scored_at_us INTEGER NOT NULL,
            PRIMARY KEY (period, cohort)
        ) WITHOUT ROWID;
        CREATE TABLE creator_scores (
            period TEXT NOT NULL,
            cohort TEXT NOT NULL,
            creator_id TEXT NOT NULL,
            rank INTEGER NOT NULL,
            score REAL NOT NULL,
            gmv_percentile REAL NOT NULL,
            sales_percentile REAL NOT NULL,
            followers_percentile REAL NOT NULL,
            settled_gmv_fen INTEGER NOT NULL,
            sales_score REAL NOT NULL,
            effective_followers INTEGER NOT NULL,
            tier INTEGER NOT NULL,
            PRIMARY KEY (period, cohort, creator_id)
        ) WITHOUT ROWID;
        CREATE UNIQUE INDEX creator_scores_rank ON creator_scores (period, cohort, rank)
        """,
    )
]
POSTGRES_MIGRATIONS = [
    Migration(
        "creators-0001-metrics-and-scores",
        """
        CREATE TABLE creator_metrics (
            period TEXT NOT NULL,
            cohort TEXT NOT NULL,
            creator_id TEXT NOT NULL,
            settled_gmv_fen BIGINT,
            effective_followers BIGINT NOT NULL,
            sales_score DOUBLE PRECISION NOT NULL,
            metrics_pb BYTEA NOT NULL,
            updated_at_us BIGINT NOT NULL,
            PRIMARY KEY (period, cohort, creator_id)
        );
        CREATE TABLE creator_score_runs (
            period TEXT NOT NULL,
            cohort TEXT NOT NULL,
            cohort_size BIGINT NOT NULL,
            gmv_weight_ppm BIGINT NOT NULL,
            sales_weight_ppm BIGINT NOT NULL,
            followers_weight_ppm BIGINT NOT NULL,
            gmv_source INTEGER NOT NULL,
            scored_at_us BIGINT NOT NULL,
            PRIMARY KEY (period, cohort)
        );
        CREATE TABLE creator_scores (
            period TEXT NOT NULL,
            cohort TEXT NOT NULL,
            creator_id TEXT NOT NULL,
            rank BIGINT NOT NULL,
            score DOUBLE PRECISION NOT NULL,
            gmv_percentile DOUBLE PRECISION NOT NULL,
            sales_percentile DOUBLE PRECISION NOT NULL,
            followers_percentile DOUBLE PRECISION NOT NULL,
            settled_gmv_fen BIGINT NOT NULL,
            sales_score DOUBLE PRECISION NOT NULL,
            effective_followers BIGINT NOT NULL,
            tier INTEGER NOT NULL,
            PRIMARY KEY (period, cohort, creator_id)
        );
        CREATE UNIQUE INDEX creator_scores_rank ON creator_scores (period, cohort, rank)
        """,
    )
]

#: The cohort of metrics sent with an empty cohort.
ALL_COHORT = "all"
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


def cohort_of(cohort: str) -> str:
    return cohort or ALL_COHORT


def period_of(time_s: int) -> str:
    """The calendar month "YYYY-MM" (China Standard Time) of an instant."""
    return datetime.fromtimestamp(time_s, CHINA_STANDARD_TIME).strftime("%Y-%m")


def period_range_us(period: str) -> tuple[int, int]:
    """[start, end) of a calendar month "YYYY-MM" in China Standard Time, µs since the epoch.
    The period must be valid (`validation.check_period`)."""
    year, month = int(period[:4]), int(period[5:7])
    start_s = int(datetime(year, month, 1, tzinfo=CHINA_STANDARD_TIME).timestamp())
    # The month's length, not next month's first day: 9999-12 has no datetime after it.
    end_s = start_s + calendar.monthrange(year, month)[1] * 86_400
    return start_s * 1_000_000, end_s * 1_000_000


def upsert_metrics(conn: Connection, metrics: Sequence[pb.CreatorMetrics], min_orders: int, now_us: int) -> int:
    """Creates or replaces each entry (validated by the caller); returns the count."""
    from_components = [i for i, m in enumerate(metrics) if m.WhichOneof("sales") == "sales_score_components"]
    sales = [m.sales_score + 0.0 for m in metrics]  # + 0.0 folds -0.0 into 0.0
    computed = sales_scores([metrics[i].sales_score_components for i in from_components], min_orders)
    for i, score in zip(from_components, computed, strict=True):
        sales[i] = score
    rows = []
    for m, sales_score in zip(metrics, sales, strict=True):
        if m.WhichOneof("audience") == "follower_counts":
            effective = m.follower_counts.followers - m.follower_counts.risk_flagged_followers
        else:
            effective = m.effective_followers
        rows.append(
            (
                m.period,
                cohort_of(m.cohort),
                m.creator_id,
                m.settled_gmv_fen if m.HasField("settled_gmv_fen") else None,
                effective,
                sales_score,
                m.SerializeToString(deterministic=True),
                now_us,
            )
        )
    conn.executemany(
        "INSERT INTO creator_metrics (period, cohort, creator_id, settled_gmv_fen, effective_followers,"
        " sales_score, metrics_pb, updated_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (period, cohort, creator_id) DO UPDATE SET settled_gmv_fen = excluded.settled_gmv_fen,"
        " effective_followers = excluded.effective_followers, sales_score = excluded.sales_score,"
        " metrics_pb = excluded.metrics_pb, updated_at_us = excluded.updated_at_us",
        rows,
    )
    return len(rows)


def score_period(
    conn: Connection,
    period: str,
    cohort: str | None,
    weights: Weights,
    gmv_source: int,
    now_us: int,
) -> tuple[int, int]:
    """Scores every creator with metrics in the period (in `cohort`, or in every cohort when
    None) and stores scores and ranks, replacing the previous run of each cohort. Returns
    (creators scored, cohorts scored). NOT_FOUND when there is nothing to score."""
    where, params = "period = ?", [period]
    if cohort is not None:
        where, params = "period = ? AND cohort = ?", [period, cohort]
    rows = conn.execute(
        "SELECT cohort, creator_id, settled_gmv_fen, sales_score, effective_followers FROM creator_metrics"
        f" WHERE {where} ORDER BY cohort, creator_id",
        params,
    ).fetchall()
    if not rows:
        scope = f"period {period}" + (f", cohort {cohort}" if cohort is not None else "")
        raise NotFound(f"no creator metrics in {scope}", reason="NO_CREATOR_METRICS", metadata={"period": period})
    if gmv_source == pb.GMV_SOURCE_LEDGER:
        ledger = settled_gmv_by_creator(conn, *period_range_us(period))
        gmv = [ledger.get(row[1], 0) for row in rows]
    else:
        gmv = [row[2] or 0 for row in rows]
    cohorts = [(name, len(list(group))) for name, group in groupby(row[0] for row in rows)]
    sales = [row[3] for row in rows]
    followers = [row[4] for row in rows]
    scores = score_cohorts(gmv, sales, followers, [size for _, size in cohorts], weights)

    names = [name for name, _ in cohorts]
    conn.executemany("DELETE FROM creator_scores WHERE period = ? AND cohort = ?", [(period, n) for n in names])
    conn.executemany(
        upsert_sql(
            "creator_score_runs",
            [
                "period",
                "cohort",
                "cohort_size",
                "gmv_weight_ppm",
                "sales_weight_ppm",
                "followers_weight_ppm",
                "gmv_source",
                "scored_at_us",
            ],
            ["period", "cohort"],
        ),
        [(period, name, size, *weights.as_tuple(), gmv_source, now_us) for name, size in cohorts],
    )
    conn.executemany(
        "INSERT INTO creator_scores (period, cohort, creator_id, rank, score, gmv_percentile, sales_percentile,"
        " followers_percentile, settled_gmv_fen, sales_score, effective_followers, tier)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        zip(
            (period for _ in rows),
            (row[0] for row in rows),
            (row[1] for row in rows),
            scores.rank,
            scores.score,
            scores.gmv_percentile,
            scores.sales_percentile,
            scores.followers_percentile,
            gmv,
            sales,
            followers,
            scores.tier,
            strict=True,
        ),
    )
    return len(rows), len(cohorts)


#: A stored score joined with its run, in the column order the encoder reads
#: (`crates/xiaodian-py/src/creators.rs`, `ScoreRow`).
SCORE_COLUMNS = (
    "s.creator_id, s.period, s.cohort, s.score, s.gmv_percentile, s.sales_percentile, s.followers_percentile,"
    " s.settled_gmv_fen, s.sales_score, s.effective_followers, s.rank, r.cohort_size, s.tier,"
    " r.gmv_weight_ppm, r.sales_weight_ppm, r.followers_weight_ppm, r.scored_at_us"
)
_FROM = " FROM creator_scores s JOIN creator_score_runs r USING (period, cohort)"

#: A row of `SCORE_COLUMNS`.
ScoreRow = tuple[Any, ...]


def score_not_found(creator_id: str, period: str, cohort: str) -> NotFound:
    return NotFound(
        f"creator {creator_id} has no score in period {period}, cohort {cohort} (run ScoreCreators first)",
        reason="CREATOR_SCORE_NOT_FOUND",
        metadata={"creator_id": creator_id, "period": period, "cohort": cohort},
    )


def get_score(conn: Connection, creator_id: str, period: str, cohort: str) -> ScoreRow:
    """The creator's stored score row; NotFound (CREATOR_SCORE_NOT_FOUND) without one."""
    row: ScoreRow | None = conn.execute(
        f"SELECT {SCORE_COLUMNS}{_FROM} WHERE s.period = ? AND s.cohort = ? AND s.creator_id = ?",
        (period, cohort, creator_id),
    ).fetchone()
    if row is None:
        raise score_not_found(creator_id, period, cohort)
    return row


class ScoreRun(NamedTuple):
    """The last scoring run of a (period, cohort): its size and when it ran (which names it:
    a run replaces the cohort's scores whole, so rows read under one `scored_at_us` never change)."""

    cohort_size: int
    scored_at_us: int


def score_run(conn: Connection, period: str, cohort: str) -> ScoreRun | None:
    """The cohort's last run; None if it was never scored."""
    run = conn.execute(
        "SELECT cohort_size, scored_at_us FROM creator_score_runs WHERE period = ? AND cohort = ?", (period, cohort)
    ).fetchone()
    return None if run is None else ScoreRun(*run)


def cohort_not_scored(period: str, cohort: str) -> NotFound:
    return NotFound(
        f"no scores in period {period}, cohort {cohort} (run ScoreCreators first)",
        reason="COHORT_NOT_SCORED",
        metadata={"period": period, "cohort": cohort},
    )


def top_creators(
    conn: Connection,
    period: str,
    cohort: str,
    run: ScoreRun,
    page_size: int,
    page_token: str,
    tokens: PageTokens,
) -> tuple[list[ScoreRow], str]:
    """A page of the leaderboard of `run`, best rank first: (score rows, next page token).
    A token (signed, bound to the period and cohort) from before the cohort was rescored is
    FAILED_PRECONDITION: the pages would mix two runs."""
    cohort_size, scored_at_us = run
    after_rank = 0
    if page_token:
        token_period, token_cohort, token_scored_at_us, token_rank = tokens.read(page_token, "leaderboard", 4)
        if (token_period, token_cohort) != (period, cohort):
            raise InvalidArgument.of("page_token", "belongs to another period or cohort: keep them unchanged")
        after_rank = page_tokens.int_in(token_rank, 0, cohort_size)
        if token_scored_at_us != scored_at_us:
            raise FailedPrecondition(
                "the cohort was scored again since this page token was issued; start from the first page",
                reason="LEADERBOARD_RESCORED",
            )
    rows = conn.execute(
        f"SELECT {SCORE_COLUMNS}{_FROM} WHERE s.period = ? AND s.cohort = ? AND s.rank > ? ORDER BY s.rank LIMIT ?",
        (period, cohort, after_rank, page_size),
    ).fetchall()
    last_rank = rows[-1][10] if rows else after_rank  # the rank column
    next_token = tokens.issue("leaderboard", period, cohort, scored_at_us, last_rank) if last_rank < cohort_size else ""
    return rows, next_token


class AnswerCache:
    """Encoded answers of this process (a leaderboard page, a creator's score), each kept under
    the database epoch taken before it was read (`platform.epoch`): an answer is given from
    here only while the epoch is unchanged, i.e. while no scoring run has been acknowledged
    since, so it is exactly what the database would give. Scores change only by a run, which
    advances the epoch after its commit. Asking SQLite costs a GIL hand-off per row, which
    under load costs more than the rows; the epoch is a memory read. At most `capacity`
    answers, the least recently used go first."""

    def __init__(self, capacity: int = 4_096) -> None:
        self._capacity = capacity
        self._answers: OrderedDict[tuple[str | int, ...], tuple[int, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str | int, ...], epoch: int) -> bytes | None:
        with self._lock:
            found = self._answers.get(key)
            if found is None or found[0] != epoch:
                return None
            self._answers.move_to_end(key)
            return found[1]

    def put(self, key: tuple[str | int, ...], epoch: int, answer: bytes) -> None:
        with self._lock:
            self._answers[key] = (epoch, answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self._capacity:
                self._answers.popitem(last=False)
