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

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::HashSet;

use super::index::{fold_name, BlockBound, Features, HashMap, Index, Posting, Term, BLOCK};
use super::profile::RankingProfile;
use crate::error::{CoreError, CoreResult, FieldViolation};

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
    pub any_term_match: bool,
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
    /// Final score; the first-phase score for hits beyond the re-rank depth.
    pub score: f64,
    /// Near-duplicates collapsed into this hit (among the products examined so far).
    pub collapsed_duplicates: u32,
    pub explanation: Option<Explanation>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub hits: Vec<Hit>,
    /// Products that matched retrieval and filters.
    pub total_matched: u64,
    pub any_term_match: bool,
    /// More hits follow on later pages.
    pub has_more: bool,
    /// Near-duplicates met (and left out) while filling this page.
    pub collapsed_duplicates: u32,
}

/// A query term resolved against the dictionary.
struct ResolvedTerm<'a> {
    text: String,
    required: bool,
    idf: f64,
    /// `None` when no live product contains the term.
    term: Option<&'a Term>,
    /// `title_scores[tf * 256 + len]`: the term score of a posting found only in the title,
    /// `tf` ≤ [`TITLE_TABLE_MAX_TF`] times, in a title of `len` tokens, filled on first use
    /// (NaN until then) by [`Bm25f::term_score`] itself, so a lookup gives the very same bits.
    /// Empty when the title is not searched.
    title_scores: Vec<Cell<f64>>,
    /// No posting of the term scores more (0 without postings).
    upper: f64,
}

/// Documents per window of term-at-a-time retrieval.
const WINDOW: u32 = 4096;
/// 64-bit words of a bitmap over one window.
const WORDS: usize = WINDOW as usize / 64;

/// All-terms retrieval of a query with several terms goes window by window when the lead
/// (rarest required) term is in more than 1/this of the documents; below that, seeking from the
/// lead's documents is cheaper.
const DENSE_LEAD_FRACTION: usize = 16;

/// The first position at or after `from` whose document is >= `doc` (galloping search).
fn skip_to(list: &[Posting], from: usize, doc: u32) -> usize {
    let rest = &list[from.min(list.len())..];
    if rest.first().is_none_or(|p| p.doc >= doc) {
        return from.min(list.len());
    }
    let mut bound = 1;
    while bound < rest.len() && rest[bound].doc < doc {
        bound *= 2;
    }
    let window = &rest[bound / 2..rest.len().min(bound + 1)];
    from + bound / 2 + window.partition_point(|p| p.doc < doc)
}

/// Calls `visit(slot)` for every set bit of `bits`, in increasing order, clearing them.
fn drain_bits(bits: &mut [u64], mut visit: impl FnMut(usize)) {
    for (word_index, word) in bits.iter_mut().enumerate() {
        for_each_bit(std::mem::take(word), |bit| visit(word_index * 64 + bit));
    }
}

/// Calls `visit(bit)` for every set bit of `word`, in increasing order.
#[inline(always)]
fn for_each_bit(mut word: u64, mut visit: impl FnMut(usize)) {
    while word != 0 {
        let bit = word.trailing_zeros() as usize;
        word &= word - 1;
        visit(bit);
    }
}

/// Largest title term frequency with a precomputed score (almost every posting).
const TITLE_TABLE_MAX_TF: u8 = 3;

impl ResolvedTerm<'_> {
    /// The term's score in `posting`'s document; `lens` is the index's field-length column,
    /// read only when the term is in a field other than the title.
    #[inline(always)]
    fn score(&self, bm25f: &Bm25f, posting: &Posting, lens: &[[u8; 3]]) -> f64 {
        let [tf, shop, brand] = posting.tf;
        if shop != 0 || brand != 0 {
            return bm25f.term_score(self.idf, posting, &lens[posting.doc as usize]);
        }
        // Title only: the other fields' lengths do not enter the score.
        let title_only = [posting.title_len, 0, 0];
        if tf > TITLE_TABLE_MAX_TF || self.title_scores.is_empty() {
            return bm25f.term_score(self.idf, posting, &title_only);
        }
        let cached = &self.title_scores[usize::from(tf) << 8 | usize::from(posting.title_len)];
        let score = cached.get();
        if !score.is_nan() {
            return score;
        }
        let score = bm25f.term_score(self.idf, posting, &title_only);
        cached.set(score);
        score
    }
}

/// A matched product with its sort keys.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    doc: u32,
    /// The order key: a larger `rank_key` ranks first. Its high 64 bits are the sort's key
    /// (relevance: the exact-shop flag; the final score's tier once re-ranked), its low 64 bits
    /// the first-phase score (the final score once re-ranked), each mapped by [`ordered_f64`]
    /// or [`ordered_i64`] so that integer order is the order of the values.
    rank_key: u128,
    exact_shop: bool,
    first_phase: f64,
    /// Final score once re-ranked.
    final_score: Option<f64>,
}

/// A lower bound of the `k`-th best of the first-phase scores added so far: a histogram of
/// the scores in [`ScoreFloor::BUCKETS`] equal buckets of `0..=max`, each with its smallest
/// score; the floor is the smallest score of the highest bucket at which at least `k` scores
/// lie at or above. Scores are added in any order; each added score must be a distinct match.
/// The floor only rises, and so does its bucket: each addition costs O(1) amortised.
struct ScoreFloor {
    /// Buckets per unit of score.
    scale: f64,
    k: usize,
    counts: Vec<usize>,
    smallest: Vec<f64>,
    /// The floor's bucket (0 until there are `k` scores).
    bucket: usize,
    /// Scores in `bucket` or above.
    at_or_above: usize,
    /// The floor last returned.
    floor: f64,
}

impl ScoreFloor {
    const BUCKETS: usize = 256;

    fn new(max: f64, k: usize) -> Self {
        Self {
            scale: if max > 0.0 {
                Self::BUCKETS as f64 / max
            } else {
                0.0
            },
            k,
            counts: vec![0; Self::BUCKETS],
            smallest: vec![f64::INFINITY; Self::BUCKETS],
            bucket: 0,
            at_or_above: 0,
            floor: f64::NEG_INFINITY,
        }
    }

    /// Adds a score; returns the floor when that raised it.
    #[inline]
    fn add(&mut self, score: f64) -> Option<f64> {
        let bucket = ((score * self.scale) as usize).min(Self::BUCKETS - 1);
        if bucket < self.bucket {
            return None; // below the floor's bucket: it changes nothing
        }
        self.counts[bucket] += 1;
        if score < self.smallest[bucket] {
            self.smallest[bucket] = score;
        }
        self.at_or_above += 1;
        // Up while the buckets above still hold k scores.
        while self.bucket + 1 < Self::BUCKETS
            && self.at_or_above - self.counts[self.bucket] >= self.k
        {
            self.at_or_above -= self.counts[self.bucket];
            self.bucket += 1;
        }
        let floor = self.smallest[self.bucket];
        if self.at_or_above >= self.k && floor > self.floor {
            self.floor = floor;
            return Some(floor);
        }
        None
    }
}

