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
//! - query words (`Analyzer::analyze_query`): a letter or digit run, a lone Han character, a
//!   jieba word of two or more characters, a run of one-character jieba words; a product has
//!   a word when it contains each of the word's required terms (its bigrams), or each term of
//!   one of the word's synonyms (profile `synonyms`: a synonym's terms score × `synonym_weight`);
//! - approximate matching (`rank::approximate`): a word no live product has as typed also
//!   matches what it spells in pinyin or initials, sounds like, or misspells, through
//!   alternatives whose terms score × `approximate_weight`;
//! - retrieval by tiers: the first tier is the products with every word; when fewer than
//!   `page_size` of them pass the filters and the query has W ≥ 3 words, a second tier follows:
//!   the products with at least ⌈2W/3⌉ words but not all. A straddling bigram is never
//!   required and never makes a match; it only adds to the score. Tiers never mix: the
//!   first tier ranks before the second under every sort, and each tier is ranked (and
//!   re-ranked, the depth going to the first tier first) on its own;
//! - second phase, for the best `rerank_depth` by first phase:
//!   additive = w_text·first_phase + w_hero·hero_quality + w_rating·rating +
//!   w_shop·shop_score + w_sales·ln(1 + sales_30d), summed left to right, then
//!   final = additive · brand factor · new-merchant factor (each 1 when it does not apply);
//!   rating = (C·m + rating_sum) / (C + rating_count) (m when both are 0),
//!   shop_score = (Cs·ms + score·reviews) / (Cs + reviews) (ms when both are 0),
//!   a shop is new while now − opened_at < window_days · 86,400 s;
//! - near-duplicate groups (dHash within `duplicate_max_distance`): a group takes the slot of
//!   its best-ranked member and shows its original there, the earliest listed of its members
//!   in the same tier up to 100 positions past the page (then the smallest id), with the
//!   slot's score; the other members are counted on it;
//! - relevance order, within a tier: products of a shop whose folded name equals the folded
//!   query first, then the re-ranked products by final score, then the rest by first-phase
//!   score; every tie is broken by product id (ascending), so the order is total and
//!   deterministic;
//! - the score a hit shows under relevance: the lowest raw score (final once re-ranked, else
//!   first phase) from the top of the ranking down to it, so scores never increase down the
//!   list (a tier, an exact shop and the re-rank depth each start a new run of raw scores);
//!   under the other sorts, the final score;
//! - the other sorts order every match by their key, then first-phase score, then product id;
//! - an empty query browses (every product passing the filters, relevance acting as sales).
//!
//! The code, by phase: `request.rs` (request and response types, validation), `filters.rs`
//! (the request's filter compiled against the index), `bm25f.rs` (BM25F term scores, idf and
//! score bounds), `retrieval.rs` (the two tiers' matching), `topk.rs` (the first-phase
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

use super::approximate::{approximate, Lookup};
use super::index::{fold_name, Index};
use super::profile::RankingProfile;
use crate::error::CoreResult;
use crate::text::QueryWord;
use bm25f::{idf, Bm25f, ResolvedTerm, TITLE_TABLE_MAX_TF};
use filters::CompiledFilter;
use page::{shape_page, DUPLICATE_LOOKAHEAD};
use retrieval::Tier;
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
    /// The query's words (`Analyzer::analyze_query`).
    words: Vec<QueryWord>,
    /// A word has alternatives (a synonym, a negated word): the first tier is counted and
    /// found word by word too.
    has_alternatives: bool,
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

/// The index as approximate matching sees it: through the fields a search searches.
struct SearchedIndex<'a> {
    index: &'a Index,
    bm25f: &'a Bm25f,
}

