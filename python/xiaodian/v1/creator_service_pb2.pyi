import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GmvSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GMV_SOURCE_UNSPECIFIED: _ClassVar[GmvSource]
    GMV_SOURCE_GIVEN: _ClassVar[GmvSource]
    GMV_SOURCE_LEDGER: _ClassVar[GmvSource]

class CreatorTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREATOR_TIER_UNSPECIFIED: _ClassVar[CreatorTier]
    CREATOR_TIER_S: _ClassVar[CreatorTier]
    CREATOR_TIER_A: _ClassVar[CreatorTier]
    CREATOR_TIER_B: _ClassVar[CreatorTier]
    CREATOR_TIER_C: _ClassVar[CreatorTier]
GMV_SOURCE_UNSPECIFIED: GmvSource
GMV_SOURCE_GIVEN: GmvSource
GMV_SOURCE_LEDGER: GmvSource
CREATOR_TIER_UNSPECIFIED: CreatorTier
CREATOR_TIER_S: CreatorTier
CREATOR_TIER_A: CreatorTier
CREATOR_TIER_B: CreatorTier
CREATOR_TIER_C: CreatorTier

class FollowerCounts(_message.Message):
    __slots__ = ("followers", "risk_flagged_followers")
    FOLLOWERS_FIELD_NUMBER: _ClassVar[int]
    RISK_FLAGGED_FOLLOWERS_FIELD_NUMBER: _ClassVar[int]
    followers: int
    risk_flagged_followers: int
    def __init__(self, followers: _Optional[int] = ..., risk_flagged_followers: _Optional[int] = ...) -> None: ...

class SalesScoreComponents(_message.Message):
    __slots__ = ("order_count_90d", "quality_refund_rate_ppm", "negative_review_rate_ppm", "complaint_rate_ppm")
    ORDER_COUNT_90D_FIELD_NUMBER: _ClassVar[int]
    QUALITY_REFUND_RATE_PPM_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_REVIEW_RATE_PPM_FIELD_NUMBER: _ClassVar[int]
    COMPLAINT_RATE_PPM_FIELD_NUMBER: _ClassVar[int]
    order_count_90d: int
    quality_refund_rate_ppm: int
    negative_review_rate_ppm: int
    complaint_rate_ppm: int
    def __init__(self, order_count_90d: _Optional[int] = ..., quality_refund_rate_ppm: _Optional[int] = ..., negative_review_rate_ppm: _Optional[int] = ..., complaint_rate_ppm: _Optional[int] = ...) -> None: ...

class CreatorMetrics(_message.Message):
    __slots__ = ("creator_id", "period", "cohort", "settled_gmv_fen", "follower_counts", "effective_followers", "sales_score", "sales_score_components")
    CREATOR_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_GMV_FEN_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_COUNTS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FOLLOWERS_FIELD_NUMBER: _ClassVar[int]
    SALES_SCORE_FIELD_NUMBER: _ClassVar[int]
    SALES_SCORE_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    creator_id: str
    period: str
    cohort: str
    settled_gmv_fen: int
    follower_counts: FollowerCounts
    effective_followers: int
    sales_score: float
    sales_score_components: SalesScoreComponents
    def __init__(self, creator_id: _Optional[str] = ..., period: _Optional[str] = ..., cohort: _Optional[str] = ..., settled_gmv_fen: _Optional[int] = ..., follower_counts: _Optional[_Union[FollowerCounts, _Mapping]] = ..., effective_followers: _Optional[int] = ..., sales_score: _Optional[float] = ..., sales_score_components: _Optional[_Union[SalesScoreComponents, _Mapping]] = ...) -> None: ...

class UpsertCreatorMetricsRequest(_message.Message):
    __slots__ = ("request_id", "metrics")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    metrics: _containers.RepeatedCompositeFieldContainer[CreatorMetrics]
    def __init__(self, request_id: _Optional[str] = ..., metrics: _Optional[_Iterable[_Union[CreatorMetrics, _Mapping]]] = ...) -> None: ...

class UpsertCreatorMetricsResponse(_message.Message):
    __slots__ = ("upserted_count",)
    UPSERTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    upserted_count: int
    def __init__(self, upserted_count: _Optional[int] = ...) -> None: ...

class StreamUpsertCreatorMetricsRequest(_message.Message):
    __slots__ = ("request_id", "metrics")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    metrics: _containers.RepeatedCompositeFieldContainer[CreatorMetrics]
    def __init__(self, request_id: _Optional[str] = ..., metrics: _Optional[_Iterable[_Union[CreatorMetrics, _Mapping]]] = ...) -> None: ...

class StreamUpsertCreatorMetricsResponse(_message.Message):
    __slots__ = ("batch_count", "upserted_count")
    BATCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    UPSERTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    batch_count: int
    upserted_count: int
    def __init__(self, batch_count: _Optional[int] = ..., upserted_count: _Optional[int] = ...) -> None: ...

