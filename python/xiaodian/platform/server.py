"""Server assembly: the three services, health and reflection on one port, safe by default.

At start: the database is checked (`quick_check`) and migrated; the admin token is created in
the data directory if missing; a server that would listen beyond loopback without TLS refuses
to start unless `allow_insecure_remote` says otherwise; metrics are served on their own port.

Shutdown (SIGTERM, SIGINT or `XiaodianServer.stop`): every health status goes NOT_SERVING at
once while calls are still served for `shutdown_delay_seconds` (load balancers notice and move
away), then new calls are refused, calls in flight get `shutdown_grace_seconds` to finish, and
the database is closed. A second signal skips the delay.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from xiaodian.client import Client
from xiaodian.creators import store as creators_store
from xiaodian.creators.service import CreatorService
from xiaodian.platform import auth, idempotency, reflection
from xiaodian.platform.config import Config
from xiaodian.platform.handlers import add_service
from xiaodian.platform.interceptors import Limits, ServingInterceptor
from xiaodian.platform.metrics import Metrics
from xiaodian.platform.page_tokens import PageTokens
from xiaodian.search import catalog, changelog, profiles, sync
from xiaodian.search.service import SearchService
from xiaodian.settlement import gmv as settlement_gmv
from xiaodian.settlement import ledger
from xiaodian.settlement import reads as settlement_reads
from xiaodian.settlement import schema as settlement_schema
from xiaodian.settlement.orders import ESCROW
from xiaodian.settlement.service import SettlementService, policy_of
from xiaodian.v1 import creator_service_pb2, search_service_pb2, settlement_service_pb2

log = logging.getLogger("xiaodian.server")

#: The services, in the order their servicers are made.
SERVICES = (
    search_service_pb2.DESCRIPTOR.services_by_name["SearchService"],
    creator_service_pb2.DESCRIPTOR.services_by_name["CreatorService"],
    settlement_service_pb2.DESCRIPTOR.services_by_name["SettlementService"],
)
#: Fully qualified names of the services, as health and reflection know them.
SERVICE_NAMES = tuple(service.full_name for service in SERVICES)

#: Every domain's schema, in the order they are applied, per backend (`Database.backend`).
MIGRATIONS = {
    "sqlite": [
        *idempotency.MIGRATIONS,
        *profiles.MIGRATIONS,
        *catalog.MIGRATIONS,
        *changelog.MIGRATIONS,
        *settlement_schema.MIGRATIONS,
        *settlement_gmv.MIGRATIONS,
        *creators_store.MIGRATIONS,
    ],
    "postgresql": [
        *idempotency.POSTGRES_MIGRATIONS,
        *profiles.POSTGRES_MIGRATIONS,
        *catalog.POSTGRES_MIGRATIONS,
        *changelog.POSTGRES_MIGRATIONS,
        *settlement_schema.POSTGRES_MIGRATIONS,
        *settlement_gmv.POSTGRES_MIGRATIONS,
        *creators_store.POSTGRES_MIGRATIONS,
    ],
}


class StartupError(Exception):
    """The server cannot start as configured; the message says why in one line."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise StartupError(f"cannot read the {what} {path}: {error.strerror or error}") from None


@dataclass(frozen=True)
class Setup:
    """What is prepared once per data directory, before any server of it runs (`prepare`):
    plain Python values, no gRPC object and no open database, so forked workers may share them."""

    #: None: authentication is off.
    authenticator: auth.Authenticator | None
    tokens: PageTokens
    #: (key, certificate chain, client CA or None), PEM; None: plaintext.
    tls: tuple[bytes, bytes, bytes | None] | None


