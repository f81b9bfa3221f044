//! Creator (达人) scoring, SPEC §4: each of three raw values (settled GMV, sales score, effective
//! followers) becomes a mid-rank percentile within the creator's cohort; the score is their
//! weighted sum; the cohort is ranked by score, then settled GMV, then creator id.
//!
//! Exactness. With `t = 2L + E − 1` (L values below, E values equal, own included), the
//! percentile is `100·t / (2(n − 1))` and the score is `Σ wₖ·tₖ / (20,000·(n − 1))` with the
//! weights in ppm. Both are one division of two integers below 2⁵³, so each is the correctly
//! rounded value of the exact rational, and the pure-Python reference (`int / int`) gets the
//! very same float. Ranks and tiers compare the integer numerators, never floats, so two
//! creators tie exactly when their exact scores are equal.
//!
//! Monotonicity follows: a creator at least as good as another on all three raw values has
//! every `tₖ` at least as large, so it never scores lower.

use crate::error::{CoreError, CoreResult, FieldViolation};

/// Weights of the three percentiles in ppm; each ≥ 0, together exactly 1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    pub gmv_ppm: u32,
    pub sales_ppm: u32,
    pub followers_ppm: u32,
}

impl Weights {
    /// The 2025 rule: settled GMV 40 %, sales score 30 %, effective followers 30 %.
    pub const RULE_2025: Weights = Weights {
        gmv_ppm: 400_000,
        sales_ppm: 300_000,
        followers_ppm: 300_000,
    };

    pub fn validate(&self) -> CoreResult<()> {
        let total =
            u64::from(self.gmv_ppm) + u64::from(self.sales_ppm) + u64::from(self.followers_ppm);
        if total != 1_000_000 {
            return Err(CoreError::InvalidArgument(vec![FieldViolation::new(
                "weights",
                format!("must sum to exactly 1,000,000 ppm (100 %), got {total}"),
            )]));
        }
        Ok(())
    }
}

/// Tiers by score: S ≥ 90, A ≥ 75, B ≥ 50, else C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tier {
    S = 1,
    A = 2,
    B = 3,
    C = 4,
}

/// The sales score below this many 90-day orders (default 20, config).
pub const NEUTRAL_SALES_SCORE: f64 = 60.0;

/// The sales score (带货分) from its 90-day components:
/// `100 × (0.4(1 − refund) + 0.4(1 − negative) + 0.2(1 − complaint))`, rates in ppm clipped to
/// 100 %; fewer than `min_orders` orders gives the neutral 60. Computed as one division of an
/// exact integer, `(4(10⁶ − r) + 4(10⁶ − n) + 2(10⁶ − c)) / 100,000`, so the reference agrees bit
/// for bit.
pub fn sales_score(
    order_count_90d: i64,
    quality_refund_rate_ppm: u32,
    negative_review_rate_ppm: u32,
    complaint_rate_ppm: u32,
    min_orders: i64,
) -> f64 {
    if order_count_90d < min_orders {
        return NEUTRAL_SALES_SCORE;
    }
    let good = |rate_ppm: u32| 1_000_000 - i64::from(rate_ppm.min(1_000_000));
    let tenths_ppm = 4 * good(quality_refund_rate_ppm)
        + 4 * good(negative_review_rate_ppm)
        + 2 * good(complaint_rate_ppm);
    tenths_ppm as f64 / 100_000.0
}

/// One cohort's raw values, one entry per creator, **in ascending `creator_id` order** (the
/// last tie-break of the rank is the position).
#[derive(Debug, Clone, Copy)]
pub struct CohortValues<'a> {
    /// Settled GMV, fen, ≥ 0.
    pub settled_gmv_fen: &'a [i64],
    /// Sales score in [0, 100].
    pub sales_score: &'a [f64],
    /// Effective followers, ≥ 0.
    pub effective_followers: &'a [i64],
}

/// Scores of many creators (several cohorts one after another), column by column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    pub gmv_percentile: Vec<f64>,
    pub sales_percentile: Vec<f64>,
    pub followers_percentile: Vec<f64>,
    pub score: Vec<f64>,
    /// 1-based rank within the creator's cohort.
    pub rank: Vec<u32>,
    pub tier: Vec<Tier>,
}

impl Scores {
    fn with_capacity(n: usize) -> Self {
        Scores {
            gmv_percentile: Vec::with_capacity(n),
            sales_percentile: Vec::with_capacity(n),
            followers_percentile: Vec::with_capacity(n),
            score: Vec::with_capacity(n),
            rank: vec![0; n],
            tier: Vec::with_capacity(n),
        }
    }
}