/// Maps an f64 to a u64 whose unsigned order is `f64::total_cmp`'s order.
fn ordered_f64(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// Maps an i64 to a u64 with the same order.
fn ordered_i64(value: i64) -> u64 {
    (value as u64) ^ 1 << 63
}

fn rank_key(high: u64, low: f64) -> u128 {
    u128::from(high) << 64 | u128::from(ordered_f64(low))
}

/// Per-query constants of the BM25F formula.
struct Bm25f {
    k1: f64,
    /// Bit f set when field f is searched.
    searched: usize,
    /// `factor[f][len]` = w_f / ((1 − b) + b · (len / avg_f)).
    factor: [Vec<f64>; 3],
}

impl Bm25f {
    fn new(index: &Index, profile: &RankingProfile) -> Self {
        let weights = [
            profile.title_weight,
            profile.shop_name_weight,
            profile.brand_weight,
        ];
        let live = index.product_count();
        let b = profile.bm25_b;
        let mut searched = 0;
        let factor = std::array::from_fn(|f| {
            if weights[f] > 0.0 {
                searched |= 1 << f;
            }
            if weights[f] <= 0.0 || live == 0 || index.total_len[f] == 0 {
                return vec![0.0; 256];
            }
            let avg = index.total_len[f] as f64 / live as f64;
            (0..256u32)
                .map(|len| weights[f] / ((1.0 - b) + b * (f64::from(len) / avg)))
                .collect()
        });
        Self {
            k1: profile.bm25_k1,
            searched,
            factor,
        }
    }

    /// True when the posting's document contains the term in a searched field.
    #[inline(always)]
    fn contains(&self, posting: &Posting) -> bool {
        // Every posting has the term in some field: with all fields searched (the default
        // profile) it is a match without looking.
        self.searched == 0b111 || posting.field_mask() & self.searched != 0
    }

    /// The largest term score of any posting that `bound` bounds.
    fn bound_score(&self, idf: f64, bound: &BlockBound) -> f64 {
        let probe = Posting {
            doc: 0,
            tf: bound.max_tf,
            title_len: bound.min_len[0],
        };
        self.term_score(idf, &probe, &bound.min_len)
    }

    /// idf(t) · tf̃ / (k1 + tf̃) for one posting that `contains` the term.
    #[inline(always)]
    fn term_score(&self, idf: f64, posting: &Posting, lens: &[u8; 3]) -> f64 {
        let mut tfw = 0.0;
        for (f, (&tf, &len)) in posting.tf.iter().zip(lens).enumerate() {
            if tf > 0 && self.searched & (1 << f) != 0 {
                tfw += f64::from(tf) * self.factor[f][len as usize];
            }
        }
        if tfw == 0.0 {
            // Only with k1 = 0 and weights so small that they underflow: no contribution
            // (instead of 0 / 0).
            return 0.0;
        }
        idf * (tfw / (self.k1 + tfw))
    }
}

fn idf(live: usize, df: u32) -> f64 {
    let n = live as f64;
    let df = f64::from(df);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// A cursor over a postings list that only moves forward.
struct Cursor<'a> {
    postings: &'a [Posting],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The posting of `doc`, if any, moving past smaller documents.
    fn seek(&mut self, doc: u32) -> Option<&'a Posting> {
        self.at = skip_to(self.postings, self.at, doc);
        self.postings.get(self.at).filter(|p| p.doc == doc)
    }
}

/// How all-terms retrieval tests a document for one required term.
#[derive(Clone, Copy)]
enum Check<'a> {
    /// By the term's bitset ([`Query::by_bit`]).
    Bit(&'a Term),
    /// By seeking the cursor of the query's term at this index.
    Seek(usize),
}

/// Product-level checks of the request's filter, with ids resolved to index numbers.
struct CompiledFilter {
    /// No filter and no dead document: every document of a posting is accepted.
    accepts_all: bool,
    categories: Option<Vec<u32>>,
    shops: Option<Vec<u32>>,
    min_price_fen: Option<i64>,
    max_price_fen: Option<i64>,
    in_stock_only: bool,
}

impl CompiledFilter {
    /// True when the filter accepts every live product.
    fn is_trivial(&self) -> bool {
        self.categories.is_none()
            && self.shops.is_none()
            && self.min_price_fen.is_none()
            && self.max_price_fen.is_none()
            && !self.in_stock_only
    }

    fn new(index: &Index, filter: &Filter) -> Self {
        let resolve = |ids: &[String], map: &HashMap<String, u32>| {
            (!ids.is_empty()).then(|| ids.iter().filter_map(|id| map.get(id).copied()).collect())
        };
        let mut compiled = Self {
            accepts_all: false,
            categories: resolve(&filter.category_ids, &index.category_by_id),
            shops: resolve(&filter.shop_ids, &index.shop_by_id),
            min_price_fen: filter.min_price_fen,
            max_price_fen: filter.max_price_fen,
            in_stock_only: filter.in_stock_only,
        };
        compiled.accepts_all = compiled.is_trivial() && index.dead == 0;
        compiled
    }

    /// How many of the 64 documents from `first_doc` whose bits `word` has are accepted.
    #[inline(always)]
    fn count_accepted(&self, index: &Index, word: u64, first_doc: u32) -> u64 {
        if self.accepts_all {
            return u64::from(word.count_ones()); // every match counts
        }
        let mut count = 0;
        for_each_bit(word, |bit| {
            count += u64::from(self.accepts(index, first_doc + bit as u32));
        });
        count
    }