def prepare(config: Config) -> Setup:
    """Everything that happens once per start, whatever the number of processes: refuses a
    non-loopback address without TLS, reads the TLS files, checks and migrates the database
    (seeding the default profile), creates the admin token and the page-token key files.
    Raises StartupError (or StorageError) with one line; leaves no database connection open."""
    server_config = config.server
    tls_config = config.tls
    tls = None
    if tls_config.cert_file:
        tls = (
            _read(tls_config.key_file, "TLS key"),
            _read(tls_config.cert_file, "TLS certificate"),
            _read(tls_config.client_ca_file, "client CA bundle") if tls_config.client_ca_file else None,
        )
    if tls is None and not is_loopback(server_config.host):
        if not server_config.allow_insecure_remote:
            raise StartupError(
                f"refusing to serve {server_config.host} without TLS: tokens would cross the network in clear "
                "text. Set [tls] cert_file and key_file, or allow it explicitly with --allow-insecure-remote "
                "(XIAODIAN_SERVER_ALLOW_INSECURE_REMOTE=true)"
            )
        log.warning(
            "serving a non-loopback address without TLS (allow_insecure_remote): tokens and data travel in clear text",
            extra={"host": server_config.host},
        )

    db = config.open_database()
    try:
        db.check()
        db.migrate(MIGRATIONS[db.backend])
        with db.transaction() as conn:
            profiles.ensure_default_profile(conn, config.search.default_profile)
    finally:
        db.close()

    authenticator = None
    if config.auth.enabled:
        try:
            admin_token = auth.ensure_admin_token(config.admin_token_path)
        except OSError as error:
            raise StartupError(
                f"cannot create the admin token {config.admin_token_path}: {error.strerror or error}"
            ) from None
        try:
            authenticator = auth.Authenticator.from_config(
                admin_token, config.auth.tokens, config.auth.client_certificates
            )
        except auth.ConfigProblem as error:
            raise StartupError(str(error)) from None
    else:
        log.warning("authentication is off: every caller may call every method")

    try:
        tokens = PageTokens.from_config(config.page_tokens.key, config.page_tokens.previous_key, server_config.data_dir)
    except (OSError, ValueError) as error:
        raise StartupError(f"cannot load the page-token key: {error}") from None
    return Setup(authenticator, tokens, tls)


def _credentials(setup: Setup) -> grpc.ServerCredentials | None:
    """TLS (and mTLS with a client CA) from the prepared PEM files; None for plaintext."""
    if setup.tls is None:
        return None
    key, chain, client_ca = setup.tls
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


