"""A second language: the Go client generated from proto/ against a running Python server, and
the module used as clients/go/README.md tells: from a fresh module, through a `replace`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian import Client
from xiaodian.platform.server import XiaodianServer
from xiaodian.v1 import search_service_pb2 as search_pb

pytestmark = pytest.mark.backend_independent  # a client's calls over the wire

GO_MODULE = Path(__file__).resolve().parents[2] / "clients" / "go"
TIMEOUT = 300  # seconds for one go command, module downloads and a cold build cache included


def go_env(**extra: str) -> dict[str, str]:
    """The environment of a go command: this machine's Go (GOTOOLCHAIN=local: a `go` line never
    downloads a toolchain), no go.work, missing requirements added from the module cache or
    the Go module proxy (-mod=mod), plus `extra`."""
    flags = " ".join(flag for flag in [os.environ.get("GOFLAGS", ""), "-mod=mod"] if flag)
    return {**os.environ, "GOTOOLCHAIN": "local", "GOWORK": "off", "GOFLAGS": flags, **extra}


def run_go(*args: str, cwd: Path, env: dict[str, str]) -> str:
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is not installed")
    result = subprocess.run([go, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"go {' '.join(args)} in {cwd}:\n{output}"
    return output


def test_go_client_calls_health_and_ranking_profiles(server: XiaodianServer) -> None:
    output = run_go(
        "test",
        "-count=1",
        "-v",
        "./...",
        cwd=GO_MODULE,
        env=go_env(XIAODIAN_ADDR=server.address, XIAODIAN_SERVER_DATA_DIR=str(server.config.server.data_dir)),
    )
    assert "--- SKIP" not in output, output
    # The live tests (the root package) and the offline ones of the helper package both ran.
    for name in (
        "TestUpdateRankingProfileInvalid",
        "TestSearchFieldViolations",
        "TestSuggest",
        "TestDialSendsTheBearerToken",
    ):
        assert f"--- PASS: {name}" in output, output
    assert "--- FAIL" not in output, output


CATEGORY = "go-readme-scarf"


def seed(client: Client) -> None:
    """A shop and three products in CATEGORY: two scarves that 羊绒围巾 finds, a phone case."""
    opened = Timestamp(seconds=1_700_000_000)
    client.upsert_shops(shops=[search_pb.Shop(shop_id="go-s1", name="山下有松", opened_at=opened)])
    client.upsert_products(
        products=[
            search_pb.Product(
                product_id=product_id, shop_id="go-s1", title=title, category_id=CATEGORY, price_fen=price, version=1
            )
            for product_id, title, price in [
                ("go-p1", "山下有松 羊绒围巾女 2025新款", 9900),
                ("go-p2", "羊绒围巾 女士 冬季加厚", 5900),
                ("go-p3", "iPhone15手机壳 防摔透明", 1900),
            ]
        ]
    )


# The README's "Call" and "Read errors", as one program in a module of its own.
MAIN_GO = """\
package main

import (
\t"context"
\t"fmt"
\t"log"
\t"os"
\t"time"

\t"google.golang.org/grpc/codes"
\t"google.golang.org/grpc/status"

\t"xiaodian.dev/clients/go/xiaodian"
\tpb "xiaodian.dev/clients/go/xiaodianv1"
)

