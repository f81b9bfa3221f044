"""The gRPC SettlementService: orders, their lifecycle, settlement runs and the ledger.

The servicer calls the domain modules (`recording`, `lifecycle`, `reads`, `ledger`), which
check the requests and answer plain values, and builds the responses from them;
RecordOrders' responses are encoded in Rust (`record_responses`).

Every write runs in one SQLite transaction (WAL, synchronous=FULL: durable when answered),
at most once per request_id (`run_once`); the natural keys (order_id, refund_id,
after_sale_id) replay too. Recorded orders are checked and split in Rust, read from their
encodings (`_core.valid_order_keys`, `_core.split_encoded_blobs`, GIL released), within the
configured money bounds (`[settlement] max_line_fen`, `max_order_fen`); no amount or sum of
money leaves int64 (`ledger.add_sums`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

import grpc

from xiaodian import _core
from xiaodian.errors import InvalidArgument
from xiaodian.platform.config import SettlementConfig
from xiaodian.platform.db import Database
from xiaodian.platform.idempotency import run_once
from xiaodian.platform.page_tokens import PageTokens
from xiaodian.platform.validation import Violations
from xiaodian.settlement import ledger, lifecycle, reads, recording
from xiaodian.settlement.orders import FeePolicy, MoneyBounds, Policy, split_message, unpack_split
from xiaodian.v1 import settlement_service_pb2 as pb
from xiaodian.v1 import settlement_service_pb2_grpc as pb_grpc

MAX_BATCH = 10_000
MAX_PAGE_SIZE = 1_000
DEFAULT_PAGE_SIZE = 100


def _check_batch(request: pb.RecordOrdersRequest | pb.StreamRecordOrdersRequest) -> None:
    v = Violations()
    v.check_batch("orders", len(request.orders), MAX_BATCH)
    v.raise_if_any()


def _encodings(request: pb.RecordOrdersRequest | pb.StreamRecordOrdersRequest) -> tuple[bytes, list[bytes] | None]:
    """The request's deterministic encoding (its idempotency digest is taken of it) and, read
    from it in Rust rather than serialized again, each order's (orders are field 2)."""
    encoded = request.SerializeToString(deterministic=True)
    return encoded, _core.repeated_field(encoded, 2)


def policy_of(config: SettlementConfig) -> Policy:
    return Policy(
        fees=FeePolicy(
            default_rate_ppm=config.default_fee_rate_ppm,
            rate_ppm_by_category=tuple(sorted((str(k), int(v)) for k, v in config.fee_rate_ppm_by_category.items())),
            new_merchant_cap_fen=config.new_merchant_cap_fen,
            new_merchant_rate_ppm=config.new_merchant_rate_ppm,
        ),
        settle_after_days=config.settle_after_days,
        new_merchant_window_days=config.new_merchant_window_days,
        bounds=MoneyBounds(max_line_fen=config.max_line_fen, max_order_fen=config.max_order_fen),
    )


def record_response(order: pb.Order, split_blob: bytes) -> pb.RecordOrderResponse:
    return pb.RecordOrderResponse(
        order_id=order.order_id, split=split_message(order, unpack_split(split_blob)), state=pb.ORDER_STATE_PAID
    )


def record_responses(
    orders: Sequence[pb.Order], splits: Sequence[bytes], encoded_orders: Sequence[bytes] | None = None
) -> pb.RecordOrdersResponse:
    """`record_response` of every recorded order with its packed split, built in Rust from the
    encoded orders (`_core.record_responses`; `encoded_orders` when the caller has them); in
    Python if Rust cannot read one of them."""
    if encoded_orders is None or len(encoded_orders) != len(orders):
        encoded_orders = [o.SerializeToString(deterministic=True) for o in orders]
    encoded = _core.record_responses(list(encoded_orders), list(splits))
    if encoded is None:
        return pb.RecordOrdersResponse(
            orders=[record_response(o, blob) for o, blob in zip(orders, splits, strict=True)]
        )
    return pb.RecordOrdersResponse.FromString(encoded)