    #[inline(always)]
    fn accepts(&self, index: &Index, doc: u32) -> bool {
        if self.accepts_all {
            return true;
        }
        let d = doc as usize;
        if !index.docs.alive[d] {
            return false;
        }
        if let Some(categories) = &self.categories {
            if !categories.contains(&index.docs.category[d]) {
                return false;
            }
        }
        if let Some(shops) = &self.shops {
            if !shops.contains(&index.docs.shop[d]) {
                return false;
            }
        }
        if self.min_price_fen.is_none() && self.max_price_fen.is_none() && !self.in_stock_only {
            return true;
        }
        let features = &index.docs.features[d];
        self.min_price_fen
            .is_none_or(|min| features.price_fen >= min)
            && self
                .max_price_fen
                .is_none_or(|max| features.price_fen <= max)
            && (!self.in_stock_only || features.stock > 0)
    }
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

/// Bayesian-smoothed product rating.
pub fn bayesian_rating(profile: &RankingProfile, rating_sum: i64, rating_count: i64) -> f64 {
    let c = profile.rating_prior_count;
    let n = rating_count as f64;
    if c + n == 0.0 {
        return profile.rating_prior_mean;
    }
    (c * profile.rating_prior_mean + rating_sum as f64) / (c + n)
}

/// Smoothed shop experience score.
pub fn smoothed_shop_score(profile: &RankingProfile, score: f64, reviews: u32) -> f64 {
    let c = profile.shop_score_prior_count;
    let n = f64::from(reviews);
    if c + n == 0.0 {
        return profile.shop_score_prior_mean;
    }
    (c * profile.shop_score_prior_mean + score * n) / (c + n)
}

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

impl<'a> Query<'a> {
    #[inline]
    fn is_exact_shop(&self, doc: u32) -> bool {
        !self.exact_shops.is_empty()
            && self
                .exact_shops
                .contains(&self.index.docs.shop[doc as usize])
    }

    /// The query terms one document contains in a searched field (binary search per term).
    fn matched_terms(&self, doc: u32) -> Vec<String> {
        self.terms
            .iter()
            .filter(|t| {
                t.term.is_some_and(|term| {
                    term.postings
                        .binary_search_by_key(&doc, |p| p.doc)
                        .is_ok_and(|i| self.bm25f.contains(&term.postings[i]))
                })
            })
            .map(|t| t.text.clone())
            .collect()
    }

    #[inline]
    fn candidate(&self, doc: u32, first_phase: f64) -> Candidate {
        let exact_shop = self.is_exact_shop(doc);
        let high = match self.sort {
            Sort::Relevance => u64::from(exact_shop),
            sort => {
                let f = &self.index.docs.features[doc as usize];
                match sort {
                    Sort::Sales => ordered_i64(f.sales_30d),
                    Sort::PriceDescending => ordered_i64(f.price_fen),
                    Sort::PriceAscending => !ordered_i64(f.price_fen),
                    Sort::Rating => {
                        ordered_f64(bayesian_rating(self.profile, f.rating_sum, f.rating_count))
                    }
                    _ => ordered_i64(f.listed_at_s),
                }
            }
        };
        Candidate {
            doc,
            rank_key: rank_key(high, first_phase),
            exact_shop,
            first_phase,
            final_score: None,
        }
    }

    /// Product-id order, the final tie-break: document order among the documents known to be
    /// in id order (ties in `rank_key` are common, the equal first-phase scores of
    /// single-term matches, and this reads no product column), else the cached 8-byte
    /// prefixes unless equal, else the ids.
    #[inline]
    fn by_product_id(&self, a: &Candidate, b: &Candidate) -> Ordering {
        let ascending = self.index.ascending_ids;
        if a.doc < ascending && b.doc < ascending {
            return a.doc.cmp(&b.doc);
        }
        let prefixes = &self.index.docs.id_prefix;
        let (pa, pb) = (prefixes[a.doc as usize], prefixes[b.doc as usize]);
        pa.cmp(&pb).then_with(|| {
            let records = &self.index.docs.records;
            records[a.doc as usize]
                .product_id
                .cmp(&records[b.doc as usize].product_id)
        })
    }

    /// The order of `rank_key`, then product id: a total order (ids are unique).
    #[inline]
    fn compare(&self, a: &Candidate, b: &Candidate) -> Ordering {
        b.rank_key
            .cmp(&a.rank_key)
            .then_with(|| self.by_product_id(a, b))
    }

    /// Calls `visit(doc, score)` for the matches that may rank and returns the number of
    /// matches; `all_required` selects all-terms retrieval. Any-term retrieval leaves out
    /// matches whose score is below `floor`, the first-phase score the top-k already beats
    /// (-inf until then; only read under relevance order without an exact shop); the others
    /// visit every match.
    fn for_each_match(
        &self,
        all_required: bool,
        floor: &Cell<f64>,
        mut visit: impl FnMut(u32, f64),
    ) -> u64 {
        let index = self.index;
        if !all_required && !self.browse {
            return self.for_each_any_term_match(floor, &mut visit);
        }
        let mut matches = 0u64;
        let mut visit = |doc: u32, score: f64| {
            matches += 1;
            visit(doc, score);
        };
        if self.browse {
            for doc in 0..index.docs.alive.len() as u32 {
                if self.filter.accepts(index, doc) {
                    visit(doc, 0.0);
                }
            }
            return matches;
        }
        let Some((lead, checks)) = self.all_terms_plan() else {
            return 0;
        };
        let lead_term = self.terms[lead]
            .term
            .expect("the plan's terms have postings");
        let dense = lead_term.postings.len() * DENSE_LEAD_FRACTION > index.docs.alive.len();
        if dense && self.terms.len() > 1 {
            self.for_each_all_terms_match_windowed(lead, &mut visit);
            return matches;
        }
        let mut cursors = self.cursors();
        for lead_posting in &lead_term.postings {
            let doc = lead_posting.doc;
            if !self.bm25f.contains(lead_posting)
                || !self.filter.accepts(index, doc)
                || !self.has_all(&checks, &mut cursors, doc)
            {
                continue;
            }
            // The document has every required term (the seeks below find those not tested by
            // bit at once).
            let mut score = 0.0;
            for (i, t) in self.terms.iter().enumerate() {
                let posting = if i == lead {
                    Some(lead_posting)
                } else {
                    cursors[i].as_mut().and_then(|c| c.seek(doc))
                };
                if let Some(p) = posting.filter(|p| self.bm25f.contains(p)) {
                    score += t.score(&self.bm25f, p, &index.docs.lens);
                }
            }
            visit(doc, score);
        }
        matches
    }

    /// How all-terms retrieval checks a document: the lead (the rarest required term, whose
    /// postings are walked) and the other required terms in the order they are tested, those
    /// tested by bit first, then rarest first, so a document lacking one is left after as few
    /// seeks as may be. None when no term is required or a required term has no postings.
    fn all_terms_plan(&self) -> Option<(usize, Vec<Check<'a>>)> {
        let mut required: Vec<(bool, usize, usize)> = Vec::new();
        for (i, t) in self.terms.iter().enumerate().filter(|(_, t)| t.required) {
            let term = t.term?;
            required.push((!self.by_bit(term), term.postings.len(), i));
        }
        let lead = required.iter().min_by_key(|&&(_, len, _)| len)?.2;
        required.sort_unstable();
        let checks = required
            .into_iter()
            .filter(|&(_, _, i)| i != lead)
            .map(|(seek, _, i)| match self.terms[i].term {
                Some(term) if !seek => Check::Bit(term),
                _ => Check::Seek(i),
            });
        Some((lead, checks.collect()))
    }

