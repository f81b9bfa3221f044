"""Opaque page tokens (AIP-158) that carry a few integers: where the next page starts.

Clients must pass `next_page_token` back unchanged; anything else is INVALID_ARGUMENT.
"""

from __future__ import annotations

import base64

from xiaodian.errors import InvalidArgument


def encode(*values: int) -> str:
    return base64.urlsafe_b64encode(":".join(str(v) for v in values).encode()).decode()


def decode(token: str, count: int) -> tuple[int, ...]:
    """The `count` integers of a token made by `encode`."""
    try:
        values = tuple(int(v) for v in base64.urlsafe_b64decode(token.encode()).decode().split(":"))
    except (ValueError, UnicodeDecodeError):
        values = ()
    if len(values) != count:
        raise InvalidArgument.of("page_token", "is not a token this service issued (pass next_page_token unchanged)")
    return values
