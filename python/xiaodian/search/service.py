"""The gRPC SearchService: catalog writes, search and ranking profiles.

Writes go to SQLite first (the source of truth) and reach the in-memory index after their
transaction commits, in commit order; at start the index is rebuilt from the database.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence

import grpc

from xiaodian import _core
from xiaodian.errors import InvalidArgument
from xiaodian.platform.config import SearchConfig
from xiaodian.platform.db import Database
from xiaodian.platform.handlers import wire_bytes
from xiaodian.platform.idempotency import run_once
from xiaodian.platform.page_tokens import PageTokens
from xiaodian.platform.validation import Violations
from xiaodian.search import catalog, profiles, sync
from xiaodian.search.image_slots import ImageAnalysisSlots
from xiaodian.v1 import search_service_pb2 as pb
from xiaodian.v1 import search_service_pb2_grpc as pb_grpc

log = logging.getLogger("xiaodian.search")


def hero_reports(
    products: Sequence[pb.Product], slots: ImageAnalysisSlots, context: grpc.ServicerContext | None
) -> list[pb.HeroImageReport | None]:
    """Each product's hero-image report: analysed from the bytes (in Rust, without the GIL,
    within the memory budget, the batch's images one after another in one analysis slot),
    taken as sent, or None without a hero image. Every bad image is reported, each as a field
    violation on `products[i].hero_image.image_bytes`, and then the batch is refused; without
    a free slot within the deadline the batch is `ResourceExhausted`."""
    sources = [p.hero_image.WhichOneof("source") if p.HasField("hero_image") else None for p in products]
    reports: list[pb.HeroImageReport | None] = []
    violations: list[tuple[str, str]] = []
    with slots.slot(context) if "image_bytes" in sources else contextlib.nullcontext():
        for i, (product, source) in enumerate(zip(products, sources, strict=True)):
            if source == "image_bytes":
                try:
                    reports.append(pb.HeroImageReport(**slots.analyze(product.hero_image.image_bytes)))
                except InvalidArgument as error:
                    violations += error.under(f"products[{i}].hero_image").violations
                    reports.append(None)
            elif source == "report":
                reports.append(product.hero_image.report)
            else:
                reports.append(None)
    if violations:
        raise InvalidArgument("invalid hero images: " + "; ".join(f"{f}: {d}" for f, d in violations), violations)
    return reports


def new_engine(db: Database) -> _core.SearchEngine:
    """An engine holding the whole stored catalog and every version of every ranking profile."""
    return sync.load_engine(db)[0]


class SearchService(pb_grpc.SearchServiceServicer):
    def __init__(
        self,
        db: Database,
        engine: _core.SearchEngine,
        config: SearchConfig | None = None,
        tokens: PageTokens | None = None,
    ) -> None:
        self.db = db
        self.engine = engine
        self.config = config or SearchConfig()
        self.tokens = tokens or PageTokens.random()
        self.image_slots = ImageAnalysisSlots.from_config(self.config)

    def _after_commit(self, update: Callable[[_core.SearchEngine], object]) -> None:
        """Applies `update` to the index once the write commits. Should it fail, the committed
        catalog is still the truth: the index is rebuilt from it, so searches never keep
        serving a stale index (the write itself has succeeded and its caller is told so)."""

        def apply() -> None:
            try:
                update(self.engine)
            except Exception:
                log.exception("index update failed after commit; rebuilding the index from the database")
                self.engine = new_engine(self.db)

        self.db.after_commit(apply)

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
            self._after_commit(lambda engine: engine.put_profile(stored.name, stored.version, stored.as_engine_dict()))
            return pb.UpdateRankingProfileResponse(profile=stored.to_proto())

        return run_once(self.db, "UpdateRankingProfile", request, pb.UpdateRankingProfileResponse, write)

    def UpsertShops(self, request: pb.UpsertShopsRequest, context: grpc.ServicerContext) -> pb.UpsertShopsResponse:
        def write(conn):  # type: ignore[no-untyped-def]
            catalog.validate_shops(request.shops)
            records = catalog.upsert_shops(conn, request.shops)
            self._after_commit(lambda engine: engine.upsert_shops(records))
            return pb.UpsertShopsResponse(upserted_count=len(records))

        return run_once(self.db, "UpsertShops", request, pb.UpsertShopsResponse, write)

    def _upsert_products(
        self, request: pb.UpsertProductsRequest, context: grpc.ServicerContext | None
    ) -> pb.UpsertProductsResponse:
        # Images are decoded before the write transaction, so the write lock is never held
        # while pixels are analysed.
        reports = hero_reports(request.products, self.image_slots, context)

        def write(conn):  # type: ignore[no-untyped-def]
            catalog.validate_products(conn, request.products)
            done = catalog.upsert_products(conn, request.products, reports)
            if done.records:
                self._after_commit(lambda engine: engine.upsert_products(done.records))
            return pb.UpsertProductsResponse(results=done.results)

        return run_once(self.db, "UpsertProducts", request, pb.UpsertProductsResponse, write)

    def UpsertProducts(
        self, request: pb.UpsertProductsRequest, context: grpc.ServicerContext
    ) -> pb.UpsertProductsResponse:
        return self._upsert_products(request, context)

    def StreamUpsertProducts(
        self, request_iterator: Iterator[pb.StreamUpsertProductsRequest], context: grpc.ServicerContext
    ) -> pb.StreamUpsertProductsResponse:
        summary = pb.StreamUpsertProductsResponse()
        for batch in request_iterator:
            # A batch is the same write as UpsertProducts: a retried batch replays either way.
            done = self._upsert_products(
                pb.UpsertProductsRequest(request_id=batch.request_id, products=batch.products), context
            )
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
                self._after_commit(lambda engine: engine.delete_products(deleted))
            return pb.DeleteProductsResponse(deleted_count=len(deleted), not_found_product_ids=missing)

        return run_once(self.db, "DeleteProducts", request, pb.DeleteProductsResponse, write)

    @wire_bytes
    def Search(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        """Bytes in, bytes out: validation, the page token, the kept profile (a search reads no
        database), ranking and the response's encoding all happen in Rust, without the GIL."""
        return self.engine.search_encoded(request, self.tokens.keys, self.config.max_result_window, int(time.time()))

    @wire_bytes
    def Suggest(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        """Bytes in, bytes out like Search: validation (`prefix`, `limit`), completion from the
        index's suggester and the response's encoding happen in Rust, without the GIL."""
        return self.engine.suggest_encoded(request)

    def AnalyzeHeroImage(
        self, request: pb.AnalyzeHeroImageRequest, context: grpc.ServicerContext
    ) -> pb.AnalyzeHeroImageResponse:
        if not request.image_bytes:
            raise InvalidArgument.of("image_bytes", "is required")
        with self.image_slots.slot(context):
            report = self.image_slots.analyze(request.image_bytes)
        return pb.AnalyzeHeroImageResponse(report=pb.HeroImageReport(**report))
