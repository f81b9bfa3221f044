"""Configuration: built-in defaults < TOML file < environment < command-line flags.

The file is named by `--config FILE` or `XIAODIAN_CONFIG`; without one the defaults apply.
Every scalar setting `key` of section `[section]` can be overridden by the environment variable
`XIAODIAN_<SECTION>_<KEY>` (upper case), e.g. `XIAODIAN_SERVER_PORT=50052`. Unknown sections or
keys are an error, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xiaodian import _core
from xiaodian.client import ADMIN_TOKEN_FILE
from xiaodian.platform.db import Database, open_database

#: The largest `max_order_fen` a deployment may set: 2^53 fen (about ¥90 trillion). Every amount
#: split from such an order fits in int64 (the kernel multiplies by ratios in 128 bits); sums
#: over many orders (balances, pending payouts, allowances) are checked where they are kept.
MAX_ORDER_FEN_LIMIT = 2**53


class ConfigError(Exception):
    """The configuration file or environment holds an unknown key or a value of the wrong type."""


@dataclass
class ServerConfig:
    #: Interface to bind; the default serves this machine only.
    host: str = "127.0.0.1"
    port: int = 50051
    #: Folder of the SQLite database (`xiaodian.db`), the admin token and the page-token key;
    #: created if missing.
    data_dir: str = "./xiaodian-data"
    #: The database: empty for the SQLite file in `data_dir` (one machine), or
    #: `postgresql://user:password@host:port/dbname` for a PostgreSQL database that any number
    #: of servers share (`platform.db`).
    database_url: str = ""
    #: Threads serving calls; the Rust engines release the GIL, so threads do run in parallel.
    max_workers: int = 16
    #: Largest request or response message, bytes.
    max_message_bytes: int = 64 * 1024 * 1024
    #: On SIGTERM/SIGINT: health goes NOT_SERVING at once, calls in flight get this long to finish.
    shutdown_grace_seconds: float = 10.0
    #: DEBUG, INFO, WARNING, ERROR.
    log_level: str = "INFO"
    #: "json" (one object per line, for machines) or "text" (for people). In JSON mode every
    #: call also writes one access line (method, code, duration, caller, request id).
    log_format: str = "text"
    #: On SIGTERM/SIGINT health reports NOT_SERVING for this long while calls are still served
    #: (so load balancers notice and move traffic away), then new calls are refused and the
    #: calls in flight drain within `shutdown_grace_seconds`.
    shutdown_delay_seconds: float = 5.0
    #: Calls admitted at once (running or queued for a worker); beyond it a call is answered
    #: RESOURCE_EXHAUSTED at once instead of queueing without bound.
    maximum_concurrent_rpcs: int = 256
    #: Streaming calls open at once; beyond it RESOURCE_EXHAUSTED. Below `max_workers`, so unary
    #: calls and Health always find a worker; 0 means half of `max_workers`.
    max_concurrent_streams: int = 0
    #: A stream that neither sends a message nor takes a response for this long is cancelled.
    stream_idle_timeout_seconds: float = 30.0
    #: Serve a non-loopback `host` without TLS (tokens would cross the network in clear text).
    #: Off: such a server refuses to start.
    allow_insecure_remote: bool = False
    #: Processes serving the port (`xiaodian serve --workers N`): a supervisor forks this many
    #: workers sharing it with SO_REUSEPORT, each with its own search index in memory. 0: one
    #: per core (`os.cpu_count()`); 1: a single process and no supervisor. `XiaodianServer`
    #: in a process of your own is always one process.
    workers: int = 0

    @property
    def worker_count(self) -> int:
        """`workers`, with 0 read as the number of cores."""
        return self.workers or os.cpu_count() or 1

    @property
    def stream_slots(self) -> int:
        """`max_concurrent_streams`, with 0 read as half of `max_workers`."""
        return self.max_concurrent_streams or max(1, self.max_workers // 2)


@dataclass
class SearchConfig:
    #: Initial values of the built-in `default` ranking profile, applied when the database has
    #: none yet (for example `brand_multiplier = 2.0`, `new_merchant_window_days = 90`). Later
    #: changes go through UpdateRankingProfile, which versions them.
    default_profile: dict[str, Any] = field(default_factory=dict)
    #: A hero image whose analysis would hold more than this many bytes at once (its decoded
    #: pixels, width × height × channels × bytes per channel, plus the decoder's own
    #: image-sized buffers, or the resize pass) is refused before decoding (INVALID_ARGUMENT,
    #: reason `memory`).
    image_max_decoded_bytes: int = 160 * 1024 * 1024
    #: Hero images decoded at once in the whole server; more wait for a slot (within their
    #: deadline), so parallel worst-case uploads stay within a known peak memory.
    image_max_concurrent_analyses: int = 2
    #: Deepest result a search pages to: page tokens are issued only while
    #: (page + 1) × page_size stays within it (a page costs work in proportion to its depth).
    max_result_window: int = 10_000
    #: Negating modifiers (SPEC §3): a title word right after one (仿羊绒, 人造羊毛) does not
    #: match the plain word (羊绒) unless the query has a modifier too. 1-4 Chinese characters
    #: each, at most 20; changing them takes a restart (the index is built with them).
    negating_modifiers: list[str] = field(default_factory=lambda: ["仿", "类", "非", "假", "人造"])


@dataclass
class SettlementConfig:
    #: Platform technical service fee (技术服务费) of a category without its own rate, ppm.
    default_fee_rate_ppm: int = 50_000
    #: Fee rate per category id, ppm (a table: `[settlement.fee_rate_ppm_by_category]`).
    fee_rate_ppm_by_category: dict[str, Any] = field(default_factory=dict)
    #: New-merchant policy: a shop's first `new_merchant_cap_fen` of fee base at this rate.
    new_merchant_cap_fen: int = 100_000_000
    new_merchant_rate_ppm: int = 10_000
    #: Only shops opened (per the search catalog) within this many days before an order was
    #: paid get the allowance; 0 means no window.
    new_merchant_window_days: int = 0
    #: An order settles this many days after receipt is confirmed.
    settle_after_days: int = 7
    #: Largest gross amount (unit price × quantity) of one order line, fen (¥10 billion).
    max_line_fen: int = 1_000_000_000_000
    #: Largest gross amount of one order (all its lines), fen (¥100 billion). With these bounds
    #: no split, refund or total of an order can leave int64; balances are checked as they move.
    max_order_fen: int = 10_000_000_000_000


@dataclass
class CreatorsConfig:
    #: Weights of the settled-GMV, sales-score and effective-followers percentiles, ppm; each
    #: >= 0, together 1,000,000 (the 2025 rule: 40/30/30 %). A ScoreCreators call may name others.
    gmv_weight_ppm: int = 400_000
    sales_weight_ppm: int = 300_000
    followers_weight_ppm: int = 300_000
    #: Fewer 90-day orders than this give the neutral sales score 60.
    sales_score_min_orders: int = 20


@dataclass
class AuthConfig:
    #: Require a bearer token (or a mapped client certificate) for every method but health and
    #: reflection. Off only for local experiments: every caller may then do everything.
    enabled: bool = True
    #: The admin token (every scope) that local tools read; created with mode 0600 at first
    #: start when missing. Default: `admin.token` in the data directory.
    admin_token_file: str = ""
    #: Callers by name, each `{ sha256 = "<hex of the token's SHA-256>", scopes = [...] }`
    #: (`xiaodian token new` prints one). Only the hash is ever stored.
    tokens: dict[str, Any] = field(default_factory=dict)
    #: With mTLS: client certificates by subject common name, each `{ scopes = [...] }`.
    client_certificates: dict[str, Any] = field(default_factory=dict)


@dataclass
class TlsConfig:
    #: PEM server certificate chain and private key; both set turns TLS on.
    cert_file: str = ""
    key_file: str = ""
    #: PEM CA bundle: when set, clients must present a certificate it signed (mTLS).
    client_ca_file: str = ""


@dataclass
class PageTokensConfig:
    #: HMAC-SHA256 key of page tokens, hex (at least 32 bytes). Empty: a random key kept in
    #: `page-token.key` in the data directory (created with mode 0600).
    key: str = ""
    #: The key before the last rotation, hex: tokens it signed are still accepted.
    previous_key: str = ""


@dataclass
class MetricsConfig:
    #: Prometheus metrics over HTTP at http://host:port/metrics.
    enabled: bool = True
    host: str = "127.0.0.1"
    #: 0 picks a free port (logged at start).
    port: int = 9464


@dataclass
class TracingConfig:
    #: OpenTelemetry spans for every call, continuing the caller's trace (W3C traceparent).
    enabled: bool = False
    service_name: str = "xiaodian"
    #: OTLP/gRPC collector, e.g. "http://127.0.0.1:4317"; empty: spans are made (trace ids
    #: reach the access log) but not exported.
    otlp_endpoint: str = ""


@dataclass
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    page_tokens: PageTokensConfig = field(default_factory=PageTokensConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    tracing: TracingConfig = field(default_factory=TracingConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    settlement: SettlementConfig = field(default_factory=SettlementConfig)
    creators: CreatorsConfig = field(default_factory=CreatorsConfig)

    @classmethod
    def ephemeral(cls, data_dir: str | Path) -> Config:
        """The defaults, but on free ports of 127.0.0.1 (gRPC and metrics), with the data in
        `data_dir` (or the database `XIAODIAN_SERVER_DATABASE_URL` names, so the test suite
        and the benchmarks run on either backend) and no shutdown delay: for tests and
        benchmarks in one process."""
        config = cls()
        config.server.port = 0
        config.server.data_dir = str(data_dir)
        config.server.database_url = os.environ.get("XIAODIAN_SERVER_DATABASE_URL", "")
        config.server.shutdown_delay_seconds = 0.0
        config.server.shutdown_grace_seconds = 2.0
        config.metrics.port = 0
        return config

    def open_database(self) -> Database:
        """The configured database (not yet connected)."""
        return open_database(self.server.database_url, self.server.data_dir)

    @property
    def admin_token_path(self) -> Path:
        return Path(self.auth.admin_token_file or Path(self.server.data_dir) / ADMIN_TOKEN_FILE)


#: `XIAODIAN_*` variables that are not settings: the config file, and what clients read.
CLIENT_VARIABLES = frozenset({"XIAODIAN_CONFIG", "XIAODIAN_TOKEN", "XIAODIAN_ADDR"})


def _coerce(value: Any, kind: type, where: str) -> Any:
    """`value` (from TOML or an environment string) as `kind`, or ConfigError."""
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(text)
                return text.lower() in ("true", "1", "yes")
            return kind(text)
        except ValueError:
            raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def _apply(section_obj: Any, section: str, values: Mapping[str, Any], source: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(section_obj)}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{source}: unknown key [{section}] {key}; known: {', '.join(sorted(fields))}")
        kind = fields[key].type
        if kind == "dict[str, Any]":
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{section}] {key} must be a table")
            setattr(section_obj, key, {**getattr(section_obj, key), **value})
        elif kind == "list[str]":
            if isinstance(value, str):  # an environment variable: comma-separated
                value = [item.strip() for item in value.split(",") if item.strip()]
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ConfigError(f"{source}: [{section}] {key} must be a list of strings")
            setattr(section_obj, key, value)
        else:
            pytype = {"str": str, "int": int, "float": float, "bool": bool}[str(kind)]
            setattr(section_obj, key, _coerce(value, pytype, f"{source}: [{section}] {key}"))


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Defaults, then the TOML file (if any), then `XIAODIAN_<SECTION>_<KEY>` variables."""
    environ = os.environ if environ is None else environ
    config = Config()
    sections = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    path = path or environ.get("XIAODIAN_CONFIG") or None
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"cannot read config file {path}: {error}") from error
        for name, values in data.items():
            if name not in sections or not isinstance(values, dict):
                raise ConfigError(f"{path}: unknown section [{name}]; known: {', '.join(sorted(sections))}")
            _apply(sections[name], name, values, str(path))
    known = set(CLIENT_VARIABLES)
    for name, section_obj in sections.items():
        overrides = {}
        for f in dataclasses.fields(section_obj):
            if f.type == "dict[str, Any]":
                continue
            variable = f"XIAODIAN_{name}_{f.name}".upper()
            known.add(variable)
            if variable in environ:
                overrides[f.name] = environ[variable]
        _apply(section_obj, name, overrides, "environment")
    unknown = sorted(v for v in environ if v.startswith("XIAODIAN_") and v not in known)
    if unknown:
        raise ConfigError(
            f"unknown environment variable {unknown[0]} (settings are XIAODIAN_<SECTION>_<KEY>, "
            f"e.g. XIAODIAN_SERVER_PORT; see python/xiaodian/platform/config.py)"
        )
    check_config(config)
    return config


