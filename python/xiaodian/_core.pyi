"""Typed face of the Rust extension `xiaodian._core` (checked against it by mypy.stubtest).

Errors are raised as `xiaodian.errors` classes: `InvalidArgument` (a `ValueError`) lists every
violated rule in `.violations`, with field paths relative to the value checked.
"""

from typing import Any, final

from typing_extensions import Buffer

__all__ = [
    "PageTokens",
    "SearchEngine",
    "__version__",
    "analyze_hero_image",
    "check_negating_modifiers",
    "default_ranking_profile",
    "dhash_distance",
    "get_creator_score_response",
    "list_top_creators_response",
    "pinyin_cuts",
    "pinyin_readings",
    "pinyin_syllables",
    "preview_split_response",
    "read_orders",
    "record_order_response",
    "record_responses",
    "recording_rows",
    "reverse_line",
    "sales_scores",
    "score_creators",
    "split_encoded_blobs",
    "split_encoded_orders",
    "split_orders",
    "split_orders_packed",
    "stream_record_orders_response",
    "time_split_orders",
    "validate_ranking_profile",
]

__version__: str

def check_negating_modifiers(modifiers: list[str]) -> None:
    """Raises `xiaodian.errors.InvalidArgument` naming each `negating_modifiers[i]` that is not
    1-4 Chinese characters (at most 20 modifiers)."""

def pinyin_syllables() -> list[str]:
    """Every pinyin syllable (toneless, ü written v), alphabetical."""

def pinyin_readings(text: str) -> list[list[str]]:
    """Each character's readings, most common first; empty for a character without one."""

def pinyin_cuts(letters: str) -> list[list[str]]:
    """The ways a run of lowercase letters is read as syllables, best first (at most 4)."""

def default_ranking_profile() -> dict[str, Any]:
    """The built-in default ranking profile, keyed by `xiaodian.v1.RankingProfile` field names."""

def validate_ranking_profile(profile: dict[str, Any]) -> None:
    """Raises `xiaodian.errors.InvalidArgument` listing every violated rule of the profile."""

@final
class PageTokens:
    """Signs and reads page tokens (HMAC-SHA256; `xiaodian.platform.page_tokens`)."""

    def __new__(cls, key: bytes, previous_key: bytes | None = None) -> PageTokens:
        """Keys of at least 32 bytes (`ValueError` otherwise)."""
    def issue(self, kind: str, values: list[int | str]) -> str:
        """A token of `kind` carrying `values`."""
    def read(self, token: str, kind: str, count: int, field: str = "page_token") -> list[int | str]:
        """The `count` values of a token issued for `kind`; `InvalidArgument` on `field` otherwise."""

