// End-to-end test of the Node.js client (@xiaodian/client: the stubs generated from proto/ by
// protoc-gen-es, Connect's gRPC transport, the google.rpc error helpers) against a running
// xiaodian server. Run by the Python test suite (tests/platform/test_node_client.py), which
// starts the server and sets XIAODIAN_ADDR; without it the server's tests are skipped. The
// bearer token is createXiaodianClient's default: XIAODIAN_TOKEN, else the admin.token file the
// server created in its data directory (XIAODIAN_SERVER_DATA_DIR, else ./xiaodian-data).
import assert from "node:assert/strict";
import { test } from "node:test";

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  baseUrl,
  Code,
  ConnectError,
  CreatorTier,
  createXiaodianClient,
  DiscountFunder,
  OrderSchema,
  OrderState,
  PartyKind,
  SuggestionMatch,
  SuggestionSource,
} from "@xiaodian/client";
import { ERROR_DOMAIN, errorInfo, fieldViolations } from "@xiaodian/client/errors";

const addr = process.env.XIAODIAN_ADDR;
const skip = addr ? false : "XIAODIAN_ADDR is not set (host:port of a running xiaodian server)";
const xiaodian = addr ? createXiaodianClient({ address: addr }) : null;
const callOptions = { timeoutMs: 10_000 };
/** A suffix that keeps this run's ids apart from any other run's on a shared server. */
const run = `node-${Date.now()}`;

/** The ConnectError a call fails with (the test fails if the call succeeds). */
async function failure(call) {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("the call succeeded");
}

test("ranking profiles: the default, a rejected update, an unknown name", { skip }, async () => {
  const client = xiaodian.search;
  const before = (await client.getRankingProfile({ name: "default" }, callOptions)).profile;
  assert.equal(before.name, "default");
  assert.ok(before.version >= 1);

  const rejected = await failure(
    client.updateRankingProfile(
      { requestId: `${run}-bad`, profile: { name: "default", titleWeight: -1 } },
      callOptions,
    ),
  );
  assert.equal(rejected.code, Code.InvalidArgument);
  assert.match(rejected.rawMessage, /title_weight/);
  // The google.rpc details of the grpc-status-details-bin trailer, decoded by the helpers.
  assert.deepEqual(
    fieldViolations(rejected).map((v) => v.field),
    ["profile.title_weight"],
  );
  assert.equal(errorInfo(rejected)?.domain, ERROR_DOMAIN);
  const after = (await client.getRankingProfile({ name: "default" }, callOptions)).profile;
  assert.equal(after.version, before.version, "a rejected update wrote nothing");

  const unknown = await failure(client.getRankingProfile({ name: "no-such-profile" }, callOptions));
  assert.equal(unknown.code, Code.NotFound);
});

test("search: Chinese infix and mixed-script recall, brands first", { skip }, async () => {
  const client = xiaodian.search;
  const opened = timestampFromMs(Date.UTC(2020, 0, 1));
  const brandShop = `${run}-pine`;
  const plainShop = `${run}-wool`;
  await client.upsertShops(
    {
      requestId: `${run}-shops`,
      shops: [
        { shopId: brandShop, name: `山下有松${run}`, isBrand: true, openedAt: opened, experienceScore: 4.5, experienceReviewCount: 100 },
        { shopId: plainShop, name: `羊绒小店${run}`, openedAt: opened, experienceScore: 4.5, experienceReviewCount: 100 },
      ],
    },
    callOptions,
  );
  const product = (productId, shopId, title) => ({
    productId: `${run}-${productId}`,
    shopId,
    title,
    categoryId: `${run}-scarf`,
    priceFen: 9900n,
    stock: 10n,
    version: 1n,
  });
  const upserted = await client.upsertProducts(
    {
      requestId: `${run}-products`,
      products: [
        product("brand", brandShop, "山下有松 羊绒围巾女 2025新款"),
        product("plain", plainShop, "羊绒围巾 女士 冬季加厚"),
        product("case", plainShop, "iPhone15手机壳 防摔透明"),
      ],
    },
    callOptions,
  );
  assert.equal(upserted.results.length, 3);

  // Filtered to this run's category, so other tests' products on the server do not interfere.
  const filter = { categoryIds: [`${run}-scarf`] };
  const scarves = await client.search({ query: "绒围", filter, pageSize: 10 }, callOptions);
  assert.deepEqual(
    scarves.hits.map((hit) => hit.productId),
    [`${run}-brand`, `${run}-plain`],
    "an infix bigram finds both scarves; the brand's ranks first (same text, ×2 multiplier)",
  );
  const cases = await client.search({ query: "ＩＰＨＯＮＥ１５ 手机壳", filter, pageSize: 10 }, callOptions);
  assert.deepEqual(cases.hits.map((hit) => hit.productId), [`${run}-case`]);
  assert.equal(cases.totalMatched, 1);

  const tooLong = await failure(
    client.upsertProducts(
      { requestId: `${run}-bad`, products: [product("bad", plainShop, "长".repeat(61))] },
      callOptions,
    ),
  );
  assert.equal(tooLong.code, Code.InvalidArgument);
});

