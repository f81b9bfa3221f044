"""The gRPC CreatorService: every method answers UNIMPLEMENTED until the creator scoring engine lands."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from xiaodian.platform.pending import pending
from xiaodian.v1 import creator_service_pb2 as pb
from xiaodian.v1 import creator_service_pb2_grpc as pb_grpc

CREATOR_SCORING = "creator scoring engine (40/30/30 cohort percentiles)"


class CreatorService(pb_grpc.CreatorServiceServicer):
    def UpsertCreatorMetrics(
        self, request: pb.UpsertCreatorMetricsRequest, context: grpc.ServicerContext
    ) -> pb.UpsertCreatorMetricsResponse:
        raise pending("UpsertCreatorMetrics", CREATOR_SCORING)

    def StreamUpsertCreatorMetrics(
        self, request_iterator: Iterator[pb.StreamUpsertCreatorMetricsRequest], context: grpc.ServicerContext
    ) -> pb.StreamUpsertCreatorMetricsResponse:
        raise pending("StreamUpsertCreatorMetrics", CREATOR_SCORING)

    def ScoreCreators(
        self, request: pb.ScoreCreatorsRequest, context: grpc.ServicerContext
    ) -> pb.ScoreCreatorsResponse:
        raise pending("ScoreCreators", CREATOR_SCORING)

    def GetCreatorScore(
        self, request: pb.GetCreatorScoreRequest, context: grpc.ServicerContext
    ) -> pb.GetCreatorScoreResponse:
        raise pending("GetCreatorScore", CREATOR_SCORING)

    def ListTopCreators(
        self, request: pb.ListTopCreatorsRequest, context: grpc.ServicerContext
    ) -> pb.ListTopCreatorsResponse:
        raise pending("ListTopCreators", CREATOR_SCORING)
