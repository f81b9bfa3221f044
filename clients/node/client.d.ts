// Types of client.js (kept by hand; `npm run typecheck` checks them).
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import type { GrpcTransportOptions } from "@connectrpc/connect-node";

import type { CreatorService } from "./gen/xiaodian/v1/creator_service_pb.js";
import type { SearchService } from "./gen/xiaodian/v1/search_service_pb.js";
import type { SettlementService } from "./gen/xiaodian/v1/settlement_service_pb.js";

export * from "./gen/xiaodian/v1/creator_service_pb.js";
export * from "./gen/xiaodian/v1/search_service_pb.js";
export * from "./gen/xiaodian/v1/settlement_service_pb.js";
export { Code, ConnectError } from "@connectrpc/connect";

/** Where a local server listens by default (xiaodian serve): "127.0.0.1:50051". */
export declare const DEFAULT_ADDRESS: string;

export interface XiaodianClientOptions {
  /**
   * host:port, or a URL (http:// for plaintext, https:// for TLS). Without a scheme: plaintext
   * for a loopback host (localhost, 127.x.x.x, [::1]), TLS for any other. Default
   * $XIAODIAN_ADDR, else 127.0.0.1:50051.
   */
  address?: string;
  /** Bearer token sent with every call. Default {@link defaultToken}(). */
  token?: string;
  /** Where {@link defaultToken} looks for admin.token (default $XIAODIAN_SERVER_DATA_DIR, else ./xiaodian-data). */
  dataDir?: string;
  /** More Connect interceptors, run after the one that adds the token. */
  interceptors?: Interceptor[];
  /** More options of createGrpcTransport (nodeOptions for a CA or a client certificate, defaultTimeoutMs, …). */
  transport?: Partial<Omit<GrpcTransportOptions, "baseUrl" | "interceptors">>;
}

export interface XiaodianClient {
  search: Client<typeof SearchService>;
  creator: Client<typeof CreatorService>;
  settlement: Client<typeof SettlementService>;
  /** The gRPC transport the three clients share (for createClient of another service). */
  transport: Transport;
}

/** Clients of the three services over one gRPC transport (HTTP/2), each call with the bearer token. */
export declare function createXiaodianClient(options?: XiaodianClientOptions): XiaodianClient;

/**
 * $XIAODIAN_TOKEN, else the admin token a local server created in its data directory
 * (`dataDir`, else $XIAODIAN_SERVER_DATA_DIR, else ./xiaodian-data: admin.token) if readable;
 * else undefined.
 */
export declare function defaultToken(dataDir?: string): string | undefined;

/** The transport's base URL for an address (see {@link XiaodianClientOptions.address}). */
export declare function baseUrl(address: string): string;
