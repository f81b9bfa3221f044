#!/usr/bin/env node
// Regenerates rpc/google/rpc/{status,error_details}_pb.{js,d.ts}: the google.rpc types of the
// gRPC rich error model (Status, ErrorInfo, BadRequest, RetryInfo, …) that xiaodian's errors
// carry in the `grpc-status-details-bin` trailer.
//
//     npm run gen:rpc                 # rewrite rpc/ in this package
//     npm run gen:rpc -- --out DIR    # write DIR/google/rpc/* instead (to compare)
//
// The .proto files and protoc come from the repository's Python environment, pinned there
// (googleapis-common-protos and grpcio-tools in requirements/), the plugin from this package's
// node_modules (protoc-gen-es, pinned in package-lock.json), so the committed output is
// reproducible. Python: $PYTHON, else ../../.venv/bin/python (made by ./dev), else python3.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PROTOS = ["google/rpc/status.proto", "google/rpc/error_details.proto"];

const outArg = process.argv.indexOf("--out");
const out = outArg > 0 ? resolve(process.argv[outArg + 1]) : join(PACKAGE, "rpc");
const venvPython = join(PACKAGE, "..", "..", ".venv", "bin", "python");
const python = process.env.PYTHON || (existsSync(venvPython) ? venvPython : "python3");
const plugin = join(PACKAGE, "node_modules", ".bin", "protoc-gen-es");
if (!existsSync(plugin)) {
  console.error(`${plugin} is missing: run npm ci in ${PACKAGE} first`);
  process.exit(1);
}

// Include roots: the site-packages folder holding google/rpc/*.proto (googleapis-common-protos),
// and grpc_tools' bundled well-known types (google/protobuf/any.proto, duration.proto).
const [googleapis, wellKnown] = execFileSync(
  python,
  [
    "-c",
    "import pathlib, google.rpc, grpc_tools; " +
      "print(pathlib.Path(list(google.rpc.__path__)[0]).parent.parent); " +
      "print(pathlib.Path(grpc_tools.__file__).parent / '_proto')",
  ],
  { encoding: "utf8" },
)
  .trim()
  .split("\n");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(
  python,
  [
    "-m",
    "grpc_tools.protoc",
    `-I${googleapis}`,
    `-I${wellKnown}`,
    `--plugin=protoc-gen-es=${plugin}`,
    `--es_out=${out}`,
    "--es_opt=target=js+dts,import_extension=js",
    ...PROTOS,
  ],
  { stdio: "inherit" },
);
console.error(`generated ${join(out, "google", "rpc")}`);
