//! Query execution: retrieval with the BM25F first phase, the business-signal second phase,
//! sorting, shop caps and paging. The pure-Python twin is `xiaodian.reference.search`; both
//! follow the same arithmetic in the same order, so their scores are equal to the last bit.
//!
//! Definitions (N live products; for field f: weight w_f, length len_f, mean length avg_f):
//! - fields with w_f > 0 are *searched*; a product *contains* a term when a searched field does;
//! - df(t) = live products containing t; idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5));
//! - factor_f(len) = w_f / ((1 − b) + b · (len / avg_f));
//!   tf̃(t, p) = Σ_f tf_f(t, p) · factor_f(len_f(p)) over fields in the order title, shop name,
//!   brand (fields where t is absent add nothing);
//! - first_phase(p) = Σ_t idf(t) · (tf̃ / (k1 + tf̃)) over the query's terms in order, for the
//!   terms p contains;
//! - retrieval: products containing every required query term; when fewer than `page_size`
//!   of them pass the filters, products containing any query term (`any_term_match`);
//! - second phase, for the best `rerank_depth` by first phase:
//!   additive = w_text·first_phase + w_hero·hero_quality + w_rating·rating +
//!   w_shop·shop_score + w_sales·ln(1 + sales_30d), summed left to right, then
//!   final = additive · brand factor · new-merchant factor (each 1 when it does not apply);
//!   rating = (C·m + rating_sum) / (C + rating_count) (m when both are 0),
//!   shop_score = (Cs·ms + score·reviews) / (Cs + reviews) (ms when both are 0),
//!   a shop is new while now − opened_at < window_days · 86,400 s;
//! - relevance order: products of a shop whose folded name equals the folded query first, then
//!   the re-ranked products by final score, then the rest by first-phase score; every tie
//!   is broken by product id (ascending), so the order is total and deterministic;
//! - the other sorts order every match by their key, then first-phase score, then product id;
//! - an empty query browses (every product passing the filters, relevance acting as sales).
//!
//! The code, by phase: `request.rs` (request and response types, validation), `filters.rs`
//! (the request's filter compiled against the index), `bm25f.rs` (BM25F term scores, idf and
//! score bounds), `retrieval.rs` (all-terms and any-term matching), `topk.rs` (the first-phase
//! top-k: candidate order, score floor, block-max skipping), `rerank.rs` (the second phase:
//! business signals, re-ranking, hits and explanations), `page.rs` (page shaping: duplicate
//! collapse, shop caps, paging); this file holds the query and [`Index::search`], which runs
//! them in turn. End-to-end tests are in `tests.rs`.

mod bm25f;
mod filters;
mod page;
mod request;
mod rerank;
mod retrieval;
#[cfg(test)]
mod tests;
mod topk;

use std::cell::Cell;
use std::collections::HashSet;

use super::index::{fold_name, Index};
use super::profile::RankingProfile;
use crate::error::CoreResult;
use bm25f::{idf, Bm25f, ResolvedTerm, TITLE_TABLE_MAX_TF};
use filters::CompiledFilter;
use page::shape_page;
use topk::Candidate;

pub use request::{
    validate, Explanation, Filter, Hit, SearchRequest, SearchResult, Signal, Sort, MAX_PAGE_SIZE,
    MAX_QUERY_CHARS, SECONDS_PER_DAY,
};
pub use rerank::{bayesian_rating, smoothed_shop_score};

struct Query<'a> {
    index: &'a Index,
    profile: &'a RankingProfile,
    request: &'a SearchRequest,
    bm25f: Bm25f,
    terms: Vec<ResolvedTerm<'a>>,
    filter: CompiledFilter,
    exact_shops: HashSet<u32>,
    browse: bool,
    /// The requested sort; relevance acts as sales when browsing.
    sort: Sort,
}

impl Query<'_> {
    #[inline]
    fn is_exact_shop(&self, doc: u32) -> bool {
        !self.exact_shops.is_empty()
            && self
                .exact_shops
                .contains(&self.index.docs.shop[doc as usize])
    }
}

