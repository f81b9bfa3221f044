//! `SearchService.Search` on the wire: a `SearchRequest`'s bytes in, a `SearchResponse`'s
//! bytes out, with the ranking profiles kept compiled by (name, version).
//!
//! A page token (`page_tokens`, kind "search") carries the page number, the clock of the first
//! page (new-merchant windows do not shift between pages), the profile version used (a profile
//! update does not reshuffle a listing being paged), and a fingerprint of the other request
//! fields, which must not change between pages. Pages go no deeper than the result window
//! (`[search] max_result_window`): a page costs work in proportion to its depth, so no token
//! asks for more than an honest page at that depth.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use prost::Message;
use sha2::{Digest, Sha256};
use xiaodian_core::rank::index::Index;
use xiaodian_core::rank::search::{Filter, Hit, SearchRequest, SearchResult, Sort};
use xiaodian_core::rank::suggest::{
    validate as suggest_validate, Suggester, SuggestionMatch, SuggestionSource,
};
use xiaodian_core::text::ApproximateKind;
use xiaodian_core::{FieldViolation, RankingProfile};

use crate::api_error::ApiError;
use crate::page_tokens::{int_in, PageTokens, TokenValue};
use crate::proto;

/// Hits per page when the request says 0.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// The profile of a request that names none.
pub const DEFAULT_PROFILE_NAME: &str = "default";
/// Latest second a `google.protobuf.Timestamp` can hold (9999-12-31T23:59:59Z).
const TIMESTAMP_MAX_SECONDS: i64 = 253_402_300_799;
const TOKEN_KIND: &str = "search";

/// Every stored version of every ranking profile, compiled; many readers, rare writers.
#[derive(Default)]
pub struct Profiles {
    by_name: RwLock<HashMap<String, BTreeMap<u32, Arc<RankingProfile>>>>,
}

impl Profiles {
    /// Keeps version `version` of profile `name`; the highest version kept is its latest.
    pub fn put(&self, name: String, version: u32, profile: RankingProfile) {
        let mut by_name = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        by_name
            .entry(name)
            .or_default()
            .insert(version, Arc::new(profile));
    }

    /// Version `version` of `name` (0: its latest) and the version it is.
    pub fn get(&self, name: &str, version: u32) -> Option<(u32, Arc<RankingProfile>)> {
        let by_name = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        let versions = by_name.get(name)?;
        let entry = if version == 0 {
            versions.last_key_value()
        } else {
            versions.get_key_value(&version)
        };
        entry.map(|(v, profile)| (*v, Arc::clone(profile)))
    }
}

/// What a search needs besides the index and its request.
pub struct SearchContext<'a> {
    pub profiles: &'a Profiles,
    pub tokens: &'a PageTokens,
    /// `[search] max_result_window`: no page ends beyond this many results.
    pub max_result_window: u32,
    /// The server's clock, seconds since the Unix epoch (first pages).
    pub now_s: i64,
}

/// Where a page starts and what it is pinned to, from the request's page token.
struct PageToken {
    page: u32,
    now_s: i64,
    profile_version: u32,
}

/// The number of pages of `page_size` whose results end within the first `window`.
fn pages_within(window: u32, page_size: u32) -> u32 {
    (window / page_size).max(1)
}

