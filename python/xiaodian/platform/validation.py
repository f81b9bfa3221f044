"""Request validation that reports every broken rule at once, as google.rpc.BadRequest does.

Collect violations with `Violations`, then `raise_if_any()`: the caller gets one
INVALID_ARGUMENT listing each field path (`products[3].title`) with its rule.
"""

from __future__ import annotations

import functools
import math
import re

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from xiaodian.errors import MAX_FIELD_VIOLATIONS, InvalidArgument

#: Ids of shops, products, orders, ...: 1-64 characters of [A-Za-z0-9_.:-] (SPEC §2).
ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
ID_RULE = "must be 1-64 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-'"

#: Most items in one batch request.
MAX_BATCH = 10_000


class Violations:
    """Collects at most `MAX_FIELD_VIOLATIONS` violations and counts the rest, so a request
    with a million bad fields costs no more to answer than to check."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.count = 0

    def add(self, field: str, description: str) -> None:
        if self.count < MAX_FIELD_VIOLATIONS:
            self.items.append((field, description))
        self.count += 1

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
            more = f" (and {self.count - 5:,} more)" if self.count > 5 else ""
            error = InvalidArgument(f"invalid request: {shown}{more}", self.items)
            if self.count > len(self.items):
                error.violation_count = self.count
                error.metadata["violation_count"] = str(self.count)
            raise error


#: The range protobuf defines for google.protobuf.Timestamp: 0001-01-01T00:00:00Z to
#: 9999-12-31T23:59:59.999999999Z. Outside it a timestamp has no date.
TIMESTAMP_MIN_SECONDS = -62_135_596_800
TIMESTAMP_MAX_SECONDS = 253_402_300_799
TIMESTAMP_RULE = "must be a timestamp from 0001-01-01 to 9999-12-31 (nanos 0-999,999,999)"


TIMESTAMP = "google.protobuf.Timestamp"


@functools.cache
def _timestamp_fields(descriptor: Descriptor) -> tuple[tuple[FieldDescriptor, bool], ...]:
    """`(field, is_timestamp)` for the fields of a message type through which a Timestamp can
    be reached: the Timestamp fields themselves, and message fields whose type leads to one;
    cached per type. (The API has no recursive message types.)"""
    found = []
    for field in descriptor.fields:
        child = field.message_type
        if child is None:
            continue
        if child.full_name == TIMESTAMP:
            found.append((field, True))
        elif _timestamp_fields(child):
            found.append((field, False))
    return tuple(found)


def _check_timestamps(message: Message, path: str, violations: Violations) -> None:
    for field, is_timestamp in _timestamp_fields(message.DESCRIPTOR):
        name = f"{path}{field.name}"
        if field.is_repeated:
            children = [(f"{name}[{i}]", child) for i, child in enumerate(getattr(message, field.name))]
        elif message.HasField(field.name):
            children = [(name, getattr(message, field.name))]
        else:
            continue
        for child_path, child in children:
            if is_timestamp:
                ok = TIMESTAMP_MIN_SECONDS <= child.seconds <= TIMESTAMP_MAX_SECONDS and 0 <= child.nanos < 10**9
                violations.check(ok, child_path, TIMESTAMP_RULE)
            else:
                _check_timestamps(child, child_path + ".", violations)


def check_timestamps(message: Message) -> None:
    """Raises INVALID_ARGUMENT naming every Timestamp of `message` (at any depth) outside
    protobuf's range. Run on every request by the server's interceptor, so no handler meets a
    timestamp that cannot be converted to a date or to microseconds."""
    violations = Violations()
    _check_timestamps(message, "", violations)
    violations.raise_if_any()
