"""Prometheus metrics on their own HTTP port (`[metrics]`), with prometheus-client.

Per method: calls by status code, a latency histogram; in flight: calls and streams. Business
gauges are read when Prometheus scrapes (never on a call's path): catalog size, escrow balance
and orders awaiting settlement, from callables the server assembly passes in, so this module
knows nothing of the domains.

Each server has its own registry (several servers in one process, as in tests, do not clash).

Under `xiaodian serve --workers N` (prometheus-client's multiprocess mode, the supervisor
having set `PROMETHEUS_MULTIPROC_DIR` before forking), each worker's `Metrics` records into
files of that directory and serves nothing; the supervisor's `WorkerMetrics` serves their sum
(counters and histograms summed, in-flight gauges summed over live workers) and computes the
scrape-time gauges once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("xiaodian.metrics")

#: Latency buckets, seconds: from a health check (~0.3 ms) to a large batch write.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _HttpServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Scrapes are not logged (one line per scrape on stderr otherwise)."""


class _Gauges(Collector):
    """Gauges computed at scrape time; a failing reader is logged and its gauge left out."""

    def __init__(self, readers: Mapping[str, tuple[str, Callable[[], float]]]) -> None:
        self._readers = readers

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (documentation, read) in self._readers.items():
            try:
                value = read()
            except Exception:  # noqa: BLE001 - a scrape must not fail because one figure did
                log.exception("metric reader failed", extra={"metric": name})
                continue
            yield GaugeMetricFamily(name, documentation, value=value)


class _Endpoint:
    """A registry served over HTTP at /metrics."""

    registry: CollectorRegistry
    _server: Any = None
    port = 0

    def serve(self, host: str, port: int) -> int:
        """Starts the HTTP endpoint (/metrics) on a thread of its own; returns its port. (Not
        prometheus-client's `start_http_server`: its loop polls every 0.5 s, so every stop of a
        server waited that long.)"""
        self._server = make_server(
            host, port, make_wsgi_app(self.registry), server_class=_HttpServer, handler_class=_QuietHandler
        )
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="metrics-http", daemon=True
        ).start()
        self.port = int(self._server.server_port)
        return self.port

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close_inherited(self) -> None:
        """In a forked child: closes this process's copy of the listening socket, without
        touching the parent's endpoint (its serving thread does not exist in the child)."""
        if self._server is not None:
            self._server.socket.close()
            self._server = None


class WorkerMetrics(_Endpoint):
    """The supervisor's endpoint: every worker's metrics from the multiprocess `directory`,
    summed, plus the `readers` gauges computed here at scrape time."""

    def __init__(self, directory: str, readers: Mapping[str, tuple[str, Callable[[], float]]]) -> None:
        self.directory = directory
        self.registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(self.registry, path=directory)
        self.registry.register(_Gauges(readers))

    def process_dead(self, pid: int) -> None:
        """Drops a dead worker's live gauges (its counters stay in the sums)."""
        multiprocess.mark_process_dead(pid, self.directory)


class Metrics(_Endpoint):
    """The server's metrics. `recorder(method)` gives the per-method recorder the interceptor keeps."""

    def __init__(self, readers: Mapping[str, tuple[str, Callable[[], float]]] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._calls = Counter(
            "xiaodian_rpc_calls",
            "Calls finished, by method and status code",
            ["method", "code"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "xiaodian_rpc_duration_seconds",
            "Server time per call, by method",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # livesum: with workers, the sum over the live ones (ignored in a single process).
        self.in_flight = Gauge(
            "xiaodian_rpc_in_flight", "Calls being served", registry=self.registry, multiprocess_mode="livesum"
        )
        self.streams = Gauge(
            "xiaodian_rpc_streams_open", "Streaming calls open", registry=self.registry, multiprocess_mode="livesum"
        )
        self.rejected = Counter(
            "xiaodian_rpc_rejected",
            "Calls refused before running, by reason (concurrency, stream cap, idle stream)",
            ["reason"],
            registry=self.registry,
        )
        if readers:
            self.registry.register(_Gauges(readers))

    def recorder(self, method: str) -> MethodMetrics:
        return MethodMetrics(self, method)


class MethodMetrics:
    """One method's counters, with the labelled children looked up once (a call pays a dict get
    and two increments)."""

    def __init__(self, metrics: Metrics, method: str) -> None:
        self._metrics = metrics
        self._method = method
        self._by_code: dict[grpc.StatusCode, Any] = {}
        self._latency = metrics._latency.labels(method)

    def done(self, code: grpc.StatusCode, seconds: float) -> None:
        counter = self._by_code.get(code)
        if counter is None:
            counter = self._by_code[code] = self._metrics._calls.labels(self._method, code.name)
        counter.inc()
        self._latency.observe(seconds)
