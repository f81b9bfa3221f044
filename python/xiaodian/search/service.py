"""The gRPC SearchService: catalog writes, search and ranking profiles.

Writes go to SQLite first (the source of truth) and reach the in-memory index after their
transaction commits, in commit order; at start the index is rebuilt from the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import grpc

from xiaodian import _core
from xiaodian.platform.db import Database
from xiaodian.platform.idempotency import run_once
from xiaodian.platform.pending import pending
from xiaodian.platform.validation import Violations
from xiaodian.search import catalog, profiles, query
from xiaodian.v1 import search_service_pb2 as pb
from xiaodian.v1 import search_service_pb2_grpc as pb_grpc

log = logging.getLogger("xiaodian.search")

HERO_IMAGES = "hero image analysis"


def new_engine(db: Database) -> _core.SearchEngine:
    """An engine holding the whole stored catalog."""
    started = time.perf_counter()
    engine = _core.SearchEngine()
    loaded = catalog.load_index(db.connection(), engine)
    log.info("index built", extra={"products": loaded, "seconds": round(time.perf_counter() - started, 3)})
    return engine


class SearchService(pb_grpc.SearchServiceServicer):
    def __init__(self, db: Database, engine: _core.SearchEngine) -> None:
        self.db = db
        self.engine = engine

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
        def write(conn):  # type: ignore[no-untyped-def]
            catalog.validate_shops(request.shops)
            records = catalog.upsert_shops(conn, request.shops)
            self.db.after_commit(lambda: self.engine.upsert_shops(records))
            return pb.UpsertShopsResponse(upserted_count=len(records))

        return run_once(self.db, "UpsertShops", request, pb.UpsertShopsResponse, write)

    def _upsert_products(self, request: pb.UpsertProductsRequest) -> pb.UpsertProductsResponse:
        def write(conn):  # type: ignore[no-untyped-def]
            catalog.validate_products(conn, request.products)
            reports = [self._hero_report(p) for p in request.products]
            done = catalog.upsert_products(conn, request.products, reports)
            if done.records:
                self.db.after_commit(lambda: self.engine.upsert_products(done.records))
            return pb.UpsertProductsResponse(results=done.results)

        return run_once(self.db, "UpsertProducts", request, pb.UpsertProductsResponse, write)

    @staticmethod
    def _hero_report(product: pb.Product) -> pb.HeroImageReport | None:
        if not product.HasField("hero_image"):
            return None
        if product.hero_image.WhichOneof("source") == "image_bytes":
            raise pending("UpsertProducts with hero_image.image_bytes", HERO_IMAGES)
        return product.hero_image.report

    def UpsertProducts(
        self, request: pb.UpsertProductsRequest, context: grpc.ServicerContext
    ) -> pb.UpsertProductsResponse:
        return self._upsert_products(request)

    def StreamUpsertProducts(
        self, request_iterator: Iterator[pb.StreamUpsertProductsRequest], context: grpc.ServicerContext
    ) -> pb.StreamUpsertProductsResponse:
        summary = pb.StreamUpsertProductsResponse()
        for batch in request_iterator:
            # A batch is the same write as UpsertProducts: a retried batch replays either way.
            done = self._upsert_products(pb.UpsertProductsRequest(request_id=batch.request_id, products=batch.products))
            summary.batch_count += 1
            for result in done.results:
                if result.outcome == pb.UPSERT_OUTCOME_CREATED:
                    summary.created_count += 1
                elif result.outcome == pb.UPSERT_OUTCOME_UPDATED:
                    summary.updated_count += 1
                else:
                    summary.stale_product_ids.append(result.product_id)
        return summary

    def DeleteProducts(
        self, request: pb.DeleteProductsRequest, context: grpc.ServicerContext
    ) -> pb.DeleteProductsResponse:
        def write(conn):  # type: ignore[no-untyped-def]
            v = Violations()
            v.check_batch("product_ids", len(request.product_ids))
            for i, product_id in enumerate(request.product_ids):
                v.check_id(f"product_ids[{i}]", product_id)
            v.raise_if_any()
            deleted, missing = catalog.delete_products(conn, request.product_ids)
            if deleted:
                self.db.after_commit(lambda: self.engine.delete_products(deleted))
            return pb.DeleteProductsResponse(deleted_count=len(deleted), not_found_product_ids=missing)

        return run_once(self.db, "DeleteProducts", request, pb.DeleteProductsResponse, write)

    def Search(self, request: pb.SearchRequest, context: grpc.ServicerContext) -> pb.SearchResponse:
        query.validate(request)
        token = query.decode_token(request)
        name = request.profile or profiles.DEFAULT_PROFILE_NAME
        version = token.profile_version if token else request.profile_version
        profile = profiles.get_profile(self.db.connection(), name, version)
        engine_request: dict[str, Any] = query.engine_request(request, token)
        result = self.engine.search(profile.as_engine_dict(), engine_request)
        return query.response(request, result, engine_request, profile.name, profile.version)

    def AnalyzeHeroImage(
        self, request: pb.AnalyzeHeroImageRequest, context: grpc.ServicerContext
    ) -> pb.AnalyzeHeroImageResponse:
        raise pending("AnalyzeHeroImage", HERO_IMAGES)
