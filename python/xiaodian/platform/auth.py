"""Who may call what: bearer tokens and client certificates, mapped to scopes per method.

Every method of the three services needs one scope (`METHOD_SCOPES`, the one place that says
which); health and reflection are open to anyone. A caller is known by a bearer token
(`authorization: Bearer <token>` metadata) or, with mTLS, by the common name of its client
certificate; it holds a set of scopes. No token reaches memory or disk on the server side but
as its SHA-256: the config lists callers by hash, and the admin token's file (created at first
start, mode 0600, for the local CLI and tools) is hashed as it is read.

Missing or unknown credentials are UNAUTHENTICATED (reason `TOKEN_MISSING`, `TOKEN_UNKNOWN`);
a caller without the method's scope is PERMISSION_DENIED (reason `SCOPE_MISSING`, the scope
named in the message and in `ErrorInfo.metadata["scope"]`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from xiaodian.errors import PermissionDenied, Unauthenticated

log = logging.getLogger("xiaodian.auth")

_SEARCH = "/xiaodian.v1.SearchService/"
_CREATORS = "/xiaodian.v1.CreatorService/"
_SETTLEMENT = "/xiaodian.v1.SettlementService/"

#: The scope each method needs. A method of the services that is missing here is refused to
#: everyone (and a test fails), so a new RPC cannot be left open by mistake.
METHOD_SCOPES: Mapping[str, str] = {
    **{_SEARCH + m: "search:read" for m in ("Search", "Suggest", "GetRankingProfile", "AnalyzeHeroImage")},
    **{
        _SEARCH + m: "catalog:write"
        for m in ("UpsertShops", "UpsertProducts", "StreamUpsertProducts", "DeleteProducts")
    },
    _SEARCH + "UpdateRankingProfile": "ranking:admin",
    **{_CREATORS + m: "creators:read" for m in ("GetCreatorScore", "ListTopCreators")},
    **{
        _CREATORS + m: "creators:write" for m in ("UpsertCreatorMetrics", "StreamUpsertCreatorMetrics", "ScoreCreators")
    },
    **{
        _SETTLEMENT + m: "settlement:read"
        for m in ("PreviewSplit", "GetOrder", "GetStatement", "GetBalance", "GetGuidePerformance")
    },
    **{
        _SETTLEMENT + m: "settlement:write"
        for m in (
            "RecordOrder",
            "RecordOrders",
            "StreamRecordOrders",
            "ConfirmReceipt",
            "OpenAfterSale",
            "RecordRefund",
            "CloseAfterSale",
        )
    },
    _SETTLEMENT + "RunSettlement": "settlement:admin",
}

#: Every scope there is; the admin token holds them all.
SCOPES: frozenset[str] = frozenset(METHOD_SCOPES.values())

#: Services anyone may call: load balancers probe health, tools discover the API.
OPEN_SERVICES = frozenset(
    {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"}
)

#: What a token looks like: a prefix that secret scanners can match, then 256 random bits.
TOKEN_PREFIX = "xd_"


class Caller(NamedTuple):
    """An authenticated caller: its name (in access logs and metrics) and its scopes."""

    name: str
    scopes: frozenset[str]


#: The caller of an open method, and of every method when authentication is off.
ANONYMOUS = Caller("anonymous", SCOPES)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    """The hex SHA-256 of a token: what the config stores (`[auth.tokens.NAME] sha256`)."""
    return hashlib.sha256(token.encode()).hexdigest()


def secret_file(path: Path, make: Callable[[], str]) -> str:
    """The secret stored in `path` (stripped), or a new one from `make()` written there first:
    mode 0600, created exclusively, never overwritten (if another process wins the race, its
    secret is read). The admin token and the page-token key are kept so."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    secret = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(secret + "\n")
    log.info("created a secret file", extra={"path": str(path)})
    return secret


def ensure_admin_token(path: Path) -> str:
    """The admin token in `path`, created (mode 0600, never overwritten) if the file is missing."""
    return secret_file(path, new_token)


