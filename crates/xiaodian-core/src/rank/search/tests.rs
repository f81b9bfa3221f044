//! End-to-end tests of `Index::search`: retrieval paths, tiers, exact-shop order, shown scores,
//! explanations, filters and sorts, paging and shop caps, each path checked against another.

use super::*;
use crate::error::CoreError;
use crate::rank::index::tests::{check_invariants, product, shop};
use crate::text::{AnalysisMode, Analyzer};

fn request(query: &str) -> SearchRequest {
    SearchRequest {
        query: query.to_owned(),
        filter: Filter::default(),
        sort: Sort::Relevance,
        page_size: 10,
        page: 0,
        max_per_shop: 0,
        keep_duplicates: false,
        explain: true,
        now_s: 1_000_000_000,
    }
}

fn ids(result: &SearchResult) -> Vec<&str> {
    result.hits.iter().map(|h| h.product_id.as_str()).collect()
}

fn catalog() -> Index {
    let mut index = Index::new(Analyzer::new(AnalysisMode::Full));
    index.upsert_shops(vec![
        shop("s1", "山下有松"),
        shop("s2", "羊绒小店"),
        shop("s3", "数码配件"),
    ]);
    let mut p = vec![
        product("a", "s1", "山下有松 羊绒围巾女 2025新款"),
        product("b", "s2", "羊绒围巾 男士 冬季保暖"),
        product("c", "s2", "纯棉围巾"),
        product("d", "s3", "iPhone15手机壳 防摔"),
        product("e", "s3", "中国农业发展银行 纪念币"),
        product("f", "s3", "待处理 订单 贴纸"),
    ];
    p[0].sales_30d = 1000;
    p[1].price_fen = 50;
    index.upsert_products(p).unwrap();
    check_invariants(&index);
    index
}

#[test]
fn a_rarer_term_with_a_bitset_and_a_commoner_one_without_still_match_all() {
    // alpha's 16 postings made it dense at 16 documents, and it is never written again;
    // beta was dense too, and lost its bitset at its 17th posting among 1,101 documents.
    // Both in the same 16 products: all-terms retrieval must find them (counting by
    // bitsets alone would see beta's as empty and fall back to any term).
    let mut index = Index::new(Analyzer::new(AnalysisMode::BigramsOnly));
    index.upsert_shops(vec![shop("s1", "店")]);
    let mut products: Vec<_> = (0..16)
        .map(|i| product(&format!("a{i:04}"), "s1", "alpha beta"))
        .collect();
    products.extend((16..1100).map(|i| product(&format!("f{i:04}"), "s1", "gamma")));
    products.push(product("z", "s1", "beta delta"));
    index.upsert_products(products).unwrap();
    check_invariants(&index);
    let term = |text: &str| &index.terms[index.term_by_text[text] as usize];
    assert!(term("alpha").is_dense() && !term("beta").is_dense());
    let result = index
        .search(&RankingProfile::default(), &request("alpha beta"))
        .unwrap();
    assert!(!result.second_tier_searched);
    assert_eq!(result.total_matched, 16);
}

#[test]
fn the_all_terms_count_is_exact_whichever_term_narrows_first() {
    // 苏打饼干's three bigrams are in the same 334 documents; 通勤 is in 400 others and in
    // `both` of those (which alone have all three words). Over five windows, the count
    // (narrowed by the correlated bigrams first, then by whichever term has kept the fewest
    // documents) decides the second tier exactly at the page size; with `in_stock_only` it
    // counts one document at a time. The second tier: two of the three words.
    for both in [0usize, 5, 9, 10, 11, 40] {
        let mut index = Index::new(Analyzer::new(AnalysisMode::BigramsOnly));
        index.upsert_shops(vec![shop("s", "店")]);
        let products: Vec<_> = (0..20_000usize)
            .map(|i| {
                let snack = i % 60 == 0;
                let commute = (snack && i / 60 < both) || (!snack && i % 47 == 3);
                let title = match (snack, commute) {
                    (true, true) => "苏打饼干 通勤 围巾",
                    (true, false) => "苏打饼干 围巾",
                    (false, true) => "通勤 围巾",
                    (false, false) => "围巾",
                };
                product(&format!("p{i:05}"), "s", title)
            })
            .collect();
        // Bigrams only: each bigram of 苏打饼干 is a word, five words in all; the second tier
        // (four of them) is the snacks without 通勤.
        let snacks = products
            .iter()
            .filter(|p| p.title.contains("苏打饼干"))
            .count() as u64;
        index.upsert_products(products).unwrap();
        for in_stock_only in [false, true] {
            let mut r = request("苏打饼干 通勤 围巾");
            r.filter.in_stock_only = in_stock_only;
            let result = index.search(&RankingProfile::default(), &r).unwrap();
            assert_eq!(result.second_tier_searched, both < 10, "{both}");
            assert_eq!(result.first_tier_matched, both as u64, "{both}");
            let expected = if both < 10 { snacks } else { both as u64 };
            assert_eq!(result.total_matched, expected, "{both}");
        }
    }
}