impl Lookup for SearchedIndex<'_> {
    fn df(&self, term: &str) -> u32 {
        self.index
            .term(term)
            .map_or(0, |t| t.df[self.bm25f.searched])
    }

    fn has_phrase(&self, phrase: &str) -> bool {
        let index = self.index;
        index.phrases.contains_key(phrase)
            || (index.analyzer.is_dictionary_word(phrase) && self.df(phrase) > 0)
    }

    fn products(&self, term: &str) -> Vec<u32> {
        let alive = &self.index.docs.alive;
        self.index.term(term).map_or_else(Vec::new, |t| {
            t.postings
                .iter()
                .filter(|p| alive[p.doc as usize] && self.bm25f.contains(p))
                .map(|p| p.doc)
                .collect()
        })
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
        let analyzed = self
            .analyzer
            .analyze_query(&request.query, &profile.synonyms);
        let bm25f = Bm25f::new(self, profile);
        let analyzed = match &self.sound {
            Some(sound) => approximate(
                sound,
                analyzed,
                &SearchedIndex {
                    index: self,
                    bm25f: &bm25f,
                },
            ),
            None => analyzed,
        };
        let has_alternatives = analyzed.has_alternatives();
        let in_word: Vec<bool> = (0..analyzed.terms.len())
            .map(|i| {
                analyzed
                    .words
                    .iter()
                    .any(|w| w.alternatives.iter().any(|a| a.contains(&i)))
            })
            .collect();
        let browse = request.query.trim().is_empty();
        let live = self.product_count();
        let resolved = analyzed
            .terms
            .into_iter()
            .zip(in_word)
            .map(|(t, in_word)| {
                let term = self
                    .term(&t.text)
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
                let weight = if t.synonym {
                    profile.synonym_weight
                } else if t.approximate {
                    profile.approximate_weight
                } else {
                    1.0
                };
                ResolvedTerm {
                    idf,
                    text: t.text,
                    required: t.required,
                    in_word,
                    term,
                    title_scores,
                    weight,
                    upper: weight * upper,
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
            words: analyzed.words,
            has_alternatives,
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
        let word_count = query.words.len();
        let min_words = (2 * word_count).div_ceil(3);
        // The first tier does not fill a page: a second tier follows, if the query has one.
        let second_tier_searched = !browse
            && min_words < word_count
            && query.count_first_tier(page_size as u64) < page_size as u64;
        let tiers: &[Tier] = if second_tier_searched {
            &[Tier::First, Tier::Second { min_words }]
        } else {
            &[Tier::First]
        };
        let depth = profile.rerank_depth as usize;
        let page_end = (request.page as usize + 1) * page_size;
        // Twice the pages, and with duplicates collapsed the lookahead for originals too, so
        // that one pass is usually enough.
        let mut k = if request.keep_duplicates {
            page_end * 2
        } else {
            (page_end * 2).max(page_end + DUPLICATE_LOOKAHEAD)
        };
        // Per tier: the candidates asked of retrieval, those it gave and the number of matches.
        let mut retrieved: Vec<Option<(usize, Vec<Candidate>, u64)>> = vec![None; tiers.len()];
        loop {
            // The ranking's first `k` (fewer when there are fewer): each tier's prefix in turn,
            // with its tier; the re-rank depth goes to the first tier first.
            let mut ranked: Vec<(Candidate, u32)> = Vec::new();
            let mut complete = true;
            let mut depth_left = depth;
            let mut counts = [0u64; 2];
            for (t, &tier) in tiers.iter().enumerate() {
                let k_left = k - ranked.len();
                let wanted = query.candidates_for(k_left, depth_left);
                // Retrieval runs again only when more candidates are wanted than were asked
                // for, and it gave all it was asked for (so more may exist).
                if retrieved[t]
                    .as_ref()
                    .is_none_or(|(asked, got, _)| wanted > *asked && got.len() == *asked)
                {
                    let (candidates, total) = query.top(tier, wanted, depth_left);
                    retrieved[t] = Some((wanted, candidates, total));
                }
                let (_, candidates, total) = retrieved[t].as_mut().expect("retrieved above");
                counts[t] = *total;
                let ranked_len = query.rerank(candidates, k_left, depth_left);
                complete &= ranked_len as u64 == *total;
                depth_left -= depth_left.min(candidates.len());
                ranked.extend(candidates[..ranked_len].iter().map(|&c| (c, t as u32 + 1)));
            }
            debug_assert!(
                browse || second_tier_searched || counts[0] >= page_size as u64 || complete
            );
            let max_distance = (!request.keep_duplicates).then_some(profile.duplicate_max_distance);
            let candidates: Vec<Candidate> = ranked.iter().map(|&(c, _)| c).collect();
            let tiers_of: Vec<u32> = ranked.iter().map(|&(_, t)| t).collect();
            let shaped = shape_page(
                self,
                &candidates,
                &tiers_of,
                request.page,
                page_size,
                request.max_per_shop,
                max_distance,
            );
            // A longer prefix is needed to fill the page, to know whether anything is left, or
            // to look for the originals of the page's near-duplicate groups.
            let short_lookahead =
                max_distance.is_some() && candidates.len() < shaped.scanned + DUPLICATE_LOOKAHEAD;
            if (shaped.positions.len() < page_size || !shaped.any_left || short_lookahead)
                && !complete
            {
                k *= 4;
                continue;
            }
            // The scores shown: under relevance, each the lowest raw score down to it, so a
            // score never exceeds the score of a product ranked above it (tiers, an exact
            // shop and the re-rank depth each start a new run of raw scores).
            let mut shown = vec![f64::NAN; ranked.len()];
            if query.sort == Sort::Relevance {
                let last = shaped.positions.last().map_or(0, |&i| i + 1);
                let mut above = f64::INFINITY;
                for (score, (c, _)) in shown.iter_mut().zip(&ranked[..last]) {
                    above = above.min(query.raw_score(c));
                    *score = above;
                }
            } else {
                for &i in &shaped.positions {
                    shown[i] = query.raw_score(&ranked[i].0);
                }
            }
            let hits = shaped
                .positions
                .iter()
                .zip(&shaped.shown)
                .map(|(&slot, &original)| {
                    // The group's original, with its slot's tier and score.
                    let (c, _) = ranked[original];
                    let mut hit = query.hit(&c, ranked[slot].1, shown[slot]);
                    hit.collapsed_duplicates = shaped.collapsed_into_count(slot);
                    hit
                })
                .collect();
            return Ok(SearchResult {
                hits,
                total_matched: counts[0] + counts[1],
                first_tier_matched: counts[0],
                second_tier_matched: counts[1],
                second_tier_searched,
                has_more: shaped.any_left,
                collapsed_duplicates: shaped.collapsed_on_page(),
            });
        }
    }
}
