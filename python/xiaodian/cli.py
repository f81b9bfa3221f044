"""The `xiaodian` command.

xiaodian serve [--host H] [--port N] [--data-dir DIR] [--config FILE] [--demo]
xiaodian health [--addr HOST:PORT]
xiaodian profile get [NAME] [--version N]
xiaodian profile set NAME key=value ... [--expected-version N]
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from google.protobuf import json_format

from xiaodian.client import DEFAULT_TARGET, Client
from xiaodian.errors import InvalidArgument, XiaodianError
from xiaodian.search.profiles import SETTING_FIELDS
from xiaodian.v1 import search_service_pb2 as search_pb

log = logging.getLogger("xiaodian.cli")


def _serve(args: argparse.Namespace) -> int:
    from xiaodian.platform.config import ConfigError, load_config
    from xiaodian.platform.logs import configure_logging
    from xiaodian.platform.server import XiaodianServer

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"xiaodian: {error}", file=sys.stderr)
        return 2
    for name in ("host", "port", "data_dir"):
        value = getattr(args, name)
        if value is not None:
            setattr(config.server, name, value)
    configure_logging(config.server.log_level, config.server.log_format)
    if args.demo:
        log.warning(
            "--demo: no demo data loaders exist yet (they arrive with the search, creator and "
            "settlement engines); serving an empty catalog"
        )
    server = XiaodianServer(config)
    server.serve_until_signalled()
    return 0


def _health(args: argparse.Namespace) -> int:
    with Client(args.addr, timeout=5) as client:
        worst = 0
        for service in ("", "xiaodian.v1.SearchService", "xiaodian.v1.CreatorService", "xiaodian.v1.SettlementService"):
            status = client.health(service)
            print(f"{service or '(server)':32} {status}")
            worst = worst or int(status != "SERVING")
        return worst


def _print_profile(profile: search_pb.RankingProfile) -> None:
    print(json_format.MessageToJson(profile, preserving_proto_field_name=True, indent=2))


def _parse_setting(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or key not in SETTING_FIELDS:
        raise SystemExit(f"xiaodian: expected key=value with key one of: {', '.join(SETTING_FIELDS)}")
    descriptor = search_pb.RankingProfile.DESCRIPTOR.fields_by_name[key]
    try:
        if descriptor.cpp_type == descriptor.CPPTYPE_STRING:
            return key, value
        if descriptor.cpp_type == descriptor.CPPTYPE_DOUBLE:
            return key, float(value)
        return key, int(value)
    except ValueError:
        raise SystemExit(f"xiaodian: {key} needs a number, got {value!r}") from None


def _profile(args: argparse.Namespace) -> int:
    with Client(args.addr) as client:
        if args.action == "get":
            _print_profile(client.get_ranking_profile(name=args.name, version=args.version).profile)
        else:
            settings = dict(_parse_setting(text) for text in args.settings)
            profile = search_pb.RankingProfile(name=args.name, **settings)
            response = client.update_ranking_profile(profile=profile, expected_version=args.expected_version)
            _print_profile(response.profile)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xiaodian", description="xiaodian platform core")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gRPC server")
    serve.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 50051; 0 picks a free one)")
    serve.add_argument("--data-dir", dest="data_dir", help="folder of the SQLite database (default ./xiaodian-data)")
    serve.add_argument("--config", help="TOML config file (default: $XIAODIAN_CONFIG, else built-in defaults)")
    serve.add_argument("--demo", action="store_true", help="load generated demo data")
    serve.set_defaults(run=_serve)

    health = commands.add_parser("health", help="check a server's health")
    health.add_argument("--addr", default=DEFAULT_TARGET)
    health.set_defaults(run=_health)

    profile = commands.add_parser("profile", help="read or change ranking profiles")
    profile_actions = profile.add_subparsers(dest="action", required=True)
    get = profile_actions.add_parser("get", help="print a profile")
    get.add_argument("name", nargs="?", default="default")
    get.add_argument("--version", type=int, default=0, help="0 = latest")
    set_ = profile_actions.add_parser("set", help="store a new version with some settings changed")
    set_.add_argument("name")
    set_.add_argument("settings", nargs="*", metavar="key=value")
    set_.add_argument("--expected-version", dest="expected_version", type=int, default=0)
    for sub in (get, set_):
        sub.add_argument("--addr", default=DEFAULT_TARGET)
    profile.set_defaults(run=_profile)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except InvalidArgument as error:
        print(f"xiaodian: {error.code.name}: {error.message}", file=sys.stderr)
        for violation in error.violations:
            print(f"  {violation.field}: {violation.description}", file=sys.stderr)
        return 1
    except XiaodianError as error:
        print(f"xiaodian: {error.code.name}: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