func main() {
\tconn, err := xiaodian.Dial(os.Getenv("XIAODIAN_ADDR"), "") // the token from $XIAODIAN_TOKEN
\tif err != nil {
\t\tlog.Fatal(err)
\t}
\tdefer conn.Close()
\tsearch := pb.NewSearchServiceClient(conn)
\tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
\tdefer cancel()

\tfilter := &pb.SearchFilter{CategoryIds: []string{os.Getenv("CATEGORY")}}
\tresp, err := search.Search(ctx, &pb.SearchRequest{Query: "羊绒围巾", PageSize: 10, Filter: filter})
\tif err != nil {
\t\tlog.Fatal(err)
\t}
\tfor _, hit := range resp.GetHits() {
\t\tfmt.Println("hit", hit.GetProductId(), hit.GetTitle(), hit.GetPriceFen())
\t}

\tcompletions, err := search.Suggest(ctx, &pb.SuggestRequest{Prefix: "yangr", Limit: 5})
\tif err != nil {
\t\tlog.Fatal(err)
\t}
\tfor _, s := range completions.GetSuggestions() {
\t\tfmt.Println("suggestion", s.GetText(), s.GetMatchedChars(), s.GetSource(), s.GetMatch())
\t}

\t_, err = search.Search(ctx, &pb.SearchRequest{Query: "羊绒围巾", PageSize: 500, Filter: filter})
\tfmt.Println("code", status.Code(err), "reason", xiaodian.ErrorInfo(err).GetReason())
\tif status.Code(err) == codes.InvalidArgument {
\t\tfor _, v := range xiaodian.FieldViolations(err) {
\t\t\tfmt.Printf("violation %s: %s\\n", v.GetField(), v.GetDescription())
\t\t}
\t}
}
"""


def test_a_fresh_module_requires_the_client_through_a_replace(
    server: XiaodianServer, client: Client, tmp_path: Path
) -> None:
    seed(client)

    app = tmp_path / "app"
    app.mkdir()
    # As the README says: require the placeholder version, replace it with the checkout.
    (app / "go.mod").write_text(
        "module example.com/shop-tools\n\n"
        "go 1.24\n\n"
        "require xiaodian.dev/clients/go v0.0.0\n\n"
        f"replace xiaodian.dev/clients/go => {GO_MODULE}\n",
        encoding="utf-8",
    )
    (app / "main.go").write_text(MAIN_GO, encoding="utf-8")
    token = server.config.admin_token_path.read_text(encoding="ascii").strip()
    env = go_env(XIAODIAN_ADDR=server.address, XIAODIAN_TOKEN=token, CATEGORY=CATEGORY)

    output = run_go("run", ".", cwd=app, env=env)
    lines = output.splitlines()
    hits = sorted(line.split()[1] for line in lines if line.startswith("hit "))
    assert hits == ["go-p1", "go-p2"], output
    assert "suggestion 羊绒 2 SUGGESTION_SOURCE_TITLE SUGGESTION_MATCH_PINYIN" in lines, output
    assert len([line for line in lines if line.startswith("suggestion ")]) <= 5, output
    assert "code InvalidArgument reason INVALID_ARGUMENT" in lines, output
    assert "violation page_size: must be 1-100" in lines, output
    # -mod=mod completed the fresh module's requirements from the checkout's go.mod, and the
    # checkout's dependencies did not raise its `go` line past 1.24 (teams on Go 1.24 build it).
    go_mod = (app / "go.mod").read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("\tgoogle.golang.org/grpc v1.") for line in go_mod), go_mod
    assert [line for line in go_mod if line.startswith("go ")] in (["go 1.24"], ["go 1.24.0"]), go_mod


def test_the_example_searches_and_prints_field_violations(server: XiaodianServer, client: Client) -> None:
    seed(client)
    token = server.config.admin_token_path.read_text(encoding="ascii").strip()
    env = go_env(XIAODIAN_ADDR=server.address, XIAODIAN_TOKEN=token)
    lines = run_go("run", "./examples/search", "羊绒围巾", cwd=GO_MODULE, env=env).splitlines()
    assert '2 hits for "羊绒围巾" (2 matched)' in lines, lines
    assert sorted(line.split()[2] for line in lines if line.startswith("hit ")) == ["go-p1", "go-p2"], lines
    # 羊绒 is in both scarves' titles (popularity 1 + 0 sales each); the phrase 羊绒围巾 ties with
    # it and comes after it by text; a longer phrase of one title (羊绒围巾女) follows.
    suggestions = [line for line in lines if line.startswith("suggestion ")]
    assert f'{len(suggestions)} completions for "羊绒"' in lines, lines
    assert suggestions[:2] == [
        "suggestion 1: [羊绒] SUGGESTION_SOURCE_TITLE SUGGESTION_MATCH_TEXT popularity 2",
        "suggestion 2: [羊绒]围巾 SUGGESTION_SOURCE_TITLE SUGGESTION_MATCH_TEXT popularity 2",
    ], lines
    assert all(line.split()[2].startswith("[羊绒]") for line in suggestions), lines
    assert "invalid search: InvalidArgument, reason INVALID_ARGUMENT" in lines, lines
    assert "violation: page_size: must be 1-100" in lines, lines
    assert "violation: filter.max_price_fen: must be >= filter.min_price_fen" in lines, lines


def test_the_module_is_gofmt_clean_and_vetted() -> None:
    gofmt = shutil.which("gofmt")
    if gofmt is None:
        pytest.fail("gofmt is not installed")
    unformatted = subprocess.run([gofmt, "-l", "."], cwd=GO_MODULE, capture_output=True, text=True, timeout=TIMEOUT)
    assert unformatted.returncode == 0 and unformatted.stdout == "", unformatted.stdout + unformatted.stderr
    # vet's stdversion check also flags standard-library API newer than the `go 1.24` line.
    run_go("vet", "./...", cwd=GO_MODULE, env=go_env())
