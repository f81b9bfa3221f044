"""The Python client without Rust: the generated typed methods, and the pure-Python distribution
`xiaodian-client` (clients/python) built as a wheel, installed into a fresh venv and calling a
live server."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import time
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, text_format, timestamp_pb2
from xiaodian import Client
from xiaodian.client import _given
from xiaodian.v1 import search_service_pb2 as search_pb
from xiaodian.v1 import settlement_service_pb2 as settlement_pb

pytestmark = pytest.mark.backend_independent  # a client's calls over the wire, and its build

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "python" / "xiaodian"
sys.path.insert(0, str(ROOT / "scripts"))
import gen_client  # noqa: E402

#: Bound on building the wheel and on installing it with its dependencies (PyPI, through pip's cache).
INSTALL_TIMEOUT_S = 300

#: The only top-level modules the distribution's files may import, besides the standard library.
ALLOWED_IMPORTS = {"grpc", "grpc_status", "grpc_health", "google", "xiaodian"}


# -- the generated methods ------------------------------------------------------------------


def test_committed_client_methods_equal_a_fresh_generation() -> None:
    committed = gen_client.OUTPUT.read_text()
    assert committed == gen_client.generate(), "stale: run scripts/gen_client.py (./dev gen does) and commit"


def _fields(proto: str) -> dict[str, object]:
    """The fields of message `M` of a proto3 file given in descriptor form (a private pool)."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(timestamp_pb2.DESCRIPTOR.serialized_pb))
    pool.Add(text_format.Parse(proto, descriptor_pb2.FileDescriptorProto()))
    return dict(pool.FindMessageTypeByName("t.M").fields_by_name)


def test_the_generator_types_every_kind_of_field() -> None:
    fields = _fields("""
        name: "t/m.proto" package: "t" syntax: "proto3" dependency: "google/protobuf/timestamp.proto"
        message_type {
          name: "M"
          field { name: "text" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
          field { name: "count" number: 2 label: LABEL_OPTIONAL type: TYPE_INT64
                   proto3_optional: true oneof_index: 1 }
          field { name: "ratio" number: 3 label: LABEL_OPTIONAL type: TYPE_DOUBLE }
          field { name: "blob" number: 4 label: LABEL_OPTIONAL type: TYPE_BYTES }
          field { name: "kinds" number: 5 label: LABEL_REPEATED type: TYPE_ENUM type_name: ".t.M.Kind" }
          field { name: "kind" number: 6 label: LABEL_OPTIONAL type: TYPE_ENUM type_name: ".t.M.Kind" }
          field { name: "at" number: 7 label: LABEL_OPTIONAL type: TYPE_MESSAGE
                   type_name: ".google.protobuf.Timestamp" }
          field { name: "by_name" number: 8 label: LABEL_REPEATED type: TYPE_MESSAGE
                   type_name: ".t.M.ByNameEntry" }
          field { name: "label" number: 9 label: LABEL_OPTIONAL type: TYPE_STRING oneof_index: 0 }
          field { name: "child" number: 10 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".t.M"
                   oneof_index: 0 }
          field { name: "flag" number: 11 label: LABEL_OPTIONAL type: TYPE_BOOL }
          nested_type {
            name: "ByNameEntry" options { map_entry: true }
            field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
            field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".t.M" }
          }
          enum_type {
            name: "Kind" value { name: "KIND_UNSPECIFIED" number: 0 } value { name: "KIND_A" number: 1 }
          }
          oneof_decl { name: "choice" }
          oneof_decl { name: "_count" }  # proto3 `optional`'s synthetic oneof, after the real ones
        }
    """)
    imports = gen_client.Imports()
    rendered = {name: gen_client.parameter(field, imports) for name, field in fields.items()}
    assert rendered == {
        "text": 'text: str = ""',
        "count": "count: int | None = None",  # proto3 optional: None is unset, 0 is set
        "ratio": "ratio: float = 0.0",
        "blob": 'blob: bytes = b""',
        "kinds": "kinds: Iterable[m_pb2.M.Kind] = ()",
        "kind": "kind: m_pb2.M.Kind = m_pb2.M.KIND_UNSPECIFIED",
        "at": "at: timestamp_pb2.Timestamp | datetime.datetime | None = None",
        "by_name": "by_name: Mapping[str, m_pb2.M] | None = None",
        "label": "label: str | None = None",  # oneof members
        "child": "child: m_pb2.M | None = None",
        "flag": "flag: bool = False",
    }


