"""Request validation that reports every broken rule at once, as google.rpc.BadRequest does.

Collect violations with `Violations`, then `raise_if_any()`: the caller gets one
INVALID_ARGUMENT listing each field path (`products[3].title`) with its rule.
"""

from __future__ import annotations

import math
import re

from xiaodian.errors import InvalidArgument

#: Ids of shops, products, orders, ...: 1-64 characters of [A-Za-z0-9_.:-] (SPEC §2).
ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
ID_RULE = "must be 1-64 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-'"

#: Most items in one batch request.
MAX_BATCH = 10_000


class Violations:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, description: str) -> None:
        self.items.append((field, description))

    def check(self, ok: bool, field: str, description: str) -> None:
        if not ok:
            self.add(field, description)

    def check_id(self, field: str, value: str) -> bool:
        """Required id; True when valid."""
        if not value:
            self.add(field, "is required")
            return False
        if not ID_PATTERN.fullmatch(value):
            self.add(field, ID_RULE)
            return False
        return True

    def check_text(self, field: str, value: str, min_chars: int, max_chars: int) -> None:
        """Length in Unicode code points after trimming."""
        length = len(value.strip())
        if length < min_chars:
            self.add(
                field,
                "is required" if length == 0 and min_chars == 1 else f"must be {min_chars}-{max_chars} characters",
            )
        elif length > max_chars:
            self.add(
                field,
                f"must be at most {max_chars} characters"
                if min_chars <= 1
                else f"must be {min_chars}-{max_chars} characters",
            )

    def check_range(self, field: str, value: float, low: float, high: float) -> None:
        if not (math.isfinite(value) and low <= value <= high):
            self.add(field, f"must be between {low:g} and {high:g}")

    def check_batch(self, field: str, size: int, limit: int = MAX_BATCH) -> None:
        if not 1 <= size <= limit:
            self.add(field, f"must hold 1-{limit:,} items")

    def raise_if_any(self) -> None:
        if self.items:
            shown = "; ".join(f"{f}: {d}" for f, d in self.items[:5])
            more = f" (and {len(self.items) - 5} more)" if len(self.items) > 5 else ""
            raise InvalidArgument(f"invalid request: {shown}{more}", self.items)
