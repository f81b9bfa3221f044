"""The relevance benchmark's judgements and metrics (benchmarks/relevance.py): queries and grades
come from the demo generator's truth alone, each class has its promised count, and precision@10,
nDCG@10 and the imitation-trap test give the right numbers on hand-made rankings."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from xiaodian.demo.catalog import ProductTruth, stream_catalog_with_truth

from benchmarks import relevance
from benchmarks.relevance import JudgedQuery, Judgements, genuine_first, grade, ndcg_at_10, precision_at_10

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

PER_CLASS = 60


@pytest.fixture(scope="module")
def catalog() -> tuple[list[ProductTruth], dict[str, str], list[JudgedQuery], Judgements, dict[str, str]]:
    shops, pairs = stream_catalog_with_truth(seed=7, product_count=20_000)
    products, truths = [], []
    for product, truth in pairs:
        products.append(product)
        truths.append(truth)
    titles = {p.product_id: p.title for p in products}
    queries = relevance.build_queries(truths, titles, shops, PER_CLASS)
    return truths, titles, queries, Judgements(truths), {shop.shop_id: shop.name for shop in shops}


def truth(**fields: object) -> ProductTruth:
    base = ProductTruth(
        product_id="p1",
        shop_id="s1",
        category_id="c-scarf",
        product_type="围巾",
        type_word="围巾",
        material="羊绒",
        material_word="羊绒",
        imitation=False,
        brand="山下有松",
        copy_of=None,
        title_words=("山下有松", "羊绒围巾女"),
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


# Queries and judgements


def test_every_class_has_its_queries_and_they_are_deterministic(catalog) -> None:  # type: ignore[no-untyped-def]
    truths, titles, queries, _, _ = catalog
    counts = Counter(q.query_class for q in queries)
    assert set(counts) == set(relevance.CLASSES)
    assert all(count == PER_CLASS for count in counts.values()) and len(queries) >= 500
    assert len({(q.query_class, q.text) for q in queries}) > 0.9 * len(queries)
    again, _ = stream_catalog_with_truth(seed=7, product_count=20_000)
    assert relevance.build_queries(truths, titles, again, PER_CLASS) == queries


def test_every_grade_2_product_has_every_attribute_the_query_names(catalog) -> None:  # type: ignore[no-untyped-def]
    truths, _, queries, judgements, _ = catalog
    by_id = {t.product_id: t for t in truths}
    for query in queries:
        graded = judgements.graded(query)
        assert any(g == 2 for g in graded.values()), query  # nothing here is skipped
        for product_id, g in graded.items():
            product = by_id[product_id]
            if query.shop_id is not None:
                assert product.shop_id == query.shop_id
                continue
            assert product.product_type == query.product_type
            has_all = (
                query.material is None
                or (
                    product.material is not None
                    and query.material in product.material
                    and product.imitation == query.imitation
                )
            ) and (query.brand is None or product.brand == query.brand)
            assert g == (2 if has_all else 1), (query, product)
        # Every other product of the type or shop is graded too (0 only for another type or shop).
        others = [t for t in truths if t.product_id not in graded]
        assert all(grade(query, t) == 0 for t in others[:2_000])


def test_an_imitation_is_never_grade_2_for_a_plain_material(catalog) -> None:  # type: ignore[no-untyped-def]
    truths, _, queries, judgements, _ = catalog
    by_id = {t.product_id: t for t in truths}
    plain = [q for q in queries if q.material is not None and not q.imitation]
    assert len([q for q in plain if q.query_class == "imitation_trap"]) == PER_CLASS
    for query in plain:
        graded = judgements.graded(query)
        assert all(g < 2 for product_id, g in graded.items() if by_id[product_id].imitation), query
        if query.query_class == "imitation_trap":  # both kinds exist, by construction
            assert any(by_id[p].imitation and by_id[p].material == query.material for p in graded)
            assert any(g == 2 for g in graded.values())


def test_a_shop_name_query_finds_exactly_that_shops_products(catalog) -> None:  # type: ignore[no-untyped-def]
    truths, _, queries, judgements, names = catalog
    for query in (q for q in queries if q.query_class == "shop_name"):
        assert query.text == names[query.shop_id]
        relevant = {p for p, g in judgements.graded(query).items() if g == 2}
        assert relevant == {t.product_id for t in truths if t.shop_id == query.shop_id}


def test_a_synonym_query_uses_a_word_no_relevant_title_uses(catalog) -> None:  # type: ignore[no-untyped-def]
    truths, titles, queries, judgements, _ = catalog
    by_id = {t.product_id: t for t in truths}
    for query in (q for q in queries if q.query_class == "synonym"):
        word = query.text.split()[-1].removeprefix(query.material or "")
        assert word in next(g for g in relevance.SYNONYM_GROUPS if query.product_type in g)
        for product_id, g in judgements.graded(query).items():
            if g == 2:
                assert by_id[product_id].type_word != word and word not in titles[product_id]


def test_title_queries_are_whole_titles_and_core_queries_name_what_the_title_says(catalog) -> None:  # type: ignore[no-untyped-def]
    _, titles, queries, _, _ = catalog
    pasted = {q.text for q in queries if q.query_class == "title_paste"}
    assert pasted <= set(titles.values())
    for query in queries:
        if query.query_class in ("exact", "reordered", "spaced"):
            assert query.material is not None and query.product_type is not None
            assert query.brand is None or query.brand in query.text
            assert query.product_type in query.text or any(
                word in query.text for g in relevance.SYNONYM_GROUPS if query.product_type in g for word in g
            )
        if query.query_class == "spaced":
            assert " " in query.text


def test_grades_of_hand_made_products() -> None:
    query = JudgedQuery("exact", "山下有松 羊绒围巾", product_type="围巾", material="羊绒", brand="山下有松")
    assert grade(query, truth()) == 2
    assert grade(query, truth(material_word="仿羊绒", imitation=True)) == 1
    assert grade(query, truth(brand=None)) == 1
    assert grade(query, truth(material=None, material_word=None)) == 1
    assert grade(query, truth(product_type="披肩", type_word="披肩")) == 0
    steel = JudgedQuery("exact", "不锈钢保温杯", product_type="保温杯", material="不锈钢")
    assert grade(steel, truth(product_type="保温杯", material="304不锈钢", material_word="304不锈钢")) == 2
    fake = JudgedQuery("exact", "仿羊绒围巾", product_type="围巾", material="羊绒", imitation=True)
    assert grade(fake, truth(material_word="仿羊绒", imitation=True)) == 2
    assert grade(fake, truth()) == 1
    shop = JudgedQuery("shop_name", "小美的围巾铺", shop_id="s1")
    assert grade(shop, truth()) == 2 and grade(shop, truth(shop_id="s2")) == 0


# Metrics


def test_a_perfect_ranking_scores_one_and_an_empty_one_zero() -> None:
    catalog_grades = [2, 2, 2, 1, 1, 0]
    perfect = sorted(catalog_grades, reverse=True)
    assert precision_at_10(perfect, relevant_count=3) == 1.0
    assert ndcg_at_10(perfect, catalog_grades) == pytest.approx(1.0)
    assert precision_at_10([], relevant_count=3) == 0.0
    assert ndcg_at_10([], catalog_grades) == 0.0
    assert precision_at_10([0] * 10, relevant_count=30) == 0.0
    with pytest.raises(ValueError):
        precision_at_10([2], relevant_count=0)


def test_metrics_on_a_hand_worked_ranking() -> None:
    # Two relevant products in the catalog, found at ranks 2 and 4: precision 2 / min(10, 2).
    assert precision_at_10([0, 2, 0, 2], relevant_count=2) == 1.0
    # 12 relevant products, 5 in the top 10: 5 / 10.
    assert precision_at_10([2, 0] * 5 + [2, 2], relevant_count=12) == 0.5
    dcg = 3 / math.log2(3) + 3 / math.log2(5) + 1 / math.log2(6)
    ideal = 3 + 3 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_10([0, 2, 0, 2, 1], [2, 2, 1, 0, 0]) == pytest.approx(dcg / ideal)
    # Only the first 10 hits count.
    assert ndcg_at_10([0] * 10 + [2], [2]) == 0.0


@given(st.lists(st.integers(0, 2), max_size=30), st.lists(st.integers(0, 2), min_size=1, max_size=30))
def test_metrics_stay_in_the_unit_interval_and_the_ideal_order_is_best(ranking: list[int], extra: list[int]) -> None:
    catalog_grades = ranking + extra  # every ranked product is in the catalog
    relevant = sum(g == 2 for g in catalog_grades)
    if relevant:
        assert 0.0 <= precision_at_10(ranking, relevant) <= 1.0
    if any(catalog_grades):
        score = ndcg_at_10(ranking, catalog_grades)
        assert 0.0 <= score <= 1.0 + 1e-12
        assert ndcg_at_10(sorted(catalog_grades, reverse=True), catalog_grades) == pytest.approx(1.0)
        assert score <= ndcg_at_10(sorted(ranking, reverse=True), catalog_grades) + 1e-12


def test_the_imitation_trap_passes_only_when_a_genuine_product_comes_first() -> None:
    query = JudgedQuery("imitation_trap", "羊绒围巾", product_type="围巾", material="羊绒")
    genuine, fake = truth(brand=None), truth(brand=None, material_word="仿羊绒", imitation=True)
    other = truth(product_type="披肩", type_word="披肩")
    assert genuine_first([other, genuine, fake], query)
    assert genuine_first([genuine, other], query)  # no imitation at all: a pass
    assert not genuine_first([fake, genuine], query)
    assert not genuine_first([other, other], query)  # no genuine product: a fail
    assert not genuine_first([other] * 10 + [genuine], query)  # only the top 10 counts
