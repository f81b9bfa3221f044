"""What tests read of a database on either backend: every row (to prove a call changed
nothing), the kinds of the values in a money column, and a fresh database for tests that start
many servers of their own one after another."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from xiaodian.platform.db import Connection, Database, SqliteDatabase


def digest(db: Database) -> str:
    """A digest of every row of every table: equal before and after means nothing changed."""
    conn = db.connection()
    sha = hashlib.sha256()
    if isinstance(db, SqliteDatabase):
        for line in conn.iterdump():  # type: ignore[attr-defined]
            sha.update(line.encode())
        return sha.hexdigest()
    tables = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
    ).fetchall()
    for (table,) in tables:
        sha.update(table.encode())
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall():
            sha.update(repr(row).encode())
    return sha.hexdigest()


def value_kinds(conn: Connection, table: str, column: str) -> set[str]:
    """The storage kinds of the column's values, as SQLite names them ("integer", "real", …).
    A PostgreSQL BIGINT column holds integers only: the column's type is checked instead."""
    if not isinstance(conn, sqlite3.Connection):
        (data_type,) = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
            (table, column),
        ).fetchone()
        rows = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        return {"integer" if data_type == "bigint" else data_type} if rows else set()
    return {kind for (kind,) in conn.execute(f"SELECT DISTINCT typeof({column}) FROM {table}")}


def payout_kinds(conn: Connection) -> set[str]:
    """The JSON kinds of every amount in the orders' `payouts_json` ("integer", "real", …)."""
    kinds = set()
    for (text,) in conn.execute("SELECT payouts_json FROM settlement_orders"):
        for amount in json.loads(text).values():
            kinds.add("integer" if isinstance(amount, int) else type(amount).__name__)
    return kinds


@contextmanager
def fresh_database_url() -> Iterator[str]:
    """A new empty database beside the one `XIAODIAN_SERVER_DATABASE_URL` names (the test
    suite's PostgreSQL pass), dropped after the block; "" on SQLite."""
    base = os.environ.get("XIAODIAN_SERVER_DATABASE_URL", "")
    if not base:
        yield ""
        return
    name = f"xd_{uuid.uuid4().hex[:16]}"
    parts = urlsplit(base)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