impl Index {
    /// Runs one search. See the module documentation for the exact rules.
    pub fn search(
        &self,
        profile: &RankingProfile,
        request: &SearchRequest,
    ) -> CoreResult<SearchResult> {
        validate(request)?;
        let terms = self.analyzer.query_terms(&request.query);
        let browse = request.query.trim().is_empty();
        let bm25f = Bm25f::new(self, profile);
        let live = self.product_count();
        let resolved = terms
            .into_iter()
            .map(|t| {
                let term = self
                    .term_by_text
                    .get(&t.text)
                    .map(|&id| &self.terms[id as usize])
                    .filter(|term| term.df[bm25f.searched] > 0);
                let idf = term.map_or(0.0, |term| idf(live, term.df[bm25f.searched]));
                let title_scores = if term.is_some() && bm25f.searched & 1 != 0 {
                    vec![Cell::new(f64::NAN); (usize::from(TITLE_TABLE_MAX_TF) + 1) << 8]
                } else {
                    Vec::new()
                };
                let upper = term
                    .and_then(|term| term.whole)
                    .map_or(0.0, |bound| bm25f.bound_score(idf, &bound));
                ResolvedTerm {
                    idf,
                    text: t.text,
                    required: t.required,
                    term,
                    title_scores,
                    upper,
                }
            })
            .collect();
        let folded_query = fold_name(&request.query);
        let exact_shops = if browse {
            HashSet::new()
        } else {
            self.shops_by_folded_name
                .get(&folded_query)
                .map(|shops| shops.iter().copied().collect())
                .unwrap_or_default()
        };
        let query = Query {
            index: self,
            profile,
            request,
            bm25f,
            terms: resolved,
            filter: CompiledFilter::new(self, &request.filter),
            exact_shops,
            browse,
            sort: if browse && request.sort == Sort::Relevance {
                Sort::Sales
            } else {
                request.sort
            },
        };
        let page_size = request.page_size as usize;
        // Fewer all-terms matches than a page: any-term retrieval instead.
        let any_term_match = !browse && query.count_all_terms(page_size as u64) < page_size as u64;
        let mut k = (request.page as usize + 1) * page_size * 2;
        // The candidates asked of retrieval, those it gave and the number of matches.
        let mut retrieved: Option<(usize, Vec<Candidate>, u64)> = None;
        loop {
            let wanted = query.candidates_for(k);
            // Retrieval runs again only when more candidates are wanted than were asked for,
            // and it gave all it was asked for (so more may exist).
            if retrieved
                .as_ref()
                .is_none_or(|(asked, got, _)| wanted > *asked && got.len() == *asked)
            {
                let (candidates, total) = query.top(!any_term_match, wanted);
                retrieved = Some((wanted, candidates, total));
            }
            let (_, candidates, total) = retrieved.as_mut().expect("retrieved above");
            let total = *total;
            debug_assert!(browse || any_term_match || total >= page_size as u64);
            let ranked_len = query.rerank(candidates, k);
            let ranked = &candidates[..ranked_len];
            let max_distance = (!request.keep_duplicates).then_some(profile.duplicate_max_distance);
            let shaped = shape_page(
                self,
                ranked,
                request.page,
                page_size,
                request.max_per_shop,
                max_distance,
            );
            let complete = ranked.len() as u64 == total;
            // A longer prefix is needed to fill the page, or to know whether anything is left.
            if (shaped.positions.len() < page_size || !shaped.any_left) && !complete {
                k *= 4;
                continue;
            }
            let hits = shaped
                .positions
                .iter()
                .map(|&i| {
                    let mut hit = query.hit(&ranked[i], any_term_match);
                    hit.collapsed_duplicates = shaped.collapsed_into_count(i);
                    hit
                })
                .collect();
            return Ok(SearchResult {
                hits,
                total_matched: total,
                any_term_match,
                has_more: shaped.any_left,
                collapsed_duplicates: shaped.collapsed_on_page(),
            });
        }
    }
}
