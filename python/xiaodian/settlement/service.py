"""The gRPC SettlementService: orders, their lifecycle, settlement runs and the ledger.

The servicer calls the domain modules (`recording`, `lifecycle`, `reads`, `ledger`), which
check the requests and answer plain values, and builds the responses from them. The four
recording methods (PreviewSplit, RecordOrder, RecordOrders, StreamRecordOrders) take the
request's bytes and answer the response's bytes: Rust reads and checks the orders
(`recording.read_orders`, within the money bounds `[settlement] max_line_fen` and
`max_order_fen`), splits them, builds the rows and encodes the response, the GIL released;
Python keeps the storage, the idempotency and the allowances.

Every write runs in one SQLite transaction (WAL, synchronous=FULL: durable when answered),
at most once per request_id (`run_once`, `run_once_encoded`); the natural keys (order_id,
refund_id, after_sale_id) replay too. No amount or sum of money leaves int64
(`ledger.add_sums`).
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from xiaodian import _core
from xiaodian.platform.config import SettlementConfig
from xiaodian.platform.db import Connection, Database
from xiaodian.platform.handlers import wire_bytes
from xiaodian.platform.idempotency import run_once, run_once_encoded
from xiaodian.platform.page_tokens import PageTokens
from xiaodian.platform.validation import Violations
from xiaodian.settlement import ledger, lifecycle, reads, recording
from xiaodian.settlement.orders import FeePolicy, MoneyBounds, Policy, split_message
from xiaodian.v1 import settlement_service_pb2 as pb
from xiaodian.v1 import settlement_service_pb2_grpc as pb_grpc

MAX_PAGE_SIZE = 1_000
DEFAULT_PAGE_SIZE = 100


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


def _time_range(request: pb.GetStatementRequest | pb.GetGuidePerformanceRequest) -> tuple[int | None, int | None]:
    start = request.start_time.ToMicroseconds() if request.HasField("start_time") else None
    end = request.end_time.ToMicroseconds() if request.HasField("end_time") else None
    return start, end


class SettlementService(pb_grpc.SettlementServiceServicer):
    def __init__(self, db: Database, policy: Policy | None = None, tokens: PageTokens | None = None) -> None:
        self.db = db
        self.policy = policy or Policy()
        self.tokens = tokens or PageTokens.random()

    @wire_bytes
    def PreviewSplit(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        batch = recording.read_orders(request, "preview", self.policy)
        recorded = recording.record_orders(self.db.connection(), batch, self.policy, preview=True)
        return _core.preview_split_response(batch.orders[0], recorded.splits[0])

    def record_batch(self, request: bytes) -> bytes:
        """Records one batch of a stream durably (an encoded `StreamRecordOrdersRequest`),
        answering with its order ids only (a loader does not need the splits, and building them
        costs more than recording); also the in-process entry point."""
        batch = recording.read_orders(request, "orders", self.policy)

        def write(conn: Connection) -> bytes:
            recorded = recording.record_orders(conn, batch, self.policy)
            return _core.stream_record_orders_response(batch.request_id, recorded.order_ids)

        return run_once_encoded(self.db, "StreamRecordOrders", batch.request_id, request, write)

    @wire_bytes
    def RecordOrder(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        batch = recording.read_orders(request, "order", self.policy)

        def write(conn: Connection) -> bytes:
            recorded = recording.record_orders(conn, batch, self.policy)
            return _core.record_order_response(batch.orders[0], recorded.splits[0])

        return run_once_encoded(self.db, "RecordOrder", batch.request_id, request, write)

    @wire_bytes
    def RecordOrders(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        """One durable batch, answered with every order's split."""
        batch = recording.read_orders(request, "orders", self.policy)

        def write(conn: Connection) -> bytes:
            recorded = recording.record_orders(conn, batch, self.policy)
            return _core.record_responses(batch.orders, recorded.splits)

        return run_once_encoded(self.db, "RecordOrders", batch.request_id, request, write)

    @wire_bytes
    def StreamRecordOrders(self, request_iterator: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        for batch in request_iterator:
            yield self.record_batch(batch)

    def ConfirmReceipt(
        self, request: pb.ConfirmReceiptRequest, context: grpc.ServicerContext
    ) -> pb.ConfirmReceiptResponse:
        def write(conn: Connection) -> pb.ConfirmReceiptResponse:
            receipt = lifecycle.confirm_receipt(conn, request, self.policy)
            response = pb.ConfirmReceiptResponse(state=receipt.state)
            response.settle_after.FromMicroseconds(receipt.settle_after_us)
            return response

        return run_once(self.db, "ConfirmReceipt", request, pb.ConfirmReceiptResponse, write)

    def OpenAfterSale(
        self, request: pb.OpenAfterSaleRequest, context: grpc.ServicerContext
    ) -> pb.OpenAfterSaleResponse:
        def write(conn: Connection) -> pb.OpenAfterSaleResponse:
            return pb.OpenAfterSaleResponse(frozen=lifecycle.open_after_sale(conn, request))

        return run_once(self.db, "OpenAfterSale", request, pb.OpenAfterSaleResponse, write)

    def RecordRefund(self, request: pb.RecordRefundRequest, context: grpc.ServicerContext) -> pb.RecordRefundResponse:
        def write(conn: Connection) -> pb.RecordRefundResponse:
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
        def write(conn: Connection) -> pb.CloseAfterSaleResponse:
            return pb.CloseAfterSaleResponse(frozen=lifecycle.close_after_sale(conn, request))

        return run_once(self.db, "CloseAfterSale", request, pb.CloseAfterSaleResponse, write)

    def RunSettlement(
        self, request: pb.RunSettlementRequest, context: grpc.ServicerContext
    ) -> pb.RunSettlementResponse:
        v = Violations()
        v.check(request.HasField("as_of"), "as_of", "is required")
        v.raise_if_any()

        def write(conn: Connection) -> pb.RunSettlementResponse:
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