@final
class SearchEngine:
    """The in-memory search index (Rust). Thread-safe: searches run in parallel, a write
    waits for them; the GIL is released around every call that touches the index.

    Shop dicts: shop_id, name, is_brand, opened_at_s, experience_score,
    experience_review_count. Product dicts: product_id, shop_id, title, brand, category_id,
    price_fen, sales_30d, stock, rating_sum, rating_count, hero_quality, dhash (int or None),
    listed_at_s. Request dicts: query, category_ids, shop_ids, min_price_fen, max_price_fen
    (int or None), in_stock_only, sort (relevance, sales, price_ascending, price_descending,
    rating, newest), page_size (1-100), page (0-based), max_per_shop, keep_duplicates, explain,
    now_s.
    """

    def __new__(
        cls, analysis: str = "full", negating_modifiers: list[str] | None = None, approximate: bool = True
    ) -> SearchEngine:
        """`analysis` is "full" (bigrams and jieba words) or "bigrams"; `negating_modifiers`
        (full analysis; default 仿, 类, 非, 假, 人造): a word right after one does not match the
        plain word. Raises `InvalidArgument` naming `negating_modifiers[i]`. `approximate`
        false turns off pinyin, same-sound and typo matching and title phrases (indexing as
        before them, what the benchmarks compare; Suggest then offers no phrases)."""
    def negating_modifiers(self) -> list[str]:
        """The negating modifiers, normalised, longest first."""
    def upsert_shops(self, shops: list[dict[str, Any]]) -> None:
        """Creates or replaces shops; a renamed shop's products are re-indexed."""
    def upsert_products(self, products: list[dict[str, Any]]) -> None:
        """Creates or replaces products; `FailedPrecondition` (nothing written) for an unknown shop."""
    def delete_products(self, product_ids: list[str]) -> int:
        """Removes products; returns how many were present."""
    def put_profile(self, name: str, version: int, profile: dict[str, Any]) -> None:
        """Keeps version `version` of profile `name` (a validated profile dict), compiled."""
    def search_encoded(self, request: bytes, tokens: PageTokens, max_result_window: int, now_s: int) -> bytes:
        """`SearchService.Search` on the wire: an encoded `SearchRequest` in, the encoded
        `SearchResponse` out; validation, the page token (signed with `tokens`, pages ending
        within `max_result_window`), the kept profile (`NotFound` without it) and the encoding
        all in Rust, without the GIL. `now_s` is the clock of a first page. Raises
        `InvalidArgument` (MALFORMED_REQUEST for bytes that are not a SearchRequest)."""
    def search(self, profile: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        """Result dict: hits (dicts as `xiaodian.v1.SearchHit`, explanation a dict or None,
        its approximate_matches a list of (query word, matched word, kind) with kind pinyin,
        initials, same_sound or typo), total_matched, first_tier_matched,
        second_tier_matched, second_tier_searched, has_more, collapsed_duplicates."""
    def suggest_encoded(self, request: bytes) -> bytes:
        """`SearchService.Suggest` on the wire: an encoded `SuggestRequest` in, the encoded
        `SuggestResponse` out, without the GIL. Raises `InvalidArgument` naming `prefix` or
        `limit` (MALFORMED_REQUEST for bytes that are not a SuggestRequest)."""
    def refresh_suggestions(self) -> bool:
        """Builds Suggest's completions from the index as it is now unless they are up to
        date (otherwise Suggest rebuilds them in the background, at most once per ten build
        times); returns whether it built."""
    def suggest(self, prefix: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` (1-20) completions of `prefix`, best first: dicts of text,
        matched_chars, source (title, shop_name, brand), match (text, pinyin, initials) and
        popularity. Raises `InvalidArgument` naming `prefix` or `limit`."""
    def product_count(self) -> int:
        """Number of live products."""
    def shop_count(self) -> int:
        """Number of shops."""
    def tokens(self, text: str) -> list[str]:
        """The index tokens of `text`."""
    def query_terms(self, text: str) -> list[tuple[str, bool]]:
        """The query terms of `text` with their `required` flags."""
    def query_words(self, text: str, synonyms: list[list[str]] = ...) -> list[list[list[str]]]:
        """The query words of `text` with `synonyms` (groups of words): each word a list of
        its alternatives, each alternative the list of its terms."""

def analyze_hero_image(image_bytes: bytes, max_decoded_bytes: int) -> dict[str, Any]:
    """Decodes (limits first: 10 MB, 50 megapixels, JPEG/PNG/WebP/BMP, no animation, and the
    memory the analysis would hold at once, worked out from the header, at most
    `max_decoded_bytes`) and analyses a hero image. Keys as `xiaodian.v1.HeroImageReport`
    (`format` its enum number). Raises `InvalidArgument` on `image_bytes` whose description
    starts with the reason: format, size, dimensions, animation, corrupt or memory."""

def dhash_distance(a: int, b: int) -> int:
    """Hamming distance between two 64-bit dHashes."""

#: (shop position in `allowances`, lines as (unit_price_fen, quantity, category_fee_ppm),
#: discounts as (funder 1-4 as `DiscountFunder`, amount_fen, line positions; empty = all),
#: terms as (creator_ppm, service_ppm, each chain party's pass_down_ppm)).
_OrderTuple = tuple[
    int,
    list[tuple[int, int, int]],
    list[tuple[int, int, list[int]]],
    tuple[int, int, list[int]],
]
#: (gross, discount shares in discount order, paid, [creator, platform, government] subsidy,
#: new_merchant_base, fee, creator_commission, chain_kept, merchant).
_LineTuple = tuple[int, list[int], int, list[int], int, int, int, list[int], int]

def split_orders(
    orders: list[_OrderTuple], allowances: list[int], new_merchant_ppm: int
) -> tuple[list[list[_LineTuple]], list[int]]:
    """Splits orders in order (GIL released), each consuming its shop's new-merchant
    allowance; returns the splits and the allowances left. All or nothing: `InvalidArgument`
    naming `orders[i]...` for a refused order, and nothing consumed."""

def split_orders_packed(
    orders: list[_OrderTuple], allowances: list[int], new_merchant_ppm: int
) -> tuple[list[tuple[bytes, tuple[int, list[int], int, int, int, list[int]]]], list[int]]:
    """`split_orders` for the service: per order its split packed into bytes (read by
    `xiaodian.settlement.orders.unpack_split`) and its totals (paid, [creator, platform,
    government] subsidy, fee, creator_commission, merchant, chain kept per party)."""

def time_split_orders(
    orders: list[_OrderTuple], allowances: list[int], new_merchant_ppm: int, repeats: int
) -> list[float]:
    """Benchmark hook: converts the orders once, then times `repeats` runs of the split kernel
    alone (GIL released): every order's packed split and totals, as `split_orders_packed`
    asks of it; the seconds of each run."""

def split_encoded_orders(
    encoded: list[bytes],
    shops: list[int],
    allowances: list[int],
    new_merchant_ppm: int,
    default_rate_ppm: int,
    rate_ppm_by_category: dict[str, int],
) -> tuple[list[tuple[bytes, tuple[int, list[int], int, int, int, list[int]]]], list[int]]:
    """`split_orders_packed` of encoded orders that `orders_valid` passed, read in Rust: order i
    of shop position `shops[i]`, each line's fee rate by its category, else `default_rate_ppm`."""

def split_encoded_blobs(
    encoded: list[bytes],
    shops: list[int],
    allowances: list[int],
    new_merchant_ppm: int,
    default_rate_ppm: int,
    rate_ppm_by_category: dict[str, int],
) -> tuple[list[bytes], list[int]]:
    """`split_encoded_orders` without the totals: each order's packed split, and the
    allowances left."""

def read_orders(
    request: bytes, shape: str, max_orders: int, max_line_fen: int, max_order_fen: int
) -> tuple[str, list[bytes], list[str], list[str], list[int]]:
    """Reads and checks a request carrying orders, without the GIL: `shape` is "orders"
    (`RecordOrdersRequest`, `StreamRecordOrdersRequest`, 1 to `max_orders` orders), "order"
    (`RecordOrderRequest`) or "preview" (`PreviewSplitRequest`). Returns (request_id, the
    orders' encodings, order_ids, shop_ids, paid_at_us). Raises `InvalidArgument` naming every
    broken rule of every order (SPEC §5, with the money bounds) by its path in the request, or
    with reason MALFORMED_REQUEST for bytes that are not the message."""

def record_responses(encoded: list[bytes], splits: list[bytes]) -> bytes:
    """The encoded `xiaodian.v1.RecordOrdersResponse` of recorded orders (encoded `Order`s) and
    their packed splits (as `xiaodian.reference.orders.record_response` builds each)."""

def record_order_response(encoded: bytes, split: bytes) -> bytes:
    """The encoded `xiaodian.v1.RecordOrderResponse` of one recorded order and its packed split."""

def preview_split_response(encoded: bytes, split: bytes) -> bytes:
    """The encoded `xiaodian.v1.PreviewSplitResponse` of an order and its packed split."""

def stream_record_orders_response(request_id: str, order_ids: list[str]) -> bytes:
    """The encoded `xiaodian.v1.StreamRecordOrdersResponse` of a recorded batch."""

def recording_rows(
    encoded: list[bytes], splits: list[bytes], digests: list[bytes]
) -> (
    tuple[
        list[tuple[str, str, bytearray, int, int, str, int, bytearray, bytearray, str, str]],
        list[tuple[str, str, str, int, int, str, str, int]],
        list[tuple[str, int]],
    ]
    | None
):
    """What recording orders (encoded `Order`s) with their packed splits and content digests
    writes, as `xiaodian.settlement.recording.recording_rows` builds it: the `settlement_orders`
    rows, the payment and subsidy transfer rows (`ledger_transfers` columns) and each
    account's added pending payouts; None when Rust cannot read an order or a sum leaves int64
    (build them in Python then)."""

def reverse_line(
    split: tuple[int, list[int], int, int, list[int], int], refunded: int, whole_order: bool, pass_downs: list[int]
) -> tuple[list[int], int, int, list[int], int]:
    """Cumulative reversal of a line split (paid, subsidy, fee, creator_commission, chain_kept,
    merchant) once `refunded` fen were refunded in total: (subsidy, fee, creator_commission,
    chain_kept, merchant). A paid-0 line reverses whole when `whole_order`."""

def sales_scores(
    order_count_90d: list[int],
    quality_refund_rate_ppm: list[int],
    negative_review_rate_ppm: list[int],
    complaint_rate_ppm: list[int],
    min_orders: int,
) -> list[float]:
    """Sales scores (带货分) from their 90-day components, one per creator: 60 below
    `min_orders` orders, else 100 x (0.4(1-refund) + 0.4(1-negative) + 0.2(1-complaint)) with
    rates in ppm clipped to 100 %."""

def score_creators(
    settled_gmv_fen: Buffer,
    sales_score: Buffer,
    effective_followers: Buffer,
    cohort_sizes: list[int],
    weights: tuple[int, int, int],
) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes]:
    """Scores cohorts laid out one after another (each in ascending creator_id order), GIL
    released. Inputs are buffers of int64, float64 and int64 (`array('q')`, `array('d')`);
    weights are (gmv, sales, followers) ppm summing to 1,000,000. Returns native-endian
    columns: gmv, sales and followers percentiles (float64), score (float64), rank within the
    cohort (uint32), tier (uint8, `CreatorTier`)."""

def get_creator_score_response(row: tuple[Any, ...]) -> bytes:
    """The encoded `GetCreatorScoreResponse` of a row of `xiaodian.creators.store.SCORE_COLUMNS`."""

def list_top_creators_response(rows: list[tuple[Any, ...]], next_page_token: str, cohort_size: int) -> bytes:
    """The encoded `ListTopCreatorsResponse` of a page of `SCORE_COLUMNS` rows, best rank first."""
