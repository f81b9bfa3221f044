// Compiled by `npm run typecheck` (tsc --noEmit), never run: the package's types, used as a
// TypeScript project would use them, through the package's exports.
import {
  Code,
  ConnectError,
  createXiaodianClient,
  OrderSchema,
  SearchService,
  type SearchResponse,
  SuggestionMatch,
  type Suggestion,
  type XiaodianClient,
} from "@xiaodian/client";
import { errorInfo, fieldViolations, retryDelayMs, violationCount, type FieldViolation } from "@xiaodian/client/errors";
import { BadRequestSchema, type BadRequest } from "@xiaodian/client/google/rpc/error_details_pb";
import { StatusSchema } from "@xiaodian/client/google/rpc/status_pb";
import { GetRankingProfileRequestSchema } from "@xiaodian/client/v1/search_service_pb";
import { create } from "@bufbuild/protobuf";

export async function use(): Promise<string[]> {
  const client: XiaodianClient = createXiaodianClient({ address: "127.0.0.1:50051", token: "t" });
  const found: SearchResponse = await client.search.search({ query: "围巾", pageSize: 10 });
  const ids: string[] = found.hits.map((hit) => hit.productId);
  const completions: Suggestion[] = (await client.search.suggest({ prefix: "yangr", limit: 5 })).suggestions;
  const marked: string[] = completions
    .filter((s) => s.match !== SuggestionMatch.INITIALS)
    .map((s) => `[${[...s.text].slice(0, s.matchedChars).join("")}]${[...s.text].slice(s.matchedChars).join("")} ${s.popularity}`);
  ids.push(...marked);
  // @ts-expect-error: limit is a number
  await client.search.suggest({ prefix: "yr", limit: "5" });
  const request = create(GetRankingProfileRequestSchema, { name: "default" });
  const version: number | undefined = (await client.search.getRankingProfile(request)).profile?.version;
  // @ts-expect-error: name is a string
  await client.search.getRankingProfile({ name: 1 });
  try {
    await client.settlement.recordOrder({ requestId: "r", order: create(OrderSchema, {}) });
  } catch (err) {
    const violations: FieldViolation[] = fieldViolations(err);
    const reason: string | undefined = errorInfo(err)?.reason;
    const delay: number | undefined = retryDelayMs(err);
    const count: number = violationCount(err);
    const bad: BadRequest[] = ConnectError.from(err).findDetails(BadRequestSchema);
    const code: Code = ConnectError.from(err).code;
    ids.push(...violations.map((v) => `${v.field}: ${v.description}`), `${reason} ${delay} ${count} ${bad.length} ${code}`);
  }
  ids.push(SearchService.typeName, StatusSchema.typeName, `${version}`);
  return ids;
}