#[test]
fn chinese_recall_infix_mixed_script_width_and_case() {
    let index = catalog();
    let profile = RankingProfile::default();
    for (query, expected) in [
        ("处理", "f"),
        ("农业", "e"),
        ("iphone 15 手机壳", "d"),
        ("ＩＰＨＯＮＥ１５", "d"),
        ("IPhone", "d"),
    ] {
        let result = index.search(&profile, &request(query)).unwrap();
        assert!(
            ids(&result).contains(&expected),
            "{query}: {:?}",
            ids(&result)
        );
    }
}

#[test]
fn a_second_tier_follows_a_short_first_tier_and_explains() {
    let index = catalog();
    // Two words: both are needed, whatever the page size; a bigram straddling them (绒纯)
    // never makes a match.
    let result = index
        .search(&RankingProfile::default(), &request("羊绒 纯棉"))
        .unwrap();
    assert!(!result.second_tier_searched);
    assert_eq!(ids(&result), ["c"]); // 羊绒 in its shop's name (BM25F spans fields)
                                     // Three words: c has all three, a and b two of them (a second tier), d none.
    let result = index
        .search(&RankingProfile::default(), &request("羊绒 纯棉 围巾"))
        .unwrap();
    assert!(result.second_tier_searched);
    assert_eq!(
        (result.first_tier_matched, result.second_tier_matched),
        (1, 2)
    );
    assert_eq!(result.total_matched, 3);
    assert_eq!(ids(&result)[0], "c");
    let tiers: Vec<u32> = result.hits.iter().map(|h| h.tier).collect();
    assert_eq!(tiers, [1, 2, 2]);
    assert_eq!(result.hits[1].explanation.as_ref().unwrap().tier, 2);
    let mut strict = request("羊绒围巾");
    strict.page_size = 2;
    let result = index.search(&RankingProfile::default(), &strict).unwrap();
    assert!(!result.second_tier_searched);
    // c matches too: 羊绒 in its shop's name, 围巾 in its title (BM25F spans fields).
    assert_eq!(result.total_matched, 3);
    let hit = &result.hits[0];
    let explanation = hit.explanation.as_ref().unwrap();
    let additive: f64 = explanation.signals[..5]
        .iter()
        .map(|s| s.contribution)
        .sum();
    let factors: f64 = explanation.signals[5..7]
        .iter()
        .map(|s| s.contribution)
        .product();
    assert!((additive * factors - hit.score).abs() <= 1e-12 * hit.score);
    assert!(explanation.matched_terms.contains(&"羊绒".to_owned()));
}

