// @xiaodian/client: the Node.js client of the xiaodian gRPC API.
//
//     import { createXiaodianClient } from "@xiaodian/client";
//     const xiaodian = createXiaodianClient({ address: "127.0.0.1:50051", token });
//     const { profile } = await xiaodian.search.getRankingProfile({ name: "default" });
//
// One client per service (`search`, `creator`, `settlement`), all over one gRPC transport
// (Connect's, HTTP/2). Every call sends `authorization: Bearer <token>`. Failed calls reject
// with a ConnectError; `@xiaodian/client/errors` reads its google.rpc details (field
// violations, ErrorInfo, RetryInfo). The messages, enums and services of xiaodian.v1 are
// re-exported from here, and each file is also at `@xiaodian/client/v1/<file>_pb`.
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

import { CreatorService } from "./gen/xiaodian/v1/creator_service_pb.js";
import { SearchService } from "./gen/xiaodian/v1/search_service_pb.js";
import { SettlementService } from "./gen/xiaodian/v1/settlement_service_pb.js";

export * from "./gen/xiaodian/v1/creator_service_pb.js";
export * from "./gen/xiaodian/v1/search_service_pb.js";
export * from "./gen/xiaodian/v1/settlement_service_pb.js";
export { Code, ConnectError } from "@connectrpc/connect";

/** Where a local server listens by default (xiaodian serve). */
export const DEFAULT_ADDRESS = "127.0.0.1:50051";

/**
 * The caller's token as xiaodian's own tools find it: `XIAODIAN_TOKEN`, else the admin token a
 * local server created in its data directory (`dataDir`, else `XIAODIAN_SERVER_DATA_DIR`, else
 * ./xiaodian-data: the file admin.token) if it can be read; else undefined.
 */
export function defaultToken(dataDir) {
  const fromEnv = (process.env.XIAODIAN_TOKEN ?? "").trim();
  if (fromEnv) return fromEnv;
  const dir = dataDir || process.env.XIAODIAN_SERVER_DATA_DIR || "xiaodian-data";
  try {
    return readFileSync(join(dir, "admin.token"), "ascii").trim() || undefined;
  } catch {
    return undefined;
  }
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * The transport's base URL: `address` as given when it has a scheme, else plaintext HTTP/2
 * (`http://`) for a loopback host and TLS (`https://`) for any other.
 */
export function baseUrl(address) {
  if (/^https?:\/\//i.test(address)) return address;
  const host = address.startsWith("[") ? address.slice(0, address.indexOf("]") + 1) : address.split(":")[0];
  return `${LOOPBACK.test(host) ? "http" : "https"}://${address}`;
}

/**
 * Clients of the three services over one gRPC transport.
 *
 * @param {object} [options]
 * @param {string} [options.address] host:port, or a URL (http:// for plaintext, https:// for
 *   TLS); default $XIAODIAN_ADDR, else 127.0.0.1:50051.
 * @param {string} [options.token] bearer token; default {@link defaultToken}().
 * @param {string} [options.dataDir] where {@link defaultToken} looks for admin.token.
 * @param {Array} [options.interceptors] more Connect interceptors, run after the token's.
 * @param {object} [options.transport] more options of createGrpcTransport (nodeOptions for a
 *   CA, defaultTimeoutMs, …).
 */
export function createXiaodianClient(options = {}) {
  const address = options.address || process.env.XIAODIAN_ADDR || DEFAULT_ADDRESS;
  const token = options.token ?? defaultToken(options.dataDir);
  const bearer = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createGrpcTransport({
    ...options.transport,
    baseUrl: baseUrl(address),
    interceptors: [...(token ? [bearer] : []), ...(options.interceptors ?? [])],
  });
  return {
    search: createClient(SearchService, transport),
    creator: createClient(CreatorService, transport),
    settlement: createClient(SettlementService, transport),
    transport,
  };
}
