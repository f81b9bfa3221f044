"""Page tokens (AIP-158) that cannot be forged: a few values, signed with HMAC-SHA256.

A token is base64url(payload ‖ tag): the payload is the JSON list `[kind, value, …]` (kind
names the method, say "statement"; the values say where the next page starts and what it
belongs to), the tag the first 16 bytes of HMAC-SHA256(key, payload). A token is read only if
its tag matches the current key or the previous one (during a rotation), and only as the kind
it was issued for; each reader then checks its values' ranges. So a hand-edited or replayed
token of another kind is INVALID_ARGUMENT, and no token asks for more work than an honest page.

The key is `[page_tokens] key` of the config, else 32 random bytes kept in `page-token.key` in
the data directory (mode 0600, made at first start). To rotate: put the old key in
`previous_key` and a new one in `key`; tokens of either are accepted until the next rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from pathlib import Path

from xiaodian.errors import InvalidArgument
from xiaodian.platform.auth import secret_file

#: The tag's length in bytes (128 bits: forging one takes 2^128 tries on average).
TAG_BYTES = 16
#: Longest token accepted; every token the services issue is far shorter.
MAX_TOKEN_CHARS = 512
KEY_FILE = "page-token.key"

Value = int | str


class PageTokens:
    """Issues and reads the page tokens of one server (`issue`, `read`)."""

    def __init__(self, key: bytes, previous_key: bytes | None = None) -> None:
        if len(key) < 32:
            raise ValueError("a page-token key has at least 32 bytes")
        self._keys = [key] + ([previous_key] if previous_key else [])

    @classmethod
    def random(cls) -> PageTokens:
        """A key of this process only (tokens do not survive a restart): for servers and
        services made without a configured key, as in tests."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_config(cls, key_hex: str, previous_key_hex: str, data_dir: str | Path) -> PageTokens:
        """The configured key, else the data directory's key file (created if missing)."""
        previous = bytes.fromhex(previous_key_hex) if previous_key_hex else None
        if key_hex:
            return cls(bytes.fromhex(key_hex), previous)
        key = secret_file(Path(data_dir) / KEY_FILE, lambda: secrets.token_bytes(32).hex())
        return cls(bytes.fromhex(key), previous)

    def _tag(self, key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, payload, hashlib.sha256).digest()[:TAG_BYTES]

    def issue(self, kind: str, *values: Value) -> str:
        payload = json.dumps([kind, *values], separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(payload + self._tag(self._keys[0], payload)).decode().rstrip("=")

    def read(self, token: str, kind: str, count: int, field: str = "page_token") -> Sequence[Value]:
        """The `count` values of a token issued for `kind`; INVALID_ARGUMENT on `field` if the
        token is not one this server issued for it (forged, edited, of another method)."""
        bad = InvalidArgument.of(field, "is not a page token of this request (pass next_page_token unchanged)")
        if len(token) > MAX_TOKEN_CHARS:
            raise bad
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise bad from None
        payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
        if len(raw) <= TAG_BYTES or not any(hmac.compare_digest(tag, self._tag(k, payload)) for k in self._keys):
            raise bad
        try:
            decoded = json.loads(payload)
        except ValueError:
            raise bad from None
        if not isinstance(decoded, list) or len(decoded) != count + 1 or decoded[0] != kind:
            raise bad
        values: list[Value] = decoded[1:]
        if not all(isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
            raise bad
        return values


def int_in(value: Value, low: int, high: int, field: str = "page_token") -> int:
    """`value` as an int within [low, high]; INVALID_ARGUMENT on `field` otherwise (a signed
    token of an older server whose limits were wider)."""
    if isinstance(value, int) and low <= value <= high:
        return value
    raise InvalidArgument.of(field, "is out of range for this server (start again from the first page)")