#[test]
fn a_synonym_matches_a_word_below_the_word_as_typed_and_is_explained() {
    let mut index = Index::new(Analyzer::new(AnalysisMode::Full));
    index.upsert_shops(vec![shop("s", "数码配件")]);
    index
        .upsert_products(vec![
            product("typed", "s", "硅胶手机套 防摔"),
            product("case", "s", "硅胶手机壳 防摔"),
            product("guard", "s", "硅胶保护壳 防摔"),
            product("film", "s", "硅胶手机膜 防摔"),
        ])
        .unwrap();
    let profile = RankingProfile::default();
    let result = index.search(&profile, &request("硅胶手机套")).unwrap();
    assert_eq!(ids(&result)[0], "typed");
    let mut found = ids(&result);
    found.sort_unstable();
    assert_eq!(found, ["case", "guard", "typed"]);
    assert!(!result.second_tier_searched);
    let explained = |id: &str| {
        let hit = result.hits.iter().find(|h| h.product_id == id).unwrap();
        hit.explanation.as_ref().unwrap().matched_synonyms.clone()
    };
    assert_eq!(explained("case"), ["手机壳"]);
    assert_eq!(explained("guard"), ["保护壳"]);
    assert!(explained("typed").is_empty());
    // Without synonyms the query finds the word as typed only.
    let plain = RankingProfile {
        synonyms: Vec::new(),
        ..RankingProfile::default()
    };
    assert_eq!(
        ids(&index.search(&plain, &request("硅胶手机套")).unwrap()),
        ["typed"]
    );
}

#[test]
fn an_imitation_does_not_match_the_genuine_word_unless_the_query_names_it() {
    let mut index = Index::new(Analyzer::new(AnalysisMode::Full));
    index.upsert_shops(vec![shop("s", "围巾小店")]);
    index
        .upsert_products(vec![
            product("genuine", "s", "羊绒围巾 女士 冬季"),
            product("imitation", "s", "仿羊绒围巾 女士 冬季"),
            product("like", "s", "类羊绒围巾 女士 冬季"),
        ])
        .unwrap();
    let profile = RankingProfile::default();
    let genuine = index.search(&profile, &request("羊绒围巾")).unwrap();
    assert_eq!(ids(&genuine), ["genuine"]);
    let imitation = index.search(&profile, &request("仿羊绒围巾")).unwrap();
    let mut found = ids(&imitation);
    found.sort_unstable();
    assert_eq!(found, ["imitation", "like"]);
    // Three words, one short first tier: the imitations come second, and explain says why.
    let tiered = index.search(&profile, &request("羊绒围巾 女士")).unwrap();
    assert_eq!(ids(&tiered)[0], "genuine");
    assert_eq!(tiered.hits[0].tier, 1);
    for hit in &tiered.hits[1..] {
        assert_eq!(hit.tier, 2);
        let explanation = hit.explanation.as_ref().unwrap();
        assert_eq!(explanation.negated_words, ["羊绒"], "{}", hit.product_id);
    }
}

#[test]
fn the_original_listing_represents_its_copies_at_their_best_position() {
    let mut index = Index::new(Analyzer::new(AnalysisMode::Full));
    index.upsert_shops(vec![
        shop("a", "原创小店"),
        shop("b", "搬运小店"),
        shop("c", "别家"),
    ]);
    let hero = 0xF0F0_1234_5678_9ABC_u64;
    let mut original = product("original", "a", "羊绒围巾 冬季");
    original.dhash = Some(hero);
    original.listed_at_s = 1_000;
    let mut copy = product("copy", "b", "羊绒围巾 冬季 爆款");
    copy.dhash = Some(hero ^ 0b101); // re-encoded: two bits away
    copy.listed_at_s = 2_000;
    copy.sales_30d = 100_000; // the copy sells more and ranks first
    let mut other = product("other", "c", "羊绒围巾 冬季");
    other.dhash = Some(!hero);
    other.listed_at_s = 500;
    other.sales_30d = 10;
    index.upsert_products(vec![original, copy, other]).unwrap();
    let profile = RankingProfile::default();
    let mut kept = request("羊绒围巾");
    kept.keep_duplicates = true;
    assert_eq!(ids(&index.search(&profile, &kept).unwrap())[0], "copy");
    let collapsed = index.search(&profile, &request("羊绒围巾")).unwrap();
    assert_eq!(ids(&collapsed), ["original", "other"]);
    assert_eq!(collapsed.hits[0].collapsed_duplicates, 1);
    assert!(collapsed.hits[0].score >= collapsed.hits[1].score);
}

