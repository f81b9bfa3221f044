"""A third language: the Node.js client (`@xiaodian/client` in clients/node: stubs generated from
proto/ by protoc-gen-es, Connect's gRPC transport, helpers for the google.rpc error details)
against a running Python server; and the package as a user gets it: `npm pack`, installed from
the tarball into a fresh project, imported by name, run, and type-checked."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent  # a client's calls over the wire

NODE_PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "node"

#: npm without prompts, notices or audits; the registry is allowed (the package's dependencies),
#: but the local cache is used first (./dev's `npm ci` filled it with the same versions).
NPM_FLAGS = ["--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]
NPM_INSTALL_TIMEOUT = 300


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed")
    if not (NODE_PACKAGE / "node_modules").is_dir():
        pytest.fail("clients/node/node_modules is missing: run the tests through ./dev test, which installs it")
    return node


def _run(args: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    """Runs a command to completion; its output, or the test fails with it."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{output}"
    return result.stdout


def test_node_client_searches_scores_and_settles(server) -> None:
    node = _node()
    result = subprocess.run(
        [node, "--test", "--test-reporter=spec", "client.test.js", "errors.test.js"],
        cwd=NODE_PACKAGE,
        env={**os.environ, "XIAODIAN_ADDR": server.address, "XIAODIAN_SERVER_DATA_DIR": server.config.server.data_dir},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Every test ran (none skipped for want of the address) and passed.
    assert re.search(r"\bpass 10\b", output) and re.search(r"\bskipped 0\b", output), output


@pytest.fixture(scope="module")
def installed_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh npm project with `@xiaodian/client` installed from the tarball `npm pack` built."""
    _node()
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed")
    packed = tmp_path_factory.mktemp("packed")
    started = time.monotonic()
    listing = json.loads(_run([npm, "pack", "--json", "--pack-destination", str(packed)], NODE_PACKAGE, 120))
    shipped = {entry["path"] for entry in listing[0]["files"]}
    tarball = packed / listing[0]["filename"]
    assert tarball.name == "xiaodian-client-1.0.0.tgz", listing[0]["filename"]
    for path in ("package.json", "README.md", "client.js", "client.d.ts", "errors.js", "errors.d.ts"):
        assert path in shipped, sorted(shipped)
    assert "gen/xiaodian/v1/search_service_pb.d.ts" in shipped and "rpc/google/rpc/error_details_pb.js" in shipped
    assert not {p for p in shipped if p.endswith(".test.js") or p.startswith(("node_modules/", "scripts/"))}, shipped
    packed_at = time.monotonic()

    project = tmp_path_factory.mktemp("fresh-project")
    _run([npm, "init", "-y"], project, 60)
    _run([npm, "install", *NPM_FLAGS, str(tarball)], project, NPM_INSTALL_TIMEOUT)
    # A later plain `npm install` keeps the client's dependencies (they are declared, not linked).
    _run([npm, "install", *NPM_FLAGS], project, NPM_INSTALL_TIMEOUT)
    _run([npm, "ls", "@connectrpc/connect", "@connectrpc/connect-node", "@bufbuild/protobuf"], project, 60)
    print(f"npm pack {packed_at - started:.1f} s, fresh install {time.monotonic() - packed_at:.1f} s")
    return project


USER_SCRIPT = """\
import { Code, ConnectError, createXiaodianClient, SuggestionMatch } from "@xiaodian/client";
import { errorInfo, fieldViolations } from "@xiaodian/client/errors";

const run = process.argv[2];
const xiaodian = createXiaodianClient({ address: process.argv[3] }); // the token: XIAODIAN_TOKEN
const options = { timeoutMs: 10_000 };

const { profile } = await xiaodian.search.getRankingProfile({ name: "default" }, options);
console.log(`profile ${profile.name} ${profile.version >= 1}`);

const openedAt = { seconds: 1577836800n };
await xiaodian.search.upsertShops(
  { requestId: `${run}-shop`, shops: [{ shopId: `${run}-shop`, name: `羊绒小店${run}`, openedAt }] },
  options,
);
const product = { shopId: `${run}-shop`, categoryId: `${run}-scarf`, priceFen: 9900n, stock: 1n, version: 1n };
await xiaodian.search.upsertProducts(
  {
    requestId: `${run}-products`,
    products: [
      { ...product, productId: `${run}-scarf`, title: "羊绒围巾 女士 冬季加厚" },
      { ...product, productId: `${run}-case`, title: "iPhone15手机壳 防摔透明" },
    ],
  },
  options,
);
const found = await xiaodian.search.search(
  { query: "绒围", filter: { categoryIds: [`${run}-scarf`] }, pageSize: 10 },
  options,
);
console.log(`search ${found.totalMatched} ${found.hits.map((hit) => hit.productId.slice(run.length + 1))}`);

const { suggestions } = await xiaodian.search.suggest({ prefix: "yangr", limit: 5 }, options);
const yangrong = suggestions.find((s) => s.text === "羊绒");
console.log(`suggest ${yangrong?.text} ${yangrong?.matchedChars} ${SuggestionMatch[yangrong?.match ?? 0]}`);

for (const [name, call] of [
  ["GetRankingProfile", () => xiaodian.search.getRankingProfile({ name: "" }, options)],
  ["RecordOrder", () => xiaodian.settlement.recordOrder({ requestId: `${run}-bad`, order: {} }, options)],
]) {
  try {
    await call();
    console.log(`${name} succeeded`);
  } catch (caught) {
    const err = ConnectError.from(caught);
    console.log(`${name} ${Code[err.code]} ${errorInfo(err)?.reason}`);
    for (const { field, description } of fieldViolations(err)) console.log(`  ${field}: ${description}`);
  }
}
"""


def test_packed_client_installs_into_a_fresh_project_and_runs(installed_project: Path, server) -> None:
    script = installed_project / "check.mjs"
    script.write_text(USER_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAODIAN_")}
    env["XIAODIAN_TOKEN"] = server.config.admin_token_path.read_text().strip()
    output = _run([_node(), script.name, f"node-pack-{time.time_ns()}", server.address], installed_project, 60, env)
    assert output.splitlines() == [
        "profile default true",
        "search 1 scarf",
        "suggest 羊绒 2 PINYIN",
        "GetRankingProfile InvalidArgument INVALID_ARGUMENT",
        "  name: is required",
        "RecordOrder InvalidArgument INVALID_ARGUMENT",
        "  order.order_id: is required",
        "  order.shop_id: is required",
        "  order.paid_at: is required",
        "  order.lines: must hold 1-500 lines",
    ], output


def test_packed_client_type_checks_in_a_fresh_project(installed_project: Path) -> None:
    """The package's own typecheck.ts, compiled against the installed tarball's .d.ts files
    through its `exports` (tsc and @types/node from clients/node's devDependencies)."""
    shutil.copy(NODE_PACKAGE / "typecheck.ts", installed_project / "typecheck.mts")  # ESM in a CommonJS project
    tsc = NODE_PACKAGE / "node_modules" / "typescript" / "bin" / "tsc"
    flags = ["--noEmit", "--strict", "--target", "es2022", "--module", "node16", "--moduleResolution", "node16"]
    types = ["--types", "node", "--typeRoots", str(NODE_PACKAGE / "node_modules" / "@types")]
    _run([_node(), str(tsc), *flags, *types, "typecheck.mts"], installed_project, 300)


def test_committed_google_rpc_types_match_a_fresh_generation(tmp_path: Path) -> None:
    """clients/node/rpc is `npm run gen:rpc` output (protoc-gen-es over googleapis-common-protos):
    regenerating it changes nothing, as tests/platform/test_proto.py checks for gen/."""
    out = tmp_path / "rpc"
    env = {**os.environ, "PYTHON": sys.executable}  # has grpcio-tools and googleapis-common-protos
    _run([_node(), "scripts/gen-rpc.mjs", "--out", str(out)], NODE_PACKAGE, 120, env)
    committed = sorted(p.relative_to(NODE_PACKAGE / "rpc") for p in (NODE_PACKAGE / "rpc").rglob("*") if p.is_file())
    fresh = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert fresh == committed
    for path in committed:
        stale = f"clients/node/rpc/{path} differs from a fresh generation: run npm run gen:rpc"
        assert (out / path).read_text() == (NODE_PACKAGE / "rpc" / path).read_text(), stale
