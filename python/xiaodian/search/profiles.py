"""Ranking profiles: named, versioned sets of ranking weights, stored in SQLite.

A profile's settings are the fields of `xiaodian.v1.RankingProfile` other than name, version
and update_time; `xiaodian._core` owns their defaults and validation, so the Rust engine and the
service agree on what a usable profile is. Versions are immutable: an update stores version + 1.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from xiaodian import _core
from xiaodian.errors import FailedPrecondition, InvalidArgument, NotFound
from xiaodian.platform.db import Connection, Migration
from xiaodian.search import changelog
from xiaodian.v1 import search_service_pb2 as pb

MIGRATIONS = [
    Migration(
        "search-0001-ranking-profiles",
        """
        CREATE TABLE ranking_profiles (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            settings_json TEXT NOT NULL,
            update_time_us INTEGER NOT NULL,
            PRIMARY KEY (name, version)
        )
        """,
    )
]
POSTGRES_MIGRATIONS = [
    Migration(
        "search-0001-ranking-profiles",
        """
        CREATE TABLE ranking_profiles (
            name TEXT NOT NULL,
            version BIGINT NOT NULL,
            settings_json TEXT NOT NULL,
            update_time_us BIGINT NOT NULL,
            PRIMARY KEY (name, version)
        )
        """,
    )
]

DEFAULT_PROFILE_NAME = "default"

#: Settings of a profile: every RankingProfile field but its identity and bookkeeping.
SETTING_FIELDS: tuple[str, ...] = tuple(
    f.name for f in pb.RankingProfile.DESCRIPTOR.fields if f.name not in ("name", "version", "update_time")
)

#: Settings added after profiles were first stored, as a version stored before them reads:
#: such a version had no synonyms, and stays what it was; approximate matching (issue 24)
#: came later still, and such a version takes its default weight.
ADDED_SETTINGS: dict[str, Any] = {"synonyms": [], "synonym_weight": 0.8, "approximate_weight": 0.7}


@dataclass(frozen=True)
class StoredProfile:
    name: str
    version: int
    settings: dict[str, Any]
    update_time_us: int

    def as_engine_dict(self) -> dict[str, Any]:
        """The dict `xiaodian._core` takes: settings plus the name."""
        return {"name": self.name, **self.settings}

    def to_proto(self) -> pb.RankingProfile:
        groups = [pb.SynonymGroup(words=words) for words in self.settings["synonyms"]]
        scalars = {name: value for name, value in self.settings.items() if name != "synonyms"}
        message = pb.RankingProfile(
            name=self.name, version=self.version, synonyms=pb.SynonymGroups(groups=groups), **scalars
        )
        message.update_time.FromMicroseconds(self.update_time_us)
        return message


def settings_from_proto(profile: pb.RankingProfile) -> dict[str, Any]:
    """The settings a request sets explicitly (unset optional fields are left out); synonyms
    as a list of groups, each a list of words."""
    settings = {name: getattr(profile, name) for name in SETTING_FIELDS if profile.HasField(name)}
    if "synonyms" in settings:
        settings["synonyms"] = [list(group.words) for group in profile.synonyms.groups]
    return settings


def _validated(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Settings checked by the Rust validator; violations are reported under `profile.`."""
    try:
        _core.validate_ranking_profile({"name": name, **settings})
    except InvalidArgument as error:
        raise error.under("profile") from None
    return settings


def _row_to_profile(row: tuple[str, int, str, int]) -> StoredProfile:
    name, version, settings_json, update_time_us = row
    return StoredProfile(name, version, {**ADDED_SETTINGS, **json.loads(settings_json)}, update_time_us)


def get_profile(conn: Connection, name: str, version: int = 0) -> StoredProfile:
    """The given version of a profile, or its latest when version is 0. NotFound otherwise."""
    if not name:
        raise InvalidArgument.of("name", "is required")
    if version:
        row = conn.execute(
            "SELECT name, version, settings_json, update_time_us FROM ranking_profiles WHERE name = ? AND version = ?",
            (name, version),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT name, version, settings_json, update_time_us FROM ranking_profiles WHERE name = ? "
            "ORDER BY version DESC LIMIT 1",
            (name,),
        ).fetchone()
    if row is None:
        raise not_found(name, version)
    return _row_to_profile(row)


def not_found(name: str, version: int = 0) -> NotFound:
    what = f"ranking profile {name!r}" + (f" version {version}" if version else "")
    return NotFound(f"{what} does not exist", reason="PROFILE_NOT_FOUND", metadata={"name": name})


def all_profiles(conn: Connection) -> list[StoredProfile]:
    """Every stored version of every profile (the engine keeps them all compiled)."""
    rows = conn.execute("SELECT name, version, settings_json, update_time_us FROM ranking_profiles").fetchall()
    return [_row_to_profile(row) for row in rows]


def _insert(conn: Connection, name: str, version: int, settings: dict[str, Any]) -> StoredProfile:
    update_time_us = time.time_ns() // 1000
    conn.execute(
        "INSERT INTO ranking_profiles (name, version, settings_json, update_time_us) VALUES (?, ?, ?, ?)",
        (name, version, json.dumps(settings, sort_keys=True), update_time_us),
    )
    changelog.record(conn, changelog.PROFILE, [changelog.profile_key(name, version)])
    return StoredProfile(name, version, settings, update_time_us)


def ensure_default_profile(conn: Connection, overrides: dict[str, Any]) -> StoredProfile:
    """Seeds `default` version 1 (built-in defaults with the config's overrides) if it is missing."""
    try:
        return get_profile(conn, DEFAULT_PROFILE_NAME)
    except NotFound:
        builtin = _core.default_ranking_profile()
        settings = {name: overrides.get(name, builtin[name]) for name in SETTING_FIELDS}
        return _insert(conn, DEFAULT_PROFILE_NAME, 1, _validated(DEFAULT_PROFILE_NAME, settings))


def update_profile(conn: Connection, name: str, changes: dict[str, Any], expected_version: int = 0) -> StoredProfile:
    """Stores version latest + 1: the latest settings (built-in defaults for a new profile)
    with `changes` applied. With `expected_version` non-zero, the latest version must equal it."""
    try:
        latest: StoredProfile | None = get_profile(conn, name) if name else None
    except NotFound:
        latest = None
    if expected_version and (latest is None or latest.version != expected_version):
        found = latest.version if latest else 0
        raise FailedPrecondition(
            f"ranking profile {name!r} is at version {found}, not the expected {expected_version}",
            reason="PROFILE_VERSION_MISMATCH",
            metadata={"name": name, "latest_version": str(found)},
        )
    if latest is None:
        builtin = _core.default_ranking_profile()
        base = {field: builtin[field] for field in SETTING_FIELDS}
    else:
        base = latest.settings
    settings = _validated(name, {**base, **changes})
    return _insert(conn, name, (latest.version if latest else 0) + 1, settings)