#[test]
fn shown_scores_never_increase_down_the_list() {
    // The exact shop's products come first with lower raw scores; the tail beyond the
    // re-rank depth has first-phase scores; a second tier follows the first.
    let index = catalog();
    for depth in [1, 2, 1000] {
        let profile = RankingProfile {
            rerank_depth: depth,
            ..RankingProfile::default()
        };
        for query in ["羊绒小店", "羊绒 纯棉 围巾", "围巾", "羊绒围巾"] {
            let result = index.search(&profile, &request(query)).unwrap();
            let scores: Vec<f64> = result.hits.iter().map(|h| h.score).collect();
            assert!(
                scores.windows(2).all(|w| w[0] >= w[1]),
                "{query} depth {depth}: {scores:?}"
            );
        }
    }
}

#[test]
fn exact_shop_name_ranks_that_shop_first() {
    let index = catalog();
    let result = index
        .search(&RankingProfile::default(), &request("羊绒小店"))
        .unwrap();
    assert_eq!(ids(&result)[..2], ["b", "c"]);
}

#[test]
fn an_exact_shop_match_found_after_the_top_k_threshold_still_ranks_first() {
    // Found by the differential test: six strong matches of another shop fill the top-k
    // buffer and set its threshold before the weaker exact-shop match is visited.
    let mut index = Index::new(Analyzer::new(AnalysisMode::Full));
    index.upsert_shops(vec![shop("a", "羊绒小店"), shop("b", "杂货铺")]);
    let mut products: Vec<_> = (0..6)
        .map(|i| product(&format!("b{i}"), "b", "羊绒小店 羊绒小店"))
        .collect();
    products.push(product("a1", "a", "袜子"));
    index.upsert_products(products).unwrap();
    let profile = RankingProfile {
        rerank_depth: 1,
        ..RankingProfile::default()
    };
    let mut r = request("羊绒小店");
    r.page_size = 1;
    assert_eq!(ids(&index.search(&profile, &r).unwrap()), ["a1"]);
}

#[test]
fn document_order_filters_and_window_boundaries_change_no_result() {
    // The same catalog loaded in id order (the tie-break compares document numbers) and
    // shuffled (it compares ids), over several retrieval windows, with many tied scores;
    // `in_stock_only` (true of every product) counts matches one by one instead of by
    // popcount. Every page and count must be the same.
    let words = [
        "羊绒",
        "围巾",
        "女士",
        "冬季",
        "手机壳",
        "保暖",
        "长款",
        "流苏",
        "数据线",
    ];
    let products: Vec<_> = (0..10_000usize)
        .map(|i| {
            let n = 1 + (i * 7919) % 3;
            let title: Vec<&str> = (0..n)
                .map(|j| words[(i * 31 + j * 7) % words.len()])
                .collect();
            let mut p = product(
                &format!("p{i:05}"),
                if i % 3 == 0 { "s" } else { "t" },
                &title.join(" "),
            );
            p.sales_30d = (i % 17) as i64;
            p
        })
        .collect();
    let mut shuffled = products.clone();
    for i in 0..shuffled.len() {
        shuffled.swap(i, (i * 104_729 + 7) % products.len());
    }
    let build = |products: Vec<crate::rank::index::ProductRecord>| {
        let mut index = Index::new(Analyzer::new(AnalysisMode::BigramsOnly));
        index.upsert_shops(vec![shop("s", "店"), shop("t", "羊绒小店")]);
        for chunk in products.chunks(1000) {
            index.upsert_products(chunk.to_vec()).unwrap();
        }
        check_invariants(&index);
        index
    };
    let (ordered, mixed) = (build(products), build(shuffled));
    assert_eq!(ordered.ascending_ids, 10_000);
    assert!(mixed.ascending_ids < 10);
    let tiered = ordered.search(&RankingProfile::default(), &request("羊绒 围巾 女士"));
    assert!(tiered.unwrap().second_tier_searched);
    for depth in [1, 10, 1000] {
        let profile = RankingProfile {
            rerank_depth: depth,
            ..RankingProfile::default()
        };
        for query in [
            "羊绒 围巾 女士",
            "羊绒 围巾 流苏",
            "羊绒 围巾 冬季",
            "长款",
            "羊绒 女士",
            "羊绒小店",
        ] {
            for (page, page_size) in [(0, 10), (2, 7), (0, 100)] {
                let mut r = request(query);
                r.page = page;
                r.page_size = page_size;
                r.explain = false;
                let mut filtered = r.clone();
                filtered.filter.in_stock_only = true;
                let expected = ordered.search(&profile, &r).unwrap();
                assert!(expected.total_matched > 0, "{query}");
                assert_eq!(expected, mixed.search(&profile, &r).unwrap(), "{query}");
                assert_eq!(
                    expected,
                    ordered.search(&profile, &filtered).unwrap(),
                    "{query}"
                );
                assert_eq!(
                    expected,
                    mixed.search(&profile, &filtered).unwrap(),
                    "{query}"
                );
            }
        }
    }
}