@pytest.mark.parametrize("name", ["request", "timeout", "self", "from"])
def test_the_generator_refuses_a_field_name_the_signature_cannot_take(name: str) -> None:
    fields = _fields(f"""
        name: "t/m.proto" package: "t" syntax: "proto3"
        message_type {{ name: "M" field {{ name: "{name}" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }} }}
    """)
    with pytest.raises(SystemExit, match="cannot be a keyword parameter"):
        gen_client.parameter(fields[name], gen_client.Imports())


def test_only_the_fields_given_are_set() -> None:
    client = Client("127.0.0.1:9", token="t")  # no call is made
    try:
        # Defaults and None leave a field unset; a message, even empty, sets it.
        request = client._request(search_pb.SearchRequest, None, query="围巾", page_size=0, filter=None, sort=0)
        assert request == search_pb.SearchRequest(query="围巾")
        assert client._request(search_pb.SearchRequest, None, filter=search_pb.SearchFilter()).HasField("filter")
        # A request message is taken as it is, but for a fresh request_id when it has none.
        given = settlement_pb.RecordOrdersRequest(orders=[settlement_pb.Order(order_id="o-1")])
        sent = client._request(settlement_pb.RecordOrdersRequest, given, request_id="", orders=())
        assert sent.orders == given.orders and sent.request_id and not given.request_id
        with pytest.raises(TypeError, match="not both"):
            client._request(settlement_pb.RecordOrdersRequest, given, request_id="r-1")
        # Any typo is a TypeError before anything is sent.
        with pytest.raises(TypeError, match="qurey"):
            client.search(qurey="x")  # type: ignore[call-arg]
    finally:
        client.close()
    # Presence: an `optional` field is set by 0; a plain one is not, nor by -0.0 (which is sent).
    optional = search_pb.SearchFilter.DESCRIPTOR.fields_by_name["min_price_fen"]
    plain = search_pb.SignalContribution.DESCRIPTOR.fields_by_name["value"]
    repeated = search_pb.SearchFilter.DESCRIPTOR.fields_by_name["shop_ids"]
    assert _given(optional, 0) and not _given(optional, None)
    assert not _given(plain, 0.0) and _given(plain, -0.0) and _given(plain, 0.5)
    assert (
        not _given(repeated, ()) and not _given(repeated, []) and _given(repeated, ["s"]) and _given(repeated, iter([]))
    )


CHECKED = """
from xiaodian import Client
from xiaodian.v1 import search_service_pb2 as search_pb
from xiaodian.v1 import settlement_service_pb2 as settlement_pb


def main(client: Client) -> int:
    response = client.search({fields})
    completions: list[tuple[str, int]] = [
        (s.text, s.matched_chars) for s in client.suggest(prefix="yangr", limit=5).suggestions
    ]
    print(completions)
    client.record_orders(request_id="r-1", orders=[settlement_pb.Order(order_id="o-1")])
    client.record_orders(settlement_pb.RecordOrdersRequest(request_id="r-2"))
    for ack in client.stream_record_orders(iter([settlement_pb.StreamRecordOrdersRequest()])):
        print(ack)
    return response.total_matched
"""

GOOD = 'query="羊绒围巾", page_size=10, sort=search_pb.SEARCH_SORT_SALES'


def _mypy(folder: Path, fields: str, *options: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    checked = folder / "uses_the_client.py"
    checked.write_text(CHECKED.format(fields=fields))
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *options, str(checked)]
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=env, timeout=300)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ('qurey="羊绒围巾"', 'Unexpected keyword argument "qurey" for "search"'),
        ('query="x", page_size="10"', 'Argument "page_size" to "search" of "ClientMethods" has incompatible type'),
        ('query="x", sort=2', 'Argument "sort" to "search" of "ClientMethods" has incompatible type "int"'),
    ],
    ids=["misspelt", "wrong-type", "int-for-enum"],
)
def test_mypy_strict_catches_a_bad_field_in_the_source_tree(tmp_path: Path, fields: str, error: str) -> None:
    env = {**os.environ, "MYPYPATH": str(ROOT / "python")}
    code, output = _mypy(tmp_path, fields, "--config-file", str(ROOT / "pyproject.toml"), env=env)
    assert code == 1 and error in output and "Found 1 error in 1 file" in output, output


