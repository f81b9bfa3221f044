"""Server assembly: the three services, health and reflection on one port, graceful shutdown.

Shutdown (SIGTERM, SIGINT or `XiaodianServer.stop`): every health status goes NOT_SERVING at
once so load balancers stop sending, new calls are refused, calls in flight get
`shutdown_grace_seconds` to finish, then the database is closed.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from xiaodian.creators import store as creators_store
from xiaodian.creators.service import CreatorService
from xiaodian.platform import idempotency
from xiaodian.platform.config import Config
from xiaodian.platform.db import Database
from xiaodian.platform.interceptors import ErrorInterceptor
from xiaodian.search import catalog, profiles
from xiaodian.search.service import SearchService, new_engine
from xiaodian.settlement import gmv as settlement_gmv
from xiaodian.settlement import store as settlement_store
from xiaodian.settlement.service import SettlementService, policy_of
from xiaodian.v1 import creator_service_pb2, search_service_pb2, settlement_service_pb2
from xiaodian.v1 import creator_service_pb2_grpc as creator_grpc
from xiaodian.v1 import search_service_pb2_grpc as search_grpc
from xiaodian.v1 import settlement_service_pb2_grpc as settlement_grpc

log = logging.getLogger("xiaodian.server")

#: Fully qualified names of the services, as health and reflection know them.
SERVICE_NAMES = (
    search_service_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name,
    creator_service_pb2.DESCRIPTOR.services_by_name["CreatorService"].full_name,
    settlement_service_pb2.DESCRIPTOR.services_by_name["SettlementService"].full_name,
)

#: Every domain's schema, in the order they are applied.
MIGRATIONS = [
    *idempotency.MIGRATIONS,
    *profiles.MIGRATIONS,
    *catalog.MIGRATIONS,
    *settlement_store.MIGRATIONS,
    *settlement_gmv.MIGRATIONS,
    *creators_store.MIGRATIONS,
]


class XiaodianServer:
    """One process serving every xiaodian service. `start()`, then `wait()` or `stop()`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.db = Database(config.database_path)
        self.db.migrate(MIGRATIONS)
        with self.db.transaction() as conn:
            profiles.ensure_default_profile(conn, config.search.default_profile)

        server_config = config.server
        message_limit = server_config.max_message_bytes
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=server_config.max_workers, thread_name_prefix="rpc"),
            interceptors=[ErrorInterceptor()],
            options=[
                ("grpc.max_receive_message_length", message_limit),
                ("grpc.max_send_message_length", message_limit),
                # One server per port: a second process must fail to bind, not share it silently.
                ("grpc.so_reuseport", 0),
            ],
        )
        self.search = SearchService(self.db, new_engine(self.db), config.search)
        search_grpc.add_SearchServiceServicer_to_server(self.search, self._server)
        self.creators = CreatorService(self.db, config.creators)
        creator_grpc.add_CreatorServiceServicer_to_server(self.creators, self._server)
        self.settlement = SettlementService(self.db, policy_of(config.settlement))
        settlement_grpc.add_SettlementServiceServicer_to_server(self.settlement, self._server)

        self.health = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            self._server,
        )
        address = f"{server_config.host}:{server_config.port}"
        self.port = self._server.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"cannot listen on {address}")
        self.address = f"{server_config.host}:{self.port}"
        self._stopped = threading.Event()

    def start(self) -> None:
        self._server.start()
        for name in ("", *SERVICE_NAMES):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"address": self.address, "database": str(self.db.path)})

    def stop(self, grace: float | None = None) -> None:
        """Graceful stop: NOT_SERVING, refuse new calls, let calls in flight finish within the grace."""
        if self._stopped.is_set():
            return
        grace = self.config.server.shutdown_grace_seconds if grace is None else grace
        log.info("shutting down", extra={"grace_seconds": grace})
        self.health.enter_graceful_shutdown()
        self._server.stop(grace).wait()
        self.db.close()
        self._stopped.set()
        log.info("stopped")

    def wait(self) -> None:
        self._stopped.wait()

    def serve_until_signalled(self, after_start: Callable[[], None] | None = None) -> None:
        """Runs until SIGTERM or SIGINT, then stops gracefully. Call from the main thread.
        `after_start` (say, loading demo data) runs once the server is serving."""
        stop_requested = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("signal received", extra={"signal": signal.Signals(signum).name})
            stop_requested.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            if after_start is not None:
                after_start()
            stop_requested.wait()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
