import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImageFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_FORMAT_UNSPECIFIED: _ClassVar[ImageFormat]
    IMAGE_FORMAT_JPEG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_PNG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_WEBP: _ClassVar[ImageFormat]
    IMAGE_FORMAT_BMP: _ClassVar[ImageFormat]

class UpsertOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPSERT_OUTCOME_UNSPECIFIED: _ClassVar[UpsertOutcome]
    UPSERT_OUTCOME_CREATED: _ClassVar[UpsertOutcome]
    UPSERT_OUTCOME_UPDATED: _ClassVar[UpsertOutcome]
    UPSERT_OUTCOME_STALE: _ClassVar[UpsertOutcome]

class SearchSort(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_SORT_UNSPECIFIED: _ClassVar[SearchSort]
    SEARCH_SORT_RELEVANCE: _ClassVar[SearchSort]
    SEARCH_SORT_SALES: _ClassVar[SearchSort]
    SEARCH_SORT_PRICE_ASCENDING: _ClassVar[SearchSort]
    SEARCH_SORT_PRICE_DESCENDING: _ClassVar[SearchSort]
    SEARCH_SORT_RATING: _ClassVar[SearchSort]
    SEARCH_SORT_NEWEST: _ClassVar[SearchSort]

class ApproximateMatchKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROXIMATE_MATCH_KIND_UNSPECIFIED: _ClassVar[ApproximateMatchKind]
    APPROXIMATE_MATCH_KIND_PINYIN: _ClassVar[ApproximateMatchKind]
    APPROXIMATE_MATCH_KIND_INITIALS: _ClassVar[ApproximateMatchKind]
    APPROXIMATE_MATCH_KIND_SAME_SOUND: _ClassVar[ApproximateMatchKind]
    APPROXIMATE_MATCH_KIND_TYPO: _ClassVar[ApproximateMatchKind]

class SuggestionSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUGGESTION_SOURCE_UNSPECIFIED: _ClassVar[SuggestionSource]
    SUGGESTION_SOURCE_TITLE: _ClassVar[SuggestionSource]
    SUGGESTION_SOURCE_SHOP_NAME: _ClassVar[SuggestionSource]
    SUGGESTION_SOURCE_BRAND: _ClassVar[SuggestionSource]

class SuggestionMatch(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUGGESTION_MATCH_UNSPECIFIED: _ClassVar[SuggestionMatch]
    SUGGESTION_MATCH_TEXT: _ClassVar[SuggestionMatch]
    SUGGESTION_MATCH_PINYIN: _ClassVar[SuggestionMatch]
    SUGGESTION_MATCH_INITIALS: _ClassVar[SuggestionMatch]
IMAGE_FORMAT_UNSPECIFIED: ImageFormat
IMAGE_FORMAT_JPEG: ImageFormat
IMAGE_FORMAT_PNG: ImageFormat
IMAGE_FORMAT_WEBP: ImageFormat
IMAGE_FORMAT_BMP: ImageFormat
UPSERT_OUTCOME_UNSPECIFIED: UpsertOutcome
UPSERT_OUTCOME_CREATED: UpsertOutcome
UPSERT_OUTCOME_UPDATED: UpsertOutcome
UPSERT_OUTCOME_STALE: UpsertOutcome
SEARCH_SORT_UNSPECIFIED: SearchSort
SEARCH_SORT_RELEVANCE: SearchSort
SEARCH_SORT_SALES: SearchSort
SEARCH_SORT_PRICE_ASCENDING: SearchSort
SEARCH_SORT_PRICE_DESCENDING: SearchSort
SEARCH_SORT_RATING: SearchSort
SEARCH_SORT_NEWEST: SearchSort
APPROXIMATE_MATCH_KIND_UNSPECIFIED: ApproximateMatchKind
APPROXIMATE_MATCH_KIND_PINYIN: ApproximateMatchKind
APPROXIMATE_MATCH_KIND_INITIALS: ApproximateMatchKind
APPROXIMATE_MATCH_KIND_SAME_SOUND: ApproximateMatchKind
APPROXIMATE_MATCH_KIND_TYPO: ApproximateMatchKind
SUGGESTION_SOURCE_UNSPECIFIED: SuggestionSource
SUGGESTION_SOURCE_TITLE: SuggestionSource
SUGGESTION_SOURCE_SHOP_NAME: SuggestionSource
SUGGESTION_SOURCE_BRAND: SuggestionSource
SUGGESTION_MATCH_UNSPECIFIED: SuggestionMatch
SUGGESTION_MATCH_TEXT: SuggestionMatch
SUGGESTION_MATCH_PINYIN: SuggestionMatch
SUGGESTION_MATCH_INITIALS: SuggestionMatch

class Shop(_message.Message):
    __slots__ = ("shop_id", "name", "is_brand", "opened_at", "experience_score", "experience_review_count")
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IS_BRAND_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_SCORE_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_REVIEW_COUNT_FIELD_NUMBER: _ClassVar[int]
    shop_id: str
    name: str
    is_brand: bool
    opened_at: _timestamp_pb2.Timestamp
    experience_score: float
    experience_review_count: int
    def __init__(self, shop_id: _Optional[str] = ..., name: _Optional[str] = ..., is_brand: _Optional[bool] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., experience_score: _Optional[float] = ..., experience_review_count: _Optional[int] = ...) -> None: ...

class HeroImageReport(_message.Message):
    __slots__ = ("width", "height", "format", "squareness", "sharpness", "exposure", "border_whiteness", "dhash", "quality")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SQUARENESS_FIELD_NUMBER: _ClassVar[int]
    SHARPNESS_FIELD_NUMBER: _ClassVar[int]
    EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    BORDER_WHITENESS_FIELD_NUMBER: _ClassVar[int]
    DHASH_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    format: ImageFormat
    squareness: float
    sharpness: float
    exposure: float
    border_whiteness: float
    dhash: int
    quality: float
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., format: _Optional[_Union[ImageFormat, str]] = ..., squareness: _Optional[float] = ..., sharpness: _Optional[float] = ..., exposure: _Optional[float] = ..., border_whiteness: _Optional[float] = ..., dhash: _Optional[int] = ..., quality: _Optional[float] = ...) -> None: ...

class HeroImage(_message.Message):
    __slots__ = ("image_bytes", "report")
    IMAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    image_bytes: bytes
    report: HeroImageReport
    def __init__(self, image_bytes: _Optional[bytes] = ..., report: _Optional[_Union[HeroImageReport, _Mapping]] = ...) -> None: ...

class Product(_message.Message):
    __slots__ = ("product_id", "shop_id", "title", "brand", "category_id", "price_fen", "sales_30d", "stock", "image_count", "rating_sum", "rating_count", "version", "hero_image", "listed_at")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    SALES_30D_FIELD_NUMBER: _ClassVar[int]
    STOCK_FIELD_NUMBER: _ClassVar[int]
    IMAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    RATING_SUM_FIELD_NUMBER: _ClassVar[int]
    RATING_COUNT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HERO_IMAGE_FIELD_NUMBER: _ClassVar[int]
    LISTED_AT_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    shop_id: str
    title: str
    brand: str
    category_id: str
    price_fen: int
    sales_30d: int
    stock: int
    image_count: int
    rating_sum: int
    rating_count: int
    version: int
    hero_image: HeroImage
    listed_at: _timestamp_pb2.Timestamp
    def __init__(self, product_id: _Optional[str] = ..., shop_id: _Optional[str] = ..., title: _Optional[str] = ..., brand: _Optional[str] = ..., category_id: _Optional[str] = ..., price_fen: _Optional[int] = ..., sales_30d: _Optional[int] = ..., stock: _Optional[int] = ..., image_count: _Optional[int] = ..., rating_sum: _Optional[int] = ..., rating_count: _Optional[int] = ..., version: _Optional[int] = ..., hero_image: _Optional[_Union[HeroImage, _Mapping]] = ..., listed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UpsertShopsRequest(_message.Message):
    __slots__ = ("request_id", "shops")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SHOPS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    shops: _containers.RepeatedCompositeFieldContainer[Shop]
    def __init__(self, request_id: _Optional[str] = ..., shops: _Optional[_Iterable[_Union[Shop, _Mapping]]] = ...) -> None: ...

class UpsertShopsResponse(_message.Message):
    __slots__ = ("upserted_count",)
    UPSERTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    upserted_count: int
    def __init__(self, upserted_count: _Optional[int] = ...) -> None: ...

class UpsertProductResult(_message.Message):
    __slots__ = ("product_id", "outcome", "stored_version", "hero_image")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    STORED_VERSION_FIELD_NUMBER: _ClassVar[int]
    HERO_IMAGE_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    outcome: UpsertOutcome
    stored_version: int
    hero_image: HeroImageReport
    def __init__(self, product_id: _Optional[str] = ..., outcome: _Optional[_Union[UpsertOutcome, str]] = ..., stored_version: _Optional[int] = ..., hero_image: _Optional[_Union[HeroImageReport, _Mapping]] = ...) -> None: ...

class UpsertProductsRequest(_message.Message):
    __slots__ = ("request_id", "products")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    products: _containers.RepeatedCompositeFieldContainer[Product]
    def __init__(self, request_id: _Optional[str] = ..., products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ...) -> None: ...

class UpsertProductsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[UpsertProductResult]
    def __init__(self, results: _Optional[_Iterable[_Union[UpsertProductResult, _Mapping]]] = ...) -> None: ...

class StreamUpsertProductsRequest(_message.Message):
    __slots__ = ("request_id", "products")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    products: _containers.RepeatedCompositeFieldContainer[Product]
    def __init__(self, request_id: _Optional[str] = ..., products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ...) -> None: ...

class StreamUpsertProductsResponse(_message.Message):
    __slots__ = ("batch_count", "created_count", "updated_count", "stale_product_ids")
    BATCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_COUNT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_COUNT_FIELD_NUMBER: _ClassVar[int]
    STALE_PRODUCT_IDS_FIELD_NUMBER: _ClassVar[int]
    batch_count: int
    created_count: int
    updated_count: int
    stale_product_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, batch_count: _Optional[int] = ..., created_count: _Optional[int] = ..., updated_count: _Optional[int] = ..., stale_product_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteProductsRequest(_message.Message):
    __slots__ = ("request_id", "product_ids")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_IDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    product_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., product_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteProductsResponse(_message.Message):
    __slots__ = ("deleted_count", "not_found_product_ids")
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_PRODUCT_IDS_FIELD_NUMBER: _ClassVar[int]
    deleted_count: int
    not_found_product_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deleted_count: _Optional[int] = ..., not_found_product_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchFilter(_message.Message):
    __slots__ = ("category_ids", "shop_ids", "min_price_fen", "max_price_fen", "in_stock_only")
    CATEGORY_IDS_FIELD_NUMBER: _ClassVar[int]
    SHOP_IDS_FIELD_NUMBER: _ClassVar[int]
    MIN_PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    MAX_PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    IN_STOCK_ONLY_FIELD_NUMBER: _ClassVar[int]
    category_ids: _containers.RepeatedScalarFieldContainer[str]
    shop_ids: _containers.RepeatedScalarFieldContainer[str]
    min_price_fen: int
    max_price_fen: int
    in_stock_only: bool
    def __init__(self, category_ids: _Optional[_Iterable[str]] = ..., shop_ids: _Optional[_Iterable[str]] = ..., min_price_fen: _Optional[int] = ..., max_price_fen: _Optional[int] = ..., in_stock_only: _Optional[bool] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("query", "profile", "profile_version", "filter", "sort", "page_size", "page_token", "explain", "max_per_shop", "keep_duplicates")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_VERSION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_SHOP_FIELD_NUMBER: _ClassVar[int]
    KEEP_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    query: str
    profile: str
    profile_version: int
    filter: SearchFilter
    sort: SearchSort
    page_size: int
    page_token: str
    explain: bool
    max_per_shop: int
    keep_duplicates: bool
    def __init__(self, query: _Optional[str] = ..., profile: _Optional[str] = ..., profile_version: _Optional[int] = ..., filter: _Optional[_Union[SearchFilter, _Mapping]] = ..., sort: _Optional[_Union[SearchSort, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., explain: _Optional[bool] = ..., max_per_shop: _Optional[int] = ..., keep_duplicates: _Optional[bool] = ...) -> None: ...

class SignalContribution(_message.Message):
    __slots__ = ("signal", "value", "weight", "contribution")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    signal: str
    value: float
    weight: float
    contribution: float
    def __init__(self, signal: _Optional[str] = ..., value: _Optional[float] = ..., weight: _Optional[float] = ..., contribution: _Optional[float] = ...) -> None: ...

class RankingExplanation(_message.Message):
    __slots__ = ("first_phase_score", "matched_terms", "any_term_match", "signals", "tier", "matched_synonyms", "negated_words", "approximate_matches")
    FIRST_PHASE_SCORE_FIELD_NUMBER: _ClassVar[int]
    MATCHED_TERMS_FIELD_NUMBER: _ClassVar[int]
    ANY_TERM_MATCH_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    MATCHED_SYNONYMS_FIELD_NUMBER: _ClassVar[int]
    NEGATED_WORDS_FIELD_NUMBER: _ClassVar[int]
    APPROXIMATE_MATCHES_FIELD_NUMBER: _ClassVar[int]
    first_phase_score: float
    matched_terms: _containers.RepeatedScalarFieldContainer[str]
    any_term_match: bool
    signals: _containers.RepeatedCompositeFieldContainer[SignalContribution]
    tier: int
    matched_synonyms: _containers.RepeatedScalarFieldContainer[str]
    negated_words: _containers.RepeatedScalarFieldContainer[str]
    approximate_matches: _containers.RepeatedCompositeFieldContainer[ApproximateMatch]
    def __init__(self, first_phase_score: _Optional[float] = ..., matched_terms: _Optional[_Iterable[str]] = ..., any_term_match: _Optional[bool] = ..., signals: _Optional[_Iterable[_Union[SignalContribution, _Mapping]]] = ..., tier: _Optional[int] = ..., matched_synonyms: _Optional[_Iterable[str]] = ..., negated_words: _Optional[_Iterable[str]] = ..., approximate_matches: _Optional[_Iterable[_Union[ApproximateMatch, _Mapping]]] = ...) -> None: ...

class ApproximateMatch(_message.Message):
    __slots__ = ("query_word", "matched", "kind")
    QUERY_WORD_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    query_word: str
    matched: str
    kind: ApproximateMatchKind
    def __init__(self, query_word: _Optional[str] = ..., matched: _Optional[str] = ..., kind: _Optional[_Union[ApproximateMatchKind, str]] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("product_id", "shop_id", "title", "shop_name", "brand", "price_fen", "sales_30d", "rating", "score", "collapsed_duplicates", "explanation", "tier")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SHOP_NAME_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    SALES_30D_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    COLLAPSED_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    shop_id: str
    title: str
    shop_name: str
    brand: str
    price_fen: int
    sales_30d: int
    rating: float
    score: float
    collapsed_duplicates: int
    explanation: RankingExplanation
    tier: int
    def __init__(self, product_id: _Optional[str] = ..., shop_id: _Optional[str] = ..., title: _Optional[str] = ..., shop_name: _Optional[str] = ..., brand: _Optional[str] = ..., price_fen: _Optional[int] = ..., sales_30d: _Optional[int] = ..., rating: _Optional[float] = ..., score: _Optional[float] = ..., collapsed_duplicates: _Optional[int] = ..., explanation: _Optional[_Union[RankingExplanation, _Mapping]] = ..., tier: _Optional[int] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "next_page_token", "total_matched", "any_term_match", "collapsed_duplicates", "profile", "profile_version", "first_tier_matched", "second_tier_matched", "second_tier_searched")
    HITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MATCHED_FIELD_NUMBER: _ClassVar[int]
    ANY_TERM_MATCH_FIELD_NUMBER: _ClassVar[int]
    COLLAPSED_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_VERSION_FIELD_NUMBER: _ClassVar[int]
    FIRST_TIER_MATCHED_FIELD_NUMBER: _ClassVar[int]
    SECOND_TIER_MATCHED_FIELD_NUMBER: _ClassVar[int]
    SECOND_TIER_SEARCHED_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    next_page_token: str
    total_matched: int
    any_term_match: bool
    collapsed_duplicates: int
    profile: str
    profile_version: int
    first_tier_matched: int
    second_tier_matched: int
    second_tier_searched: bool
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_matched: _Optional[int] = ..., any_term_match: _Optional[bool] = ..., collapsed_duplicates: _Optional[int] = ..., profile: _Optional[str] = ..., profile_version: _Optional[int] = ..., first_tier_matched: _Optional[int] = ..., second_tier_matched: _Optional[int] = ..., second_tier_searched: _Optional[bool] = ...) -> None: ...

class SuggestRequest(_message.Message):
    __slots__ = ("prefix", "limit")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    limit: int
    def __init__(self, prefix: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class Suggestion(_message.Message):
    __slots__ = ("text", "matched_chars", "source", "match", "popularity")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MATCHED_CHARS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    POPULARITY_FIELD_NUMBER: _ClassVar[int]
    text: str
    matched_chars: int
    source: SuggestionSource
    match: SuggestionMatch
    popularity: int
    def __init__(self, text: _Optional[str] = ..., matched_chars: _Optional[int] = ..., source: _Optional[_Union[SuggestionSource, str]] = ..., match: _Optional[_Union[SuggestionMatch, str]] = ..., popularity: _Optional[int] = ...) -> None: ...

class SuggestResponse(_message.Message):
    __slots__ = ("suggestions",)
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    suggestions: _containers.RepeatedCompositeFieldContainer[Suggestion]
    def __init__(self, suggestions: _Optional[_Iterable[_Union[Suggestion, _Mapping]]] = ...) -> None: ...

class AnalyzeHeroImageRequest(_message.Message):
    __slots__ = ("image_bytes",)
    IMAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    image_bytes: bytes
    def __init__(self, image_bytes: _Optional[bytes] = ...) -> None: ...

class AnalyzeHeroImageResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: HeroImageReport
    def __init__(self, report: _Optional[_Union[HeroImageReport, _Mapping]] = ...) -> None: ...

class RankingProfile(_message.Message):
    __slots__ = ("name", "version", "update_time", "description", "bm25_k1", "bm25_b", "title_weight", "shop_name_weight", "brand_weight", "text_weight", "hero_quality_weight", "rating_weight", "shop_score_weight", "sales_weight", "rating_prior_count", "rating_prior_mean", "shop_score_prior_count", "shop_score_prior_mean", "brand_multiplier", "new_merchant_multiplier", "new_merchant_window_days", "rerank_depth", "duplicate_max_distance", "synonyms", "synonym_weight", "approximate_weight")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BM25_K1_FIELD_NUMBER: _ClassVar[int]
    BM25_B_FIELD_NUMBER: _ClassVar[int]
    TITLE_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SHOP_NAME_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    BRAND_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    TEXT_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    HERO_QUALITY_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    RATING_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SHOP_SCORE_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SALES_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    RATING_PRIOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    RATING_PRIOR_MEAN_FIELD_NUMBER: _ClassVar[int]
    SHOP_SCORE_PRIOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    SHOP_SCORE_PRIOR_MEAN_FIELD_NUMBER: _ClassVar[int]
    BRAND_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    NEW_MERCHANT_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    NEW_MERCHANT_WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    RERANK_DEPTH_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SYNONYMS_FIELD_NUMBER: _ClassVar[int]
    SYNONYM_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    APPROXIMATE_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    update_time: _timestamp_pb2.Timestamp
    description: str
    bm25_k1: float
    bm25_b: float
    title_weight: float
    shop_name_weight: float
    brand_weight: float
    text_weight: float
    hero_quality_weight: float
    rating_weight: float
    shop_score_weight: float
    sales_weight: float
    rating_prior_count: float
    rating_prior_mean: float
    shop_score_prior_count: float
    shop_score_prior_mean: float
    brand_multiplier: float
    new_merchant_multiplier: float
    new_merchant_window_days: int
    rerank_depth: int
    duplicate_max_distance: int
    synonyms: SynonymGroups
    synonym_weight: float
    approximate_weight: float
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., description: _Optional[str] = ..., bm25_k1: _Optional[float] = ..., bm25_b: _Optional[float] = ..., title_weight: _Optional[float] = ..., shop_name_weight: _Optional[float] = ..., brand_weight: _Optional[float] = ..., text_weight: _Optional[float] = ..., hero_quality_weight: _Optional[float] = ..., rating_weight: _Optional[float] = ..., shop_score_weight: _Optional[float] = ..., sales_weight: _Optional[float] = ..., rating_prior_count: _Optional[float] = ..., rating_prior_mean: _Optional[float] = ..., shop_score_prior_count: _Optional[float] = ..., shop_score_prior_mean: _Optional[float] = ..., brand_multiplier: _Optional[float] = ..., new_merchant_multiplier: _Optional[float] = ..., new_merchant_window_days: _Optional[int] = ..., rerank_depth: _Optional[int] = ..., duplicate_max_distance: _Optional[int] = ..., synonyms: _Optional[_Union[SynonymGroups, _Mapping]] = ..., synonym_weight: _Optional[float] = ..., approximate_weight: _Optional[float] = ...) -> None: ...

class SynonymGroups(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[SynonymGroup]
    def __init__(self, groups: _Optional[_Iterable[_Union[SynonymGroup, _Mapping]]] = ...) -> None: ...

class SynonymGroup(_message.Message):
    __slots__ = ("words",)
    WORDS_FIELD_NUMBER: _ClassVar[int]
    words: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, words: _Optional[_Iterable[str]] = ...) -> None: ...

class GetRankingProfileRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetRankingProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: RankingProfile
    def __init__(self, profile: _Optional[_Union[RankingProfile, _Mapping]] = ...) -> None: ...

class UpdateRankingProfileRequest(_message.Message):
    __slots__ = ("request_id", "profile", "expected_version")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    profile: RankingProfile
    expected_version: int
    def __init__(self, request_id: _Optional[str] = ..., profile: _Optional[_Union[RankingProfile, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateRankingProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: RankingProfile
    def __init__(self, profile: _Optional[_Union[RankingProfile, _Mapping]] = ...) -> None: ...
