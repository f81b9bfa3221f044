"""A typed Python client: one method per RPC, raising the `xiaodian.errors` hierarchy.

    with xiaodian.Client("127.0.0.1:50051") as client:
        profile = client.get_ranking_profile(name="default").profile

Each method takes the request message, or its fields as keyword arguments, and returns the
response message. The methods are generated from the protos (xiaodian/_client_methods.py, by
scripts/gen_client.py) with one typed keyword parameter per request field, so `mypy --strict`
rejects a misspelt field (`client.search(qurey="x")`) or a value of the wrong type. Only the fields
a call gives are set: a field left out, or given as its proto3 default (`""`, `0`, `False`, an
empty list; `None` for a message or an `optional` field), stays unset.

Credentials: the `token` argument, else `XIAODIAN_TOKEN`, else the admin token a local server
created in its data directory (`data_dir`, else `XIAODIAN_SERVER_DATA_DIR`, else
`./xiaodian-data`: the file `admin.token`), sent as `authorization: Bearer <token>`. TLS when
`root_certificates` (PEM) is given, with a client certificate for mTLS.

Writes get a fresh `request_id` (a UUID) when none is given; pass your own to retry safely.
Failed calls raise `xiaodian.errors.XiaodianError` subclasses (`InvalidArgument`
with `.violations`, `NotFound`, …), never a bare `grpc.RpcError`.

This module, `xiaodian.errors`, `xiaodian._client_methods` and the stubs (`xiaodian.v1`) import
nothing of the server nor the Rust extension: they are the pure-Python `xiaodian-client`
distribution (clients/python).
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterable, Iterator, Sized
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, cast

import grpc
from grpc import StreamStreamMultiCallable as StreamStream
from grpc import StreamUnaryMultiCallable as StreamUnary
from grpc import UnaryStreamMultiCallable as UnaryStream
from grpc import UnaryUnaryMultiCallable as Unary
from grpc_health.v1 import health_pb2, health_pb2_grpc

from xiaodian._client_methods import ClientMethods, Req, Resp
from xiaodian.errors import from_rpc_error

DEFAULT_TARGET = "127.0.0.1:50051"

#: Where a server keeps the admin token it creates at first start, in its data directory.
ADMIN_TOKEN_FILE = "admin.token"
DEFAULT_DATA_DIR = "./xiaodian-data"


# grpc_health ships its stubs without annotations; this protocol types the one call the client makes.
class _HealthStub(Protocol):
    Check: Unary[health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse]


def find_token(data_dir: str | os.PathLike[str] | None = None) -> str | None:
    """`XIAODIAN_TOKEN`, else the admin token in the data directory (`data_dir`, else
    `XIAODIAN_SERVER_DATA_DIR`, else ./xiaodian-data) if it can be read; else None."""
    token = os.environ.get("XIAODIAN_TOKEN", "").strip()
    if token:
        return token
    folder = data_dir or os.environ.get("XIAODIAN_SERVER_DATA_DIR") or DEFAULT_DATA_DIR
    try:
        return (Path(folder) / ADMIN_TOKEN_FILE).read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


class _Field(Protocol):
    """What `_given` reads of a field's descriptor (protobuf's pure-Python or upb class)."""

    @property
    def has_presence(self) -> bool: ...
    @property
    def is_repeated(self) -> bool: ...
    @property
    def default_value(self) -> Any: ...


def _given(field: _Field, value: object) -> bool:
    """Whether a keyword argument sets its field. None never does. A field with presence (a
    message, a proto3 `optional` field, a oneof member) is set by any other value; a field without
    it (a plain scalar or enum, a repeated or map field) only by a value other than its default,
    which is the same as unset on the wire (except -0.0, which is sent)."""
    if value is None:
        return False
    if field.has_presence:
        return True
    if field.is_repeated:
        return not (isinstance(value, Sized) and len(value) == 0)
    if isinstance(value, float) and value == 0.0:
        return math.copysign(1.0, value) < 0
    return bool(value != field.default_value)


class Client(ClientMethods):
    """Connection to a xiaodian server. Thread-safe; use as a context manager or call `close()`.

    The RPC methods (`search`, `record_orders`, …) are in `xiaodian._client_methods.ClientMethods`,
    generated from the protos."""

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float | None = 30.0,
        token: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        root_certificates: bytes | None = None,
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
        channel: grpc.Channel | None = None,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        """`timeout` is the default deadline of every call, in seconds (None: no deadline).
        `token`: the bearer token (default: `find_token(data_dir)`). `root_certificates`: the
        server's CA (PEM) for TLS; `private_key` and `certificate_chain`: the client's, for mTLS."""
        self.timeout = timeout
        token = token or find_token(data_dir)
        self._metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if channel is not None:
            self._channel = channel
        elif root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._connect(self._channel)  # the service stubs: self._search, self._creators, self._settlement
        self._health: _HealthStub = health_pb2_grpc.HealthStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    # -- the transport of the generated methods ---------------------------------------------

    def _request(self, request_type: type[Req], request: Req | None, /, **fields: Any) -> Req:
        """`request`, or a `request_type` with the fields given (see `_given`); either way with a
        fresh `request_id` if the message has that field and it is empty."""
        descriptor = request_type.DESCRIPTOR
        given = {name: value for name, value in fields.items() if _given(descriptor.fields_by_name[name], value)}
        if request is not None and given:
            raise TypeError("pass either a request message or keyword fields, not both")
        message = request if request is not None else request_type(**given)
        if "request_id" in descriptor.fields_by_name and not message.request_id:  # type: ignore[attr-defined]
            copy = request_type()
            copy.CopyFrom(message)
            copy.request_id = str(uuid.uuid4())  # type: ignore[attr-defined]
            return copy
        return message

    def _deadline(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is None else timeout

    def _unary(self, rpc: Unary[Req, Resp], request: Req, timeout: float | None) -> Resp:
        try:
            return rpc(request, timeout=self._deadline(timeout), metadata=self._metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _stream_out(self, rpc: UnaryStream[Req, Resp], request: Req, timeout: float | None) -> Iterator[Resp]:
        try:
            yield from rpc(request, timeout=self._deadline(timeout), metadata=self._metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _stream_in(self, rpc: StreamUnary[Req, Resp], requests: Iterable[Req], timeout: float | None) -> Resp:
        try:
            return rpc(iter(requests), timeout=self._deadline(timeout), metadata=self._metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _stream_both(
        self, rpc: StreamStream[Req, Resp], requests: Iterable[Req], timeout: float | None
    ) -> Iterator[Resp]:
        try:
            yield from rpc(iter(requests), timeout=self._deadline(timeout), metadata=self._metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    # -- health ---------------------------------------------------------------------------

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """Health status name of `service` ("" for the whole server): SERVING, NOT_SERVING, …"""
        response = self._unary(self._health.Check, health_pb2.HealthCheckRequest(service=service), timeout)
        # grpc_health ships health_pb2 without stubs (Any to mypy); an enum's Name() is a str.
        return cast(str, health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