    /// A forward-only cursor over each query term's postings (None without postings).
    fn cursors(&self) -> Vec<Option<Cursor<'a>>> {
        self.terms
            .iter()
            .map(|t| {
                t.term.map(|term| Cursor {
                    postings: &term.postings,
                    at: 0,
                })
            })
            .collect()
    }

    /// True when the term's bitset tells a match: it is dense and every field is searched (so
    /// each of its postings contains it in a searched field).
    #[inline(always)]
    fn by_bit(&self, term: &Term) -> bool {
        self.bm25f.searched == 0b111 && term.is_dense()
    }

    /// True when `doc` contains each term of `checks` in a searched field.
    #[inline(always)]
    fn has_all(&self, checks: &[Check], cursors: &mut [Option<Cursor<'a>>], doc: u32) -> bool {
        for check in checks {
            let present = match *check {
                Check::Bit(term) => term.has(doc),
                Check::Seek(i) => self.seek_contains(&mut cursors[i], doc),
            };
            if !present {
                return false;
            }
        }
        true
    }

    /// True when the cursor's term is in `doc` in a searched field (the cursor moves to it).
    #[inline(always)]
    fn seek_contains(&self, cursor: &mut Option<Cursor<'a>>, doc: u32) -> bool {
        cursor
            .as_mut()
            .and_then(|c| c.seek(doc))
            .is_some_and(|p| self.bm25f.contains(p))
    }

    /// All-terms retrieval for a dense lead term, term at a time within the windows where the
    /// lead term has documents (no per-document seeks); sums in query-term order as above.
    fn for_each_all_terms_match_windowed(&self, lead: usize, visit: &mut impl FnMut(u32, f64)) {
        let index = self.index;
        let required = self.terms.iter().filter(|t| t.required).count();
        let lists: Vec<&[Posting]> = self
            .terms
            .iter()
            .map(|t| t.term.map_or(&[][..], |term| term.postings.as_slice()))
            .collect();
        let mut at = vec![0usize; lists.len()];
        let mut scores = vec![0.0f64; WINDOW as usize];
        let mut counts = vec![0usize; WINDOW as usize];
        let mut touched = [0u64; WORDS];
        while let Some(first) = lists[lead].get(at[lead]) {
            let base = first.doc - first.doc % WINDOW;
            let end = base.saturating_add(WINDOW);
            for ((t, list), i) in self.terms.iter().zip(&lists).zip(at.iter_mut()) {
                *i = skip_to(list, *i, base);
                while let Some(p) = list.get(*i).filter(|p| p.doc < end) {
                    *i += 1;
                    if self.bm25f.contains(p) {
                        let slot = (p.doc - base) as usize;
                        scores[slot] += t.score(&self.bm25f, p, &index.docs.lens);
                        counts[slot] += usize::from(t.required);
                        touched[slot / 64] |= 1 << (slot % 64);
                    }
                }
            }
            drain_bits(&mut touched, |slot| {
                let doc = base + slot as u32;
                if counts[slot] == required && self.filter.accepts(index, doc) {
                    visit(doc, scores[slot]);
                }
                scores[slot] = 0.0;
                counts[slot] = 0;
            });
        }
    }

    /// The number of all-terms matches that pass the filter, counted until it reaches `limit`
    /// (it may pass it): whether all-terms retrieval fills a page, decided before any score is
    /// computed. When every required term is tested by bit, their bitsets are intersected a
    /// word at a time; else the lead's documents are narrowed window by window.
    fn count_all_terms(&self, limit: u64) -> u64 {
        let index = self.index;
        let Some((lead, checks)) = self.all_terms_plan() else {
            return 0;
        };
        let lead_term = self.terms[lead]
            .term
            .expect("the plan's terms have postings");
        let by_bit: Vec<&Term> = checks
            .iter()
            .filter_map(|check| match *check {
                Check::Bit(term) => Some(term),
                Check::Seek(_) => None,
            })
            .collect();
        let mut count = 0u64;
        if self.by_bit(lead_term) && by_bit.len() == checks.len() {
            for (w, &lead_word) in lead_term.bits.iter().enumerate() {
                let word = by_bit
                    .iter()
                    .fold(lead_word, |word, other| word & other.bits_word(w));
                count += self.filter.count_accepted(index, word, (w * 64) as u32);
                if count >= limit {
                    break;
                }
            }
            return count;
        }
        // Window by window: the lead's documents as a bitmap, narrowed by each other term in
        // turn (a bitset's words; a sparse term's postings marked, or, when few documents are
        // left, sought one by one), until nothing is left. The sparse terms go in the order of
        // the share of documents they have kept so far, fewest first: a query's terms are often
        // correlated (the bigrams of one word), and a term from another word empties the
        // window sooner.
        let doc_count = index.docs.alive.len().max(1);
        let mut cursors = self.cursors();
        let mut left = [0u64; WORDS];
        let mut other = [0u64; WORDS];
        let lead_list = &lead_term.postings[..];
        let mut next = 0;
        let mut order: Vec<usize> = (0..checks.len()).collect();
        // Per check: documents it was given and documents it kept, over the windows so far.
        let mut given_kept = vec![(0u64, 0u64); checks.len()];
        while let Some(first) = lead_list.get(next) {
            let base = first.doc - first.doc % WINDOW;
            let end = base.saturating_add(WINDOW);
            let first_word = base as usize / 64;
            // Bit w set when word w of `left` may be non-zero.
            let mut words = 0u64;
            // The documents in `left`.
            let mut documents_left = 0u64;
            while let Some(p) = lead_list.get(next).filter(|p| p.doc < end) {
                next += 1;
                if self.bm25f.contains(p) {
                    let slot = (p.doc - base) as usize;
                    left[slot / 64] |= 1 << (slot % 64);
                    words |= 1 << (slot / 64);
                    documents_left += 1;
                }
            }
            // Bit checks first (a word at a time, cheap), then by the share kept, compared as
            // kept_a / given_a < kept_b / given_b without division (+1 each: no zero).
            order.sort_by(|&a, &b| {
                let ((given_a, kept_a), (given_b, kept_b)) = (given_kept[a], given_kept[b]);
                let seek = |c: usize| matches!(checks[c], Check::Seek(_));
                seek(a).cmp(&seek(b)).then_with(|| {
                    (u128::from(kept_a + 1) * u128::from(given_b + 1))
                        .cmp(&(u128::from(kept_b + 1) * u128::from(given_a + 1)))
                })
            });
            for &check in &order {
                match checks[check] {
                    Check::Bit(term) => {
                        for_each_bit(words, |w| left[w] &= term.bits_word(first_word + w));
                    }
                    Check::Seek(i) => {
                        let cursor = &mut cursors[i];
                        let Some(c) = cursor.as_mut() else {
                            unreachable!("the plan's terms have postings")
                        };
                        let in_window = c.postings.len() * WINDOW as usize / doc_count;
                        if documents_left as usize * 8 < in_window {
                            for_each_bit(words, |w| {
                                for_each_bit(left[w], |bit| {
                                    let doc = base + (w * 64 + bit) as u32;
                                    if !self.seek_contains(cursor, doc) {
                                        left[w] &= !(1 << bit);
                                    }
                                });
                            });
                        } else {
                            c.at = skip_to(c.postings, c.at, base);
                            while let Some(p) = c.postings.get(c.at).filter(|p| p.doc < end) {
                                c.at += 1;
                                if self.bm25f.contains(p) {
                                    let slot = (p.doc - base) as usize;
                                    other[slot / 64] |= 1 << (slot % 64);
                                }
                            }
                            for (l, o) in left.iter_mut().zip(&mut other) {
                                *l &= std::mem::take(o);
                            }
                        }
                    }
                }
                let given = documents_left;
                documents_left = 0;
                for_each_bit(words, |w| {
                    documents_left += u64::from(left[w].count_ones());
                    if left[w] == 0 {
                        words &= !(1 << w);
                    }
                });
                let (given_so_far, kept_so_far) = &mut given_kept[check];
                *given_so_far += given;
                *kept_so_far += documents_left;
                if words == 0 {
                    break;
                }
            }
            for_each_bit(words, |w| {
                let word = std::mem::take(&mut left[w]);
                count += self
                    .filter
                    .count_accepted(index, word, base + (w * 64) as u32);
            });
            debug_assert!(left.iter().all(|&word| word == 0));
            if count >= limit {
                break;
            }
        }
        count
    }

    /// Any-term retrieval, window by window ([`WINDOW`] documents); returns the number of
    /// matches. A term is *essential* (MaxScore) unless it is among the terms that, taken in
    /// increasing order of upper bound, add up to less than `floor` (the first-phase score the
    /// top-k already beats; -inf until then, and always under another order or with a shop
    /// named): a document without an essential term cannot rank. In each window:
    /// 1. the matches are marked and counted (a dense term ors in its bitset's words, a sparse
    ///    term's postings set their bits), and so are the *candidates*, the documents with an
    ///    essential term;
    /// 2. in query-term order, each term adds its score to the candidates containing it (so
    ///    every sum is the same as adding per document in term order); a dense non-essential
    ///    term finds the postings of those candidates its bitset has by counting the bits
    ///    before theirs, and skips the rest;
    /// 3. the candidates whose score reaches `floor` are visited.
    fn for_each_any_term_match(&self, floor: &Cell<f64>, visit: &mut impl FnMut(u32, f64)) -> u64 {
        let index = self.index;
        // Each term with postings, its list and, when it is tested by bit, the term for its
        // bitset.
        let terms: Vec<(&ResolvedTerm, &[Posting], Option<&Term>)> = self
            .terms
            .iter()
            .filter_map(|t| {
                t.term.map(|term| {
                    let dense = self.by_bit(term).then_some(term);
                    (t, term.postings.as_slice(), dense)
                })
            })
            .collect();
        let mut by_upper: Vec<usize> = (0..terms.len()).collect();
        by_upper.sort_by(|&a, &b| terms[a].0.upper.total_cmp(&terms[b].0.upper));
        let prune = self.sort == Sort::Relevance && self.exact_shops.is_empty();
        let floor_now = || {
            if prune {
                floor.get()
            } else {
                f64::NEG_INFINITY
            }
        };
        let lens = &index.docs.lens;
        let mut matches = 0u64;
        let mut at = vec![0usize; terms.len()];
        let mut ends = vec![0usize; terms.len()];
        let mut essential = vec![true; terms.len()];
        let mut scores = vec![0.0f64; WINDOW as usize];
        let mut matched = [0u64; WORDS];
        let mut candidate = [0u64; WORDS];
        // With a dense term every window has matches: the windows follow one another. Else
        // the next window is the one of the smallest document left in any list.
        let any_dense = terms.iter().any(|&(_, _, dense)| dense.is_some());
        let end_doc = terms
            .iter()
            .filter_map(|(_, list, _)| list.last().map(|p| p.doc + 1))
            .max()
            .unwrap_or(0);
        let mut next_base = 0u32;
        loop {
            let next = if any_dense {
                Some(next_base).filter(|&base| base < end_doc)
            } else {
                terms
                    .iter()
                    .zip(&at)
                    .filter_map(|((_, list, _), &i)| list.get(i).map(|p| p.doc))
                    .min()
            };
            let Some(next) = next else { break };
            let base = next - next % WINDOW;
            let end = base.saturating_add(WINDOW);
            next_base = end;
            let first_word = base as usize / 64;
            essential.fill(true);
            let floor = floor_now();
            if floor > f64::NEG_INFINITY {
                let mut bound = 0.0;
                for &i in &by_upper {
                    // The slack absorbs last-bit differences between summation orders.
                    if (bound + terms[i].0.upper) * (1.0 + 1e-9) < floor {
                        bound += terms[i].0.upper;
                        essential[i] = false;
                    } else {
                        break;
                    }
                }
            }
            // Bit w set when word w of `matched` (and so of `candidate`) may be non-zero.
            let mut touched = 0u64;
            for (i, &(_, list, dense)) in terms.iter().enumerate() {
                if let Some(term) = dense {
                    let mask = if essential[i] { u64::MAX } else { 0 };
                    for (w, (m, c)) in matched.iter_mut().zip(&mut candidate).enumerate() {
                        let word = term.bits_word(first_word + w);
                        *m |= word;
                        *c |= word & mask;
                    }
                    touched = u64::MAX;
                } else {
                    let flag = u64::from(essential[i]);
                    ends[i] = at[i];
                    while let Some(p) = list.get(ends[i]).filter(|p| p.doc < end) {
                        ends[i] += 1;
                        if self.bm25f.contains(p) {
                            let slot = (p.doc - base) as usize;
                            matched[slot / 64] |= 1 << (slot % 64);
                            candidate[slot / 64] |= flag << (slot % 64);
                            touched |= 1 << (slot / 64);
                        }
                    }
                }
            }
            for_each_bit(touched, |w| {
                let word = std::mem::take(&mut matched[w]);
                matches += self
                    .filter
                    .count_accepted(index, word, base + (w * 64) as u32);
            });
            for (i, &(t, list, dense)) in terms.iter().enumerate() {
                match dense {
                    Some(term) if !essential[i] => {
                        // A bit per posting: a document's posting comes after as many
                        // postings as there are bits before its own (`at` is exact at the
                        // window's start and moves past the window's postings).
                        let mut before = at[i];
                        for (w, &candidates) in candidate.iter().enumerate() {
                            let bits = term.bits_word(first_word + w);
                            for_each_bit(candidates & bits, |bit| {
                                let below = bits & ((1u64 << bit) - 1);
                                let posting = &list[before + below.count_ones() as usize];
                                debug_assert_eq!(posting.doc, base + (w * 64 + bit) as u32);
                                scores[w * 64 + bit] += t.score(&self.bm25f, posting, lens);
                            });
                            before += bits.count_ones() as usize;
                        }
                        at[i] = before;
                    }
                    Some(_) => {
                        // Essential: every posting in the window.
                        while let Some(p) = list.get(at[i]).filter(|p| p.doc < end) {
                            at[i] += 1;
                            scores[(p.doc - base) as usize] += t.score(&self.bm25f, p, lens);
                        }
                    }
                    None => {
                        for p in &list[at[i]..ends[i]] {
                            let slot = (p.doc - base) as usize;
                            if candidate[slot / 64] & 1 << (slot % 64) != 0
                                && self.bm25f.contains(p)
                            {
                                scores[slot] += t.score(&self.bm25f, p, lens);
                            }
                        }
                        at[i] = ends[i];
                    }
                }
            }
            for_each_bit(touched, |w| {
                for_each_bit(candidate[w], |bit| {
                    let slot = w * 64 + bit;
                    let doc = base + slot as u32;
                    if scores[slot] >= floor_now() && self.filter.accepts(index, doc) {
                        visit(doc, scores[slot]);
                    }
                    scores[slot] = 0.0;
                });
                candidate[w] = 0;
            });
        }
        matches
    }

    /// The best `k` matches in order, and the number of matches. Under relevance, the first
    /// `rerank_depth` of them are the best ones but in no particular order: [`Query::rerank`]
    /// orders them by final score.
    fn top(&self, all_required: bool, k: usize) -> (Vec<Candidate>, u64) {
        let mut kept: Vec<Candidate> = Vec::with_capacity(2 * k + 2);
        let total;
        let mut threshold: Option<Candidate> = None;
        let relevance = self.sort == Sort::Relevance;
        let floor = Cell::new(f64::NEG_INFINITY);
        // Under relevance with no shop named, the floor also follows a histogram of the scores
        // seen, which rises sooner than the threshold does.
        let mut histogram = (relevance && self.exact_shops.is_empty() && !self.browse)
            .then(|| ScoreFloor::new(self.max_score(), k));
        let mut consider = |doc: u32, first_phase: f64, threshold: &mut Option<Candidate>| {
            if histogram.is_some() && first_phase < floor.get() {
                return;
            }
            if let Some(t) = threshold.as_ref() {
                // The common rejection, decided on the first-phase key alone (most matches end
                // here). First-phase scores are sums of non-negative terms from 0.0, never NaN
                // or -0.0, so `<` is their total order.
                if relevance {
                    let exact = self.is_exact_shop(doc);
                    if (t.exact_shop && !exact)
                        || (exact == t.exact_shop && first_phase < t.first_phase)
                    {
                        return;
                    }
                    // A tie with the threshold (common: the k-th score is often the score of
                    // many single-term matches), decided by document order where that is id
                    // order ([`Query::by_product_id`]).
                    if exact == t.exact_shop
                        && first_phase == t.first_phase
                        && doc > t.doc
                        && doc < self.index.ascending_ids
                    {
                        return;
                    }
                }
            }
            let candidate = self.candidate(doc, first_phase);
            if let Some(t) = threshold.as_ref() {
                if self.compare(&candidate, t) != Ordering::Less {
                    return;
                }
            }
            kept.push(candidate);
            if let Some(raised) = histogram.as_mut().and_then(|h| h.add(first_phase)) {
                floor.set(floor.get().max(raised));
            }
            if kept.len() < 2 * k + 2 {
                return;
            }
            if histogram.is_some() {
                // Most of those below the floor go without ordering anything; the rest are
                // ordered when that leaves too many (before the floor rose, or ties at it).
                let floor = floor.get();
                kept.retain(|c| c.first_phase >= floor);
                if kept.len() <= k + k / 2 {
                    return;
                }
            }
            kept.select_nth_unstable_by(k, |a, b| self.compare(a, b));
            kept.truncate(k + 1);
            *threshold = kept.pop();
            if let Some(t) = threshold.as_ref().filter(|t| relevance && !t.exact_shop) {
                floor.set(floor.get().max(t.first_phase));
            }
        };
        if let Some((term, idf)) = self.block_max_term() {
            // One term, no filter, no shop named: the count is the term's document frequency,
            // and a block whose bound cannot beat the threshold is skipped whole.
            total = u64::from(term.df[self.bm25f.searched]);
            let lens = &self.index.docs.lens;
            let alive = &self.index.docs.alive;
            for (block, bound) in term.postings.chunks(BLOCK).zip(&term.blocks) {
                // The floor: no document below it can rank (the threshold's score, or the
                // histogram's, whichever is higher).
                let floor = floor.get();
                let best = self.bm25f.bound_score(idf, bound);
                // The slack absorbs any last-bit rounding in the bound's arithmetic.
                if best * (1.0 + 1e-9) < floor {
                    continue;
                }
                for p in block {
                    if self.bm25f.contains(p) && alive[p.doc as usize] {
                        let score = self.terms[0].score(&self.bm25f, p, lens);
                        if score >= floor {
                            consider(p.doc, score, &mut threshold);
                        }
                    }
                }
            }
        } else {
            total = self.for_each_match(all_required, &floor, |doc, first_phase| {
                consider(doc, first_phase, &mut threshold);
            });
        }
        let order = |a: &Candidate, b: &Candidate| self.compare(a, b);
        if kept.len() > k {
            kept.select_nth_unstable_by(k, order);
            kept.truncate(k);
        }
        // The best `rerank_depth` are left unordered: the second phase reorders them anyway.
        let unordered = if relevance {
            self.profile.rerank_depth as usize
        } else {
            0
        };
        if kept.len() > unordered {
            if unordered > 0 {
                kept.select_nth_unstable_by(unordered, order);
            }
            kept[unordered..].sort_unstable_by(order);
        }
        (kept, total)
    }

    /// No document's first-phase score is larger: the sum of the terms' upper bounds.
    fn max_score(&self) -> f64 {
        self.terms.iter().map(|t| t.upper).sum()
    }

    /// The term (and its idf) when block-max skipping applies: relevance order, a single
    /// query term, no filter and no shop named by the query.
    fn block_max_term(&self) -> Option<(&'a Term, f64)> {
        let unfiltered = self.filter.is_trivial();
        match self.terms.as_slice() {
            [only]
                if self.sort == Sort::Relevance
                    && !self.browse
                    && unfiltered
                    && self.exact_shops.is_empty() =>
            {
                only.term.map(|term| (term, only.idf))
            }
            _ => None,
        }
    }

    /// The second phase: final score of one product, with its signals when asked.
    fn second_phase(&self, doc: u32, first_phase: f64, explain: bool) -> (f64, Vec<Signal>) {
        let d = doc as usize;
        let (features, shop) = (&self.index.docs.features[d], self.index.docs.shop[d]);
        self.second_phase_of(doc, features, shop, first_phase, explain)
    }

    /// [`Query::second_phase`] with the document's features and shop already read.
    fn second_phase_of(
        &self,
        doc: u32,
        features: &Features,
        shop: u32,
        first_phase: f64,
        explain: bool,
    ) -> (f64, Vec<Signal>) {
        let p = self.profile;
        let shop = &self.index.shops[shop as usize].record;
        let rating = bayesian_rating(p, features.rating_sum, features.rating_count);
        let shop_score =
            smoothed_shop_score(p, shop.experience_score, shop.experience_review_count);
        let sales = features.sales_log;
        let additive = [
            ("text", first_phase, p.text_weight),
            ("hero_quality", features.hero_quality, p.hero_quality_weight),
            ("rating", rating, p.rating_weight),
            ("shop_score", shop_score, p.shop_score_weight),
            ("sales", sales, p.sales_weight),
        ];
        let mut score = 0.0;
        for (_, value, weight) in additive {
            score += weight * value;
        }
        let brand = if shop.is_brand {
            p.brand_multiplier
        } else {
            1.0
        };
        let window_s = i64::from(p.new_merchant_window_days) * SECONDS_PER_DAY;
        let is_new = self.request.now_s.saturating_sub(shop.opened_at_s) < window_s;
        let new_merchant = if is_new {
            p.new_merchant_multiplier
        } else {
            1.0
        };
        score = score * brand * new_merchant;
        let mut signals = Vec::new();
        if explain {
            for (signal, value, weight) in additive {
                signals.push(Signal {
                    signal,
                    value,
                    weight,
                    contribution: weight * value,
                });
            }
            for (signal, factor) in [
                ("brand_multiplier", brand),
                ("new_merchant_multiplier", new_merchant),
            ] {
                signals.push(Signal {
                    signal,
                    value: factor,
                    weight: 1.0,
                    contribution: factor,
                });
            }
            if self.is_exact_shop(doc) {
                signals.push(Signal {
                    signal: "exact_shop_match",
                    value: 1.0,
                    weight: 1.0,
                    contribution: 0.0,
                });
            }
        }
        (score, signals)
    }

    /// How many first-phase candidates the first `k` products of the final order need:
    /// under relevance, at least the re-rank depth.
    fn candidates_for(&self, k: usize) -> usize {
        if self.sort == Sort::Relevance {
            k.max(self.profile.rerank_depth as usize)
        } else {
            k
        }
    }

    /// Puts the first `k` products of the final order first in the first-phase `candidates`
    /// (as [`Query::top`] gives them, at least [`Query::candidates_for`] of them when there are
    /// that many matches) and returns how many that is (fewer when there are fewer): under
    /// relevance, the best `rerank_depth` get the second phase and are ordered by it. Calling
    /// it again on the same candidates with a larger `k` gives the longer prefix of the same
    /// order (the re-ranked ones are the same set, whatever their order now).
    fn rerank(&self, candidates: &mut [Candidate], k: usize) -> usize {
        if self.sort == Sort::Relevance {
            let reranked = (self.profile.rerank_depth as usize).min(candidates.len());
            // The columns are read first, in a loop of independent loads whose cache misses
            // overlap, instead of one miss at a time inside the arithmetic.
            let docs = &self.index.docs;
            let columns: Vec<(Features, u32)> = candidates[..reranked]
                .iter()
                .map(|c| (docs.features[c.doc as usize], docs.shop[c.doc as usize]))
                .collect();
            for (c, (features, shop)) in candidates[..reranked].iter_mut().zip(&columns) {
                let final_score = self
                    .second_phase_of(c.doc, features, *shop, c.first_phase, false)
                    .0;
                c.final_score = Some(final_score);
                c.rank_key = rank_key(u64::from(c.exact_shop), final_score);
            }
            // Only the first `k` are kept: select them, then order them.
            let order = |a: &Candidate, b: &Candidate| self.compare(a, b);
            let sorted = if k < reranked {
                candidates[..reranked].select_nth_unstable_by(k, order);
                k
            } else {
                reranked
            };
            candidates[..sorted].sort_unstable_by(order);
        }
        k.min(candidates.len())
    }
}

/// One page of a ranking after shaping.
struct Shaped {
    /// The page's positions in the ranking, in order.
    positions: Vec<usize>,
    /// `collapsed_into[i]`: the position of the better-ranked near-duplicate that position `i`
    /// collapsed into, if any.
    collapsed_into: Vec<Option<usize>>,
    /// Positions before this were examined while filling the pages up to the previous one...
    scanned_before: usize,
    /// ...and up to this one.
    scanned: usize,
    /// A product that is neither collapsed nor placed on a page up to this one remains.
    any_left: bool,
}

impl Shaped {
    /// Duplicates collapsed into the product at `position`, among the examined positions.
    fn collapsed_into_count(&self, position: usize) -> u32 {
        self.collapsed_into[..self.scanned]
            .iter()
            .filter(|&&into| into == Some(position))
            .count() as u32
    }