/**
 * The completion `text` among those of `prefix`, asking again for a few seconds: the server
 * rebuilds its completions in the background after writes.
 */
async function suggestion(prefix, text) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { suggestions } = await xiaodian.search.suggest({ prefix, limit: 20 }, callOptions);
    assert.ok(suggestions.length <= 20, `${suggestions.length} completions, limit 20`);
    const found = suggestions.find((s) => s.text === text);
    if (found) return found;
    assert.ok(Date.now() < deadline, `Suggest(${prefix}) = ${suggestions.map((s) => s.text)}, no ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("suggest: characters, pinyin and initials complete to a title word; bad input names the field", { skip }, async () => {
  const client = xiaodian.search;
  const shopId = `${run}-suggest`;
  const openedAt = timestampFromMs(Date.UTC(2020, 0, 1));
  await client.upsertShops({ requestId: `${run}-suggest-shop`, shops: [{ shopId, name: `暖冬${run}`, openedAt }] }, callOptions);
  await client.upsertProducts(
    {
      requestId: `${run}-suggest-products`,
      products: [
        { productId: `${run}-suggest`, shopId, title: "羊绒围巾 女士 冬季加厚", categoryId: `${run}-scarf`,
          priceFen: 5900n, stock: 10n, version: 1n },
      ],
    },
    callOptions,
  );
  for (const [prefix, match] of [["羊绒", SuggestionMatch.TEXT], ["yangr", SuggestionMatch.PINYIN], ["yr", SuggestionMatch.INITIALS]]) {
    const found = await suggestion(prefix, "羊绒");
    assert.equal(found.matchedChars, 2, prefix);
    assert.equal(found.match, match, prefix);
    assert.equal(found.source, SuggestionSource.TITLE, prefix);
    assert.ok(found.popularity >= 1n, prefix);
  }
  const limited = await client.suggest({ prefix: "羊", limit: 1 }, callOptions);
  assert.ok(limited.suggestions.length <= 1);
  for (const [request, field] of [
    [{ prefix: "" }, "prefix"],
    [{ prefix: "羊".repeat(31) }, "prefix"],
    [{ prefix: "羊绒", limit: 21 }, "limit"],
  ]) {
    const bad = await failure(client.suggest(request, callOptions));
    assert.equal(bad.code, Code.InvalidArgument);
    assert.deepEqual(fieldViolations(bad).map((v) => v.field), [field]);
  }
});

test("creators: score a cohort and read the leaderboard", { skip }, async () => {
  const client = xiaodian.creator;
  const cohort = `${run}-cohort`;
  await client.upsertCreatorMetrics(
    {
      requestId: `${run}-metrics`,
      metrics: [
        {
          creatorId: "node-a", period: "2025-06", cohort, settledGmvFen: 300n,
          audience: { case: "effectiveFollowers", value: 10n },
          sales: { case: "salesScore", value: 90 },
        },
        {
          creatorId: "node-b", period: "2025-06", cohort, settledGmvFen: 100n,
          audience: { case: "followerCounts", value: { followers: 50n, riskFlaggedFollowers: 45n } },
          sales: { case: "salesScoreComponents", value: { orderCount90d: 3n } },
        },
      ],
    },
    callOptions,
  );
  const scored = await client.scoreCreators({ requestId: `${run}-score`, period: "2025-06", cohort }, callOptions);
  assert.equal(scored.scoredCount, 2);
  const top = await client.listTopCreators({ period: "2025-06", cohort }, callOptions);
  // node-a is better on all three raw values: top score, tier S; node-b has 50 − 45 = 5 effective followers.
  assert.deepEqual(top.scores.map((s) => s.creatorId), ["node-a", "node-b"]);
  assert.equal(top.scores[0].score, 100);
  assert.equal(top.scores[0].tier, CreatorTier.S);
  assert.equal(top.scores[1].effectiveFollowers, 5n);
  const unknown = await failure(
    client.getCreatorScore({ creatorId: "node-nobody", period: "2025-06", cohort }, callOptions),
  );
  assert.equal(unknown.code, Code.NotFound);
});

test("settlement: preview, record (idempotent), read back; every fen accounted for", { skip }, async () => {
  const client = xiaodian.settlement;
  const shopId = `${run}-shop`;
  // Two lines of 10,000 fen; a 2,000-fen merchant coupon on both, a 1,000-fen platform coupon on
  // the second; creator 10 %; a two-party chain taking 5 %, the agency passing half down.
  const order = create(OrderSchema, {
    orderId: `${run}-order`,
    shopId,
    paidAt: timestampFromMs(Date.now() - 60_000),
    lines: [
      { lineId: "l1", productId: "p1", categoryId: "c1", unitPriceFen: 5_000n, quantity: 2n },
      { lineId: "l2", productId: "p2", categoryId: "c1", unitPriceFen: 10_000n, quantity: 1n },
    ],
    discounts: [
      { discountId: "d1", funder: DiscountFunder.MERCHANT, amountFen: 2_000n },
      { discountId: "d2", funder: DiscountFunder.PLATFORM, amountFen: 1_000n, lineIds: ["l2"] },
    ],
    attribution: {
      creator: { creatorId: `${run}-creator`, ratioPpm: 100_000 },
      agencyChain: {
        serviceRatioPpm: 50_000,
        parties: [
          { kind: PartyKind.AGENCY, partyId: `${run}-agency`, passDownPpm: 500_000 },
          { kind: PartyKind.PROMOTER, partyId: `${run}-promoter` },
        ],
      },
    },
  });
  const preview = (await client.previewSplit({ order }, callOptions)).split;
  // Paid 9,000 + 8,000; creator 10 % of paid; chain 5 % of paid; fee 1 % (new-merchant rate) of GMV 9,000 + 9,000.
  assert.equal(preview.paidFen, 17_000n);
  assert.equal(preview.subsidyFen, 1_000n);
  assert.equal(preview.creatorCommissionFen, 1_700n);
  assert.equal(preview.agencyServiceFeeFen, 850n);
  assert.equal(preview.feeFen, 180n);
  assert.equal(preview.merchantFen, 15_270n);
  for (const line of preview.lines) {
    const kept = line.chain.reduce((sum, party) => sum + party.keptFen, 0n);
    const subsidy = line.creatorSubsidyFen + line.platformSubsidyFen + line.governmentSubsidyFen;
    assert.equal(line.paidFen + subsidy, line.merchantFen + line.feeFen + line.creatorCommissionFen + kept);
  }

  const recorded = await client.recordOrder({ requestId: `${run}-record`, order }, callOptions);
  assert.equal(recorded.state, OrderState.PAID);
  assert.equal(recorded.split.merchantFen, preview.merchantFen);
  const replayed = await client.recordOrder({ requestId: `${run}-record`, order }, callOptions);
  assert.equal(replayed.split.merchantFen, recorded.split.merchantFen, "a replay answers the original");
  const conflict = await failure(
    client.recordOrder({ requestId: `${run}-record`, order: { ...order, guideId: "someone-else" } }, callOptions),
  );
  assert.equal(conflict.code, Code.AlreadyExists);

  const stored = await client.getOrder({ orderId: order.orderId }, callOptions);
  assert.equal(stored.state, OrderState.PAID);
  assert.equal(stored.split.feeFen, 180n);
  const balance = await client.getBalance({ account: `merchant:${shopId}` }, callOptions);
  assert.equal(balance.pendingFen, 15_270n);
  assert.equal(balance.settledFen, 0n);
});

test("auth: a wrong token is refused with ErrorInfo, and no field violations", { skip }, async () => {
  const stranger = createXiaodianClient({ address: addr, token: "not-a-token" });
  const refused = await failure(stranger.search.getRankingProfile({ name: "default" }, callOptions));
  assert.equal(refused.code, Code.Unauthenticated);
  assert.equal(errorInfo(refused)?.domain, ERROR_DOMAIN);
  assert.deepEqual(fieldViolations(refused), []);
});

test("baseUrl: plaintext for a loopback host, TLS for any other, a URL as given", () => {
  assert.equal(baseUrl("127.0.0.1:50051"), "http://127.0.0.1:50051");
  assert.equal(baseUrl("localhost:50051"), "http://localhost:50051");
  assert.equal(baseUrl("[::1]:50051"), "http://[::1]:50051");
  assert.equal(baseUrl("api.example.com:443"), "https://api.example.com:443");
  assert.equal(baseUrl("http://10.0.0.5:50051"), "http://10.0.0.5:50051");
});
