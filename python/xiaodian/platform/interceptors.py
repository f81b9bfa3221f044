"""The one place where exceptions become gRPC statuses.

Every handler runs inside `ErrorInterceptor`: a `XiaodianError` becomes its rich status
(`xiaodian.errors.to_rpc_status`); any other exception is a bug, logged with a correlation id
and answered as INTERNAL with only that id, never a traceback. A call whose deadline has
already passed when a worker picks it up is answered DEADLINE_EXCEEDED without running.
Every request message (each one of a stream too) has its timestamps checked first
(`validation.check_timestamps`): one out of protobuf's range is INVALID_ARGUMENT, never a
failed conversion deep inside a handler.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from xiaodian.errors import DeadlineExceeded, Internal, XiaodianError, to_rpc_status
from xiaodian.platform.validation import check_timestamps

log = logging.getLogger("xiaodian.rpc")


def _fail(context: grpc.ServicerContext, method: str, error: BaseException, started: float) -> None:
    if isinstance(error, XiaodianError):
        log.info(
            "rpc failed",
            extra={
                "method": method,
                "code": error.code.name,
                "reason": error.reason,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )
        context.abort_with_status(to_rpc_status(error))
    correlation_id = uuid.uuid4().hex
    log.error("unexpected error", exc_info=error, extra={"method": method, "correlation_id": correlation_id})
    internal = Internal(
        f"internal error; correlation id {correlation_id} (see the server log)",
        metadata={"correlation_id": correlation_id},
    )
    context.abort_with_status(to_rpc_status(internal))


def _check_deadline(context: grpc.ServicerContext) -> None:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlineExceeded("the call's deadline passed before the server could start it")


def _checked(request: Any, streaming: bool) -> Any:
    """The request with its timestamps checked: at once, or as the stream yields each message."""
    if not streaming:
        check_timestamps(request)
        return request

    def messages() -> Iterator[Any]:
        for message in request:
            check_timestamps(message)
            yield message

    return messages()


def _wrap_unary_response(behavior: Callable[..., Any], method: str, streaming: bool) -> Callable[..., Any]:
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        started = time.perf_counter()
        try:
            _check_deadline(context)
            return behavior(_checked(request, streaming), context)
        except Exception as error:  # noqa: BLE001 - this is the one place errors are mapped
            _fail(context, method, error, started)

    return handler


def _wrap_stream_response(
    behavior: Callable[..., Iterator[Any]], method: str, streaming: bool
) -> Callable[..., Iterator[Any]]:
    def handler(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        started = time.perf_counter()
        try:
            _check_deadline(context)
            yield from behavior(_checked(request, streaming), context)
        except Exception as error:  # noqa: BLE001
            _fail(context, method, error, started)

    return handler


class ErrorInterceptor(grpc.ServerInterceptor):
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method  # type: ignore[attr-defined]
        # grpc's handlers are namedtuples: replace the one behaviour that is set.
        for kind, wrap in (
            ("unary_unary", _wrap_unary_response),
            ("stream_unary", _wrap_unary_response),
            ("unary_stream", _wrap_stream_response),
            ("stream_stream", _wrap_stream_response),
        ):
            behavior = getattr(handler, kind)
            if behavior is not None:
                wrapped = wrap(behavior, method, kind.startswith("stream"))
                return handler._replace(**{kind: wrapped})  # type: ignore[attr-defined,no-any-return]
        return handler
