"""`xiaodian serve --workers N`: one supervisor process and N forked workers on one port.

The supervisor does what must happen once (`server.prepare`: database check and migrations,
admin token and page-token key files), checks that the port is free by binding a plain socket
without SO_REUSEPORT (else SO_REUSEPORT would silently share the port with a stranger; port 0
picks a free one here), and then forks the workers. It never creates a gRPC server or channel:
gRPC's threads and sockets do not survive a fork, so everything gRPC lives in the workers.

Each worker builds its own search engine from the database and its own gRPC server, bound to
the shared address with SO_REUSEPORT (the kernel spreads connections over the workers); the
workers' writes reach each other's engines through the change log (`search.sync`). Worker 0
loads the demo data (`--demo`) once it serves, on its first start only.

Metrics: the supervisor points `PROMETHEUS_MULTIPROC_DIR` at a fresh directory before forking;
workers record into it and the supervisor alone serves `[metrics]`, summing every worker and
computing the database gauges once (`metrics.WorkerMetrics`).

Answers kept in memory (the creators' leaderboards and scores) are checked against the
database epoch that every worker shares (`platform.epoch`), so a rescoring through one worker is
seen at once through all.

Signals: SIGTERM or SIGINT to the supervisor is forwarded to every worker as SIGTERM (workers
ignore SIGINT, so a Ctrl-C that reaches the whole process group counts once); each worker
stops as a single server does (NOT_SERVING, `shutdown_delay_seconds`, then drains within
`shutdown_grace_seconds`; a second signal skips the delay). The supervisor waits for all and
exits 0. A worker that dies otherwise is logged and restarted after a back-off that doubles
with each recent crash; past `MAX_RECENT_CRASHES` within `CRASH_WINDOW_SECONDS` the supervisor
stops the rest and exits 1. A worker that fails at the first start stops the whole start
(StartupError, one line).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from xiaodian.platform.config import Config
from xiaodian.platform.db import Connection

log = logging.getLogger("xiaodian.workers")

#: Crashes (unexpected worker exits) within the window beyond which the supervisor gives up.
MAX_RECENT_CRASHES = 5
CRASH_WINDOW_SECONDS = 60.0
#: Back-off before restarting a crashed worker: this, doubled for each other recent crash.
FIRST_BACKOFF_SECONDS = 0.5

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def check_port_free(host: str, port: int) -> int:
    """Binds plain sockets (SO_REUSEADDR, never SO_REUSEPORT) to every address of `host` at
    `port`, then closes them: OSError if anything listens there already. Returns the port
    (a free one chosen by the kernel when `port` is 0)."""
    chosen = port
    seen = set()
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    ):
        if (family, sockaddr[0]) in seen:
            continue
        seen.add((family, sockaddr[0]))
        with socket.socket(family, kind, proto) as probe:
            # Lets a restart bind despite connections of the last run in TIME_WAIT; a socket
            # that is listening still makes bind fail on Linux.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            probe.bind((sockaddr[0], chosen, *sockaddr[2:]))
            chosen = probe.getsockname()[1]
    return int(chosen)


def _use_multiprocess_metrics() -> str:
    """A fresh directory for the workers' metric files, set before any metric exists.
    prometheus-client picks its value class when imported, so it is picked again here."""
    directory = tempfile.mkdtemp(prefix="xiaodian-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from prometheus_client import values

    values.ValueClass = values.get_value_class()
    return directory


def _exit_description(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


class Supervisor:
    """Runs `count` workers until signalled; see the module. `run()` returns the exit code."""

    def __init__(self, config: Config, count: int, demo: bool = False) -> None:
        self.config = config
        self.count = count
        self.demo = demo
        self._workers: dict[int, int] = {}  # pid -> worker index
        self._stopping = False
        self._gave_up = False
        self._crashes: collections.deque[float] = collections.deque()
        self._fork_lock = threading.Lock()  # no fork while a metrics scrape holds a connection
        self._metrics: Any = None
        self._pid = os.getpid()

    # -- the supervisor --------------------------------------------------------------------

    def run(self) -> int:
        from xiaodian.platform.server import StartupError, prepare

        server_config = self.config.server
        directory = _use_multiprocess_metrics() if self.config.metrics.enabled else None
        try:
            self._setup = prepare(self.config)
            try:
                server_config.port = check_port_free(server_config.host, server_config.port)
            except OSError as error:
                raise StartupError(
                    f"cannot listen on {server_config.host}:{server_config.port}: {error.strerror or error}"
                ) from None
            if directory is not None:
                self._serve_metrics(directory)
            previous = {sig: signal.signal(sig, self._on_signal) for sig in _STOP_SIGNALS}
            try:
                return self._supervise()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        finally:
            if self._metrics is not None:
                self._metrics.close()
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)

    def _supervise(self) -> int:
        from xiaodian.platform.server import StartupError

        for index in range(self.count):
            pid, problem = self._spawn(index, demo=self.demo and index == 0)
            if problem is not None:
                stopping = self._stopping
                self._stop_all()
                self._reap_all()
                if stopping:  # signalled while starting: a stop like any other
                    return 0
                raise StartupError(f"worker {index} failed to start: {problem}")
        server_config = self.config.server
        log.info(
            "serving",
            extra={
                "address": f"{server_config.host}:{server_config.port}",
                "workers": self.count,
                "tls": self._setup.tls is not None,
                "database": self.config.open_database().description,
            },
        )
        while self._workers:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            if pid not in self._workers:
                continue
            index = self._workers.pop(pid)
            if self._metrics is not None:
                self._metrics.process_dead(pid)
            if self._stopping:
                log.info("worker stopped", extra={"worker": index, "pid": pid, "exit": _exit_description(status)})
                continue
            self._restart(index, pid, status)
        return 1 if self._gave_up else 0

    def _restart(self, index: int, pid: int, status: int) -> None:
        # It may have died between a commit and advancing the epoch: the others' kept answers
        # could be stale (`platform.epoch`).
        db = self.config.open_database()
        try:
            db.epoch.advance()
        except Exception:  # noqa: BLE001 - the database is away: its next reader sees a new epoch anyway
            log.exception("cannot advance the database epoch")
        finally:
            db.close()
        now = time.monotonic()
        self._crashes.append(now)
        while self._crashes and self._crashes[0] < now - CRASH_WINDOW_SECONDS:
            self._crashes.popleft()
        recent = len(self._crashes)
        log.error(
            "worker died unexpectedly",
            extra={"worker": index, "pid": pid, "exit": _exit_description(status), "recent_crashes": recent},
        )
        if recent > MAX_RECENT_CRASHES:
            log.error(
                "workers keep crashing; stopping",
                extra={"crashes": recent, "window_seconds": CRASH_WINDOW_SECONDS},
            )
            self._gave_up = True
            self._stop_all()
            return
        deadline = now + FIRST_BACKOFF_SECONDS * 2 ** (recent - 1)
        while not self._stopping and time.monotonic() < deadline:  # a stop cuts the back-off short
            time.sleep(0.05)
        if self._stopping:
            return
        new_pid, problem = self._spawn(index, demo=False)
        if problem is None:
            log.info("worker restarted", extra={"worker": index, "pid": new_pid})
        else:  # it has exited or is exiting: reaped by the loop, counted as a crash
            log.error("worker failed to restart", extra={"worker": index, "problem": problem})

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("signal received; stopping the workers", extra={"signal": signal.Signals(signum).name})
        self._stop_all()

    def _stop_all(self) -> None:
        """SIGTERM to every worker (a second call: the workers skip their shutdown delay)."""
        self._stopping = True
        for pid in list(self._workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def _reap_all(self) -> None:
        while self._workers:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                return
            self._workers.pop(pid, None)

    def _serve_metrics(self, directory: str) -> None:
        from xiaodian.platform.metrics import WorkerMetrics
        from xiaodian.platform.server import StartupError
        from xiaodian.search import catalog
        from xiaodian.settlement import ledger
        from xiaodian.settlement import reads as settlement_reads
        from xiaodian.settlement.orders import ESCROW

        def reading(read: Callable[[Connection], float]) -> Callable[[], float]:
            def reader() -> float:
                # A connection of its own per scrape, closed before any fork can copy it.
                with self._fork_lock:
                    db = self.config.open_database()
                    try:
                        return read(db.connection())
                    finally:
                        db.close()

            return reader

        self._metrics = WorkerMetrics(
            directory,
            {
                "xiaodian_catalog_products": ("Live products in the search index", reading(catalog.product_count)),
                "xiaodian_escrow_balance_fen": (
                    "Balance of the escrow account, fen (what unsettled orders will pay out)",
                    reading(lambda conn: ledger.balance(conn, ESCROW)),
                ),
                "xiaodian_orders_awaiting_settlement": (
                    "Orders recorded and not yet settled or closed",
                    reading(settlement_reads.orders_awaiting_settlement),
                ),
            },
        )
        metrics_config = self.config.metrics
        try:
            port = self._metrics.serve(metrics_config.host, metrics_config.port)
        except OSError as error:
            raise StartupError(
                f"cannot serve metrics on {metrics_config.host}:{metrics_config.port}: {error.strerror or error}"
            ) from None
        log.info("metrics", extra={"url": f"http://{metrics_config.host}:{port}/metrics"})

    def _spawn(self, index: int, demo: bool) -> tuple[int, str | None]:
        """Forks worker `index` and waits until it serves: (pid, None), or (pid, why it did
        not start). Signals are blocked around the fork, so the child never runs the
        supervisor's handlers and a forwarded signal never misses a new worker."""
        read_end, write_end = os.pipe()
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            with self._fork_lock:
                pid = os.fork()
            if pid == 0:
                os.close(read_end)
                self._become_worker(index, write_end, demo)  # never returns
            self._workers[pid] = index
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        os.close(write_end)
        report = b""
        with os.fdopen(read_end, "rb") as pipe:
            while not report.endswith(b"\n"):
                select.select([pipe], [], [])
                chunk = os.read(pipe.fileno(), 4096)
                if not chunk:
                    break
                report += chunk
        text = report.decode(errors="replace").strip()
        if text == "ready":
            return pid, None
        if self._stopping:
            return pid, "stopped while starting"
        return pid, text.removeprefix("error ") or "it exited before serving (see its log)"

    # -- a worker (in the forked child) ----------------------------------------------------

    def _become_worker(self, index: int, ready: int, demo: bool) -> None:
        """The child's whole life; ends the process with the worker's exit code."""
        code = 1
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # until the server installs its own
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor forwards it as SIGTERM
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
            if self._metrics is not None:
                self._metrics.close_inherited()
            code = self._work(index, ready, demo)
        except BaseException:  # noqa: BLE001 - nothing may unwind into the supervisor's code
            log.exception("worker failed", extra={"worker": index})
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _work(self, index: int, ready: int, demo: bool) -> int:
        from xiaodian.platform.db import StorageError
        from xiaodian.platform.server import StartupError, XiaodianServer

        def report(line: str) -> None:
            os.write(ready, (line.replace("\n", " ") + "\n").encode())
            os.close(ready)

        try:
            server = XiaodianServer(self.config, self._setup, worker=index)
        except (StartupError, StorageError) as error:
            report(f"error {error}")
            return 1

        def after_start() -> None:
            report("ready")
            if demo:
                from xiaodian.demo.load import load_demo

                with server.admin_client(timeout=120) as client:
                    load_demo(client)

        server.serve_until_signalled(after_start=after_start, signals=(signal.SIGTERM,), parent_pid=self._pid)
        return 0


def serve_workers(config: Config, count: int, demo: bool = False) -> int:
    """Runs the supervisor and `count` workers until signalled; returns the exit code. Raises
    `server.StartupError` or `db.StorageError` when it cannot start."""
    return Supervisor(config, count, demo).run()
