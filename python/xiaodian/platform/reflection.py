"""Server reflection that tools understand: `grpc.reflection.v1` (what grpcurl, ghz and
Postman ask for first) beside `grpc.reflection.v1alpha`, and method symbols resolved.

grpcio-reflection serves v1alpha only, and its symbol lookup knows messages, enums and services
but not methods, so `grpcurl describe xiaodian.v1.SearchService.Search` and `ghz --call
xiaodian.v1.SearchService.Search` failed with "Symbol not found". The two versions are the
same protocol (the same messages under another package name), so one servicer answers both:
v1 is registered with v1alpha's message classes, which are wire-identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc
from grpc_reflection.v1alpha import _base, reflection
from grpc_reflection.v1alpha import reflection_pb2 as pb

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
V1ALPHA_SERVICE_NAME = reflection.SERVICE_NAME


class _Servicer(reflection.ReflectionServicer):
    """grpcio-reflection's servicer, with method symbols (`package.Service.Method`) resolved to
    the file of their service."""

    def _file_containing_symbol(self, request: Any, fully_qualified_name: str) -> Any:
        try:
            self._pool.FindFileContainingSymbol(fully_qualified_name)
        except KeyError:
            service_name, _, method_name = fully_qualified_name.rpartition(".")
            try:
                service = self._pool.FindServiceByName(service_name)
            except KeyError:
                return _base._not_found_error(request)
            if method_name not in service.methods_by_name:
                return _base._not_found_error(request)
            return _base._file_descriptor_response(service.file, request)
        return super()._file_containing_symbol(request, fully_qualified_name)


def enable(service_names: Iterable[str], server: grpc.Server) -> None:
    """Serves reflection v1 and v1alpha for `service_names` (both reflection services are
    listed too) on `server`."""
    servicer = _Servicer((*service_names, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME))
    for name in (V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME):
        handler = grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=pb.ServerReflectionRequest.FromString,
            response_serializer=pb.ServerReflectionResponse.SerializeToString,
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": handler}),)
        )
