package dev.xiaodian.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import com.google.rpc.BadRequest;
import dev.xiaodian.v1.CreatorMetrics;
import dev.xiaodian.v1.CreatorScore;
import dev.xiaodian.v1.CreatorServiceGrpc;
import dev.xiaodian.v1.GetCreatorScoreRequest;
import dev.xiaodian.v1.Order;
import dev.xiaodian.v1.OrderLine;
import dev.xiaodian.v1.OrderState;
import dev.xiaodian.v1.Product;
import dev.xiaodian.v1.RecordOrderRequest;
import dev.xiaodian.v1.RecordOrderResponse;
import dev.xiaodian.v1.ScoreCreatorsRequest;
import dev.xiaodian.v1.ScoreCreatorsResponse;
import dev.xiaodian.v1.SearchFilter;
import dev.xiaodian.v1.SearchRequest;
import dev.xiaodian.v1.SearchResponse;
import dev.xiaodian.v1.SearchServiceGrpc;
import dev.xiaodian.v1.SettlementServiceGrpc;
import dev.xiaodian.v1.Shop;
import dev.xiaodian.v1.SuggestRequest;
import dev.xiaodian.v1.Suggestion;
import dev.xiaodian.v1.SuggestionMatch;
import dev.xiaodian.v1.SuggestionSource;
import dev.xiaodian.v1.UpsertCreatorMetricsRequest;
import dev.xiaodian.v1.UpsertOutcome;
import dev.xiaodian.v1.UpsertProductsRequest;
import dev.xiaodian.v1.UpsertProductsResponse;
import dev.xiaodian.v1.UpsertShopsRequest;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Calls every service of a live server: the one at {@code XIAODIAN_ADDR}, with the token of
 * {@code XIAODIAN_TOKEN} (else {@code XIAODIAN_SERVER_DATA_DIR}/admin.token). Without
 * {@code XIAODIAN_ADDR} every test here is skipped. Ids carry a random suffix, so the tests can
 * run again against the same server.
 */
class LiveServerTest {
  private static final long DEADLINE_SECONDS = 30;

  private static ManagedChannel channel;
  private static CallCredentials credentials;
  private static String suffix;

  @BeforeAll
  static void connect() {
    String address = System.getenv().getOrDefault("XIAODIAN_ADDR", "").strip();
    Assumptions.assumeFalse(
        address.isEmpty(),
        "XIAODIAN_ADDR is unset: set it to a running server's host:port (and XIAODIAN_TOKEN to its token)"
            + " to run the live-server tests");
    channel = Xiaodian.channel(address);
    credentials = Xiaodian.bearerToken();
    suffix = randomLetters(10);
  }

