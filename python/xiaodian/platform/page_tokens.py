"""Page tokens (AIP-158) that cannot be forged: a few values, signed with HMAC-SHA256.

A token is base64url(payload ‖ tag): the payload is the JSON list `[kind, value, …]` (kind
names the method, say "statement"; the values say where the next page starts and what it
belongs to), the tag the first 16 bytes of HMAC-SHA256(key, payload). A token is read only if
its tag matches the current key or the previous one (during a rotation), and only as the kind
it was issued for; each reader then checks its values' ranges. So a hand-edited or replayed
token of another kind is INVALID_ARGUMENT, and no token asks for more work than an honest page.
Signing and reading are done in Rust (`crates/xiaodian-py/src/page_tokens.rs`), the one
implementation, which the Search path also uses without Python.

The key is `[page_tokens] key` of the config, else 32 random bytes kept in `page-token.key` in
the data directory (mode 0600, made at first start). To rotate: put the old key in
`previous_key` and a new one in `key`; tokens of either are accepted until the next rotation.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

from xiaodian import _core
from xiaodian.errors import InvalidArgument
from xiaodian.platform.auth import secret_file

KEY_FILE = "page-token.key"

Value = int | str


class PageTokens:
    """Issues and reads the page tokens of one server (`issue`, `read`); `keys` is the Rust
    object the Search path is given."""

    def __init__(self, key: bytes, previous_key: bytes | None = None) -> None:
        self.keys = _core.PageTokens(key, previous_key)

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

    def issue(self, kind: str, *values: Value) -> str:
        return self.keys.issue(kind, list(values))

    def read(self, token: str, kind: str, count: int, field: str = "page_token") -> Sequence[Value]:
        """The `count` values of a token issued for `kind`; INVALID_ARGUMENT on `field` if the
        token is not one this server issued for it (forged, edited, of another method)."""
        return self.keys.read(token, kind, count, field)


def int_in(value: Value, low: int, high: int, field: str = "page_token") -> int:
    """`value` as an int within [low, high]; INVALID_ARGUMENT on `field` otherwise (a signed
    token of an older server whose limits were wider)."""
    if isinstance(value, int) and low <= value <= high:
        return value
    raise InvalidArgument.of(field, "is out of range for this server (start again from the first page)")
