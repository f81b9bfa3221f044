"""The gRPC SettlementService: every method answers UNIMPLEMENTED until the commission settlement engine lands."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from xiaodian.platform.pending import pending
from xiaodian.v1 import settlement_service_pb2 as pb
from xiaodian.v1 import settlement_service_pb2_grpc as pb_grpc

SETTLEMENT = "commission settlement engine (split, ledger, lifecycle)"


class SettlementService(pb_grpc.SettlementServiceServicer):
    def PreviewSplit(self, request: pb.PreviewSplitRequest, context: grpc.ServicerContext) -> pb.PreviewSplitResponse:
        raise pending("PreviewSplit", SETTLEMENT)

    def RecordOrder(self, request: pb.RecordOrderRequest, context: grpc.ServicerContext) -> pb.RecordOrderResponse:
        raise pending("RecordOrder", SETTLEMENT)

    def RecordOrders(self, request: pb.RecordOrdersRequest, context: grpc.ServicerContext) -> pb.RecordOrdersResponse:
        raise pending("RecordOrders", SETTLEMENT)

    def StreamRecordOrders(
        self, request_iterator: Iterator[pb.StreamRecordOrdersRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.StreamRecordOrdersResponse]:
        raise pending("StreamRecordOrders", SETTLEMENT)

    def ConfirmReceipt(
        self, request: pb.ConfirmReceiptRequest, context: grpc.ServicerContext
    ) -> pb.ConfirmReceiptResponse:
        raise pending("ConfirmReceipt", SETTLEMENT)

    def OpenAfterSale(
        self, request: pb.OpenAfterSaleRequest, context: grpc.ServicerContext
    ) -> pb.OpenAfterSaleResponse:
        raise pending("OpenAfterSale", SETTLEMENT)

    def RecordRefund(self, request: pb.RecordRefundRequest, context: grpc.ServicerContext) -> pb.RecordRefundResponse:
        raise pending("RecordRefund", SETTLEMENT)

    def CloseAfterSale(
        self, request: pb.CloseAfterSaleRequest, context: grpc.ServicerContext
    ) -> pb.CloseAfterSaleResponse:
        raise pending("CloseAfterSale", SETTLEMENT)

    def RunSettlement(
        self, request: pb.RunSettlementRequest, context: grpc.ServicerContext
    ) -> pb.RunSettlementResponse:
        raise pending("RunSettlement", SETTLEMENT)

    def GetOrder(self, request: pb.GetOrderRequest, context: grpc.ServicerContext) -> pb.GetOrderResponse:
        raise pending("GetOrder", SETTLEMENT)

    def GetStatement(self, request: pb.GetStatementRequest, context: grpc.ServicerContext) -> pb.GetStatementResponse:
        raise pending("GetStatement", SETTLEMENT)

    def GetBalance(self, request: pb.GetBalanceRequest, context: grpc.ServicerContext) -> pb.GetBalanceResponse:
        raise pending("GetBalance", SETTLEMENT)

    def GetGuidePerformance(
        self, request: pb.GetGuidePerformanceRequest, context: grpc.ServicerContext
    ) -> pb.GetGuidePerformanceResponse:
        raise pending("GetGuidePerformance", SETTLEMENT)