#: The most workers a server runs (each holds the whole search index in memory).
MAX_WORKERS = 256


def check_config(config: Config) -> None:
    """ConfigError naming the first setting out of its range (run again after flags apply)."""
    server = config.server
    if not 0 <= server.port <= 65535:
        raise ConfigError(f"[server] port must be within 0-65535, got {server.port}")
    if not 0 <= server.workers <= MAX_WORKERS:
        raise ConfigError(f"[server] workers must be within 0-{MAX_WORKERS} (0: one per core), got {server.workers}")
    if server.max_workers < 2:
        raise ConfigError(
            f"[server] max_workers must be >= 2 (streams and unary calls each need one), got {server.max_workers}"
        )
    if server.log_format not in ("json", "text"):
        raise ConfigError(f"[server] log_format must be 'json' or 'text', got {server.log_format!r}")
    if server.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"[server] log_level must be DEBUG, INFO, WARNING or ERROR, got {server.log_level!r}")
    for key in ("shutdown_grace_seconds", "shutdown_delay_seconds"):
        if not 0 <= getattr(server, key) <= 3600:
            raise ConfigError(f"[server] {key} must be within 0-3600 seconds")
    if not 1 <= server.stream_slots < server.max_workers:
        raise ConfigError(
            "[server] max_concurrent_streams must be 0 (half of max_workers) or within 1 and max_workers - 1 "
            "(unary calls need a worker too)"
        )
    if server.maximum_concurrent_rpcs < server.max_workers:
        raise ConfigError("[server] maximum_concurrent_rpcs must be >= max_workers")
    if not 0 < server.stream_idle_timeout_seconds <= 86_400:
        raise ConfigError("[server] stream_idle_timeout_seconds must be within (0, 86400]")
    if not 0 < server.max_message_bytes <= 2**31 - 1:
        raise ConfigError("[server] max_message_bytes must be within 1-2,147,483,647")
    if not 0 <= config.metrics.port <= 65535:
        raise ConfigError(f"[metrics] port must be within 0-65535, got {config.metrics.port}")
    tls = config.tls
    if bool(tls.cert_file) != bool(tls.key_file):
        raise ConfigError("[tls] cert_file and key_file must be set together")
    if tls.client_ca_file and not tls.cert_file:
        raise ConfigError("[tls] client_ca_file (mTLS) needs cert_file and key_file")
    for key in ("key", "previous_key"):
        value = getattr(config.page_tokens, key)
        try:
            ok = not value or len(bytes.fromhex(value)) >= 32
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError(f"[page_tokens] {key} must be empty or at least 32 bytes as hex (64 hex digits)")
    search = config.search
    if search.image_max_decoded_bytes < 1 or search.image_max_concurrent_analyses < 1:
        raise ConfigError("[search] image_max_decoded_bytes and image_max_concurrent_analyses must be >= 1")
    if search.max_result_window < 100:
        raise ConfigError("[search] max_result_window must be >= 100 (the largest page)")
    try:
        _core.check_negating_modifiers(search.negating_modifiers)
    except ValueError as error:  # InvalidArgument, naming negating_modifiers[i]
        raise ConfigError(f"[search] {error}") from None
    settlement = config.settlement
    for key in ("default_fee_rate_ppm", "new_merchant_rate_ppm"):
        if not 0 <= getattr(settlement, key) <= 1_000_000:
            raise ConfigError(f"[settlement] {key} must be within 0-1,000,000 ppm")
    for category, rate in settlement.fee_rate_ppm_by_category.items():
        if not isinstance(rate, int) or isinstance(rate, bool) or not 0 <= rate <= 1_000_000:
            raise ConfigError(
                f"[settlement.fee_rate_ppm_by_category] {category} must be an integer within 0-1,000,000 ppm"
            )
    for key in ("new_merchant_cap_fen", "new_merchant_window_days", "settle_after_days"):
        if getattr(settlement, key) < 0:
            raise ConfigError(f"[settlement] {key} must be >= 0")
    if not 1 <= settlement.max_line_fen <= settlement.max_order_fen <= MAX_ORDER_FEN_LIMIT:
        raise ConfigError(
            f"[settlement] max_line_fen and max_order_fen must satisfy 1 <= max_line_fen <= max_order_fen "
            f"<= {MAX_ORDER_FEN_LIMIT:,}"
        )
    if settlement.settle_after_days > 3650 or settlement.new_merchant_window_days > 36500:
        raise ConfigError("[settlement] settle_after_days must be <= 3650 and new_merchant_window_days <= 36500")
    creators = config.creators
    weights = (creators.gmv_weight_ppm, creators.sales_weight_ppm, creators.followers_weight_ppm)
    if min(weights) < 0 or sum(weights) != 1_000_000:
        raise ConfigError(
            "[creators] gmv_weight_ppm, sales_weight_ppm and followers_weight_ppm must be >= 0 and sum to 1,000,000"
        )
    if creators.sales_score_min_orders < 0:
        raise ConfigError("[creators] sales_score_min_orders must be >= 0")
    defaults = _core.default_ranking_profile()
    settable = set(defaults) - {"name"}
    unknown = sorted(set(config.search.default_profile) - settable)
    if unknown:
        raise ConfigError(f"[search.default_profile]: unknown keys {unknown}; known: {', '.join(sorted(settable))}")
    profile = {**defaults, **config.search.default_profile}
    try:
        _core.validate_ranking_profile(profile)
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"[search.default_profile]: {error}") from error
