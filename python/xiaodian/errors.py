"""The one exception hierarchy of xiaodian, and its mapping to the gRPC rich error model.

Domain code and the Rust extension raise these classes; the server turns them into a
`google.rpc.Status` (code, message, one `ErrorInfo`, and `BadRequest` field violations for
`InvalidArgument`) in `to_rpc_status`; the client turns a failed call back into the same class
in `from_rpc_error`. So `except xiaodian.errors.NotFound` works the same in-process and over
the wire, and `except ValueError` catches every validation error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

#: `ErrorInfo.domain` of every error xiaodian raises.
ERROR_DOMAIN = "xiaodian"

#: Bounds of an error on the wire, so its trailer (`grpc-status-details-bin`, base64) stays far
#: below the 8 KB of metadata every gRPC client accepts by default: at most this many field
#: violations (the total is in `ErrorInfo.metadata["violation_count"]` and in the message),
#: and each text cut to a length.
MAX_FIELD_VIOLATIONS = 20
MAX_MESSAGE_CHARS = 1000
MAX_FIELD_CHARS = 200
MAX_DESCRIPTION_CHARS = 300


class FieldViolation(NamedTuple):
    """One broken rule: `field` is a dotted path into the request (`profile.title_weight`)."""

    field: str
    description: str


class XiaodianError(Exception):
    """Base class. `code` is the gRPC status; `reason` the `ErrorInfo.reason` (UPPER_SNAKE_CASE)."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    default_reason = "UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})

    def __str__(self) -> str:
        return self.message


class InvalidArgument(XiaodianError, ValueError):
    """Bad input. Lists every field violation found; a `ValueError`, as validation errors are."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        violations: Iterable[tuple[str, str]] = (),
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        #: The first `MAX_FIELD_VIOLATIONS` violations; `violation_count` counts them all.
        self.violations: list[FieldViolation] = []
        self.violation_count = 0
        for field, description in violations:
            if self.violation_count < MAX_FIELD_VIOLATIONS:
                self.violations.append(FieldViolation(field, description))
            self.violation_count += 1
        if self.violation_count > MAX_FIELD_VIOLATIONS:
            self.metadata["violation_count"] = str(self.violation_count)

    @classmethod
    def of(cls, field: str, description: str) -> InvalidArgument:
        """One violation, with a message built from it."""
        return cls(f"{field}: {description}", [(field, description)])

    def under(self, prefix: str) -> InvalidArgument:
        """The same error with every field path prefixed (`title_weight` → `profile.title_weight`)."""
        violations = [(f"{prefix}.{v.field}" if v.field else prefix, v.description) for v in self.violations]
        message = "; ".join(f"{f}: {d}" for f, d in violations) or self.message
        return InvalidArgument(message, violations, reason=self.reason, metadata=self.metadata)


class NotFound(XiaodianError):
    """An id the request names does not exist."""

    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(XiaodianError):
    """An id (`request_id`, `order_id`, …) was reused with different content."""

    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(XiaodianError):
    """The request is well formed but the current state forbids it."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Unauthenticated(XiaodianError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(XiaodianError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class ResourceExhausted(XiaodianError):
    """Overload or a size limit; retry later or send less."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


class DeadlineExceeded(XiaodianError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "DEADLINE_EXCEEDED"


class Unimplemented(XiaodianError):
    """The method exists in the API but its capability has not landed yet."""

    code = grpc.StatusCode.UNIMPLEMENTED
    default_reason = "UNIMPLEMENTED"


class Unavailable(XiaodianError):
    """The server is shutting down or unreachable; safe to retry with the same `request_id`."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class Internal(XiaodianError):
    """A bug on the server. The message carries a correlation id to find it in the server log."""

    code = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL"


_BY_CODE: dict[grpc.StatusCode, type[XiaodianError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Unauthenticated,
        PermissionDenied,
        ResourceExhausted,
        DeadlineExceeded,
        Unimplemented,
        Unavailable,
        Internal,
    )
}
_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_rpc_status(error: XiaodianError) -> grpc.Status:
    """The wire form of `error`: code, message, `ErrorInfo`, `BadRequest` if it has
    violations, `RetryInfo` if it is `Unavailable` with a `retry_after_ms`; bounded in size
    (`MAX_FIELD_VIOLATIONS`, `MAX_MESSAGE_CHARS`, …)."""
    metadata = {_cut(k, MAX_FIELD_CHARS): _cut(v, MAX_DESCRIPTION_CHARS) for k, v in list(error.metadata.items())[:10]}
    details = [_pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata))]
    if isinstance(error, InvalidArgument) and error.violations:
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=_cut(v.field, MAX_FIELD_CHARS), description=_cut(v.description, MAX_DESCRIPTION_CHARS)
                        )
                        for v in error.violations[:MAX_FIELD_VIOLATIONS]
                    ]
                )
            )
        )
    retry_after_ms = error.metadata.get("retry_after_ms", "")
    if isinstance(error, Unavailable) and retry_after_ms.isdigit():
        retry_info = error_details_pb2.RetryInfo()
        retry_info.retry_delay.FromMilliseconds(int(retry_after_ms))
        details.append(_pack(retry_info))
    status = status_pb2.Status(
        code=error.code.value[0], message=_cut(error.message, MAX_MESSAGE_CHARS), details=details
    )
    return rpc_status.to_status(status)


def from_rpc_error(error: grpc.RpcError) -> XiaodianError:
    """The `XiaodianError` a failed call stands for, with its `ErrorInfo` and field violations."""
    call: grpc.Call = error  # type: ignore[assignment]
    code = call.code()
    message = call.details() or ""
    reason: str | None = None
    metadata: dict[str, str] = {}
    violations: list[tuple[str, str]] = []
    status = rpc_status.from_call(call)
    if status is not None:
        code = _BY_NUMBER.get(status.code, code)
        message = status.message
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations = [(v.field, v.description) for v in bad.field_violations]
    cls = _BY_CODE.get(code, XiaodianError)
    if cls is InvalidArgument:
        invalid = InvalidArgument(message, violations, reason=reason, metadata=metadata)
        count = metadata.get("violation_count", "")
        invalid.violation_count = max(len(violations), int(count) if count.isdigit() else 0)
        return invalid
    result = cls(message, reason=reason, metadata=metadata)
    if cls is XiaodianError:
        result.code = code
    return result