class ConfigProblem(ValueError):
    """The `[auth]` section names an unknown scope or a malformed hash."""


def _scopes(entry: Mapping[str, Any], where: str) -> frozenset[str]:
    scopes = entry.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ConfigProblem(f"{where}: scopes must be a list of strings, one of {sorted(SCOPES)} or '*'")
    if "*" in scopes:
        return SCOPES
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise ConfigProblem(f"{where}: unknown scopes {unknown}; known: {sorted(SCOPES)} or '*'")
    return frozenset(scopes)


class Authenticator:
    """Finds the caller of a call from its metadata (and TLS peer) and checks the method's scope.

    `by_token_hash` maps the SHA-256 digest of each token to its caller; `by_subject` maps a
    client certificate's common name to its caller (mTLS)."""

    def __init__(self, by_token_hash: Mapping[bytes, Caller], by_subject: Mapping[str, Caller]) -> None:
        self._by_token_hash = dict(by_token_hash)
        self._by_subject = dict(by_subject)

    @classmethod
    def from_config(
        cls, admin_token: str, tokens: Mapping[str, Any], client_certificates: Mapping[str, Any]
    ) -> Authenticator:
        by_hash: dict[bytes, Caller] = {hashlib.sha256(admin_token.encode()).digest(): Caller("admin", SCOPES)}
        for name, entry in tokens.items():
            where = f"[auth.tokens.{name}]"
            if not isinstance(entry, Mapping):
                raise ConfigProblem(f"{where} must be a table with sha256 and scopes")
            digest = entry.get("sha256", "")
            try:
                raw = bytes.fromhex(digest) if isinstance(digest, str) else b""
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ConfigProblem(f"{where}: sha256 must be 64 hex digits (xiaodian token new prints it)")
            by_hash[raw] = Caller(name, _scopes(entry, where))
        by_subject = {}
        for subject, entry in client_certificates.items():
            where = f"[auth.client_certificates.{subject}]"
            if not isinstance(entry, Mapping):
                raise ConfigProblem(f"{where} must be a table with scopes")
            by_subject[subject] = Caller(subject, _scopes(entry, where))
        return cls(by_hash, by_subject)

    def caller(self, metadata: Sequence[tuple[str, Any]] | None, auth_context: Mapping[str, Any] | None) -> Caller:
        """The caller the credentials name; UNAUTHENTICATED if there are none or they are unknown."""
        for key, value in metadata or ():
            if key == "authorization":
                scheme, _, token = str(value).partition(" ")
                if scheme.lower() != "bearer" or not token:
                    raise Unauthenticated(
                        "the authorization metadata must be 'Bearer <token>'", reason="TOKEN_MALFORMED"
                    )
                found = self._by_token_hash.get(hashlib.sha256(token.strip().encode()).digest())
                if found is None:
                    raise Unauthenticated("unknown token", reason="TOKEN_UNKNOWN")
                return found
        if auth_context and self._by_subject:
            for name in auth_context.get("x509_common_name", ()):
                found = self._by_subject.get(name.decode() if isinstance(name, bytes) else str(name))
                if found is not None:
                    return found
        raise Unauthenticated(
            "this method needs a token: send the metadata 'authorization: Bearer <token>' "
            "(the admin token is in the server's data directory, admin.token)",
            reason="TOKEN_MISSING",
        )


def check_scope(caller: Caller, scope: str | None, method: str) -> None:
    """PERMISSION_DENIED unless `caller` holds `scope` (None: a method no scope was given for)."""
    if scope is None or scope not in caller.scopes:
        needed = scope or "(none: the method is not open to callers)"
        raise PermissionDenied(
            f"caller {caller.name!r} lacks the scope {needed} that {method} needs",
            reason="SCOPE_MISSING",
            metadata={"scope": scope or "", "method": method, "caller": caller.name},
        )
