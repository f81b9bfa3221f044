//! The first phase's top-k: the candidate and its order key (`Candidate`, `rank_key`), the
//! total order of candidates (product id breaking ties), the score floor that lets retrieval
//! skip matches that cannot rank (`ScoreFloor`), block-max skipping for a single term, and
//! `Query::top`, which keeps the best `k` matches.

use std::cell::Cell;
use std::cmp::Ordering;

use super::request::Sort;
use super::rerank::bayesian_rating;
use super::retrieval::Tier;
use super::Query;
use crate::rank::index::{Term, BLOCK};

/// A matched product with its sort keys.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    pub(super) doc: u32,
    /// The order key: a larger `rank_key` ranks first. Its high 64 bits are the sort's key
    /// (relevance: the exact-shop flag; the final score's tier once re-ranked), its low 64 bits
    /// the first-phase score (the final score once re-ranked), each mapped by [`ordered_f64`]
    /// or [`ordered_i64`] so that integer order is the order of the values.
    pub(super) rank_key: u128,
    pub(super) exact_shop: bool,
    pub(super) first_phase: f64,
    /// Final score once re-ranked.
    pub(super) final_score: Option<f64>,
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

pub(super) fn rank_key(high: u64, low: f64) -> u128 {
    u128::from(high) << 64 | u128::from(ordered_f64(low))
}

impl<'a> Query<'a> {
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
    pub(super) fn compare(&self, a: &Candidate, b: &Candidate) -> Ordering {
        b.rank_key
            .cmp(&a.rank_key)
            .then_with(|| self.by_product_id(a, b))
    }

    /// The best `k` matches of `tier` in order, and the number of matches. Under relevance,
    /// the first `depth` of them (the re-rank depth left for this tier) are the best ones but
    /// in no particular order: [`Query::rerank`] orders them by final score.
    pub(super) fn top(&self, tier: Tier, k: usize, depth: usize) -> (Vec<Candidate>, u64) {
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
        if let Some((term, idf)) = self.block_max_term().filter(|_| tier == Tier::First) {
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
            total = self.for_each_match(tier, |doc, first_phase| {
                consider(doc, first_phase, &mut threshold);
            });
        }
        let order = |a: &Candidate, b: &Candidate| self.compare(a, b);
        if kept.len() > k {
            kept.select_nth_unstable_by(k, order);
            kept.truncate(k);
        }
        // The best `rerank_depth` are left unordered: the second phase reorders them anyway.
        let unordered = if relevance { depth } else { 0 };
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