  @AfterAll
  static void disconnect() throws InterruptedException {
    if (channel != null) {
      channel.shutdown().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void upsertsAShopAndAProductThenFindsIt() {
    SearchServiceGrpc.SearchServiceBlockingStub search = SearchServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(credentials)
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    String shopId = "java-shop-" + suffix;
    String productId = "java-product-" + suffix;
    String word = "javatest" + suffix; // a word no other product has

    search.upsertShops(UpsertShopsRequest.newBuilder()
        .setRequestId("java-shops-" + suffix)
        .addShops(Shop.newBuilder()
            .setShopId(shopId)
            .setName("Java客户端测试店 " + suffix)
            .setOpenedAt(timestamp(Instant.parse("2024-01-01T00:00:00Z")))
            .setExperienceScore(4.6)
            .setExperienceReviewCount(120))
        .build());
    UpsertProductsResponse upserted = search.upsertProducts(UpsertProductsRequest.newBuilder()
        .setRequestId("java-products-" + suffix)
        .addProducts(Product.newBuilder()
            .setProductId(productId)
            .setShopId(shopId)
            .setTitle("纯棉连帽卫衣 " + word)
            .setCategoryId("apparel")
            .setPriceFen(12_900)
            .setSales30D(42)
            .setStock(10)
            .setImageCount(3)
            .setRatingSum(45)
            .setRatingCount(10))
        .build());
    assertEquals(1, upserted.getResultsCount());
    assertEquals(UpsertOutcome.UPSERT_OUTCOME_CREATED, upserted.getResults(0).getOutcome());

    SearchResponse page = search.search(SearchRequest.newBuilder()
        .setQuery(word)
        .setFilter(SearchFilter.newBuilder().addShopIds(shopId))
        .setExplain(true)
        .build());
    assertEquals(1, page.getHitsCount(), page.toString());
    assertEquals(productId, page.getHits(0).getProductId());
    assertEquals(shopId, page.getHits(0).getShopId());
    assertEquals(12_900, page.getHits(0).getPriceFen());
    assertFalse(page.getHits(0).getExplanation().getSignalsList().isEmpty(), page.toString());
  }

  @Test
  void suggestsCompletionsOfCharactersPinyinAndALatinWord() throws InterruptedException {
    String shopId = "java-suggest-shop-" + suffix;
    String word = "javasuggest" + suffix; // a title word no other product has
    SearchServiceGrpc.SearchServiceBlockingStub search = searchStub();
    search.upsertShops(UpsertShopsRequest.newBuilder()
        .setRequestId("java-suggest-shops-" + suffix)
        .addShops(Shop.newBuilder()
            .setShopId(shopId)
            .setName("Java联想测试店 " + suffix)
            .setOpenedAt(timestamp(Instant.parse("2024-01-01T00:00:00Z"))))
        .build());
    search.upsertProducts(UpsertProductsRequest.newBuilder()
        .setRequestId("java-suggest-products-" + suffix)
        .addProducts(Product.newBuilder()
            .setProductId("java-suggest-product-" + suffix)
            .setShopId(shopId)
            .setTitle("羊绒围巾 " + word)
            .setCategoryId("apparel")
            .setPriceFen(5_900)
            .setSales30D(42)
            .setStock(10))
        .build());

    // The whole word typed: it is matched in full; its popularity is 1 + the product's sales.
    Suggestion latin = suggestion(word, word);
    assertEquals(word.length(), latin.getMatchedChars(), latin.toString());
    assertEquals(SuggestionSource.SUGGESTION_SOURCE_TITLE, latin.getSource());
    assertEquals(SuggestionMatch.SUGGESTION_MATCH_TEXT, latin.getMatch());
    assertEquals(43, latin.getPopularity());
    // 羊绒 from its characters and from pinyin typed in part (yang, then r of rong: 2 characters).
    Suggestion typed = suggestion("羊绒", "羊绒");
    assertEquals(SuggestionMatch.SUGGESTION_MATCH_TEXT, typed.getMatch());
    assertEquals(2, typed.getMatchedChars());
    Suggestion pinyin = suggestion("yangr", "羊绒");
    assertEquals(SuggestionMatch.SUGGESTION_MATCH_PINYIN, pinyin.getMatch());
    assertEquals(2, pinyin.getMatchedChars());

    StatusRuntimeException error = assertThrows(
        StatusRuntimeException.class,
        () -> searchStub().suggest(SuggestRequest.newBuilder().setPrefix("羊绒").setLimit(21).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, error.getStatus().getCode());
    List<String> fields = RichErrors.fieldViolations(error).stream()
        .map(BadRequest.FieldViolation::getField)
        .collect(Collectors.toList());
    assertEquals(List.of("limit"), fields, error.toString());
  }

  /**
   * The completion {@code text} among those of {@code prefix}, asking again for a few seconds:
   * the server rebuilds its completions in the background after writes.
   */
  private static Suggestion suggestion(String prefix, String text) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      List<Suggestion> found = searchStub()
          .suggest(SuggestRequest.newBuilder().setPrefix(prefix).setLimit(20).build())
          .getSuggestionsList();
      assertTrue(found.size() <= 20, "more completions than the limit: " + found);
      Optional<Suggestion> match = found.stream().filter(s -> s.getText().equals(text)).findFirst();
      if (match.isPresent()) {
        return match.get();
      }
      assertTrue(System.nanoTime() < deadline, "no " + text + " among the completions of " + prefix + ": " + found);
      Thread.sleep(50);
    }
  }

  private static SearchServiceGrpc.SearchServiceBlockingStub searchStub() {
    return SearchServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(credentials)
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  @Test
  void recordsAnOrder() {
    SettlementServiceGrpc.SettlementServiceBlockingStub settlement = SettlementServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(credentials)
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    String orderId = "java-order-" + suffix;
    RecordOrderRequest request = RecordOrderRequest.newBuilder()
        .setRequestId("java-order-" + suffix)
        .setOrder(Order.newBuilder()
            .setOrderId(orderId)
            .setShopId("java-shop-" + suffix)
            .setPaidAt(timestamp(Instant.now()))
            .addLines(OrderLine.newBuilder()
                .setLineId("l1")
                .setProductId("java-product-" + suffix)
                .setCategoryId("apparel")
                .setUnitPriceFen(12_900)
                .setQuantity(2)))
        .build();

    RecordOrderResponse recorded = settlement.recordOrder(request);
    assertEquals(orderId, recorded.getOrderId());
    assertEquals(OrderState.ORDER_STATE_PAID, recorded.getState());
    assertEquals(25_800, recorded.getSplit().getPaidFen());
    long parts = recorded.getSplit().getMerchantFen() + recorded.getSplit().getFeeFen()
        + recorded.getSplit().getCreatorCommissionFen() + recorded.getSplit().getAgencyServiceFeeFen();
    assertEquals(25_800, parts, recorded.getSplit().toString());

    // The same request_id and content is a replay: the original response comes back.
    assertEquals(recorded, settlement.recordOrder(request));
  }

  @Test
  void scoresCreatorsAndReadsAScore() {
    CreatorServiceGrpc.CreatorServiceBlockingStub creators = CreatorServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(credentials)
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    String period = "2025-06";
    String cohort = "java-cohort-" + suffix; // scoring is per cohort: this run's creators only
    String best = "java-creator-a-" + suffix;
    String other = "java-creator-b-" + suffix;

    creators.upsertCreatorMetrics(UpsertCreatorMetricsRequest.newBuilder()
        .setRequestId("java-metrics-" + suffix)
        .addMetrics(CreatorMetrics.newBuilder()
            .setCreatorId(best)
            .setPeriod(period)
            .setCohort(cohort)
            .setSettledGmvFen(5_000_000)
            .setEffectiveFollowers(80_000)
            .setSalesScore(92.5))
        .addMetrics(CreatorMetrics.newBuilder()
            .setCreatorId(other)
            .setPeriod(period)
            .setCohort(cohort)
            .setSettledGmvFen(1_000_000)
            .setEffectiveFollowers(20_000)
            .setSalesScore(70))
        .build());
    ScoreCreatorsResponse scored = creators.scoreCreators(ScoreCreatorsRequest.newBuilder()
        .setRequestId("java-score-" + suffix)
        .setPeriod(period)
        .setCohort(cohort)
        .build());
    assertEquals(2, scored.getScoredCount());

    CreatorScore score = creators.getCreatorScore(GetCreatorScoreRequest.newBuilder()
        .setCreatorId(best)
        .setPeriod(period)
        .setCohort(cohort)
        .build())
        .getScore();
    assertEquals(best, score.getCreatorId());
    assertEquals(1, score.getRank());
    assertEquals(2, score.getCohortSize());
    assertEquals(5_000_000, score.getSettledGmvFen());
    assertTrue(score.getScore() >= 0 && score.getScore() <= 100, score.toString());
  }

  @Test
  void readsTheFieldViolationsOfAnInvalidRequest() {
    SettlementServiceGrpc.SettlementServiceBlockingStub settlement = SettlementServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(credentials)
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    RecordOrderRequest empty = RecordOrderRequest.newBuilder()
        .setRequestId("java-invalid-" + suffix)
        .setOrder(Order.getDefaultInstance())
        .build();

    StatusRuntimeException error = assertThrows(StatusRuntimeException.class, () -> settlement.recordOrder(empty));
    assertEquals(Status.Code.INVALID_ARGUMENT, error.getStatus().getCode());
    List<BadRequest.FieldViolation> violations = RichErrors.fieldViolations(error);
    List<String> fields = violations.stream().map(BadRequest.FieldViolation::getField).collect(Collectors.toList());
    assertTrue(fields.contains("order.order_id"), "field violations: " + violations);
    assertTrue(fields.contains("order.lines"), "field violations: " + violations);
    assertTrue(violations.stream().allMatch(v -> !v.getDescription().isEmpty()), "field violations: " + violations);
  }

  @Test
  void readsTheErrorInfoOfAnUnauthenticatedCall() {
    SearchServiceGrpc.SearchServiceBlockingStub anonymous = SearchServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);

    StatusRuntimeException error = assertThrows(
        StatusRuntimeException.class, () -> anonymous.search(SearchRequest.newBuilder().setQuery("卫衣").build()));
    assertEquals(Status.Code.UNAUTHENTICATED, error.getStatus().getCode());
    assertEquals("TOKEN_MISSING", RichErrors.errorInfo(error).orElseThrow().getReason(), error.toString());
  }

  private static Timestamp timestamp(Instant instant) {
    return Timestamp.newBuilder().setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
  }

  private static String randomLetters(int length) {
    SecureRandom random = new SecureRandom();
    StringBuilder letters = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      letters.append((char) ('a' + random.nextInt(26)));
    }
    return letters.toString();
  }
}