def _time_range(request: pb.GetStatementRequest | pb.GetGuidePerformanceRequest) -> tuple[int | None, int | None]:
    start = request.start_time.ToMicroseconds() if request.HasField("start_time") else None
    end = request.end_time.ToMicroseconds() if request.HasField("end_time") else None
    return start, end


class SettlementService(pb_grpc.SettlementServiceServicer):
    def __init__(self, db: Database, policy: Policy | None = None, tokens: PageTokens | None = None) -> None:
        self.db = db
        self.policy = policy or Policy()
        self.tokens = tokens or PageTokens.random()

    def PreviewSplit(self, request: pb.PreviewSplitRequest, context: grpc.ServicerContext) -> pb.PreviewSplitResponse:
        if not request.HasField("order"):
            raise InvalidArgument.of("order", "is required")
        conn = self.db.connection()
        recorded = recording.record_orders(conn, [request.order], self.policy, field="order", preview=True)
        return pb.PreviewSplitResponse(split=record_response(request.order, recorded.splits[0]).split)

    def record_batch(self, batch: pb.StreamRecordOrdersRequest) -> pb.StreamRecordOrdersResponse:
        """Records one batch of a stream durably, answering with its order ids only (a loader
        does not need the splits, and building them costs more than recording); also the
        in-process entry point."""
        _check_batch(batch)
        encoded, orders = _encodings(batch)

        def write(conn: sqlite3.Connection) -> pb.StreamRecordOrdersResponse:
            recorded = recording.record_orders(conn, batch.orders, self.policy, encoded=orders)
            return pb.StreamRecordOrdersResponse(request_id=batch.request_id, order_ids=recorded.order_ids)

        return run_once(self.db, "StreamRecordOrders", batch, pb.StreamRecordOrdersResponse, write, encoded)

    def RecordOrder(self, request: pb.RecordOrderRequest, context: grpc.ServicerContext) -> pb.RecordOrderResponse:
        def write(conn: sqlite3.Connection) -> pb.RecordOrderResponse:
            recorded = recording.record_orders(conn, [request.order], self.policy, field="order")
            return record_response(request.order, recorded.splits[0])

        return run_once(self.db, "RecordOrder", request, pb.RecordOrderResponse, write)

    def RecordOrders(self, request: pb.RecordOrdersRequest, context: grpc.ServicerContext) -> pb.RecordOrdersResponse:
        """One durable batch, answered with every order's split."""
        _check_batch(request)
        encoded, orders = _encodings(request)

        def write(conn: sqlite3.Connection) -> pb.RecordOrdersResponse:
            recorded = recording.record_orders(conn, request.orders, self.policy, encoded=orders)
            return record_responses(request.orders, recorded.splits, orders)

        return run_once(self.db, "RecordOrders", request, pb.RecordOrdersResponse, write, encoded)

    def StreamRecordOrders(
        self, request_iterator: Iterator[pb.StreamRecordOrdersRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.StreamRecordOrdersResponse]:
        for batch in request_iterator:
            yield self.record_batch(batch)

    def ConfirmReceipt(
        self, request: pb.ConfirmReceiptRequest, context: grpc.ServicerContext
    ) -> pb.ConfirmReceiptResponse:
        def write(conn: sqlite3.Connection) -> pb.ConfirmReceiptResponse:
            receipt = lifecycle.confirm_receipt(conn, request, self.policy)
            response = pb.ConfirmReceiptResponse(state=receipt.state)
            response.settle_after.FromMicroseconds(receipt.settle_after_us)
            return response

        return run_once(self.db, "ConfirmReceipt", request, pb.ConfirmReceiptResponse, write)

    def OpenAfterSale(
        self, request: pb.OpenAfterSaleRequest, context: grpc.ServicerContext
    ) -> pb.OpenAfterSaleResponse:
        def write(conn: sqlite3.Connection) -> pb.OpenAfterSaleResponse:
            return pb.OpenAfterSaleResponse(frozen=lifecycle.open_after_sale(conn, request))

        return run_once(self.db, "OpenAfterSale", request, pb.OpenAfterSaleResponse, write)

    def RecordRefund(self, request: pb.RecordRefundRequest, context: grpc.ServicerContext) -> pb.RecordRefundResponse:
        def write(conn: sqlite3.Connection) -> pb.RecordRefundResponse:
            refund = lifecycle.record_refund(conn, request)
            return pb.RecordRefundResponse(
                refund_id=refund.refund_id,
                refunded_fen=refund.refunded_fen,
                state=refund.state,
                reversals=[pb.PartyReversal(account=a, amount_fen=amount) for a, amount in refund.reversals],
            )

        return run_once(self.db, "RecordRefund", request, pb.RecordRefundResponse, write)

    def CloseAfterSale(
        self, request: pb.CloseAfterSaleRequest, context: grpc.ServicerContext
    ) -> pb.CloseAfterSaleResponse:
        def write(conn: sqlite3.Connection) -> pb.CloseAfterSaleResponse:
            return pb.CloseAfterSaleResponse(frozen=lifecycle.close_after_sale(conn, request))

        return run_once(self.db, "CloseAfterSale", request, pb.CloseAfterSaleResponse, write)

    def RunSettlement(
        self, request: pb.RunSettlementRequest, context: grpc.ServicerContext
    ) -> pb.RunSettlementResponse:
        v = Violations()
        v.check(request.HasField("as_of"), "as_of", "is required")
        v.raise_if_any()

        def write(conn: sqlite3.Connection) -> pb.RunSettlementResponse:
            run = lifecycle.run_settlement(conn, request.as_of.ToMicroseconds())
            return pb.RunSettlementResponse(
                settled_count=run.settled_count, frozen_count=run.frozen_count, settled_fen=run.settled_fen
            )

        return run_once(self.db, "RunSettlement", request, pb.RunSettlementResponse, write)

    def GetOrder(self, request: pb.GetOrderRequest, context: grpc.ServicerContext) -> pb.GetOrderResponse:
        v = Violations()
        v.check_id("order_id", request.order_id)
        v.raise_if_any()
        details = reads.order_details(self.db.connection(), request.order_id)
        response = pb.GetOrderResponse(
            order=details.order,
            state=details.state,
            frozen=details.frozen,
            split=split_message(details.order, details.lines),
            refunds=details.refunds,
            after_sales=details.after_sales,
        )
        for timestamp, value in (
            (response.confirmed_at, details.confirmed_at_us),
            (response.settle_after, details.settle_after_us),
            (response.settled_at, details.settled_at_us),
        ):
            if value is not None:
                timestamp.FromMicroseconds(value)
        return response

    def GetStatement(self, request: pb.GetStatementRequest, context: grpc.ServicerContext) -> pb.GetStatementResponse:
        ledger.check_account(request.account)
        v = Violations()
        v.check(request.page_size <= MAX_PAGE_SIZE, "page_size", f"must be 0-{MAX_PAGE_SIZE:,}")
        v.raise_if_any()
        start, end = _time_range(request)
        transfers, token = ledger.statement(
            self.db.connection(),
            request.account,
            start,
            end,
            request.page_size or DEFAULT_PAGE_SIZE,
            request.page_token,
            self.tokens,
        )
        return pb.GetStatementResponse(transfers=transfers, next_page_token=token)

    def GetBalance(self, request: pb.GetBalanceRequest, context: grpc.ServicerContext) -> pb.GetBalanceResponse:
        ledger.check_account(request.account)
        conn = self.db.connection()
        return pb.GetBalanceResponse(
            account=request.account,
            settled_fen=ledger.balance(conn, request.account),
            pending_fen=reads.pending_fen(conn, request.account),
        )

    def GetGuidePerformance(
        self, request: pb.GetGuidePerformanceRequest, context: grpc.ServicerContext
    ) -> pb.GetGuidePerformanceResponse:
        v = Violations()
        v.check_id("guide_id", request.guide_id)
        v.raise_if_any()
        start, end = _time_range(request)
        performance = reads.guide_performance(self.db.connection(), request.guide_id, start, end)
        return pb.GetGuidePerformanceResponse(
            guide_id=request.guide_id,
            order_count=performance.order_count,
            paid_fen=performance.paid_fen,
            refunded_fen=performance.refunded_fen,
            settled_order_count=performance.settled_order_count,
        )