/// Checks the columns: equal lengths, GMV and followers ≥ 0, sales scores in [0, 100]; at most
/// `u32::MAX` creators. Violations name `creators[i].<field>` (the first 10 found).
fn validate(values: &CohortValues<'_>) -> CoreResult<()> {
    let n = values.settled_gmv_fen.len();
    if values.sales_score.len() != n || values.effective_followers.len() != n {
        return Err(CoreError::InvalidArgument(vec![FieldViolation::new(
            "creators",
            "settled_gmv_fen, sales_score and effective_followers must have one entry per creator",
        )]));
    }
    if n > u32::MAX as usize {
        return Err(CoreError::InvalidArgument(vec![FieldViolation::new(
            "creators",
            "at most 4,294,967,295 creators in one call",
        )]));
    }
    let mut violations = Vec::new();
    for i in 0..n {
        if violations.len() >= 10 {
            break;
        }
        if values.settled_gmv_fen[i] < 0 {
            violations.push(FieldViolation::new(
                format!("creators[{i}].settled_gmv_fen"),
                "must be >= 0",
            ));
        }
        if !(0.0..=100.0).contains(&values.sales_score[i]) {
            violations.push(FieldViolation::new(
                format!("creators[{i}].sales_score"),
                "must be between 0 and 100",
            ));
        }
        if values.effective_followers[i] < 0 {
            violations.push(FieldViolation::new(
                format!("creators[{i}].effective_followers"),
                "must be >= 0",
            ));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(CoreError::InvalidArgument(violations))
    }
}

/// A radix key that sorts like the value: GMV and followers are ≥ 0 (checked), so their bits
/// already order; a sales score in [0, 100] is ≥ +0.0 after `+ 0.0` folds −0.0 into +0.0, and
/// non-negative IEEE floats order like their bits.
trait OrderKey: Copy {
    fn order_key(self) -> u64;
}

impl OrderKey for i64 {
    fn order_key(self) -> u64 {
        self as u64
    }
}

impl OrderKey for f64 {
    fn order_key(self) -> u64 {
        (self + 0.0).to_bits()
    }
}

/// Sorts `(key, position)` of every value into `scratch` (ascending key, ties in position
/// order: the radix sort is stable) and calls `visit(position, t)` with `t = 2L + E − 1` (see
/// the module doc) for each. `scratch` is reused across calls to spare the allocation.
fn mid_ranks<T: OrderKey>(
    values: &[T],
    scratch: &mut Vec<(u64, u32)>,
    mut visit: impl FnMut(usize, u64),
) {
    scratch.clear();
    scratch.extend(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (v.order_key(), i as u32)),
    );
    radsort::sort_by_key(scratch, |&(key, _)| key);
    for_each_tie_group(scratch, |start, group| {
        // L = start values below, E = group.len() equal ones.
        let t = (2 * start + group.len() - 1) as u64;
        for &(_, i) in group {
            visit(i as usize, t);
        }
    });
}

/// Calls `f(start, group)` for each run of equal keys of a sorted slice.
fn for_each_tie_group(sorted: &[(u64, u32)], mut f: impl FnMut(usize, &[(u64, u32)])) {
    let mut start = 0;
    while start < sorted.len() {
        let key = sorted[start].0;
        let mut end = start + 1;
        while end < sorted.len() && sorted[end].0 == key {
            end += 1;
        }
        f(start, &sorted[start..end]);
        start = end;
    }
}

