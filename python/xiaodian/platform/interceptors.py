"""Every call passes here once, in this order, before and after its handler:

1. **Admission.** A streaming call (any direction) takes one of `max_concurrent_streams` slots
   or is RESOURCE_EXHAUSTED at once, so streams never hold every worker: unary calls and
   Health always find one. (Calls beyond `maximum_concurrent_rpcs` are refused by grpc itself.)
2. **Authentication and scope** (`platform.auth`): every method but health and reflection
   needs a caller holding the method's scope.
3. **Parsing.** The handlers are registered without a deserializer: the bytes are parsed here,
   so bytes that are not the method's message are INVALID_ARGUMENT, not INTERNAL; each
   message's timestamps are then checked (`validation.check_timestamps`): one outside
   protobuf's range is INVALID_ARGUMENT on that field, never a failed conversion in a handler.
   A call whose deadline passed while it queued is DEADLINE_EXCEEDED without running.
4. **Errors.** The one place where exceptions become gRPC statuses: a `XiaodianError` becomes
   its rich status (`xiaodian.errors.to_rpc_status`, details bounded in size); any other
   exception is a bug, logged with a correlation id and answered INTERNAL with only that id.
5. **Idle streams.** A stream waiting on its client (for the next message, or for it to take
   a response) longer than `stream_idle_timeout_seconds`, or a response-only stream (Health
   Watch) silent that long, is cancelled with DEADLINE_EXCEEDED by one watchdog thread.
6. **Accounting.** Metrics per method and code, calls and streams in flight; in JSON log mode
   one access line per call (method, code, duration, caller, request id, trace id).
7. **Worker.** Under `xiaodian serve --workers N`, every response (errors too) carries the
   trailer `xiaodian-worker: <index>`, so operators and tests can tell who answered.

What is known of a method (its scope, message type, metrics children) is worked out once, on
its first call, and kept.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc
from grpc._cython import cygrpc  # type: ignore[attr-defined]  # the call's cancel-with-status
from opentelemetry import trace

from xiaodian.errors import (
    DeadlineExceeded,
    Internal,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
    XiaodianError,
    to_rpc_status,
)
from xiaodian.platform import auth
from xiaodian.platform.db import is_unavailable
from xiaodian.platform.metrics import MethodMetrics, Metrics
from xiaodian.platform.validation import check_timestamps

log = logging.getLogger("xiaodian.rpc")
access_log = logging.getLogger("xiaodian.access")

OK = grpc.StatusCode.OK

#: How long a caller should wait before retrying a call the database could not serve.
RETRY_AFTER_MS = 1000

#: The trailer naming the worker process that answered (`--workers N`).
WORKER_TRAILER = "xiaodian-worker"


@dataclass(frozen=True)
class Limits:
    max_concurrent_streams: int = 8
    stream_idle_timeout_seconds: float = 30.0


@dataclass(frozen=True)
class _Method:
    """What the interceptor knows of one method."""

    name: str
    #: None: open to anyone (health, reflection); else the scope the caller needs ("" if the
    #: method has none in `auth.METHOD_SCOPES`: refused to everyone).
    scope: str | None
    parse: Callable[[bytes], Any] | None
    message_name: str
    streaming: bool
    request_streaming: bool
    metrics: MethodMetrics | None


class _Stream:
    """A streaming call under watch: `waiting_since` is when it began waiting on its client
    (None while its handler works)."""

    __slots__ = ("context", "waiting_since", "idle")

    def __init__(self, context: grpc.ServicerContext) -> None:
        self.context = context
        self.waiting_since: float | None = None
        self.idle = False


class StreamWatchdog:
    """One thread that cancels streams idle for longer than the timeout."""

    def __init__(self, idle_timeout: float) -> None:
        self.idle_timeout = idle_timeout
        self._streams: set[_Stream] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-watchdog", daemon=True)
        self._thread.start()

    def watch(self, context: grpc.ServicerContext) -> _Stream:
        stream = _Stream(context)
        with self._lock:
            self._streams.add(stream)
        return stream

    def forget(self, stream: _Stream) -> None:
        with self._lock:
            self._streams.discard(stream)

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        period = min(1.0, self.idle_timeout / 4)
        while not self._stop.wait(period):
            now = time.monotonic()
            with self._lock:
                idle = [
                    s
                    for s in self._streams
                    if s.waiting_since is not None and now - s.waiting_since > self.idle_timeout
                ]
            for stream in idle:
                stream.idle = True
                _cancel(
                    stream.context, f"stream idle for more than {self.idle_timeout:g} s (stream_idle_timeout_seconds)"
                )


def _cancel(context: grpc.ServicerContext, details: str) -> None:
    """Ends the call with DEADLINE_EXCEEDED and `details`; wakes a handler blocked on it."""
    call = getattr(getattr(context, "_rpc_event", None), "call", None)
    try:
        call.cancel(cygrpc.StatusCode.deadline_exceeded, details)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - not grpc's own context: the public cancel (CANCELLED)
        context.cancel()  # type: ignore[no-untyped-call]


if TYPE_CHECKING:  # grpc's stubs make these generic; at run time they are not
    _ServerInterceptor = grpc.ServerInterceptor[Any, Any]
    #: A method's handler, whatever its request and response types.
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]
else:
    _ServerInterceptor = grpc.ServerInterceptor


class ServingInterceptor(_ServerInterceptor):
    def __init__(
        self,
        *,
        authenticator: auth.Authenticator | None,
        metrics: Metrics | None = None,
        limits: Limits | None = None,
        access_log_enabled: bool = False,
        mtls: bool = False,
        worker: int | None = None,
    ) -> None:
        """`authenticator` None: authentication is off (every caller may do everything).
        `worker`: this process's index under `--workers N`, sent as a trailer of every call."""
        self._authenticator = authenticator
        self._trailer = ((WORKER_TRAILER, str(worker)),) if worker is not None else None
        self._metrics = metrics
        self._limits = limits or Limits()
        self._access = access_log_enabled
        self._mtls = mtls
        self._stream_slots = threading.BoundedSemaphore(self._limits.max_concurrent_streams)
        self._watchdog = StreamWatchdog(self._limits.stream_idle_timeout_seconds)
        self._handlers: dict[str, tuple[Handler, Handler]] = {}

    def close(self) -> None:
        self._watchdog.stop()

    # -- wrapping, once per method ----------------------------------------------------------

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        known = self._handlers.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped: Handler = self._wrap(handler, method)
        self._handlers[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: Any, method: str) -> Any:
        service = method.lstrip("/").rpartition("/")[0]
        parse = handler.request_deserializer
        owner = getattr(parse, "__self__", None)
        info = _Method(
            name=method,
            scope=None if service in auth.OPEN_SERVICES else auth.METHOD_SCOPES.get(method, ""),
            parse=parse,
            message_name=getattr(getattr(owner, "DESCRIPTOR", None), "full_name", "request"),
            streaming=handler.request_streaming or handler.response_streaming,
            request_streaming=handler.request_streaming,
            metrics=self._metrics.recorder(method) if self._metrics is not None else None,
        )
        # grpc's handlers are namedtuples: replace the one behaviour that is set, and take the
        # parsing over (request_deserializer None: the behaviour receives the bytes).
        for kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
            behavior = getattr(handler, kind)
            if behavior is not None:
                wrapped = self._wrap_behavior(behavior, info, handler.response_streaming)
                return handler._replace(**{kind: wrapped, "request_deserializer": None})
        return handler

    def _wrap_behavior(self, behavior: Callable[..., Any], m: _Method, response_streaming: bool) -> Callable[..., Any]:
        if not response_streaming:

            def unary_response(request: Any, context: grpc.ServicerContext) -> Any:
                started = time.perf_counter()
                if self._metrics is not None:
                    self._metrics.in_flight.inc()
                code, caller, stream = OK, auth.ANONYMOUS.name, None
                if self._trailer is not None:
                    context.set_trailing_metadata(self._trailer)
                try:
                    caller, stream = self._admit(m, context)
                    return behavior(self._request(m, request, stream), context)
                except BaseException as error:  # noqa: BLE001 - this is the one place errors are mapped
                    code, status = self._status(m, error, stream)
                    context.abort_with_status(status)
                finally:
                    self._done(m, context, code, started, caller, stream)

            return unary_response

        def stream_response(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started = time.perf_counter()
            if self._metrics is not None:
                self._metrics.in_flight.inc()
            code, caller, stream = OK, auth.ANONYMOUS.name, None
            if self._trailer is not None:
                context.set_trailing_metadata(self._trailer)
            try:
                caller, stream = self._admit(m, context)
                request = self._request(m, request, stream)
                if stream is not None:
                    stream.waiting_since = None if m.request_streaming else time.monotonic()
                for response in behavior(request, context):
                    if stream is not None:
                        # Waiting for the client to take it (or, response-only, for the next).
                        stream.waiting_since = time.monotonic()
                    yield response
                    if stream is not None and m.request_streaming:
                        stream.waiting_since = None
            except BaseException as error:  # noqa: BLE001
                if isinstance(error, GeneratorExit):
                    code = grpc.StatusCode.CANCELLED
                    raise
                code, status = self._status(m, error, stream)
                context.abort_with_status(status)
            finally:
                self._done(m, context, code, started, caller, stream)

        return stream_response

    # -- the steps of a call ---------------------------------------------------------------

    def _admit(self, m: _Method, context: grpc.ServicerContext) -> tuple[str, _Stream | None]:
        """The caller's name and, for a stream, its watch; raises if the call may not run."""
        caller = auth.ANONYMOUS
        if m.scope is not None and self._authenticator is not None:
            caller = self._authenticator.caller(
                context.invocation_metadata(),
                context.auth_context() if self._mtls else None,
            )
            auth.check_scope(caller, m.scope or None, m.name)
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded("the call's deadline passed before the server could start it")
        if not m.streaming:
            return caller.name, None
        if not self._stream_slots.acquire(blocking=False):
            if self._metrics is not None:
                self._metrics.rejected.labels("streams").inc()
            raise ResourceExhausted(
                f"too many streams open ({self._limits.max_concurrent_streams}, max_concurrent_streams); "
                "retry later or send batches with the unary method",
                reason="TOO_MANY_STREAMS",
            )
        if self._metrics is not None:
            self._metrics.streams.inc()
        return caller.name, self._watchdog.watch(context)

    def _request(self, m: _Method, raw: Any, stream: _Stream | None) -> Any:
        """The request as the handler takes it: one parsed message, or an iterator of them."""
        return self._messages(m, raw, stream) if m.request_streaming else self._parse(m, raw)

    def _parse(self, m: _Method, raw: Any) -> Any:
        if m.parse is None or not isinstance(raw, bytes):
            return raw
        try:
            message = m.parse(raw)
        except Exception:  # noqa: BLE001 - any failure to parse is the caller's bytes
            raise InvalidArgument(
                f"the request is not a valid {m.message_name} message",
                [("request", f"bytes do not parse as {m.message_name}")],
                reason="MALFORMED_REQUEST",
            ) from None
        check_timestamps(message)
        return message

    def _messages(self, m: _Method, raw: Iterator[Any], stream: _Stream | None) -> Iterator[Any]:
        """The stream's messages, parsed and checked as they arrive; the wait for each is watched."""
        while True:
            if stream is not None:
                stream.waiting_since = time.monotonic()
            try:
                item = next(raw)
            except StopIteration:
                return
            finally:
                if stream is not None:
                    stream.waiting_since = None
            yield self._parse(m, item)

    def _status(self, m: _Method, error: BaseException, stream: _Stream | None) -> tuple[grpc.StatusCode, grpc.Status]:
        if stream is not None and stream.idle:
            if self._metrics is not None:
                self._metrics.rejected.labels("idle_stream").inc()
            error = DeadlineExceeded(f"stream idle for more than {self._limits.stream_idle_timeout_seconds:g} s")
        elif isinstance(error, grpc.RpcError):
            # The client went away while the handler read its stream.
            return grpc.StatusCode.CANCELLED, to_rpc_status(XiaodianError("the client cancelled the call"))
        if is_unavailable(error):
            log.warning("database unavailable", extra={"method": m.name, "error": str(error).strip()[:200]})
            error = Unavailable(
                "the database is unavailable; nothing was changed: retry the call (with the same request_id)",
                reason="DATABASE_UNAVAILABLE",
                metadata={"retry_after_ms": str(RETRY_AFTER_MS)},
            )
        if not isinstance(error, XiaodianError):
            correlation_id = uuid.uuid4().hex
            log.error("unexpected error", exc_info=error, extra={"method": m.name, "correlation_id": correlation_id})
            error = Internal(
                f"internal error; correlation id {correlation_id} (see the server log)",
                metadata={"correlation_id": correlation_id},
            )
        elif not self._access:
            log.info("rpc failed", extra={"method": m.name, "code": error.code.name, "reason": error.reason})
        status = to_rpc_status(error)
        if self._trailer is not None:
            # abort_with_status replaces the trailers: the worker goes with the error details.
            status = status._replace(trailing_metadata=(*status.trailing_metadata, *self._trailer))  # type: ignore[attr-defined]
        return error.code, status

    def _done(
        self,
        m: _Method,
        context: grpc.ServicerContext,
        code: grpc.StatusCode,
        started: float,
        caller: str,
        stream: _Stream | None,
    ) -> None:
        seconds = time.perf_counter() - started
        if stream is not None:
            self._watchdog.forget(stream)
            self._stream_slots.release()
            if self._metrics is not None:
                self._metrics.streams.dec()
        if m.metrics is not None:
            m.metrics.done(code, seconds)
            self._metrics.in_flight.dec()  # type: ignore[union-attr]
        if self._access:
            _access_line(m.name, context, code, seconds, caller)


def _access_line(
    method: str, context: grpc.ServicerContext, code: grpc.StatusCode, seconds: float, caller: str
) -> None:
    request_id = ""
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id":
            request_id = str(value)[:128]
            break
    extra: dict[str, Any] = {
        "method": method,
        "code": code.name,
        "duration_ms": round(seconds * 1000, 3),
        "caller": caller,
        "request_id": request_id or uuid.uuid4().hex,
        "peer": context.peer(),
    }
    trace_id = _trace_id()
    if trace_id:
        extra["trace_id"] = trace_id
    access_log.info("rpc", extra=extra)


def _trace_id() -> str:
    """The current OpenTelemetry trace id (hex), or "" without tracing."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""