#[test]
fn block_max_skipping_changes_no_result() {
    // One term and no filter take the block-skipping path; `in_stock_only` (true of every
    // product here) takes the plain scan. Both must give the same pages and counts.
    let mut index = Index::new(Analyzer::new(AnalysisMode::Full));
    index.upsert_shops(vec![shop("s", "店")]);
    let words = [
        "羊绒", "围巾", "女士", "冬季", "加厚", "保暖", "长款", "流苏",
    ];
    let products: Vec<_> = (0..3000)
        .map(|i: usize| {
            let n = 1 + (i * 7919) % 12;
            let title: Vec<&str> = (0..n).map(|j| words[(i + j * 3) % words.len()]).collect();
            product(
                &format!("p{:05}", (i * 104_729) % 100_000),
                "s",
                &title.join(" "),
            )
        })
        .collect();
    index.upsert_products(products).unwrap();
    for depth in [1, 10, 1000] {
        let profile = RankingProfile {
            rerank_depth: depth,
            ..RankingProfile::default()
        };
        for page in [0, 3] {
            let mut fast = request("羊绒");
            fast.page = page;
            fast.explain = false;
            let mut scan = fast.clone();
            scan.filter.in_stock_only = true;
            let (a, b) = (
                index.search(&profile, &fast).unwrap(),
                index.search(&profile, &scan).unwrap(),
            );
            assert_eq!(a, b, "depth {depth} page {page}");
            assert!(a.total_matched > 100);
        }
    }
}

#[test]
fn filters_sorts_and_browse() {
    let index = catalog();
    let profile = RankingProfile::default();
    let mut r = request("围巾");
    r.sort = Sort::PriceAscending;
    assert_eq!(ids(&index.search(&profile, &r).unwrap())[0], "b");
    r.filter.max_price_fen = Some(60);
    assert_eq!(ids(&index.search(&profile, &r).unwrap()), ["b"]);
    let mut browse = request("");
    browse.filter.shop_ids = vec!["s3".to_owned()];
    assert_eq!(index.search(&profile, &browse).unwrap().total_matched, 3);
    r.filter.min_price_fen = Some(70);
    assert!(matches!(
        index.search(&profile, &r),
        Err(CoreError::InvalidArgument(_))
    ));
}

#[test]
fn shop_cap_defers_to_later_pages_without_losing_products() {
    let mut index = Index::new(Analyzer::new(AnalysisMode::BigramsOnly));
    index.upsert_shops(vec![shop("big", "大店"), shop("small", "小店")]);
    let mut products: Vec<_> = (0..30)
        .map(|i| product(&format!("b{i:02}"), "big", "羊绒围巾"))
        .collect();
    products.extend((0..5).map(|i| product(&format!("s{i}"), "small", "羊绒围巾")));
    index.upsert_products(products).unwrap();
    let mut seen = Vec::new();
    let mut r = request("羊绒围巾");
    r.max_per_shop = 3;
    for page in 0..20 {
        r.page = page;
        let result = index.search(&RankingProfile::default(), &r).unwrap();
        let big = result.hits.iter().filter(|h| h.shop_id == "big").count();
        assert!(big <= 3);
        seen.extend(result.hits.iter().map(|h| h.product_id.clone()));
        if !result.has_more {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 35);
}