/// Scores one cohort and appends its columns to `out` (ranks are 1-based within the cohort).
fn score_cohort(
    values: &CohortValues<'_>,
    weights: Weights,
    scratch: &mut Vec<(u64, u32)>,
    out: &mut Scores,
) {
    let n = values.settled_gmv_fen.len();
    let offset = out.score.len();
    if n == 0 {
        return;
    }
    if n == 1 {
        // A cohort of one scores 100 on everything.
        out.gmv_percentile.push(100.0);
        out.sales_percentile.push(100.0);
        out.followers_percentile.push(100.0);
        out.score.push(100.0);
        out.rank[offset] = 1;
        out.tier.push(Tier::S);
        return;
    }
    let end = offset + n;
    for column in [
        &mut out.gmv_percentile,
        &mut out.sales_percentile,
        &mut out.followers_percentile,
        &mut out.score,
    ] {
        column.resize(end, 0.0);
    }
    let percentile_denominator = (2 * (n - 1)) as f64;
    let percentile = |t: u64| (100 * t) as f64 / percentile_denominator;
    // numerator = Σ wₖ·tₖ; score = numerator / (20,000 (n − 1)): weights are ppm, percentiles
    // ×100 over 2(n − 1).
    let mut numerators = vec![0u64; n];
    let (wg, ws, wf) = (
        u64::from(weights.gmv_ppm),
        u64::from(weights.sales_ppm),
        u64::from(weights.followers_ppm),
    );
    let sales_out = &mut out.sales_percentile[offset..end];
    mid_ranks(values.sales_score, scratch, |i, t| {
        sales_out[i] = percentile(t);
        numerators[i] = ws * t;
    });
    let followers_out = &mut out.followers_percentile[offset..end];
    mid_ranks(values.effective_followers, scratch, |i, t| {
        followers_out[i] = percentile(t);
        numerators[i] += wf * t;
    });
    // GMV last: its sorted order is reused for the rank below.
    let gmv_out = &mut out.gmv_percentile[offset..end];
    mid_ranks(values.settled_gmv_fen, scratch, |i, t| {
        gmv_out[i] = percentile(t);
        numerators[i] += wg * t;
    });

    let score_denominator = 20_000 * (n as u64 - 1);
    let score_out = &mut out.score[offset..end];
    for (score, &numerator) in score_out.iter_mut().zip(&numerators) {
        *score = numerator as f64 / score_denominator as f64;
    }
    out.tier.extend(numerators.iter().map(|&numerator| {
        if numerator >= 90 * score_denominator {
            Tier::S
        } else if numerator >= 75 * score_denominator {
            Tier::A
        } else if numerator >= 50 * score_denominator {
            Tier::B
        } else {
            Tier::C
        }
    }));

    // Rank: score descending, then settled GMV descending, then position (creator id)
    // ascending. Lay the creators out by GMV descending, position ascending (the GMV sort's tie
    // groups from the last, each in position order), then stable-sort by score descending.
    let mut order: Vec<(u64, u32)> = Vec::with_capacity(n);
    let mut end = n;
    while end > 0 {
        let key = scratch[end - 1].0;
        let mut start = end - 1;
        while start > 0 && scratch[start - 1].0 == key {
            start -= 1;
        }
        order.extend(
            scratch[start..end]
                .iter()
                .map(|&(_, i)| (!numerators[i as usize], i)),
        );
        end = start;
    }
    radsort::sort_by_key(&mut order, |&(key, _)| key);
    for (rank, &(_, i)) in order.iter().enumerate() {
        out.rank[offset + i as usize] = rank as u32 + 1;
    }
}