def test_mypy_strict_passes_on_the_correct_fields_in_the_source_tree(tmp_path: Path) -> None:
    env = {**os.environ, "MYPYPATH": str(ROOT / "python")}
    code, output = _mypy(tmp_path, GOOD, "--config-file", str(ROOT / "pyproject.toml"), env=env)
    assert code == 0, output


# -- the distribution -----------------------------------------------------------------------


def _run(
    command: list[str],
    *,
    timeout: float = INSTALL_TIMEOUT_S,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"took more than {timeout} s: {' '.join(command)}")
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}{result.stderr}"
    return result.stdout


def _clean_env() -> dict[str, str]:
    """The environment without anything that would point Python at the repository or a token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XIAODIAN_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if str(ROOT) not in p)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The xiaodian-client wheel, built by pip from clients/python (hatchling, from PyPI via pip's cache)."""
    out = tmp_path_factory.mktemp("wheel")
    started = time.monotonic()
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT / "clients" / "python")])
    print(f"wheel built in {time.monotonic() - started:.1f} s")
    [built] = out.glob("xiaodian_client-*-py3-none-any.whl")
    return built


@pytest.fixture(scope="module")
def client_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv (no access to the project's packages) with the wheel and its dependencies
    installed, and the `typing` extra; its python."""
    folder = tmp_path_factory.mktemp("venv") / "client"
    started = time.monotonic()
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    python = folder / "bin" / "python"
    created = time.monotonic()
    _run([str(python), "-m", "pip", "install", "-q", f"{wheel}[typing]"], env=_clean_env())
    installed = time.monotonic()
    print(f"venv created in {created - started:.1f} s; wheel and dependencies installed in {installed - created:.1f} s")
    yield python


def _shipped_modules() -> set[str]:
    """The paths, in the wheel, of the files the distribution must hold: the client's modules and
    every stub of xiaodian/v1."""
    names = {f"xiaodian/{name}" for name in ("__init__.py", "client.py", "_client_methods.py", "errors.py", "py.typed")}
    stubs = {f"xiaodian/v1/{p.name}" for p in (PACKAGE / "v1").iterdir() if p.suffix in (".py", ".pyi")}
    return names | stubs


def test_the_wheel_holds_the_client_and_nothing_of_the_server(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        package = {n for n in names if not n.startswith("xiaodian_client-")}
        assert package == _shipped_modules()
        for name in sorted(package):  # each file is the repository's, byte for byte
            assert archive.read(name) == (PACKAGE.parent / name).read_bytes(), name
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    import xiaodian

    assert f"Version: {xiaodian.__version__}\n" in metadata
    for dependency in ("grpcio", "grpcio-status", "grpcio-health-checking", "protobuf", "googleapis-common-protos"):
        assert f"Requires-Dist: {dependency}<" in metadata, dependency


def _is_module(dotted: str) -> bool:
    """Whether xiaodian.<...> names a module or package of the repository (not an attribute)."""
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.is_dir() or any(path.parent.glob(f"{path.name}.*"))


def test_the_shipped_modules_import_nothing_of_the_server() -> None:
    """Every import in the shipped files, even one inside a function or under TYPE_CHECKING: the
    standard library, the gRPC and protobuf packages the wheel depends on, or a shipped module."""
    shipped = {
        name.removesuffix(".pyi").removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for name in _shipped_modules()
    }
    for name in sorted(_shipped_modules() - {"xiaodian/py.typed"}):
        for node in ast.walk(ast.parse((PACKAGE.parent / name).read_text(), name)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from M import n`: M, and M.n when that is a module (`from xiaodian import _core`).
                modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                modules = modules[:1] + [m for m in modules[1:] if m.startswith("xiaodian.") and _is_module(m)]
            else:
                assert not isinstance(node, ast.ImportFrom), f"{name}: a relative import"
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top in sys.stdlib_module_names or top in ALLOWED_IMPORTS, f"{name} imports {module}"
                if top == "xiaodian":
                    assert module in shipped, f"{name} imports {module}, which xiaodian-client does not hold"


def test_the_venv_has_no_rust_extension_and_no_server(client_venv: Path) -> None:
    script = textwrap.dedent("""
        import importlib.util, pathlib, sys
        import xiaodian, xiaodian.client
        package = pathlib.Path(xiaodian.__file__).parent
        assert package.is_relative_to(sys.prefix), package  # the installed wheel, not the repository
        assert importlib.util.find_spec("xiaodian._core") is None
        try:
            import xiaodian._core
        except ImportError:
            pass
        else:
            raise AssertionError("xiaodian._core imported")
        assert not list(package.rglob("*.so")), list(package.rglob("*.so"))
        for absent in ("xiaodian.platform", "xiaodian.search", "maturin"):
            assert importlib.util.find_spec(absent) is None, absent
        print(sorted(m for m in sys.modules if m.startswith("xiaodian")))
    """)
    output = _run([str(client_venv), "-c", script], cwd=client_venv.parent, env=_clean_env(), timeout=60)
    loaded = set(ast.literal_eval(output))
    assert loaded <= {"xiaodian", "xiaodian.client", "xiaodian._client_methods", "xiaodian.errors"} | {
        f"xiaodian.v1.{p.stem}" for p in (PACKAGE / "v1").glob("*.py")
    } | {"xiaodian.v1"}


CALLS = """
import datetime
import sys

import xiaodian
import xiaodian.errors
from xiaodian.v1 import search_service_pb2 as search_pb

address, token = sys.argv[1], sys.argv[2]
with xiaodian.Client(address, token=token, timeout=30) as client:
    print("health", client.health())
    profile = client.get_ranking_profile(name="default").profile
    print("profile", profile.name, profile.version)
    opened = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    client.upsert_shops(shops=[search_pb.Shop(shop_id="s-wool", name="羊绒小店", opened_at=opened)])
    product = search_pb.Product(
        product_id="p-scarf", shop_id="s-wool", title="羊绒围巾 女士 冬季加厚", category_id="c-scarf",
        price_fen=5900, stock=10, version=1,
    )
    client.upsert_products(products=[product])
    response = client.search(query="羊绒围巾", page_size=10)
    print("search", response.total_matched, [hit.product_id for hit in response.hits])
    suggested = client.suggest(prefix="yangr", limit=5)
    print("suggest", [(s.text, s.matched_chars) for s in suggested.suggestions if s.text == "羊绒"])
    try:
        client.search(query="羊绒围巾", page_size=101)
    except xiaodian.errors.InvalidArgument as e:
        print("violations", [(v.field, v.description) for v in e.violations])
with xiaodian.Client(address, token="not-the-token", timeout=30) as stranger:
    try:
        stranger.search(query="羊绒围巾")
    except xiaodian.errors.Unauthenticated as e:
        print("unauthenticated", e.reason)
"""


def test_the_installed_client_calls_the_server(client_venv: Path, server, tmp_path: Path) -> None:
    token = Path(server.config.admin_token_path).read_text().strip()
    script = tmp_path / "calls.py"
    script.write_text(CALLS)
    started = time.monotonic()
    output = _run([str(client_venv), str(script), server.address, token], cwd=tmp_path, env=_clean_env(), timeout=120)
    print(f"calls in {time.monotonic() - started:.1f} s:\n{output}")
    lines = dict(line.split(" ", 1) for line in output.strip().splitlines())
    assert lines["health"] == "SERVING"
    assert lines["profile"].startswith("default ")
    assert lines["search"] == "1 ['p-scarf']"
    assert lines["suggest"] == "[('羊绒', 2)]"
    assert lines["violations"].startswith("[('page_size', ")
    assert lines["unauthenticated"]


@pytest.mark.parametrize(
    ("fields", "error"), [('qurey="羊绒围巾"', 'Unexpected keyword argument "qurey"'), (GOOD, None)]
)
def test_mypy_strict_on_code_using_the_installed_wheel(
    client_venv: Path, tmp_path: Path, fields: str, error: str | None
) -> None:
    """What a user of the wheel gets: mypy (the project's) resolving xiaodian, protobuf and grpc
    from the venv's site-packages (the wheel's py.typed, the `typing` extra), no config."""
    code, output = _mypy(tmp_path, fields, "--python-executable", str(client_venv), env=_clean_env())
    if error is None:
        assert code == 0, output
    else:
        assert code == 1 and error in output and "Found 1 error in 1 file" in output, output
