"""Search requests: validation, page tokens, and the mapping to and from the engine's dicts.

A page token is opaque to callers and signed (`platform.page_tokens`). Inside it is the page
number, the clock of the first page (new-merchant windows do not shift between pages), the
profile version used (a profile update does not reshuffle a listing being paged), and a
fingerprint of the other request fields, which must not change between pages. Pages go no
deeper than `max_result_window` results (`[search]`): a page costs work in proportion to its
depth, so no token asks for more than an honest page at that depth.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from xiaodian.errors import InvalidArgument
from xiaodian.platform.page_tokens import PageTokens, int_in
from xiaodian.platform.validation import TIMESTAMP_MAX_SECONDS, Violations
from xiaodian.v1 import search_service_pb2 as pb

QUERY_MAX_CHARS = 100
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_TOKEN_KIND = "search"

SORT_NAMES = {
    pb.SEARCH_SORT_UNSPECIFIED: "relevance",
    pb.SEARCH_SORT_RELEVANCE: "relevance",
    pb.SEARCH_SORT_SALES: "sales",
    pb.SEARCH_SORT_PRICE_ASCENDING: "price_ascending",
    pb.SEARCH_SORT_PRICE_DESCENDING: "price_descending",
    pb.SEARCH_SORT_RATING: "rating",
    pb.SEARCH_SORT_NEWEST: "newest",
}


@dataclass(frozen=True)
class PageToken:
    page: int
    now_s: int
    profile_version: int
    fingerprint: str


def _fingerprint(request: pb.SearchRequest) -> str:
    """Hash of every field but the page token."""
    stripped = pb.SearchRequest()
    stripped.CopyFrom(request)
    stripped.ClearField("page_token")
    return hashlib.sha256(stripped.SerializeToString(deterministic=True)).hexdigest()[:24]


def _pages_within(window: int, page_size: int) -> int:
    """The number of pages of `page_size` whose results end within the first `window`."""
    return max(1, window // page_size)


def decode_token(request: pb.SearchRequest, tokens: PageTokens, window: int) -> PageToken | None:
    """The request's page token, checked against the request; None for the first page."""
    if not request.page_token:
        return None
    page, now_s, profile_version, fingerprint = tokens.read(request.page_token, _TOKEN_KIND, 4)
    if fingerprint != _fingerprint(request):
        raise InvalidArgument.of("page_token", "belongs to a different search: keep every other field unchanged")
    page_size = request.page_size or DEFAULT_PAGE_SIZE
    return PageToken(
        int_in(page, 1, _pages_within(window, page_size) - 1),
        int_in(now_s, 0, TIMESTAMP_MAX_SECONDS),
        int_in(profile_version, 1, 2**31 - 1),
        str(fingerprint),
    )


def validate(request: pb.SearchRequest) -> None:
    v = Violations()
    v.check(len(request.query) <= QUERY_MAX_CHARS, "query", f"must be at most {QUERY_MAX_CHARS} characters")
    browsing = not request.query.strip()
    has_scope = bool(request.filter.category_ids or request.filter.shop_ids)
    v.check(not browsing or has_scope, "query", "is required unless filter.category_ids or filter.shop_ids is set")
    v.check(request.page_size <= MAX_PAGE_SIZE, "page_size", f"must be 0-{MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})")
    v.check(request.sort in SORT_NAMES, "sort", "unknown sort")
    f = request.filter
    for name in ("min_price_fen", "max_price_fen"):
        if f.HasField(name):
            v.check(getattr(f, name) >= 0, f"filter.{name}", "must be >= 0")
    if f.HasField("min_price_fen") and f.HasField("max_price_fen"):
        v.check(f.min_price_fen <= f.max_price_fen, "filter.max_price_fen", "must be >= filter.min_price_fen")
    v.check(request.profile_version >= 0, "profile_version", "must be >= 0")
    v.raise_if_any()


def engine_request(request: pb.SearchRequest, token: PageToken | None) -> dict[str, Any]:
    """The engine's request dict for a validated request."""
    f = request.filter
    return {
        "query": request.query,
        "category_ids": list(f.category_ids),
        "shop_ids": list(f.shop_ids),
        "min_price_fen": f.min_price_fen if f.HasField("min_price_fen") else None,
        "max_price_fen": f.max_price_fen if f.HasField("max_price_fen") else None,
        "in_stock_only": f.in_stock_only,
        "sort": SORT_NAMES[request.sort],
        "page_size": request.page_size or DEFAULT_PAGE_SIZE,
        "page": token.page if token else 0,
        "max_per_shop": request.max_per_shop,
        "keep_duplicates": request.keep_duplicates,
        "explain": request.explain,
        "now_s": token.now_s if token else int(time.time()),
    }


def response(
    request: pb.SearchRequest,
    result: dict[str, Any],
    engine_req: dict[str, Any],
    profile: str,
    profile_version: int,
    tokens: PageTokens,
    window: int,
) -> pb.SearchResponse:
    """The SearchResponse for the engine's result dict; a next page token while the next page
    ends within `window` results."""
    message = pb.SearchResponse(
        total_matched=result["total_matched"],
        any_term_match=result["any_term_match"],
        collapsed_duplicates=result["collapsed_duplicates"],
        profile=profile,
        profile_version=profile_version,
    )
    for hit in result["hits"]:
        explanation = hit.pop("explanation")
        h = message.hits.add(**hit)
        if explanation is not None:
            signals = explanation.pop("signals")
            h.explanation.CopyFrom(pb.RankingExplanation(**explanation))
            for s in signals:
                h.explanation.signals.add(**s)
    next_page = engine_req["page"] + 1
    if result["has_more"] and next_page < _pages_within(window, engine_req["page_size"]):
        message.next_page_token = tokens.issue(
            _TOKEN_KIND, next_page, engine_req["now_s"], profile_version, _fingerprint(request)
        )
    return message
