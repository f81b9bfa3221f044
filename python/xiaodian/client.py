"""A typed Python client: one method per RPC, raising the `xiaodian.errors` hierarchy.

    with xiaodian.Client("127.0.0.1:50051") as client:
        profile = client.get_ranking_profile(name="default").profile

Each method takes the request message, or its fields as keyword arguments, and returns the
response message.

Credentials: the `token` argument, else `XIAODIAN_TOKEN`, else the admin token a local server
created in its data directory (`data_dir`, else `XIAODIAN_SERVER_DATA_DIR`, else
`./xiaodian-data`: the file `admin.token`), sent as `authorization: Bearer <token>`. TLS when
`root_certificates` (PEM) is given, with a client certificate for mTLS.

Writes get a fresh `request_id` (a UUID) when none is given; pass your own to retry safely.
Failed calls raise `xiaodian.errors.XiaodianError` subclasses (`InvalidArgument`
with `.violations`, `NotFound`, …), never a bare `grpc.RpcError`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar, cast

import grpc
from google.protobuf.message import Message
from grpc import StreamStreamMultiCallable as StreamStream
from grpc import StreamUnaryMultiCallable as StreamUnary
from grpc import UnaryUnaryMultiCallable as Unary
from grpc_health.v1 import health_pb2, health_pb2_grpc

from xiaodian.errors import from_rpc_error
from xiaodian.v1 import creator_service_pb2 as creator_pb
from xiaodian.v1 import creator_service_pb2_grpc as creator_grpc
from xiaodian.v1 import search_service_pb2 as search_pb
from xiaodian.v1 import search_service_pb2_grpc as search_grpc
from xiaodian.v1 import settlement_service_pb2 as settlement_pb
from xiaodian.v1 import settlement_service_pb2_grpc as settlement_grpc

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)

DEFAULT_TARGET = "127.0.0.1:50051"

#: Where a server keeps the admin token it creates at first start, in its data directory.
ADMIN_TOKEN_FILE = "admin.token"
DEFAULT_DATA_DIR = "./xiaodian-data"


# grpc_tools generates the service stubs (xiaodian/v1/*_pb2_grpc.py) without annotations: every
# RPC attribute is Any. These protocols give each attribute its request and response types, so the
# methods below are checked against the messages; they are kept by hand in step with the .proto
# services (a new RPC gets a line here).


class _HealthStub(Protocol):
    Check: Unary[health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse]


class _SearchStub(Protocol):
    UpsertShops: Unary[search_pb.UpsertShopsRequest, search_pb.UpsertShopsResponse]
    UpsertProducts: Unary[search_pb.UpsertProductsRequest, search_pb.UpsertProductsResponse]
    StreamUpsertProducts: StreamUnary[search_pb.StreamUpsertProductsRequest, search_pb.StreamUpsertProductsResponse]
    DeleteProducts: Unary[search_pb.DeleteProductsRequest, search_pb.DeleteProductsResponse]
    Search: Unary[search_pb.SearchRequest, search_pb.SearchResponse]
    AnalyzeHeroImage: Unary[search_pb.AnalyzeHeroImageRequest, search_pb.AnalyzeHeroImageResponse]
    GetRankingProfile: Unary[search_pb.GetRankingProfileRequest, search_pb.GetRankingProfileResponse]
    UpdateRankingProfile: Unary[search_pb.UpdateRankingProfileRequest, search_pb.UpdateRankingProfileResponse]


class _CreatorStub(Protocol):
    UpsertCreatorMetrics: Unary[creator_pb.UpsertCreatorMetricsRequest, creator_pb.UpsertCreatorMetricsResponse]
    StreamUpsertCreatorMetrics: StreamUnary[
        creator_pb.StreamUpsertCreatorMetricsRequest, creator_pb.StreamUpsertCreatorMetricsResponse
    ]
    ScoreCreators: Unary[creator_pb.ScoreCreatorsRequest, creator_pb.ScoreCreatorsResponse]
    GetCreatorScore: Unary[creator_pb.GetCreatorScoreRequest, creator_pb.GetCreatorScoreResponse]
    ListTopCreators: Unary[creator_pb.ListTopCreatorsRequest, creator_pb.ListTopCreatorsResponse]


class _SettlementStub(Protocol):
    PreviewSplit: Unary[settlement_pb.PreviewSplitRequest, settlement_pb.PreviewSplitResponse]
    RecordOrder: Unary[settlement_pb.RecordOrderRequest, settlement_pb.RecordOrderResponse]
    RecordOrders: Unary[settlement_pb.RecordOrdersRequest, settlement_pb.RecordOrdersResponse]
    StreamRecordOrders: StreamStream[settlement_pb.StreamRecordOrdersRequest, settlement_pb.StreamRecordOrdersResponse]
    ConfirmReceipt: Unary[settlement_pb.ConfirmReceiptRequest, settlement_pb.ConfirmReceiptResponse]
    OpenAfterSale: Unary[settlement_pb.OpenAfterSaleRequest, settlement_pb.OpenAfterSaleResponse]
    RecordRefund: Unary[settlement_pb.RecordRefundRequest, settlement_pb.RecordRefundResponse]
    CloseAfterSale: Unary[settlement_pb.CloseAfterSaleRequest, settlement_pb.CloseAfterSaleResponse]
    RunSettlement: Unary[settlement_pb.RunSettlementRequest, settlement_pb.RunSettlementResponse]
    GetOrder: Unary[settlement_pb.GetOrderRequest, settlement_pb.GetOrderResponse]
    GetStatement: Unary[settlement_pb.GetStatementRequest, settlement_pb.GetStatementResponse]
    GetBalance: Unary[settlement_pb.GetBalanceRequest, settlement_pb.GetBalanceResponse]
    GetGuidePerformance: Unary[settlement_pb.GetGuidePerformanceRequest, settlement_pb.GetGuidePerformanceResponse]


def find_token(data_dir: str | os.PathLike[str] | None = None) -> str | None:
    """`XIAODIAN_TOKEN`, else the admin token in the data directory (`data_dir`, else
    `XIAODIAN_SERVER_DATA_DIR`, else ./xiaodian-data) if it can be read; else None."""
    token = os.environ.get("XIAODIAN_TOKEN", "").strip()
    if token:
        return token
    folder = data_dir or os.environ.get("XIAODIAN_SERVER_DATA_DIR") or DEFAULT_DATA_DIR
    try:
        return (Path(folder) / ADMIN_TOKEN_FILE).read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _request(request_type: type[Req], request: Req | None, fields: dict[str, Any]) -> Req:
    if request is not None and fields:
        raise TypeError("pass either a request message or keyword fields, not both")
    message = request if request is not None else request_type(**fields)
    descriptor = message.DESCRIPTOR
    if "request_id" in descriptor.fields_by_name and not message.request_id:  # type: ignore[attr-defined]
        copy = request_type()
        copy.CopyFrom(message)
        copy.request_id = str(uuid.uuid4())  # type: ignore[attr-defined]
        return copy
    return message


class Client:
    """Connection to a xiaodian server. Thread-safe; use as a context manager or call `close()`."""

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float | None = 30.0,
        token: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        root_certificates: bytes | None = None,
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
        channel: grpc.Channel | None = None,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        """`timeout` is the default deadline of every call, in seconds (None: no deadline).
        `token`: the bearer token (default: `find_token(data_dir)`). `root_certificates`: the
        server's CA (PEM) for TLS; `private_key` and `certificate_chain`: the client's, for mTLS."""
        self.timeout = timeout
        token = token or find_token(data_dir)
        self._metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if channel is not None:
            self._channel = channel
        elif root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._search: _SearchStub = search_grpc.SearchServiceStub(self._channel)
        self._creators: _CreatorStub = creator_grpc.CreatorServiceStub(self._channel)
        self._settlement: _SettlementStub = settlement_grpc.SettlementServiceStub(self._channel)
        self._health: _HealthStub = health_pb2_grpc.HealthStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _unary(self, rpc: Unary[Req, Resp], request: Req, timeout: float | None) -> Resp:
        try:
            return rpc(request, timeout=self.timeout if timeout is None else timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _stream_in(self, rpc: StreamUnary[Req, Resp], requests: Iterable[Req], timeout: float | None) -> Resp:
        try:
            return rpc(iter(requests), timeout=self.timeout if timeout is None else timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _stream_both(
        self, rpc: StreamStream[Req, Resp], requests: Iterable[Req], timeout: float | None
    ) -> Iterator[Resp]:
        try:
            yield from rpc(
                iter(requests), timeout=self.timeout if timeout is None else timeout, metadata=self._metadata
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    # -- health ---------------------------------------------------------------------------

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """Health status name of `service` ("" for the whole server): SERVING, NOT_SERVING, …"""
        response = self._unary(self._health.Check, health_pb2.HealthCheckRequest(service=service), timeout)
        # grpc_health ships health_pb2 without stubs (Any to mypy); an enum's Name() is a str.
        return cast(str, health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    # -- SearchService --------------------------------------------------------------------

    def upsert_shops(
        self, request: search_pb.UpsertShopsRequest | None = None, /, *, timeout: float | None = None, **fields: Any
    ) -> search_pb.UpsertShopsResponse:
        return self._unary(self._search.UpsertShops, _request(search_pb.UpsertShopsRequest, request, fields), timeout)

    def upsert_products(
        self, request: search_pb.UpsertProductsRequest | None = None, /, *, timeout: float | None = None, **fields: Any
    ) -> search_pb.UpsertProductsResponse:
        return self._unary(
            self._search.UpsertProducts, _request(search_pb.UpsertProductsRequest, request, fields), timeout
        )

    def stream_upsert_products(
        self, requests: Iterable[search_pb.StreamUpsertProductsRequest], *, timeout: float | None = None
    ) -> search_pb.StreamUpsertProductsResponse:
        batches = (_request(search_pb.StreamUpsertProductsRequest, r, {}) for r in requests)
        return self._stream_in(self._search.StreamUpsertProducts, batches, timeout)

    def delete_products(
        self, request: search_pb.DeleteProductsRequest | None = None, /, *, timeout: float | None = None, **fields: Any
    ) -> search_pb.DeleteProductsResponse:
        return self._unary(
            self._search.DeleteProducts, _request(search_pb.DeleteProductsRequest, request, fields), timeout
        )

    def search(
        self, request: search_pb.SearchRequest | None = None, /, *, timeout: float | None = None, **fields: Any
    ) -> search_pb.SearchResponse:
        return self._unary(self._search.Search, _request(search_pb.SearchRequest, request, fields), timeout)

    def analyze_hero_image(
        self,
        request: search_pb.AnalyzeHeroImageRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> search_pb.AnalyzeHeroImageResponse:
        return self._unary(
            self._search.AnalyzeHeroImage, _request(search_pb.AnalyzeHeroImageRequest, request, fields), timeout
        )

    def get_ranking_profile(
        self,
        request: search_pb.GetRankingProfileRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> search_pb.GetRankingProfileResponse:
        return self._unary(
            self._search.GetRankingProfile, _request(search_pb.GetRankingProfileRequest, request, fields), timeout
        )

    def update_ranking_profile(
        self,
        request: search_pb.UpdateRankingProfileRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> search_pb.UpdateRankingProfileResponse:
        return self._unary(
            self._search.UpdateRankingProfile, _request(search_pb.UpdateRankingProfileRequest, request, fields), timeout
        )

    # -- CreatorService -------------------------------------------------------------------

    def upsert_creator_metrics(
        self,
        request: creator_pb.UpsertCreatorMetricsRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> creator_pb.UpsertCreatorMetricsResponse:
        return self._unary(
            self._creators.UpsertCreatorMetrics,
            _request(creator_pb.UpsertCreatorMetricsRequest, request, fields),
            timeout,
        )

    def stream_upsert_creator_metrics(
        self, requests: Iterable[creator_pb.StreamUpsertCreatorMetricsRequest], *, timeout: float | None = None
    ) -> creator_pb.StreamUpsertCreatorMetricsResponse:
        batches = (_request(creator_pb.StreamUpsertCreatorMetricsRequest, r, {}) for r in requests)
        return self._stream_in(self._creators.StreamUpsertCreatorMetrics, batches, timeout)

    def score_creators(
        self, request: creator_pb.ScoreCreatorsRequest | None = None, /, *, timeout: float | None = None, **fields: Any
    ) -> creator_pb.ScoreCreatorsResponse:
        return self._unary(
            self._creators.ScoreCreators, _request(creator_pb.ScoreCreatorsRequest, request, fields), timeout
        )

    def get_creator_score(
        self,
        request: creator_pb.GetCreatorScoreRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> creator_pb.GetCreatorScoreResponse:
        return self._unary(
            self._creators.GetCreatorScore, _request(creator_pb.GetCreatorScoreRequest, request, fields), timeout
        )

    def list_top_creators(
        self,
        request: creator_pb.ListTopCreatorsRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> creator_pb.ListTopCreatorsResponse:
        return self._unary(
            self._creators.ListTopCreators, _request(creator_pb.ListTopCreatorsRequest, request, fields), timeout
        )

    # -- SettlementService ----------------------------------------------------------------

    def preview_split(
        self,
        request: settlement_pb.PreviewSplitRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> settlement_pb.PreviewSplitResponse:
        return self._unary(
            self._settlement.PreviewSplit, _request(settlement_pb.PreviewSplitRequest, request, fields), timeout
        )

    def record_order(
        self, request: settlement_pb.RecordOrderRequest | None = None, /, *, timeout: float | None = None, **fields: Any
    ) -> settlement_pb.RecordOrderResponse:
        return self._unary(
            self._settlement.RecordOrder, _request(settlement_pb.RecordOrderRequest, request, fields), timeout
        )

    def record_orders(
        self,
        request: settlement_pb.RecordOrdersRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> settlement_pb.RecordOrdersResponse:
        return self._unary(
            self._settlement.RecordOrders, _request(settlement_pb.RecordOrdersRequest, request, fields), timeout
        )

    def stream_record_orders(
        self, requests: Iterable[settlement_pb.StreamRecordOrdersRequest], *, timeout: float | None = None
    ) -> Iterator[settlement_pb.StreamRecordOrdersResponse]:
        """Yields one acknowledgement per batch, once that batch is durable."""
        batches = (_request(settlement_pb.StreamRecordOrdersRequest, r, {}) for r in requests)
        return self._stream_both(self._settlement.StreamRecordOrders, batches, timeout)

    def confirm_receipt(
        self,
        request: settlement_pb.ConfirmReceiptRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> settlement_pb.ConfirmReceiptResponse:
        return self._unary(
            self._settlement.ConfirmReceipt, _request(settlement_pb.ConfirmReceiptRequest, request, fields), timeout
        )

    def open_after_sale(
        self,
        request: settlement_pb.OpenAfterSaleRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> settlement_pb.OpenAfterSaleResponse:
        return self._unary(
            self._settlement.OpenAfterSale, _request(settlement_pb.OpenAfterSaleRequest, request, fields), timeout
        )

    def record_refund(
        self,
        request: settlement_pb.RecordRefundRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> settlement_pb.RecordRefundResponse:
        return self._unary(
            self._settlement.RecordRefund, _request(settlement_pb.RecordRefundRequest, request, fields), timeout
        )

    def close_after_sale(
        self,
        request: settlement_pb.CloseAfterSaleRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> settlement_pb.CloseAfterSaleResponse:
        return self._unary(
            self._settlement.CloseAfterSale, _request(settlement_pb.CloseAfterSaleRequest, request, fields), timeout
        )

    def run_settlement(
        self,
        request: settlement_pb.RunSettlementRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> settlement_pb.RunSettlementResponse:
        return self._unary(
            self._settlement.RunSettlement, _request(settlement_pb.RunSettlementRequest, request, fields), timeout
        )

    def get_order(
        self, request: settlement_pb.GetOrderRequest | None = None, /, *, timeout: float | None = None, **fields: Any
    ) -> settlement_pb.GetOrderResponse:
        return self._unary(self._settlement.GetOrder, _request(settlement_pb.GetOrderRequest, request, fields), timeout)

    def get_statement(
        self,
        request: settlement_pb.GetStatementRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> settlement_pb.GetStatementResponse:
        return self._unary(
            self._settlement.GetStatement, _request(settlement_pb.GetStatementRequest, request, fields), timeout
        )

    def get_balance(
        self, request: settlement_pb.GetBalanceRequest | None = None, /, *, timeout: float | None = None, **fields: Any
    ) -> settlement_pb.GetBalanceResponse:
        return self._unary(
            self._settlement.GetBalance, _request(settlement_pb.GetBalanceRequest, request, fields), timeout
        )

    def get_guide_performance(
        self,
        request: settlement_pb.GetGuidePerformanceRequest | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> settlement_pb.GetGuidePerformanceResponse:
        return self._unary(
            self._settlement.GetGuidePerformance,
            _request(settlement_pb.GetGuidePerformanceRequest, request, fields),
            timeout,
        )
