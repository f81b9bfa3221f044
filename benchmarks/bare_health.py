"""The service suite's anchor: a bare grpcio sync server answering `grpc.health.v1.Health/Check`.

`python -m benchmarks.bare_health PORT [MAX_WORKERS]` serves, on 127.0.0.1:PORT, a
`grpc.server(ThreadPoolExecutor(max_workers=MAX_WORKERS))` with grpcio-health-checking's
`HealthServicer` (overall status SERVING) and nothing else: no interceptor, no option, no other
service, no logging, no metrics. MAX_WORKERS defaults to xiaodian's default `[server]
max_workers` (`xiaodian.platform.config.ServerConfig`), so the thread pool matches the server it
anchors. It prints nothing and exits on SIGTERM (or SIGINT).
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor


def default_max_workers() -> int:
    """xiaodian's default `[server] max_workers`."""
    from xiaodian.platform.config import ServerConfig

    return ServerConfig().max_workers


def main(argv: list[str]) -> int:
    port = int(argv[0])
    max_workers = int(argv[1]) if len(argv) > 1 else default_max_workers()

    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = grpc.server(ThreadPoolExecutor(max_workers=max_workers))
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    if server.add_insecure_port(f"127.0.0.1:{port}") != port:
        return 1
    server.start()
    stop.wait()
    server.stop(0).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
