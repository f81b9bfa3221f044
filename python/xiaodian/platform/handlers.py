"""How a service's methods are registered with grpc: every method of its descriptor, with
the message classes the descriptor names.

A method marked `@wire_bytes` is registered without a deserializer and without a serializer:
it takes the request's bytes and returns the response's bytes, both handled in Rust
(`crates/xiaodian-py`), so Python never builds its messages. A method marked
`@encoded_response` takes its (small) request parsed and returns its response encoded in Rust.
Every other method's request is parsed by the serving interceptor (`interceptors.py`, which
takes the deserializer over) and its response serialized by grpc.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message_factory import GetMessageClass

F = TypeVar("F", bound=Callable[..., Any])

_FACTORIES = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def wire_bytes(method: F) -> F:
    """Marks a servicer method that takes and returns encoded messages (bytes)."""
    method.wire_bytes = True  # type: ignore[attr-defined]
    return method


def encoded_response(method: F) -> F:
    """Marks a servicer method that takes a parsed request and returns its response encoded."""
    method.encoded_response = True  # type: ignore[attr-defined]
    return method


def add_service(server: grpc.Server, servicer: object, service: ServiceDescriptor) -> None:
    """Registers every method of `service`, each served by `servicer`'s method of that name."""
    handlers = {}
    for method in service.methods:
        behavior = getattr(servicer, method.name)
        factory = _FACTORIES[(method.client_streaming, method.server_streaming)]
        raw_request = getattr(behavior, "wire_bytes", False)
        raw_response = raw_request or getattr(behavior, "encoded_response", False)
        handlers[method.name] = factory(
            behavior,
            request_deserializer=None if raw_request else GetMessageClass(method.input_type).FromString,
            response_serializer=None if raw_response else GetMessageClass(method.output_type).SerializeToString,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
