//! BM25F scoring: the per-query constants of the formula (`Bm25f`), idf, the query terms
//! resolved against the dictionary with their cached title-only scores (`ResolvedTerm`), and
//! the bound of a block's (or a whole list's) term scores that block-max skipping and MaxScore
//! pruning rely on.

use std::cell::Cell;

use crate::rank::index::{BlockBound, Index, Posting, Term};
use crate::rank::profile::RankingProfile;

/// A query term resolved against the dictionary.
pub(super) struct ResolvedTerm<'a> {
    pub(super) text: String,
    pub(super) required: bool,
    /// In an alternative of a query word (required, or brought by a synonym).
    pub(super) in_word: bool,
    /// 1, or the profile's `synonym_weight` for a term only a synonym brings: every score of
    /// the term is multiplied by it (so a weight of 1 changes no bit).
    pub(super) idf: f64,
    /// `None` when no live product contains the term.
    pub(super) term: Option<&'a Term>,
    /// `title_scores[tf * 256 + len]`: the term score of a posting found only in the title,
    /// `tf` ≤ [`TITLE_TABLE_MAX_TF`] times, in a title of `len` tokens, filled on first use
    /// (NaN until then) by [`Bm25f::term_score`] itself, so a lookup gives the very same bits.
    /// Empty when the title is not searched.
    pub(super) title_scores: Vec<Cell<f64>>,
    pub(super) weight: f64,
    /// No posting of the term scores more (0 without postings).
    pub(super) upper: f64,
}

/// Largest title term frequency with a precomputed score (almost every posting).
pub(super) const TITLE_TABLE_MAX_TF: u8 = 3;

impl ResolvedTerm<'_> {
    /// The term's score in `posting`'s document; `lens` is the index's field-length column,
    /// read only when the term is in a field other than the title.
    #[inline(always)]
    pub(super) fn score(&self, bm25f: &Bm25f, posting: &Posting, lens: &[[u8; 3]]) -> f64 {
        let [tf, shop, brand] = posting.tf;
        if shop != 0 || brand != 0 {
            return self.weight * bm25f.term_score(self.idf, posting, &lens[posting.doc as usize]);
        }
        // Title only: the other fields' lengths do not enter the score.
        let title_only = [posting.title_len, 0, 0];
        if tf > TITLE_TABLE_MAX_TF || self.title_scores.is_empty() {
            return self.weight * bm25f.term_score(self.idf, posting, &title_only);
        }
        let cached = &self.title_scores[usize::from(tf) << 8 | usize::from(posting.title_len)];
        let score = cached.get();
        if !score.is_nan() {
            return score;
        }
        let score = self.weight * bm25f.term_score(self.idf, posting, &title_only);
        cached.set(score);
        score
    }
}

/// Per-query constants of the BM25F formula.
pub(super) struct Bm25f {
    k1: f64,
    /// Bit f set when field f is searched.
    pub(super) searched: usize,
    /// `factor[f][len]` = w_f / ((1 − b) + b · (len / avg_f)).
    factor: [Vec<f64>; 3],
}

impl Bm25f {
    pub(super) fn new(index: &Index, profile: &RankingProfile) -> Self {
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
    pub(super) fn contains(&self, posting: &Posting) -> bool {
        // Every posting has the term in some field: with all fields searched (the default
        // profile) it is a match without looking.
        self.searched == 0b111 || posting.field_mask() & self.searched != 0
    }

    /// The largest term score of any posting that `bound` bounds.
    pub(super) fn bound_score(&self, idf: f64, bound: &BlockBound) -> f64 {
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

pub(super) fn idf(live: usize, df: u32) -> f64 {
    let n = live as f64;
    let df = f64::from(df);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}
