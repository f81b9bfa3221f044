//! The second phase: the business signals (Bayesian rating, smoothed shop score, sales, hero
//! quality, brand and new-merchant factors) combined into the final score, re-ranking the best
//! `rerank_depth` first-phase candidates by it, and the hits with their explanations.

use super::request::{Explanation, Hit, Signal, Sort, SECONDS_PER_DAY};
use super::topk::{rank_key, Candidate};
use super::Query;
use crate::rank::index::{Features, Term};
use crate::rank::profile::RankingProfile;
use crate::text::ApproximateKind;

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

impl Query<'_> {
    /// True when the document has `term` in a searched field (binary search).
    fn has_term(&self, term: &Term, doc: u32) -> bool {
        term.postings
            .binary_search_by_key(&doc, |p| p.doc)
            .is_ok_and(|at| self.bm25f.contains(&term.postings[at]))
    }

    /// True when the document contains the query term at `i` in a searched field.
    fn contains_term(&self, doc: u32, i: usize) -> bool {
        self.terms[i]
            .term
            .is_some_and(|term| self.has_term(term, doc))
    }

    /// The query terms one document contains in a searched field.
    fn matched_terms(&self, doc: u32) -> Vec<String> {
        (0..self.terms.len())
            .filter(|&i| self.contains_term(doc, i))
            .map(|i| self.terms[i].text.clone())
            .collect()
    }

    /// The query words the document lacks but has under a negating modifier (仿羊绒 for 羊绒).
    fn negated_words(&self, doc: u32) -> Vec<String> {
        let has =
            |alternative: &Vec<usize>| alternative.iter().all(|&i| self.contains_term(doc, i));
        let index = self.index;
        self.words
            .iter()
            .filter(|word| !word.negated && !word.alternatives.iter().any(has))
            .filter(|word| {
                index.analyzer.negating_modifiers().iter().any(|modifier| {
                    index
                        .term(&format!("{modifier}{}", word.text))
                        .is_some_and(|term| self.has_term(term, doc))
                })
            })
            .map(|word| word.text.clone())
            .collect()
    }

    /// The synonyms through which the document has a query word it lacks as typed.
    fn matched_synonyms(&self, doc: u32) -> Vec<String> {
        let has =
            |alternative: &Vec<usize>| alternative.iter().all(|&i| self.contains_term(doc, i));
        self.words
            .iter()
            .filter(|word| {
                !word.negated && word.approximate.is_none() && !has(&word.alternatives[0])
            })
            .filter_map(|word| {
                word.alternatives[1..]
                    .iter()
                    .position(has)
                    .map(|k| word.synonyms[k].clone())
            })
            .collect()
    }

    /// The query words the document has only approximately: each with the approximation it
    /// has (the best of them).
    fn approximate_matches(&self, doc: u32) -> Vec<(String, String, ApproximateKind)> {
        let has =
            |alternative: &Vec<usize>| alternative.iter().all(|&i| self.contains_term(doc, i));
        self.words
            .iter()
            .filter_map(|word| {
                let kind = word.approximate?;
                let k = word.alternatives[1..].iter().position(has)?;
                Some((word.text.clone(), word.synonyms[k].clone(), kind))
            })
            .collect()
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

    /// How many first-phase candidates the first `k` products of a tier's order need, when
    /// `depth` of the re-rank depth is left for it: under relevance, at least `depth`.
    pub(super) fn candidates_for(&self, k: usize, depth: usize) -> usize {
        if self.sort == Sort::Relevance {
            k.max(depth)
        } else {
            k
        }
    }

    /// Puts the first `k` products of a tier's final order first in its first-phase
    /// `candidates` (as [`Query::top`] gives them with the same `depth`, at least
    /// [`Query::candidates_for`] of them when there are that many matches) and returns how
    /// many that is (fewer when there are fewer): under relevance, the best `depth` get the
    /// second phase and are ordered by it. Calling it again on the same candidates with a
    /// larger `k` gives the longer prefix of the same order (the re-ranked ones are the same
    /// set, whatever their order now).
    pub(super) fn rerank(&self, candidates: &mut [Candidate], k: usize, depth: usize) -> usize {
        if self.sort == Sort::Relevance {
            let reranked = depth.min(candidates.len());
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

    /// The raw score of a ranked candidate: its final score once re-ranked or under another
    /// sort than relevance (computed here), else its first-phase score.
    pub(super) fn raw_score(&self, c: &Candidate) -> f64 {
        match c.final_score {
            Some(score) => score,
            None if self.sort != Sort::Relevance => {
                self.second_phase(c.doc, c.first_phase, false).0
            }
            None => c.first_phase,
        }
    }

    /// The hit of a ranked candidate of `tier` (1 or 2) with the score it shows (`score`, see
    /// [`Index::search`](crate::rank::index::Index::search)).
    pub(super) fn hit(&self, c: &Candidate, tier: u32, score: f64) -> Hit {
        let record = &self.index.docs.records[c.doc as usize];
        let shop = &self.index.shops[self.index.docs.shop[c.doc as usize] as usize].record;
        let explanation = self.request.explain.then(|| {
            let signals = if c.final_score.is_some() || self.sort != Sort::Relevance {
                self.second_phase(c.doc, c.first_phase, true).1
            } else {
                Vec::new()
            };
            Explanation {
                first_phase_score: c.first_phase,
                matched_terms: self.matched_terms(c.doc),
                matched_synonyms: self.matched_synonyms(c.doc),
                negated_words: self.negated_words(c.doc),
                approximate_matches: self.approximate_matches(c.doc),
                tier,
                signals,
            }
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
            score,
            tier,
            collapsed_duplicates: 0,
            explanation,
        }
    }
}