class CreatorScoreWeights(_message.Message):
    __slots__ = ("gmv_weight_ppm", "sales_weight_ppm", "followers_weight_ppm")
    GMV_WEIGHT_PPM_FIELD_NUMBER: _ClassVar[int]
    SALES_WEIGHT_PPM_FIELD_NUMBER: _ClassVar[int]
    FOLLOWERS_WEIGHT_PPM_FIELD_NUMBER: _ClassVar[int]
    gmv_weight_ppm: int
    sales_weight_ppm: int
    followers_weight_ppm: int
    def __init__(self, gmv_weight_ppm: _Optional[int] = ..., sales_weight_ppm: _Optional[int] = ..., followers_weight_ppm: _Optional[int] = ...) -> None: ...

class ScoreCreatorsRequest(_message.Message):
    __slots__ = ("request_id", "period", "cohort", "weights", "gmv_source")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    GMV_SOURCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    period: str
    cohort: str
    weights: CreatorScoreWeights
    gmv_source: GmvSource
    def __init__(self, request_id: _Optional[str] = ..., period: _Optional[str] = ..., cohort: _Optional[str] = ..., weights: _Optional[_Union[CreatorScoreWeights, _Mapping]] = ..., gmv_source: _Optional[_Union[GmvSource, str]] = ...) -> None: ...

class ScoreCreatorsResponse(_message.Message):
    __slots__ = ("scored_count", "cohort_count", "weights", "scored_at")
    SCORED_COUNT_FIELD_NUMBER: _ClassVar[int]
    COHORT_COUNT_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    SCORED_AT_FIELD_NUMBER: _ClassVar[int]
    scored_count: int
    cohort_count: int
    weights: CreatorScoreWeights
    scored_at: _timestamp_pb2.Timestamp
    def __init__(self, scored_count: _Optional[int] = ..., cohort_count: _Optional[int] = ..., weights: _Optional[_Union[CreatorScoreWeights, _Mapping]] = ..., scored_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreatorScore(_message.Message):
    __slots__ = ("creator_id", "period", "cohort", "score", "gmv_percentile", "sales_percentile", "followers_percentile", "settled_gmv_fen", "sales_score", "effective_followers", "rank", "cohort_size", "tier", "weights", "scored_at")
    CREATOR_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    GMV_PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    SALES_PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    FOLLOWERS_PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    SETTLED_GMV_FEN_FIELD_NUMBER: _ClassVar[int]
    SALES_SCORE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FOLLOWERS_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    COHORT_SIZE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    SCORED_AT_FIELD_NUMBER: _ClassVar[int]
    creator_id: str
    period: str
    cohort: str
    score: float
    gmv_percentile: float
    sales_percentile: float
    followers_percentile: float
    settled_gmv_fen: int
    sales_score: float
    effective_followers: int
    rank: int
    cohort_size: int
    tier: CreatorTier
    weights: CreatorScoreWeights
    scored_at: _timestamp_pb2.Timestamp
    def __init__(self, creator_id: _Optional[str] = ..., period: _Optional[str] = ..., cohort: _Optional[str] = ..., score: _Optional[float] = ..., gmv_percentile: _Optional[float] = ..., sales_percentile: _Optional[float] = ..., followers_percentile: _Optional[float] = ..., settled_gmv_fen: _Optional[int] = ..., sales_score: _Optional[float] = ..., effective_followers: _Optional[int] = ..., rank: _Optional[int] = ..., cohort_size: _Optional[int] = ..., tier: _Optional[_Union[CreatorTier, str]] = ..., weights: _Optional[_Union[CreatorScoreWeights, _Mapping]] = ..., scored_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCreatorScoreRequest(_message.Message):
    __slots__ = ("creator_id", "period", "cohort")
    CREATOR_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    creator_id: str
    period: str
    cohort: str
    def __init__(self, creator_id: _Optional[str] = ..., period: _Optional[str] = ..., cohort: _Optional[str] = ...) -> None: ...

class GetCreatorScoreResponse(_message.Message):
    __slots__ = ("score",)
    SCORE_FIELD_NUMBER: _ClassVar[int]
    score: CreatorScore
    def __init__(self, score: _Optional[_Union[CreatorScore, _Mapping]] = ...) -> None: ...

class ListTopCreatorsRequest(_message.Message):
    __slots__ = ("period", "cohort", "page_size", "page_token")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    period: str
    cohort: str
    page_size: int
    page_token: str
    def __init__(self, period: _Optional[str] = ..., cohort: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTopCreatorsResponse(_message.Message):
    __slots__ = ("scores", "next_page_token", "cohort_size")
    SCORES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    COHORT_SIZE_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedCompositeFieldContainer[CreatorScore]
    next_page_token: str
    cohort_size: int
    def __init__(self, scores: _Optional[_Iterable[_Union[CreatorScore, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., cohort_size: _Optional[int] = ...) -> None: ...
