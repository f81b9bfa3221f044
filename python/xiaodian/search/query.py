"""The engine's request dict of a `SearchRequest`, for the engine's own API
(`SearchEngine.search(profile, request)`) as the differential tests and the engine benchmarks
call it.

The service does not use it: `SearchService.Search` hands the request's bytes to Rust
(`SearchEngine.search_encoded`, `crates/xiaodian-py/src/search.rs`), which validates, reads the
page token, searches and encodes the response.
"""

from __future__ import annotations

import time
from typing import Any

from xiaodian.v1 import search_service_pb2 as pb

DEFAULT_PAGE_SIZE = 20

SORT_NAMES = {
    pb.SEARCH_SORT_UNSPECIFIED: "relevance",
    pb.SEARCH_SORT_RELEVANCE: "relevance",
    pb.SEARCH_SORT_SALES: "sales",
    pb.SEARCH_SORT_PRICE_ASCENDING: "price_ascending",
    pb.SEARCH_SORT_PRICE_DESCENDING: "price_descending",
    pb.SEARCH_SORT_RATING: "rating",
    pb.SEARCH_SORT_NEWEST: "newest",
}


def engine_request(request: pb.SearchRequest, page: int = 0, now_s: int | None = None) -> dict[str, Any]:
    """The engine's request dict for the first (or `page`-th) page of `request`."""
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
        "page": page,
        "max_per_shop": request.max_per_shop,
        "keep_duplicates": request.keep_duplicates,
        "explain": request.explain,
        "now_s": int(time.time()) if now_s is None else now_s,
    }
