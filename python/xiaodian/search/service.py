"""The gRPC SearchService: ranking profiles today; catalog, search and images as they land."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from xiaodian.platform.db import Database
from xiaodian.platform.idempotency import run_once
from xiaodian.platform.pending import pending
from xiaodian.search import profiles
from xiaodian.v1 import search_service_pb2 as pb
from xiaodian.v1 import search_service_pb2_grpc as pb_grpc

SEARCH_ENGINE = "search ranking engine (catalog, BM25F, phased ranking)"
HERO_IMAGES = "hero image analysis"


class SearchService(pb_grpc.SearchServiceServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    def GetRankingProfile(
        self, request: pb.GetRankingProfileRequest, context: grpc.ServicerContext
    ) -> pb.GetRankingProfileResponse:
        stored = profiles.get_profile(self.db.connection(), request.name, request.version)
        return pb.GetRankingProfileResponse(profile=stored.to_proto())

    def UpdateRankingProfile(
        self, request: pb.UpdateRankingProfileRequest, context: grpc.ServicerContext
    ) -> pb.UpdateRankingProfileResponse:
        def write(conn):  # type: ignore[no-untyped-def]
            stored = profiles.update_profile(
                conn,
                request.profile.name,
                profiles.settings_from_proto(request.profile),
                request.expected_version,
            )
            return pb.UpdateRankingProfileResponse(profile=stored.to_proto())

        return run_once(self.db, "UpdateRankingProfile", request, pb.UpdateRankingProfileResponse, write)

    def UpsertShops(self, request: pb.UpsertShopsRequest, context: grpc.ServicerContext) -> pb.UpsertShopsResponse:
        raise pending("UpsertShops", SEARCH_ENGINE)

    def UpsertProducts(
        self, request: pb.UpsertProductsRequest, context: grpc.ServicerContext
    ) -> pb.UpsertProductsResponse:
        raise pending("UpsertProducts", SEARCH_ENGINE)

    def StreamUpsertProducts(
        self, request_iterator: Iterator[pb.StreamUpsertProductsRequest], context: grpc.ServicerContext
    ) -> pb.StreamUpsertProductsResponse:
        raise pending("StreamUpsertProducts", SEARCH_ENGINE)

    def DeleteProducts(
        self, request: pb.DeleteProductsRequest, context: grpc.ServicerContext
    ) -> pb.DeleteProductsResponse:
        raise pending("DeleteProducts", SEARCH_ENGINE)

    def Search(self, request: pb.SearchRequest, context: grpc.ServicerContext) -> pb.SearchResponse:
        raise pending("Search", SEARCH_ENGINE)

    def AnalyzeHeroImage(
        self, request: pb.AnalyzeHeroImageRequest, context: grpc.ServicerContext
    ) -> pb.AnalyzeHeroImageResponse:
        raise pending("AnalyzeHeroImage", HERO_IMAGES)