class XiaodianServer:
    """One process serving every xiaodian service. `start()`, then `wait()` or `stop()`.

    Alone (`worker` None) it prepares the data directory itself and serves its own metrics.
    As worker `worker` of `xiaodian serve --workers N` (`platform.workers`) it takes the
    supervisor's `setup`, binds the shared port with SO_REUSEPORT, keeps its engine in step
    with the other workers' writes (`search.sync`), names itself in a `xiaodian-worker`
    trailer of every call, and leaves the metrics endpoint to the supervisor."""

    def __init__(self, config: Config, setup: Setup | None = None, worker: int | None = None) -> None:
        self.config = config
        self.worker = worker
        server_config = config.server
        setup = prepare(config) if setup is None else setup
        credentials = _credentials(setup)
        authenticator = setup.authenticator
        tokens = setup.tokens

        self.db = config.open_database()
        engine, last_seen = sync.load_engine(self.db, config.search.negating_modifiers)
        self.search = SearchService(self.db, engine, config.search, tokens)
        # Alone on SQLite, this process makes every write: its own commits keep the engine
        # current. As a worker, or on PostgreSQL (other servers may write), it follows the log.
        shared = worker is not None or self.db.backend == "postgresql"
        self.sync = sync.EngineSync(self.db, self.search, last_seen) if shared else None
        self.creators = CreatorService(self.db, config.creators, tokens)
        self.settlement = SettlementService(self.db, policy_of(config.settlement), tokens)

        self.metrics: Metrics | None = None
        if config.metrics.enabled and worker is not None:
            # Recorded to the supervisor's multiprocess directory; it serves and aggregates them.
            self.metrics = Metrics()
        elif config.metrics.enabled:
            self.metrics = Metrics(
                {
                    "xiaodian_catalog_products": (
                        "Live products in the search index",
                        lambda: self.search.engine.product_count(),  # the engine may be rebuilt
                    ),
                    "xiaodian_escrow_balance_fen": (
                        "Balance of the escrow account, fen (what unsettled orders will pay out)",
                        lambda: ledger.balance(self.db.connection(), ESCROW),
                    ),
                    "xiaodian_orders_awaiting_settlement": (
                        "Orders recorded and not yet settled or closed",
                        lambda: settlement_reads.orders_awaiting_settlement(self.db.connection()),
                    ),
                }
            )
        self.interceptor = ServingInterceptor(
            authenticator=authenticator,
            metrics=self.metrics,
            limits=Limits(server_config.stream_slots, server_config.stream_idle_timeout_seconds),
            access_log_enabled=server_config.log_format == "json",
            mtls=bool(config.tls.client_ca_file),
            worker=worker,
        )
        interceptors: list[grpc.ServerInterceptor[Any, Any]] = []
        if config.tracing.enabled:
            from xiaodian.platform.tracing import server_interceptor

            interceptors.append(server_interceptor(config.tracing))
        interceptors.append(self.interceptor)

        message_limit = server_config.max_message_bytes
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=server_config.max_workers, thread_name_prefix="rpc"),
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", message_limit),
                ("grpc.max_send_message_length", message_limit),
                # Alone: one server per port, a second process must fail to bind, not share it
                # silently. Workers share the port the supervisor checked was free.
                ("grpc.so_reuseport", 0 if worker is None else 1),
            ],
            maximum_concurrent_rpcs=server_config.maximum_concurrent_rpcs,
        )
        for servicer, descriptor in zip((self.search, self.creators, self.settlement), SERVICES, strict=True):
            add_service(self._server, servicer, descriptor)

        self.health = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        reflection.enable((*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name), self._server)
        address = f"{server_config.host}:{server_config.port}"
        try:
            if credentials is None:
                self.port = self._server.add_insecure_port(address)
            else:
                self.port = self._server.add_secure_port(address, credentials)
        except RuntimeError as error:
            raise StartupError(f"cannot listen on {address}: {error}") from None
        if self.port == 0:
            raise StartupError(f"cannot listen on {address} (in use, or not an address of this machine)")
        self.address = f"{server_config.host}:{self.port}"
        self.tls = credentials is not None
        self._stopped = threading.Event()
        self._stopping = threading.Event()
        self._skip_delay = threading.Event()

    def admin_client(self, timeout: float | None = 30.0) -> Client:
        """A client of this server with its admin token (and its certificate as the trusted
        root under TLS): for the demo loader, tests and benchmarks in the same process."""
        token = self.config.admin_token_path.read_text().strip() if self.config.auth.enabled else None
        roots = Path(self.config.tls.cert_file).read_bytes() if self.tls else None
        return Client(self.address, timeout=timeout, token=token, root_certificates=roots)

    def start(self) -> None:
        if self.metrics is not None and self.worker is None:
            metrics_config = self.config.metrics
            try:
                port = self.metrics.serve(metrics_config.host, metrics_config.port)
            except OSError as error:
                raise StartupError(
                    f"cannot serve metrics on {metrics_config.host}:{metrics_config.port}: {error.strerror or error}"
                ) from None
            log.info("metrics", extra={"url": f"http://{metrics_config.host}:{port}/metrics"})
        self._server.start()
        if self.sync is not None:
            self.sync.start()
        for name in ("", *SERVICE_NAMES):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if self.worker is None:
            log.info("serving", extra={"address": self.address, "tls": self.tls, "database": self.db.description})
        else:
            log.info("worker serving", extra={"worker": self.worker, "pid": os.getpid()})

    def stop(self, grace: float | None = None, delay: float = 0.0) -> None:
        """Graceful stop: NOT_SERVING at once, still serving for `delay` seconds (cut short by
        `skip_delay()`), then new calls are refused and calls in flight finish within `grace`."""
        if self._stopping.is_set():
            self._stopped.wait()
            return
        self._stopping.set()
        grace = self.config.server.shutdown_grace_seconds if grace is None else grace
        self.health.enter_graceful_shutdown()
        if delay > 0:
            log.info("NOT_SERVING; still serving before the stop", extra={"delay_seconds": delay})
            self._skip_delay.wait(delay)
        log.info("shutting down", extra={"grace_seconds": grace})
        self._server.stop(grace).wait()
        if self.sync is not None:
            self.sync.stop()
        self.interceptor.close()
        if self.metrics is not None:
            self.metrics.close()
        self.db.close()
        self._stopped.set()
        log.info("stopped")

    def wait(self) -> None:
        self._stopped.wait()

    def serve_until_signalled(
        self,
        after_start: Callable[[], None] | None = None,
        signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT),
        parent_pid: int | None = None,
    ) -> None:
        """Runs until one of `signals`, then stops gracefully (after `shutdown_delay_seconds`; a
        second signal skips the rest of the delay). Call from the main thread. `after_start` (say,
        loading demo data) runs once the server is serving. With `parent_pid` (a worker), it
        also stops when that process is gone (a supervisor killed without a chance to forward)."""
        stop_requested = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("signal received", extra={"signal": signal.Signals(signum).name})
            if stop_requested.is_set():
                self._skip_delay.set()
            stop_requested.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in signals}
        try:
            self.start()
            if after_start is not None:
                after_start()
            while not stop_requested.wait(1.0):
                if parent_pid is not None and os.getppid() != parent_pid:
                    log.warning("the supervisor is gone; stopping", extra={"worker": self.worker})
                    self._skip_delay.set()
                    break
        finally:
            self.stop(delay=self.config.server.shutdown_delay_seconds)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