    /// Duplicates met while filling this page.
    fn collapsed_on_page(&self) -> u32 {
        self.collapsed_into[self.scanned_before..self.scanned]
            .iter()
            .filter(|into| into.is_some())
            .count() as u32
    }
}

/// Shapes `ranked` into pages and returns page `page`.
///
/// Near-duplicates first (unless `max_distance` is None): in rank order, a product whose hero
/// image's dHash is within `max_distance` bits of a better-ranked kept product's collapses into
/// the best-ranked such product and appears on no page; products without a hero image never
/// collapse. Then pages are filled greedily in rank order with at most `cap` products of one
/// shop per page (0: no cap); a product over its shop's cap waits for the next page.
fn shape_page(
    index: &Index,
    ranked: &[Candidate],
    page: u32,
    page_size: usize,
    cap: u32,
    max_distance: Option<u32>,
) -> Shaped {
    let mut collapsed_into = vec![None; ranked.len()];
    if let Some(max_distance) = max_distance {
        let mut kept: Vec<(u64, usize)> = Vec::new();
        for (i, c) in ranked.iter().enumerate() {
            let Some(hash) = index.docs.records[c.doc as usize].dhash else {
                continue;
            };
            match kept
                .iter()
                .find(|(other, _)| (hash ^ other).count_ones() <= max_distance)
            {
                Some(&(_, into)) => collapsed_into[i] = Some(into),
                None => kept.push((hash, i)),
            }
        }
    }
    let mut placed: Vec<bool> = collapsed_into.iter().map(Option::is_some).collect();
    let mut first_open = 0;
    let mut scanned = 0;
    for p in 0..=page {
        let mut on_page = Vec::new();
        let mut per_shop: HashMap<u32, u32> = HashMap::default();
        let mut i = first_open;
        while i < ranked.len() && on_page.len() < page_size {
            if !placed[i] {
                let shop = index.docs.shop[ranked[i].doc as usize];
                let count = per_shop.entry(shop).or_insert(0);
                if cap == 0 || *count < cap {
                    *count += 1;
                    placed[i] = true;
                    on_page.push(i);
                }
            }
            i += 1;
        }
        let scanned_before = scanned;
        scanned = scanned.max(i);
        while first_open < ranked.len() && placed[first_open] {
            first_open += 1;
        }
        if p == page {
            return Shaped {
                positions: on_page,
                collapsed_into,
                scanned_before,
                scanned,
                any_left: first_open < ranked.len(),
            };
        }
    }
    unreachable!("the loop returns on the last page")
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

impl Query<'_> {
    fn hit(&self, c: &Candidate, any_term_match: bool) -> Hit {
        let record = &self.index.docs.records[c.doc as usize];
        let shop = &self.index.shops[self.index.docs.shop[c.doc as usize] as usize].record;
        let (final_score, signals) = match c.final_score {
            // Re-ranked already: the score is known, only an explanation needs the signals.
            Some(score) if !self.request.explain => (score, Vec::new()),
            _ if c.final_score.is_some() || self.sort != Sort::Relevance => {
                self.second_phase(c.doc, c.first_phase, self.request.explain)
            }
            _ => (c.first_phase, Vec::new()),
        };
        let explanation = self.request.explain.then(|| Explanation {
            first_phase_score: c.first_phase,
            matched_terms: self.matched_terms(c.doc),
            any_term_match,
            signals,
        });
        Hit {
            product_id: record.product_id.clone(),
            shop_id: record.shop_id.clone(),
            title: record.title.clone(),
            shop_name: shop.name.clone(),
            brand: record.brand.clone(),
            price_fen: record.price_fen,
            sales_30d: record.sales_30d,
            rating: bayesian_rating(self.profile, record.rating_sum, record.rating_count),
            score: final_score,
            collapsed_duplicates: 0,
            explanation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert!(!result.any_term_match);
        assert_eq!(result.total_matched, 16);
    }

    #[test]
    fn the_all_terms_count_is_exact_whichever_term_narrows_first() {
        // 苏打饼干's three bigrams are in the same 334 documents; 通勤 is in 400 others and in
        // `both` of those. Over five windows, the count (narrowed by the correlated bigrams
        // first, then by whichever term has kept the fewest documents) decides the fallback
        // exactly at the page size; with `in_stock_only` it counts one document at a time.
        for both in [0usize, 5, 9, 10, 11, 40] {
            let mut index = Index::new(Analyzer::new(AnalysisMode::BigramsOnly));
            index.upsert_shops(vec![shop("s", "店")]);
            let products: Vec<_> = (0..20_000usize)
                .map(|i| {
                    let snack = i % 60 == 0;
                    let commute = (snack && i / 60 < both) || (!snack && i % 47 == 3);
                    let title = match (snack, commute) {
                        (true, true) => "苏打饼干 通勤",
                        (true, false) => "苏打饼干 围巾",
                        (false, true) => "通勤 围巾",
                        (false, false) => "围巾",
                    };
                    product(&format!("p{i:05}"), "s", title)
                })
                .collect();
            let any = products
                .iter()
                .filter(|p| p.title.contains("苏打饼干") || p.title.contains("通勤"))
                .count() as u64;
            index.upsert_products(products).unwrap();
            for in_stock_only in [false, true] {
                let mut r = request("苏打饼干 通勤");
                r.filter.in_stock_only = in_stock_only;
                let result = index.search(&RankingProfile::default(), &r).unwrap();
                assert_eq!(result.any_term_match, both < 10, "{both}");
                let expected = if both < 10 { any } else { both as u64 };
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
    fn falls_back_to_any_term_and_explains() {
        let index = catalog();
        let result = index
            .search(&RankingProfile::default(), &request("羊绒 纯棉"))
            .unwrap();
        assert!(result.any_term_match);
        assert_eq!(result.total_matched, 3);
        let mut strict = request("羊绒围巾");
        strict.page_size = 2;
        let result = index.search(&RankingProfile::default(), &strict).unwrap();
        assert!(!result.any_term_match);
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
        let fallback = ordered.search(&RankingProfile::default(), &request("流苏 数据线"));
        assert!(fallback.unwrap().any_term_match);
        for depth in [1, 10, 1000] {
            let profile = RankingProfile {
                rerank_depth: depth,
                ..RankingProfile::default()
            };
            for query in [
                "流苏 数据线",
                "羊绒 数据线",
                "围巾 手机壳 流苏",
                "长款",
                "女士 冬季",
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
    fn the_score_floor_never_passes_the_kth_best_score() {
        // Scores from a small set (many ties) and from a wide range, in random order.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..40 {
            let k = 1 + (next() % 300) as usize;
            let max = 20.0;
            let mut floor_of = ScoreFloor::new(max, k);
            let mut added: Vec<f64> = Vec::new();
            let mut raised = 0;
            for _ in 0..3_000 {
                let score = if round % 2 == 0 {
                    f64::from((next() % 7) as u32) * 2.5
                } else {
                    (next() % 1_000_000) as f64 / 1_000_000.0 * max
                };
                added.push(score);
                if let Some(floor) = floor_of.add(score) {
                    raised += 1;
                    let mut sorted = added.clone();
                    sorted.sort_by(|a, b| b.total_cmp(a));
                    assert!(sorted.len() >= k && floor <= sorted[k - 1], "round {round}");
                    // Close to it: in the same bucket.
                    let width = max / ScoreFloor::BUCKETS as f64;
                    assert!(
                        sorted[k - 1] - floor <= width * (1.0 + 1e-9),
                        "round {round}"
                    );
                }
            }
            assert!(raised > 0, "round {round}: the floor was never computed");
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
}
