"""OpenTelemetry tracing (`[tracing] enabled = true`): a span per call, continuing the caller's
trace from its W3C `traceparent` metadata (opentelemetry-instrumentation-grpc), exported over
OTLP/gRPC when `otlp_endpoint` is set. The trace id also goes into the access log line."""

from __future__ import annotations

from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import server_interceptor as otel_server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from xiaodian.platform.config import TracingConfig


def tracer_provider(config: TracingConfig) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": config.service_name}))
    if config.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=config.otlp_endpoint)))
    return provider


def server_interceptor(
    config: TracingConfig, provider: TracerProvider | None = None
) -> grpc.ServerInterceptor[Any, Any]:
    """The interceptor that opens each call's span; it runs before xiaodian's own."""
    return otel_server_interceptor(tracer_provider=provider or tracer_provider(config))  # type: ignore[no-any-return]
