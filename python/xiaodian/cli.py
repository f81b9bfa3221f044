"""The `xiaodian` command.

xiaodian serve [--host H] [--port N] [--data-dir DIR] [--config FILE] [--workers N] [--demo] [--allow-insecure-remote]
xiaodian health [--addr HOST:PORT]
xiaodian token new CALLER --scope S [--scope S ...]
xiaodian profile get [NAME] [--version N]
xiaodian profile set NAME key=value ... [--expected-version N]
xiaodian search QUERY [--explain] [--sort S] [--page-size N] [--profile P] [--category C] [--shop S]
xiaodian suggest PREFIX [--limit N]
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from xiaodian.client import DEFAULT_TARGET, Client
from xiaodian.errors import InvalidArgument, XiaodianError
from xiaodian.search.profiles import SETTING_FIELDS
from xiaodian.v1 import search_service_pb2 as search_pb

if TYPE_CHECKING:
    from rich.text import Text

log = logging.getLogger("xiaodian.cli")


def _serve(args: argparse.Namespace) -> int:
    from xiaodian.platform.config import ConfigError, check_config, load_config
    from xiaodian.platform.db import StorageError
    from xiaodian.platform.logs import configure_logging
    from xiaodian.platform.server import StartupError, XiaodianServer

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"xiaodian: {error}", file=sys.stderr)
        return 2
    for name in ("host", "port", "data_dir", "database_url", "workers"):
        value = getattr(args, name)
        if value is not None:
            setattr(config.server, name, value)
    if args.allow_insecure_remote:
        config.server.allow_insecure_remote = True
    try:
        check_config(config)
    except ConfigError as error:
        print(f"xiaodian: {error}", file=sys.stderr)
        return 2
    configure_logging(config.server.log_level, config.server.log_format)
    workers = config.server.worker_count
    try:
        if workers > 1:
            from xiaodian.platform.workers import serve_workers

            return serve_workers(config, workers, demo=args.demo)
        server = XiaodianServer(config)
        after_start = None
        if args.demo:
            from xiaodian.demo.load import load_demo

            def after_start() -> None:
                with server.admin_client(timeout=120) as client:
                    load_demo(client)

        server.serve_until_signalled(after_start=after_start)
    except (StartupError, StorageError) as error:
        print(f"xiaodian: {error}", file=sys.stderr)
        return 1
    return 0


def _token_new(args: argparse.Namespace) -> int:
    from xiaodian.platform import auth

    unknown = sorted(set(args.scope) - auth.SCOPES - {"*"})
    if unknown:
        print(f"xiaodian: unknown scopes {unknown}; known: {', '.join(sorted(auth.SCOPES))} or '*'", file=sys.stderr)
        return 2
    token = auth.new_token()
    scopes = ", ".join(f'"{s}"' for s in sorted(set(args.scope)))
    print(f"token (give it to the caller; it is not stored anywhere): {token}", file=sys.stderr)
    print(f'[auth.tokens.{args.caller}]\nsha256 = "{auth.token_sha256(token)}"\nscopes = [{scopes}]')
    return 0


def _client(args: argparse.Namespace, timeout: float | None = 30.0) -> Client:
    """A client for the command's `--addr`, with the token of XIAODIAN_TOKEN or of `--data-dir`."""
    return Client(args.addr, timeout=timeout, data_dir=args.data_dir)


def _health(args: argparse.Namespace) -> int:
    with _client(args, timeout=5) as client:
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
    with _client(args) as client:
        if args.action == "get":
            _print_profile(client.get_ranking_profile(name=args.name, version=args.version).profile)
        else:
            settings = dict(_parse_setting(text) for text in args.settings)
            profile = search_pb.RankingProfile(name=args.name, **settings)
            response = client.update_ranking_profile(profile=profile, expected_version=args.expected_version)
            _print_profile(response.profile)
    return 0


SORTS = {
    "relevance": search_pb.SEARCH_SORT_RELEVANCE,
    "sales": search_pb.SEARCH_SORT_SALES,
    "price-up": search_pb.SEARCH_SORT_PRICE_ASCENDING,
    "price-down": search_pb.SEARCH_SORT_PRICE_DESCENDING,
    "rating": search_pb.SEARCH_SORT_RATING,
    "newest": search_pb.SEARCH_SORT_NEWEST,
}


