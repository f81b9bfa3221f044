"""tantivy (PyPI `tantivy`) as a peer oracle for the engine's first phase.

Titles are indexed with exactly our bigram-only tokens (pre-tokenised by `xiaodian._core`,
joined with spaces and split again by tantivy's whitespace tokenizer), and queries follow what
a team would build with it: every term required, any term when fewer than `limit` products
match all of them (the engine's first tier is the same; its second tier takes two thirds of
the query words instead of any term). tantivy scores BM25 with k1 = 1.2 and b = 0.75, so with
the profile of `oracle_profile` (title only, no business signals) both engines rank by the
same formula; only
tantivy's one-byte field-length encoding (exact up to 40 tokens) and tie order may differ.

Given shop names and brands, the peer also indexes them as fields of their own, and a query term
matches when any of the three fields has it (BM25 summed over the fields that do): the relevance
benchmark's baseline, the search a team would build itself on tantivy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tantivy
from xiaodian import _core

TOKENIZER = "xiaodian_tokens"


def oracle_profile(rerank_depth: int = 10) -> dict[str, Any]:
    """The engine profile that reduces ranking to BM25 over the title (k1 1.2, b 0.75)."""
    profile = _core.default_ranking_profile()
    profile.update(
        name="oracle",
        bm25_k1=1.2,
        bm25_b=0.75,
        title_weight=1.0,
        shop_name_weight=0.0,
        brand_weight=0.0,
        text_weight=1.0,
        hero_quality_weight=0.0,
        rating_weight=0.0,
        shop_score_weight=0.0,
        sales_weight=0.0,
        brand_multiplier=1.0,
        new_merchant_multiplier=1.0,
        rerank_depth=rerank_depth,
    )
    return profile


class TantivyPeer:
    """An in-memory tantivy index of `(product_id, title)` pairs, added in the given order, with
    each product's sales as a fast field when `sales` is given (for `search_weighted`), and its
    shop name and brand as text fields when `shop_names` and `brands` are (one per product)."""

    def __init__(
        self,
        products: Sequence[tuple[str, str]],
        analyzer: _core.SearchEngine | None = None,
        sales: Sequence[int] | None = None,
        shop_names: Sequence[str] | None = None,
        brands: Sequence[str] | None = None,
    ) -> None:
        self.analyzer = analyzer or _core.SearchEngine("bigrams")
        extra = {"shop": shop_names, "brand": brands}
        self.fields = ("title", *(name for name, values in extra.items() if values is not None))
        builder = tantivy.SchemaBuilder()
        builder.add_unsigned_field("doc", stored=True)
        builder.add_float_field("sales", fast=True)
        for field in self.fields:
            builder.add_text_field(field, stored=False, tokenizer_name=TOKENIZER, index_option="freq")
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema)
        self.index.register_tokenizer(TOKENIZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
        self.ids = [product_id for product_id, _ in products]
        writer = self.index.writer(heap_size=200_000_000, num_threads=1)
        for doc, (_, title) in enumerate(products):
            texts = {"title": title, **{name: values[doc] for name, values in extra.items() if values is not None}}
            tokens = {field: " ".join(self.analyzer.tokens(text)) for field, text in texts.items()}
            writer.add_document(tantivy.Document(doc=doc, sales=float(sales[doc] if sales else 0), **tokens))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()

    def _term(self, term: str) -> tantivy.Query:
        """The term in the title, or in any of the indexed fields."""
        if len(self.fields) == 1:
            return tantivy.Query.term_query(self.schema, "title", term)
        should = tantivy.Occur.Should
        return tantivy.Query.boolean_query(
            [(should, tantivy.Query.term_query(self.schema, f, term)) for f in self.fields]
        )

    def _query(self, terms: list[str], occur: tantivy.Occur) -> tantivy.Query:
        return tantivy.Query.boolean_query([(occur, self._term(term)) for term in terms])

    def search(self, query: str, limit: int = 10) -> tuple[list[tuple[str, float]], bool]:
        """Top `limit` (product_id, score) and whether retrieval fell back to any term."""
        terms = [text for text, _required in self.analyzer.query_terms(query)]
        if not terms:
            return [], False
        result = self.searcher.search(self._query(terms, tantivy.Occur.Must), limit, count=True)
        matched: int = result.count  # type: ignore[attr-defined]  # present at runtime, missing from the stub
        any_term = matched < limit
        if any_term:
            result = self.searcher.search(self._query(terms, tantivy.Occur.Should), limit)
        hits = [(self.ids[self.searcher.doc(address)["doc"][0]], score) for score, address in result.hits]
        return hits, any_term

    def search_weighted(self, query: str, limit: int = 10) -> list[tuple[str, float]]:
        """Any-term BM25 weighted by sales (tantivy multiplies by log2(2 + sales)): the
        business-signal comparison of the engine benchmark."""
        terms = [text for text, _required in self.analyzer.query_terms(query)]
        if not terms:
            return []
        result = self.searcher.search(self._query(terms, tantivy.Occur.Should), limit, weight_by_field="sales")
        return [(self.ids[self.searcher.doc(address)["doc"][0]], score) for score, address in result.hits]