/// Hash of every field but the page token (prost encodes fields in number order).
fn fingerprint(request: &proto::SearchRequest) -> String {
    let stripped = proto::SearchRequest {
        page_token: String::new(),
        ..request.clone()
    };
    let digest = Sha256::digest(stripped.encode_to_vec());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

fn sort_of(sort: i32) -> Option<Sort> {
    use proto::SearchSort as S;
    Some(match S::try_from(sort).ok()? {
        S::Unspecified | S::Relevance => Sort::Relevance,
        S::Sales => Sort::Sales,
        S::PriceAscending => Sort::PriceAscending,
        S::PriceDescending => Sort::PriceDescending,
        S::Rating => Sort::Rating,
        S::Newest => Sort::Newest,
    })
}

fn read_token(
    request: &proto::SearchRequest,
    ctx: &SearchContext<'_>,
    page_size: u32,
) -> Result<Option<PageToken>, ApiError> {
    if request.page_token.is_empty() {
        return Ok(None);
    }
    let field = "page_token";
    let values = ctx.tokens.read(&request.page_token, TOKEN_KIND, 4, field)?;
    if values[3] != TokenValue::Str(fingerprint(request)) {
        return Err(ApiError::invalid(
            field,
            "belongs to a different search: keep every other field unchanged",
        ));
    }
    let last_page = i64::from(pages_within(ctx.max_result_window, page_size)) - 1;
    Ok(Some(PageToken {
        page: int_in(&values[0], 1, last_page, field)? as u32,
        now_s: int_in(&values[1], 0, TIMESTAMP_MAX_SECONDS, field)?,
        profile_version: int_in(&values[2], 1, i64::from(i32::MAX), field)? as u32,
    }))
}

/// Runs the search a `SearchRequest` encodes on `index`; the encoded `SearchResponse`.
pub fn search(index: &Index, request: &[u8], ctx: &SearchContext<'_>) -> Result<Vec<u8>, ApiError> {
    let request = proto::SearchRequest::decode(request)
        .map_err(|_| ApiError::malformed("xiaodian.v1.SearchRequest"))?;
    let Some(sort) = sort_of(request.sort) else {
        return Err(ApiError::from_violations(vec![FieldViolation::new(
            "sort",
            "unknown sort",
        )]));
    };
    let page_size = if request.page_size == 0 {
        DEFAULT_PAGE_SIZE
    } else {
        request.page_size
    };
    let filter = request.filter.clone().unwrap_or_default();
    let mut engine_request = SearchRequest {
        query: request.query.clone(),
        filter: Filter {
            category_ids: filter.category_ids,
            shop_ids: filter.shop_ids,
            min_price_fen: filter.min_price_fen,
            max_price_fen: filter.max_price_fen,
            in_stock_only: filter.in_stock_only,
        },
        sort,
        page_size,
        page: 0,
        max_per_shop: request.max_per_shop,
        keep_duplicates: request.keep_duplicates,
        explain: request.explain,
        now_s: ctx.now_s,
    };
    // Checked before the token, so a token is only read for a page size it can be used with.
    xiaodian_core::rank::search::validate(&engine_request)?;
    let token = read_token(&request, ctx, page_size)?;
    let name = if request.profile.is_empty() {
        DEFAULT_PROFILE_NAME
    } else {
        request.profile.as_str()
    };
    let version = token
        .as_ref()
        .map_or(request.profile_version, |t| t.profile_version);
    if let Some(token) = &token {
        engine_request.page = token.page;
        engine_request.now_s = token.now_s;
    }
    let Some((used_version, profile)) = ctx.profiles.get(name, version) else {
        let what = if version == 0 {
            format!("ranking profile '{name}'")
        } else {
            format!("ranking profile '{name}' version {version}")
        };
        return Err(ApiError::NotFound {
            message: format!("{what} does not exist"),
            reason: "PROFILE_NOT_FOUND",
            metadata: vec![("name", name.to_owned())],
        });
    };
    let result = index.search(&profile, &engine_request)?;
    let next_page = engine_request.page + 1;
    let next_page_token =
        if result.has_more && next_page < pages_within(ctx.max_result_window, page_size) {
            ctx.tokens.issue(
                TOKEN_KIND,
                &[
                    TokenValue::Int(i64::from(next_page)),
                    TokenValue::Int(engine_request.now_s),
                    TokenValue::Int(i64::from(used_version)),
                    TokenValue::Str(fingerprint(&request)),
                ],
            )
        } else {
            String::new()
        };
    Ok(response(result, next_page_token, name, used_version).encode_to_vec())
}

fn response(
    result: SearchResult,
    next_page_token: String,
    profile: &str,
    profile_version: u32,
) -> proto::SearchResponse {
    let second_tier_searched = result.second_tier_searched;
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    #[allow(deprecated)] // any_term_match: kept for old callers, the same as second_tier_searched
    proto::SearchResponse {
        hits: result
            .hits
            .into_iter()
            .map(|h| hit(h, second_tier_searched))
            .collect(),
        next_page_token,
        total_matched: count(result.total_matched),
        any_term_match: second_tier_searched,
        collapsed_duplicates: result.collapsed_duplicates,
        profile: profile.to_owned(),
        profile_version,
        first_tier_matched: count(result.first_tier_matched),
        second_tier_matched: count(result.second_tier_matched),
        second_tier_searched,
    }
}

#[allow(deprecated)] // any_term_match: kept for old callers, the same as second_tier_searched
fn hit(h: Hit, second_tier_searched: bool) -> proto::SearchHit {
    proto::SearchHit {
        product_id: h.product_id,
        shop_id: h.shop_id,
        title: h.title,
        shop_name: h.shop_name,
        brand: h.brand,
        price_fen: h.price_fen,
        sales_30d: h.sales_30d,
        rating: h.rating,
        score: h.score,
        tier: h.tier,
        collapsed_duplicates: h.collapsed_duplicates,
        explanation: h.explanation.map(|e| proto::RankingExplanation {
            first_phase_score: e.first_phase_score,
            matched_terms: e.matched_terms,
            matched_synonyms: e.matched_synonyms,
            negated_words: e.negated_words,
            approximate_matches: e
                .approximate_matches
                .into_iter()
                .map(|(query_word, matched, kind)| proto::ApproximateMatch {
                    query_word,
                    matched,
                    kind: approximate_match_kind(kind) as i32,
                })
                .collect(),
            any_term_match: second_tier_searched,
            tier: e.tier,
            signals: e
                .signals
                .into_iter()
                .map(|s| proto::SignalContribution {
                    signal: s.signal.to_owned(),
                    value: s.value,
                    weight: s.weight,
                    contribution: s.contribution,
                })
                .collect(),
        }),
    }
}

fn approximate_match_kind(kind: ApproximateKind) -> proto::ApproximateMatchKind {
    match kind {
        ApproximateKind::Pinyin => proto::ApproximateMatchKind::Pinyin,
        ApproximateKind::Initials => proto::ApproximateMatchKind::Initials,
        ApproximateKind::SameSound => proto::ApproximateMatchKind::SameSound,
        ApproximateKind::Typo => proto::ApproximateMatchKind::Typo,
    }
}

/// Completions per Suggest request that asks for 0.
pub const DEFAULT_SUGGESTIONS: u32 = 10;

/// Answers the `SuggestRequest` encoded in `request` from `suggester`; the encoded
/// `SuggestResponse`.
pub fn suggest(suggester: &Suggester, request: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request = proto::SuggestRequest::decode(request)
        .map_err(|_| ApiError::malformed("xiaodian.v1.SuggestRequest"))?;
    let limit = if request.limit == 0 {
        DEFAULT_SUGGESTIONS
    } else {
        request.limit
    };
    suggest_validate(&request.prefix, limit)?;
    let suggestions = suggester
        .suggest(&request.prefix, limit as usize)
        .into_iter()
        .map(|s| proto::Suggestion {
            text: s.text,
            matched_chars: s.matched_chars,
            source: match s.source {
                SuggestionSource::Title => proto::SuggestionSource::Title,
                SuggestionSource::ShopName => proto::SuggestionSource::ShopName,
                SuggestionSource::Brand => proto::SuggestionSource::Brand,
            } as i32,
            r#match: match s.matched {
                SuggestionMatch::Text => proto::SuggestionMatch::Text,
                SuggestionMatch::Pinyin => proto::SuggestionMatch::Pinyin,
                SuggestionMatch::Initials => proto::SuggestionMatch::Initials,
            } as i32,
            popularity: i64::try_from(s.popularity).unwrap_or(i64::MAX),
        })
        .collect();
    Ok(proto::SuggestResponse { suggestions }.encode_to_vec())
}
