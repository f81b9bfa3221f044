//! The request and response types of a search (`SearchRequest` with its `Filter` and `Sort`;
//! `SearchResult`, its `Hit`s and their `Explanation`), the public limits, and `validate`, the
//! rules a request must follow before it runs.

use crate::error::{CoreError, CoreResult, FieldViolation};
use crate::text::ApproximateKind;

pub const SECONDS_PER_DAY: i64 = 86_400;
/// Largest accepted page size.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Relevance,
    Sales,
    PriceAscending,
    PriceDescending,
    Rating,
    Newest,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub category_ids: Vec<String>,
    pub shop_ids: Vec<String>,
    pub min_price_fen: Option<i64>,
    pub max_price_fen: Option<i64>,
    pub in_stock_only: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub query: String,
    pub filter: Filter,
    pub sort: Sort,
    /// 1–[`MAX_PAGE_SIZE`].
    pub page_size: u32,
    /// Zero-based page number.
    pub page: u32,
    /// At most this many products of one shop on a page; 0 means no cap.
    pub max_per_shop: u32,
    /// Keep near-duplicate hero images instead of collapsing them.
    pub keep_duplicates: bool,
    pub explain: bool,
    /// The request's clock, seconds since the Unix epoch (new-merchant windows).
    pub now_s: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub signal: &'static str,
    pub value: f64,
    pub weight: f64,
    pub contribution: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub first_phase_score: f64,
    pub matched_terms: Vec<String>,
    /// The synonyms (profile `synonyms`) through which the product has a query word it lacks
    /// as typed, in word order.
    pub matched_synonyms: Vec<String>,
    /// The query words the product has only under a negating modifier (仿羊绒 for 羊绒), which
    /// do not match them, in word order.
    pub negated_words: Vec<String>,
    /// The query words the product has only approximately, in word order: (the word as
    /// typed, the product's word that matched it, how).
    pub approximate_matches: Vec<(String, String, ApproximateKind)>,
    /// The hit's tier (as [`Hit::tier`]).
    pub tier: u32,
    pub signals: Vec<Signal>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub product_id: String,
    pub shop_id: String,
    pub title: String,
    pub shop_name: String,
    pub brand: String,
    pub price_fen: i64,
    pub sales_30d: i64,
    /// Bayesian-smoothed rating.
    pub rating: f64,
    /// The score it shows: never more than the score of a hit ranked above it under
    /// relevance (see [`Index::search`](crate::rank::index::Index::search)).
    pub score: f64,
    /// 1: the product has every query word; 2: at least ⌈2/3⌉ of them (a blank query: 1).
    pub tier: u32,
    /// Near-duplicates collapsed into this hit (among the products examined so far).
    pub collapsed_duplicates: u32,
    pub explanation: Option<Explanation>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub hits: Vec<Hit>,
    /// Products that matched retrieval and filters: the two tiers' counts added.
    pub total_matched: u64,
    /// Products with every query word that pass the filters.
    pub first_tier_matched: u64,
    /// Products of the second tier that pass the filters (0 when it was not searched).
    pub second_tier_matched: u64,
    /// The first tier did not fill a page and the query has words enough for a second tier
    /// (three or more): the second tier was searched.
    pub second_tier_searched: bool,
    /// More hits follow on later pages.
    pub has_more: bool,
    /// Near-duplicates met (and left out) while filling this page.
    pub collapsed_duplicates: u32,
}

/// Checks the request itself (the profile is validated where it is stored).
/// The rules of a search request (SPEC §3), each violation named by its `SearchRequest` field.
pub fn validate(request: &SearchRequest) -> CoreResult<()> {
    let mut violations = Vec::new();
    if request.query.chars().count() > MAX_QUERY_CHARS {
        violations.push(FieldViolation::new(
            "query",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let scoped = !request.filter.category_ids.is_empty() || !request.filter.shop_ids.is_empty();
    if request.query.trim().is_empty() && !scoped {
        violations.push(FieldViolation::new(
            "query",
            "is required unless filter.category_ids or filter.shop_ids is set",
        ));
    }
    if request.page_size == 0 || request.page_size > MAX_PAGE_SIZE {
        violations.push(FieldViolation::new(
            "page_size",
            format!("must be 1-{MAX_PAGE_SIZE}"),
        ));
    }
    for (field, price) in [
        ("filter.min_price_fen", request.filter.min_price_fen),
        ("filter.max_price_fen", request.filter.max_price_fen),
    ] {
        if price.is_some_and(|fen| fen < 0) {
            violations.push(FieldViolation::new(field, "must be >= 0"));
        }
    }
    if let (Some(min), Some(max)) = (request.filter.min_price_fen, request.filter.max_price_fen) {
        if min > max {
            violations.push(FieldViolation::new(
                "filter.max_price_fen",
                "must be >= filter.min_price_fen",
            ));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(CoreError::InvalidArgument(violations))
    }
}
