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


class ConfigError(Exception):
    """The configuration file or environment holds an unknown key or a value of the wrong type."""


@dataclass
class ServerConfig:
    #: Interface to bind; the default serves this machine only.
    host: str = "127.0.0.1"
    port: int = 50051
    #: Folder of the SQLite database (`xiaodian.db`); created if missing.
    data_dir: str = "./xiaodian-data"
    #: Threads serving calls; the Rust engines release the GIL, so threads do run in parallel.
    max_workers: int = 16
    #: Largest request or response message, bytes.
    max_message_bytes: int = 64 * 1024 * 1024
    #: On SIGTERM/SIGINT: health goes NOT_SERVING at once, calls in flight get this long to finish.
    shutdown_grace_seconds: float = 10.0
    #: DEBUG, INFO, WARNING, ERROR.
    log_level: str = "INFO"
    #: "json" (one object per line, for machines) or "text" (for people).
    log_format: str = "text"


@dataclass
class SearchConfig:
    #: Initial values of the built-in `default` ranking profile, applied when the database has
    #: none yet (for example `brand_multiplier = 2.0`, `new_merchant_window_days = 90`). Later
    #: changes go through UpdateRankingProfile, which versions them.
    default_profile: dict[str, Any] = field(default_factory=dict)


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
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    settlement: SettlementConfig = field(default_factory=SettlementConfig)
    creators: CreatorsConfig = field(default_factory=CreatorsConfig)

    @property
    def database_path(self) -> Path:
        return Path(self.server.data_dir) / "xiaodian.db"


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
    for name, section_obj in sections.items():
        overrides = {}
        for f in dataclasses.fields(section_obj):
            variable = f"XIAODIAN_{name}_{f.name}".upper()
            if variable in environ and f.type != "dict[str, Any]":
                overrides[f.name] = environ[variable]
        _apply(section_obj, name, overrides, "environment")
    _check(config)
    return config


def _check(config: Config) -> None:
    server = config.server
    if not 0 <= server.port <= 65535:
        raise ConfigError(f"[server] port must be within 0-65535, got {server.port}")
    if server.max_workers < 1:
        raise ConfigError(f"[server] max_workers must be >= 1, got {server.max_workers}")
    if server.log_format not in ("json", "text"):
        raise ConfigError(f"[server] log_format must be 'json' or 'text', got {server.log_format!r}")
    if server.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"[server] log_level must be DEBUG, INFO, WARNING or ERROR, got {server.log_level!r}")
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