def _yuan(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def _search(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    request = search_pb.SearchRequest(
        query=args.query,
        profile=args.profile,
        sort=SORTS[args.sort],
        page_size=args.page_size,
        explain=args.explain,
        max_per_shop=args.max_per_shop,
        filter=search_pb.SearchFilter(category_ids=args.category, shop_ids=args.shop),
    )
    with _client(args) as client:
        response = client.search(request)
    console = Console()
    matching = (
        f"{response.first_tier_matched:,} with every word, {response.second_tier_matched:,} with two thirds"
        if response.second_tier_searched
        else "every word"
    )
    title = (
        f"{args.query!r}: {response.total_matched:,} matches ({matching}); "
        f"profile {response.profile} v{response.profile_version}"
    )
    table = Table(title=title, title_justify="left")
    for column, justify in [("#", "right"), ("title", "left"), ("shop", "left"), ("price", "right"),
                            ("sales 30d", "right"), ("rating", "right"), ("score", "right")]:  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    if args.explain:
        table.add_column("why", justify="left")
    for rank, hit in enumerate(response.hits, start=1):
        row = [str(rank), hit.title, hit.shop_name, _yuan(hit.price_fen), f"{hit.sales_30d:,}",
               f"{hit.rating:.2f}", f"{hit.score:.3f}"]  # fmt: skip
        if args.explain:
            e = hit.explanation
            parts = [f"bm25f {e.first_phase_score:.3f}"]
            for s in e.signals:
                if s.signal in ("brand_multiplier", "new_merchant_multiplier"):
                    if s.contribution != 1.0:
                        parts.append(f"{s.signal.removesuffix('_multiplier')} ×{s.contribution:g}")
                elif s.signal == "exact_shop_match":
                    parts.append("names the shop")
                elif s.signal != "text":
                    parts.append(f"{s.signal} +{s.contribution:.3f}")
            parts.append("terms " + " ".join(e.matched_terms))
            row.append("; ".join(parts))
        table.add_row(*row)
    console.print(table)
    if response.next_page_token:
        console.print("more results follow (page with the API's page_token)")
    return 0


def _marked(text: str, matched_chars: int) -> Text:
    """`text` with its first `matched_chars` characters (the part the prefix matched) in
    brackets and bold: [羊绒]围巾. A Text, so brackets in completions are never markup."""
    from rich.text import Text

    cut = max(0, min(matched_chars, len(text)))
    if cut == 0:
        return Text(text)
    return Text.assemble("[", (text[:cut], "bold"), "]", text[cut:])


def _enum_word(enum: Any, value: int, prefix: str) -> str:
    """An enum value as a word: SUGGESTION_SOURCE_SHOP_NAME -> "shop_name"."""
    try:
        return str(enum.Name(value)).removeprefix(prefix).lower()
    except ValueError:  # a value newer than these stubs
        return str(value)


def _suggest(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    with _client(args) as client:
        response = client.suggest(prefix=args.prefix, limit=args.limit)
    console = Console()
    if not response.suggestions:
        console.print(f"no completions for {args.prefix!r}", markup=False, highlight=False)
        return 0
    count = len(response.suggestions)
    table = Table(title=f"{args.prefix!r}: {count} completion{'' if count == 1 else 's'}", title_justify="left")
    for column, justify in [("#", "right"), ("completion", "left"), ("source", "left"), ("match", "left"),
                            ("popularity", "right")]:  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for rank, s in enumerate(response.suggestions, start=1):
        table.add_row(
            str(rank),
            _marked(s.text, s.matched_chars),
            _enum_word(search_pb.SuggestionSource, s.source, "SUGGESTION_SOURCE_"),
            _enum_word(search_pb.SuggestionMatch, s.match, "SUGGESTION_MATCH_"),
            f"{s.popularity:,}",
        )
    console.print(table)
    return 0


TIERS = {1: "S", 2: "A", 3: "B", 4: "C"}


def _creators_top(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    with _client(args) as client:
        response = client.list_top_creators(period=args.period, cohort=args.cohort, page_size=args.limit)
    if not response.scores:
        print(f"no scores in {args.period}")
        return 0
    first = response.scores[0]
    w = first.weights
    title = (
        f"{first.period} cohort {first.cohort}: top {len(response.scores)} of {response.cohort_size:,} creators; "
        f"weights GMV {w.gmv_weight_ppm / 10_000:g} %, sales {w.sales_weight_ppm / 10_000:g} %, "
        f"followers {w.followers_weight_ppm / 10_000:g} %"
    )
    table = Table(title=title, title_justify="left")
    for column in ("#", "creator", "score", "tier", "settled GMV", "P(GMV)", "sales score", "P(sales)",
                   "eff. followers", "P(followers)"):  # fmt: skip
        table.add_column(column, justify="left" if column == "creator" else "right")
    for s in response.scores:
        table.add_row(
            str(s.rank), s.creator_id, f"{s.score:.2f}", TIERS.get(s.tier, "?"), _yuan(s.settled_gmv_fen),
            f"{s.gmv_percentile:.1f}", f"{s.sales_score:.1f}", f"{s.sales_percentile:.1f}",
            f"{s.effective_followers:,}", f"{s.followers_percentile:.1f}",
        )  # fmt: skip
    Console().print(table)
    return 0


def _bench(argv: list[str]) -> int:
    """`xiaodian bench …` runs `benchmarks/runner.py` of the source checkout this package is
    installed from (benchmarks are development tools: they need the test dependencies)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "runner.py").exists():
        print("xiaodian bench runs from a source checkout (./dev bench)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(root))
    from benchmarks import runner

    return runner.main(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xiaodian", description="xiaodian platform core")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gRPC server")
    serve.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 50051; 0 picks a free one)")
    serve.add_argument("--data-dir", dest="data_dir", help="folder of the SQLite database (default ./xiaodian-data)")
    serve.add_argument(
        "--database-url",
        dest="database_url",
        help="postgresql://user:password@host:port/dbname to share one PostgreSQL database among servers"
        " (default: the SQLite file in --data-dir)",
    )
    serve.add_argument("--config", help="TOML config file (default: $XIAODIAN_CONFIG, else built-in defaults)")
    serve.add_argument(
        "--workers",
        type=int,
        help="processes serving the port (default: one per core; 1: a single process, no supervisor)",
    )
    serve.add_argument("--demo", action="store_true", help="load generated demo data")
    serve.add_argument(
        "--allow-insecure-remote",
        dest="allow_insecure_remote",
        action="store_true",
        help="serve a non-loopback --host without TLS (tokens travel in clear text)",
    )
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="make bearer tokens for the config")
    token_actions = token.add_subparsers(dest="action", required=True)
    new = token_actions.add_parser("new", help="print a new token and its [auth.tokens.CALLER] config entry")
    new.add_argument("caller", help="the caller's name (in access logs)")
    new.add_argument("--scope", action="append", required=True, help="a scope it may use (repeatable; * = all)")
    new.set_defaults(run=_token_new)

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

    search = commands.add_parser("search", help="search products and print a table")
    search.add_argument("query")
    search.add_argument("--explain", action="store_true", help="show each signal's contribution")
    search.add_argument("--sort", choices=sorted(SORTS), default="relevance")
    search.add_argument("--page-size", dest="page_size", type=int, default=10)
    search.add_argument("--max-per-shop", dest="max_per_shop", type=int, default=0)
    search.add_argument("--profile", default="", help="ranking profile (default: default)")
    search.add_argument("--category", action="append", default=[], help="only this category (repeatable)")
    search.add_argument("--shop", action="append", default=[], help="only this shop (repeatable)")
    search.add_argument("--addr", default=DEFAULT_TARGET)
    search.set_defaults(run=_search)

    suggest = commands.add_parser("suggest", help="complete a query as it is typed (搜索联想) and print a table")
    suggest.add_argument("prefix", help="the start of a query: 羊绒, yangr, yr, 羊r (1-30 characters)")
    suggest.add_argument("--limit", type=int, default=10, help="completions wanted, 1-20 (default 10)")
    suggest.add_argument("--addr", default=DEFAULT_TARGET)
    suggest.set_defaults(run=_suggest)

    commands.add_parser("bench", help="run benchmark suites (xiaodian bench --help)", add_help=False)

    creators = commands.add_parser("creators", help="creator (达人) scores")
    creator_actions = creators.add_subparsers(dest="action", required=True)
    top = creator_actions.add_parser("top", help="print a cohort's leaderboard")
    top.add_argument("period", help='calendar month "YYYY-MM" (China Standard Time), e.g. 2026-09')
    top.add_argument("--cohort", default="", help='cohort (default "all")')
    top.add_argument("--limit", type=int, default=20, help="rows (at most 1,000)")
    top.add_argument("--addr", default=DEFAULT_TARGET)
    top.set_defaults(run=_creators_top)
    for client_command in (health, get, set_, search, suggest, top):
        client_command.add_argument(
            "--data-dir",
            dest="data_dir",
            help="the server's data directory, to read its admin.token (default: $XIAODIAN_TOKEN, "
            "else $XIAODIAN_SERVER_DATA_DIR or ./xiaodian-data)",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
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
