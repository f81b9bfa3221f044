"""Peer oracle: with business weights at zero and bigram-only analysis, the engine's top 10
agrees with tantivy's BM25 (same tokens, k1 = 1.2, b = 0.75) on at least 95 % of 1,000
generated queries over a generated catalog. (The benchmark runs the same on 1M products.)

Agreement for one query: the same set of ten products, or sets that differ only among products
whose score ties with the tenth (tie order is each engine's own business). tantivy scores in
f32 and encodes field lengths in one byte, so exact score equality is not expected; the score
ratio is checked loosely as a sanity check of the formula.
"""

from __future__ import annotations

import random

import pytest
from xiaodian import _core
from xiaodian.demo.catalog import generate_catalog
from xiaodian.search.catalog import engine_records
from xiaodian.search.query import engine_request
from xiaodian.v1 import search_service_pb2 as pb

from benchmarks.tantivy_peer import TantivyPeer, oracle_profile

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

K = 10
K1 = 1.2


def generated_queries(titles: list[str], count: int, seed: int) -> list[str]:
    """Queries people type: a word or two cut from real titles, sometimes from two titles."""
    rng = random.Random(seed)
    queries = []
    while len(queries) < count:
        words = rng.choice(titles).split()
        query = " ".join(rng.sample(words, min(len(words), rng.choice((1, 1, 2)))))
        if rng.random() < 0.2:
            query += " " + rng.choice(rng.choice(titles).split())
        queries.append(query[: rng.randint(2, 12)].strip() or words[0])
    return queries


def request(query: str) -> dict[str, object]:
    """The engine request the service builds for a first page of 10."""
    # tantivy knows nothing of hero images
    return engine_request(pb.SearchRequest(query=query, page_size=10, keep_duplicates=True))


def agrees(ours: list[tuple[str, float]], theirs: list[tuple[str, float]]) -> bool:
    ours_ids, their_ids = {i for i, _ in ours}, {i for i, _ in theirs}
    if ours_ids == their_ids:
        return True
    if len(ours) != len(theirs) or not theirs:
        return False
    our_cut, their_cut = ours[-1][1], theirs[-1][1]
    differing_ours = [s for i, s in ours if i not in their_ids]
    differing_theirs = [s for i, s in theirs if i not in ours_ids]
    return all(abs(s - our_cut) <= 1e-6 * our_cut for s in differing_ours) and all(
        abs(s - their_cut) <= 1e-5 * their_cut for s in differing_theirs
    )


def test_top10_agrees_with_tantivy_bm25() -> None:
    catalog = generate_catalog(seed=11, product_count=5_000)
    shops, products = engine_records(catalog.shops, catalog.products)
    engine = _core.SearchEngine("bigrams")
    engine.upsert_shops(shops)
    engine.upsert_products(products)
    peer = TantivyPeer([(p["product_id"], p["title"]) for p in products])
    profile = oracle_profile()

    queries = generated_queries([p["title"] for p in products], 1_000, seed=5)
    agreed = compared = 0
    fallback_agreed = 0
    ratios: list[float] = []
    for query in queries:
        result = engine.search(profile, request(query))
        ours = [(h["product_id"], h["score"]) for h in result["hits"]]
        theirs, their_fallback = peer.search(query, K)
        # Both fall back when fewer than K products have every term; then tantivy takes any
        # term and we take a second tier (two thirds of the words): only the first tiers compare.
        fallback_agreed += (result["first_tier_matched"] < K) == their_fallback
        if their_fallback:
            continue
        compared += 1
        agreed += agrees(ours, theirs)
        scores = dict(theirs)
        ratios += [scores[i] / s for i, s in ours if i in scores and s > 0]

    assert compared >= 300, compared
    assert agreed >= 0.95 * compared, f"top-10 agreement {agreed} of {compared} queries"
    assert fallback_agreed >= 990
    # tantivy's BM25 carries a constant (k1 + 1) factor; lossy length bytes move it slightly.
    inside = sum(abs(r - (K1 + 1)) <= 0.02 * (K1 + 1) for r in ratios)
    assert inside >= 0.95 * len(ratios)
