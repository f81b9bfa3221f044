"""Idempotent writes (AIP-155): a request_id names one request for good.

`run_once` runs a write and stores its response under the request_id in the same transaction.
A replay with the same method and content gets the stored response and writes nothing; the same
request_id with another method or other content is ALREADY_EXISTS. A write that fails stores
nothing, so the caller may fix the request and send it again with the same request_id.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TypeVar

from google.protobuf.message import Message

from xiaodian.errors import AlreadyExists, InvalidArgument
from xiaodian.platform.db import Connection, Database, Migration

MIGRATIONS = [
    Migration(
        "platform-0001-request-log",
        """
        CREATE TABLE request_log (
            request_id TEXT PRIMARY KEY,
            method TEXT NOT NULL,
            request_sha256 BLOB NOT NULL,
            response BLOB NOT NULL,
            created_at_us INTEGER NOT NULL
        )
        """,
    )
]
POSTGRES_MIGRATIONS = [
    Migration(
        "platform-0001-request-log",
        """
        CREATE TABLE request_log (
            request_id TEXT PRIMARY KEY,
            method TEXT NOT NULL,
            request_sha256 BYTEA NOT NULL,
            response BYTEA NOT NULL,
            created_at_us BIGINT NOT NULL
        );
        CREATE TABLE platform_epoch (value BIGINT NOT NULL);
        INSERT INTO platform_epoch (value) VALUES (0)
        """,
    )
]

MAX_REQUEST_ID_LENGTH = 128

R = TypeVar("R", bound=Message)


def check_request_id(request_id: str, field: str = "request_id") -> None:
    """Required: 1-128 printable ASCII characters (a UUID is the usual choice)."""
    if not request_id:
        raise InvalidArgument.of(field, "is required (AIP-155 idempotency key, e.g. a UUID)")
    if len(request_id) > MAX_REQUEST_ID_LENGTH or not all(" " < c <= "~" for c in request_id):
        raise InvalidArgument.of(field, f"must be 1-{MAX_REQUEST_ID_LENGTH} printable ASCII characters without spaces")


def content_digest(message: Message) -> bytes:
    """The digest of a request's content, its request_id left out: what a natural key
    (order_id, refund_id, after_sale_id) is checked against when it is sent again."""
    copy = type(message)()
    copy.CopyFrom(message)
    if hasattr(copy, "request_id"):
        copy.request_id = ""
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).digest()


def check_same_content(stored_digest: bytes, digest: bytes, kind: str, field: str, key: str) -> None:
    """A natural key seen before: the same content replays the original, other content is
    ALREADY_EXISTS (reason `{FIELD}_REUSED`: ORDER_ID_REUSED, ...)."""
    if stored_digest != digest:
        raise AlreadyExists(
            f"{kind} {key!r} was already recorded with different content",
            reason=f"{field.upper()}_REUSED",
            metadata={field: key},
        )


def _digest(method: str, encoded: bytes) -> bytes:
    return hashlib.sha256(method.encode() + b"\0" + encoded).digest()


def _replay(conn: Connection, request_id: str, method: str, digest: bytes) -> bytes | None:
    row = conn.execute(
        "SELECT method, request_sha256, response FROM request_log WHERE request_id = ?", (request_id,)
    ).fetchone()
    if row is None:
        return None
    stored_method, stored_digest, response = row
    if stored_method != method or stored_digest != digest:
        raise AlreadyExists(
            f"request_id {request_id!r} was already used for a different request ({stored_method})",
            reason="REQUEST_ID_REUSED",
            metadata={"request_id": request_id},
        )
    return bytes(response)


def run_once(
    db: Database,
    method: str,
    request: Message,
    response_type: type[R],
    write: Callable[[Connection], R],
) -> R:
    """`write(conn)` inside one transaction, at most once per `request.request_id`."""
    request_id: str = request.request_id  # type: ignore[attr-defined]
    check_request_id(request_id)
    digest = _digest(method, request.SerializeToString(deterministic=True))

    def write_encoded(conn: Connection) -> bytes:
        return write(conn).SerializeToString(deterministic=True)

    with db.transaction() as conn:
        return response_type.FromString(_once(conn, method, request_id, digest, write_encoded))


def run_once_encoded(
    db: Database, method: str, request_id: str, request: bytes, write: Callable[[Connection], bytes]
) -> bytes:
    """`write(conn)`, which answers the encoded response, at most once per `request_id`, in a
    group transaction (`Database.grouped`: one fsync for the writes that arrive together);
    `request` is the request's encoding (for a method whose bytes Rust reads: as received, so a
    retry must send the same bytes, as every protobuf library does for the same message).
    Answers the encoded response, stored or new."""
    check_request_id(request_id)
    digest = _digest(method, request)
    return db.grouped(lambda conn: _once(conn, method, request_id, digest, write))


def _once(conn: Connection, method: str, request_id: str, digest: bytes, write: Callable[[Connection], bytes]) -> bytes:
    """The stored response of `request_id`, else `write(conn)`'s, stored with the request's digest."""
    stored = _replay(conn, request_id, method, digest)
    if stored is not None:
        return stored
    response = write(conn)
    conn.execute(
        "INSERT INTO request_log (request_id, method, request_sha256, response, created_at_us) VALUES (?, ?, ?, ?, ?)",
        (request_id, method, digest, response, time.time_ns() // 1000),
    )
    return response