/// Scores several cohorts laid out one after another in `values` (`cohort_sizes` entries each,
/// summing to the number of creators; each cohort in ascending `creator_id` order).
pub fn score_cohorts(
    values: &CohortValues<'_>,
    cohort_sizes: &[u32],
    weights: Weights,
) -> CoreResult<Scores> {
    weights.validate()?;
    validate(values)?;
    let n = values.settled_gmv_fen.len();
    let total: u64 = cohort_sizes.iter().map(|&s| u64::from(s)).sum();
    if total != n as u64 {
        return Err(CoreError::InvalidArgument(vec![FieldViolation::new(
            "cohort_sizes",
            format!("must add up to the number of creators ({n}), got {total}"),
        )]));
    }
    let mut out = Scores::with_capacity(n);
    let mut scratch = Vec::new();
    let mut start = 0;
    for &size in cohort_sizes {
        let end = start + size as usize;
        let cohort = CohortValues {
            settled_gmv_fen: &values.settled_gmv_fen[start..end],
            sales_score: &values.sales_score[start..end],
            effective_followers: &values.effective_followers[start..end],
        };
        score_cohort(&cohort, weights, &mut scratch, &mut out);
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(gmv: &[i64], sales: &[f64], followers: &[i64]) -> Scores {
        let values = CohortValues {
            settled_gmv_fen: gmv,
            sales_score: sales,
            effective_followers: followers,
        };
        score_cohorts(&values, &[gmv.len() as u32], Weights::RULE_2025).unwrap()
    }

    #[test]
    fn mid_rank_percentiles_with_ties() {
        // GMV 10, 20, 20, 30: L/E = 0/1, 1/2, 1/2, 3/1 → t = 0, 3, 3, 6 over 2(n−1) = 6.
        let s = score(&[10, 20, 20, 30], &[50.0; 4], &[0; 4]);
        assert_eq!(s.gmv_percentile, vec![0.0, 50.0, 50.0, 100.0]);
        // All equal: t = n − 1, so every percentile is 50.
        assert_eq!(s.sales_percentile, vec![50.0; 4]);
        assert_eq!(s.followers_percentile, vec![50.0; 4]);
    }

    #[test]
    fn cohort_of_one_scores_100() {
        let s = score(&[0], &[0.0], &[0]);
        assert_eq!(s.score, vec![100.0]);
        assert_eq!(s.rank, vec![1]);
        assert_eq!(s.tier, vec![Tier::S]);
    }

    #[test]
    fn rank_breaks_ties_by_gmv_then_position() {
        // Creator 0 and 1 tie on every percentile except... make them tie on score exactly:
        // swap GMV and followers ranks (weights 40/30/30 do not tie those), so use equal
        // sales and followers and a GMV tie, then the position decides.
        let s = score(&[5, 5, 1], &[70.0, 70.0, 90.0], &[3, 3, 3]);
        assert_eq!(s.score[0], s.score[1]);
        assert!(s.rank[0] < s.rank[1]);
        // Scores equal, GMV differs: higher GMV first even at a later position.
        // Creator a: gmv top (P=100), sales bottom (0); creator b: gmv bottom, sales top, with
        // weights 50/50/0 the two tie at 50.
        let values = CohortValues {
            settled_gmv_fen: &[1, 9],
            sales_score: &[80.0, 10.0],
            effective_followers: &[0, 0],
        };
        let w = Weights {
            gmv_ppm: 500_000,
            sales_ppm: 500_000,
            followers_ppm: 0,
        };
        let s = score_cohorts(&values, &[2], w).unwrap();
        assert_eq!(s.score, vec![50.0, 50.0]);
        assert_eq!(s.rank, vec![2, 1]);
    }

    #[test]
    fn tiers_at_their_thresholds() {
        // 5 creators, one value each step: percentiles 0, 25, 50, 75, 100 on all three.
        let s = score(
            &[1, 2, 3, 4, 5],
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            &[1, 2, 3, 4, 5],
        );
        assert_eq!(s.score, vec![0.0, 25.0, 50.0, 75.0, 100.0]);
        assert_eq!(s.tier, vec![Tier::C, Tier::C, Tier::B, Tier::A, Tier::S]);
        assert_eq!(s.rank, vec![5, 4, 3, 2, 1]);
    }

    #[test]
    fn cohorts_are_scored_separately() {
        let values = CohortValues {
            settled_gmv_fen: &[1, 2, 7],
            sales_score: &[1.0, 2.0, 0.0],
            effective_followers: &[1, 2, 0],
        };
        let s = score_cohorts(&values, &[2, 1], Weights::RULE_2025).unwrap();
        assert_eq!(s.rank, vec![2, 1, 1]);
        assert_eq!(s.score, vec![0.0, 100.0, 100.0]);
    }

    #[test]
    fn refuses_bad_input() {
        let values = CohortValues {
            settled_gmv_fen: &[-1, 0],
            sales_score: &[100.5, f64::NAN],
            effective_followers: &[0, -3],
        };
        let Err(CoreError::InvalidArgument(v)) = score_cohorts(&values, &[2], Weights::RULE_2025)
        else {
            panic!("accepted bad values")
        };
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "creators[0].settled_gmv_fen",
                "creators[0].sales_score",
                "creators[1].sales_score",
                "creators[1].effective_followers"
            ]
        );
        let bad_weights = Weights {
            gmv_ppm: 400_000,
            sales_ppm: 300_000,
            followers_ppm: 300_001,
        };
        assert!(score_cohorts(&values, &[2], bad_weights).is_err());
        let ok = CohortValues {
            settled_gmv_fen: &[1],
            sales_score: &[1.0],
            effective_followers: &[1],
        };
        assert!(score_cohorts(&ok, &[2], Weights::RULE_2025).is_err());
    }

    #[test]
    fn sales_score_from_components() {
        assert_eq!(sales_score(19, 0, 0, 0, 20), 60.0);
        assert_eq!(sales_score(20, 0, 0, 0, 20), 100.0);
        // 10 % refunds, 5 % negative reviews, 2 % complaints: 100(0.36 + 0.38 + 0.196) = 93.6.
        assert_eq!(sales_score(500, 100_000, 50_000, 20_000, 20), 93.6);
        // Rates above 100 % are clipped.
        assert_eq!(sales_score(500, 2_000_000, 1_000_000, 4_000_000, 20), 0.0);
    }

    #[test]
    fn better_on_all_three_never_scores_lower() {
        // A small exhaustive check over a grid of cohorts.
        let gmv = [0, 5, 5, 9, 2, 7];
        let sales = [10.0, 60.0, 60.0, 99.5, 0.0, 60.0];
        let followers = [3, 3, 8, 1, 0, 9];
        let s = score(&gmv, &sales, &followers);
        for a in 0..6 {
            for b in 0..6 {
                if gmv[a] >= gmv[b] && sales[a] >= sales[b] && followers[a] >= followers[b] {
                    assert!(s.score[a] >= s.score[b], "{a} vs {b}");
                }
            }
        }
    }
}
