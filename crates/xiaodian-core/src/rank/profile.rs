//! A ranking profile: every weight of the phased ranking, named and versioned (Vespa-style).
//!
//! The service stores profiles; the engine reads them. Validation lives here so that the
//! Rust engine and every caller agree on what a usable profile is.

use crate::error::{CoreError, CoreResult, FieldViolation};
use crate::text::{is_han, normalize};

/// Longest accepted profile description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Largest accepted second-phase depth (products re-ranked per query).
pub const MAX_RERANK_DEPTH: u32 = 100_000;
/// A dHash has 64 bits, so no Hamming distance exceeds 64.
pub const MAX_DUPLICATE_DISTANCE: u32 = 64;
/// Longest accepted new-merchant window: ten years.
pub const MAX_NEW_MERCHANT_WINDOW_DAYS: u32 = 3650;
/// Most synonym groups in a profile.
pub const MAX_SYNONYM_GROUPS: usize = 1000;
/// Most words in one synonym group.
pub const MAX_SYNONYM_GROUP_WORDS: usize = 20;
/// Longest synonym, in characters (the shortest is two).
pub const MAX_SYNONYM_CHARS: usize = 20;

/// Weights and parameters of the search ranking. Field names match `xiaodian.v1.RankingProfile`.
///
/// Invariant after [`RankingProfile::validate`]: every `f64` is finite and non-negative,
/// `bm25_b` is in [0, 1], at least one field weight is positive, the rating prior mean is a
/// valid rating (1–5), the shop-score prior mean a valid experience score (0–5).
#[derive(Debug, Clone, PartialEq)]
pub struct RankingProfile {
    /// Profile name: 1–63 characters of `[a-z0-9_-]`, starting with a letter.
    pub name: String,
    /// Free text for people; at most [`MAX_DESCRIPTION_CHARS`] characters.
    pub description: String,
    /// BM25 term-frequency saturation.
    pub bm25_k1: f64,
    /// BM25 length normalisation, in [0, 1].
    pub bm25_b: f64,
    /// BM25F weight of the product title.
    pub title_weight: f64,
    /// BM25F weight of the shop name.
    pub shop_name_weight: f64,
    /// BM25F weight of the brand.
    pub brand_weight: f64,
    /// Second phase: weight of the first-phase text relevance.
    pub text_weight: f64,
    /// Second phase: weight of the hero-image quality score (0–1).
    pub hero_quality_weight: f64,
    /// Second phase: weight of the Bayesian product rating.
    pub rating_weight: f64,
    /// Second phase: weight of the smoothed shop experience score.
    pub shop_score_weight: f64,
    /// Second phase: weight of `log1p(sales_30d)`.
    pub sales_weight: f64,
    /// Bayesian rating prior: C, the number of virtual reviews.
    pub rating_prior_count: f64,
    /// Bayesian rating prior: m, the rating of the virtual reviews (1–5).
    pub rating_prior_mean: f64,
    /// Shop experience score prior: number of virtual reviews.
    pub shop_score_prior_count: f64,
    /// Shop experience score prior: the virtual score (0–5).
    pub shop_score_prior_mean: f64,
    /// Multiplier on the final score of products of brand-verified shops.
    pub brand_multiplier: f64,
    /// Multiplier on the final score of products of shops opened within the window.
    pub new_merchant_multiplier: f64,
    /// A shop is new for this many days after `opened_at` (a day is 24 hours).
    pub new_merchant_window_days: u32,
    /// Number of first-phase hits re-ranked by the second phase.
    pub rerank_depth: u32,
    /// Hero images whose dHashes differ in at most this many bits are near-duplicates.
    pub duplicate_max_distance: u32,
    /// Groups of words that mean the same product (手机壳 ⇄ 手机套 ⇄ 保护壳): a query word in a
    /// group also matches a product with another word of it, its terms' scores weighed by
    /// `synonym_weight`. Each word is 2–[`MAX_SYNONYM_CHARS`] Chinese characters (stored as
    /// given, compared normalised) and in one group only.
    pub synonyms: Vec<Vec<String>>,
    /// Weight of the scores of terms matched through a synonym, in (0, 1).
    pub synonym_weight: f64,
    /// Weight of the scores of terms matched approximately (pinyin, initials, same sound,
    /// Latin typos: `rank::approximate`), in (0, 1).
    pub approximate_weight: f64,
}

/// The built-in synonym groups of the `default` profile.
pub const DEFAULT_SYNONYMS: &[&[&str]] = &[
    &["手机壳", "手机套", "保护壳"],
    &["卫衣", "连帽衫"],
    &["充电宝", "移动电源"],
    &["纸尿裤", "尿不湿"],
    &["洗面奶", "洁面乳"],
];

impl Default for RankingProfile {
    /// The built-in `default` profile. Brands get twice the score of non-brands (SPEC §3),
    /// shops are new for 90 days, the second phase looks at the top 1,000.
    fn default() -> Self {
        Self {
            name: "default".to_owned(),
            description: String::new(),
            bm25_k1: 1.2,
            bm25_b: 0.75,
            title_weight: 2.0,
            shop_name_weight: 1.0,
            brand_weight: 1.5,
            text_weight: 1.0,
            hero_quality_weight: 0.3,
            rating_weight: 0.3,
            shop_score_weight: 0.2,
            sales_weight: 0.2,
            rating_prior_count: 20.0,
            rating_prior_mean: 4.5,
            shop_score_prior_count: 50.0,
            shop_score_prior_mean: 4.0,
            brand_multiplier: 2.0,
            new_merchant_multiplier: 1.2,
            new_merchant_window_days: 90,
            rerank_depth: 1000,
            duplicate_max_distance: 6,
            synonyms: DEFAULT_SYNONYMS
                .iter()
                .map(|group| group.iter().map(|&word| word.to_owned()).collect())
                .collect(),
            synonym_weight: 0.8,
            approximate_weight: 0.7,
        }
    }
}

/// True for 1–63 characters of `[a-z0-9_-]` starting with `[a-z]`.
pub fn is_valid_profile_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first.is_ascii_lowercase() => {}
        _ => return false,
    }
    name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl RankingProfile {
    /// Checks every rule and reports all violations at once, so a caller fixes them in one go.
    pub fn validate(&self) -> CoreResult<()> {
        let mut violations = Vec::new();
        if !is_valid_profile_name(&self.name) {
            violations.push(FieldViolation::new(
                "name",
                "must be 1-63 characters of a-z, 0-9, '_' or '-', starting with a letter",
            ));
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            violations.push(FieldViolation::new(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        let non_negative = [
            ("bm25_k1", self.bm25_k1),
            ("title_weight", self.title_weight),
            ("shop_name_weight", self.shop_name_weight),
            ("brand_weight", self.brand_weight),
            ("text_weight", self.text_weight),
            ("hero_quality_weight", self.hero_quality_weight),
            ("rating_weight", self.rating_weight),
            ("shop_score_weight", self.shop_score_weight),
            ("sales_weight", self.sales_weight),
            ("rating_prior_count", self.rating_prior_count),
            ("shop_score_prior_count", self.shop_score_prior_count),
            ("brand_multiplier", self.brand_multiplier),
            ("new_merchant_multiplier", self.new_merchant_multiplier),
        ];
        for (field, value) in non_negative {
            if !(value.is_finite() && value >= 0.0) {
                violations.push(FieldViolation::new(
                    field,
                    format!("must be finite and >= 0, got {value}"),
                ));
            }
        }
        let bounded = [
            ("bm25_b", self.bm25_b, 0.0, 1.0),
            ("rating_prior_mean", self.rating_prior_mean, 1.0, 5.0),
            (
                "shop_score_prior_mean",
                self.shop_score_prior_mean,
                0.0,
                5.0,
            ),
        ];
        for (field, value, low, high) in bounded {
            if !(value.is_finite() && (low..=high).contains(&value)) {
                violations.push(FieldViolation::new(
                    field,
                    format!("must be within [{low}, {high}], got {value}"),
                ));
            }
        }
        let field_weights = [self.title_weight, self.shop_name_weight, self.brand_weight];
        if field_weights.iter().all(|w| w.is_finite() && *w >= 0.0)
            && field_weights.iter().all(|w| *w == 0.0)
        {
            violations.push(FieldViolation::new(
                "title_weight",
                "at least one of title_weight, shop_name_weight, brand_weight must be > 0",
            ));
        }
        if self.rerank_depth == 0 || self.rerank_depth > MAX_RERANK_DEPTH {
            violations.push(FieldViolation::new(
                "rerank_depth",
                format!(
                    "must be within [1, {MAX_RERANK_DEPTH}], got {}",
                    self.rerank_depth
                ),
            ));
        }
        if self.duplicate_max_distance > MAX_DUPLICATE_DISTANCE {
            violations.push(FieldViolation::new(
                "duplicate_max_distance",
                format!(
                    "must be within [0, {MAX_DUPLICATE_DISTANCE}], got {}",
                    self.duplicate_max_distance
                ),
            ));
        }
        if self.new_merchant_window_days > MAX_NEW_MERCHANT_WINDOW_DAYS {
            violations.push(FieldViolation::new(
                "new_merchant_window_days",
                format!(
                    "must be within [0, {MAX_NEW_MERCHANT_WINDOW_DAYS}], got {}",
                    self.new_merchant_window_days
                ),
            ));
        }
        for (field, weight) in [
            ("synonym_weight", self.synonym_weight),
            ("approximate_weight", self.approximate_weight),
        ] {
            if !(weight.is_finite() && weight > 0.0 && weight < 1.0) {
                violations.push(FieldViolation::new(
                    field,
                    format!("must be > 0 and < 1, got {weight}"),
                ));
            }
        }
        self.check_synonyms(&mut violations);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(CoreError::InvalidArgument(violations))
        }
    }

    fn check_synonyms(&self, violations: &mut Vec<FieldViolation>) {
        if self.synonyms.len() > MAX_SYNONYM_GROUPS {
            violations.push(FieldViolation::new(
                "synonyms.groups",
                format!("must have at most {MAX_SYNONYM_GROUPS} groups"),
            ));
            return;
        }
        let mut seen = std::collections::HashSet::new();
        for (g, group) in self.synonyms.iter().enumerate() {
            let at = format!("synonyms.groups[{g}].words");
            if !(2..=MAX_SYNONYM_GROUP_WORDS).contains(&group.len()) {
                violations.push(FieldViolation::new(
                    at.clone(),
                    format!("must have 2-{MAX_SYNONYM_GROUP_WORDS} words"),
                ));
            }
            for (w, word) in group.iter().enumerate() {
                let normalized = normalize(word);
                let chars = normalized.chars().count();
                if !(2..=MAX_SYNONYM_CHARS).contains(&chars) || !normalized.chars().all(is_han) {
                    violations.push(FieldViolation::new(
                        format!("{at}[{w}]"),
                        format!("must be 2-{MAX_SYNONYM_CHARS} Chinese characters"),
                    ));
                } else if !seen.insert(normalized) {
                    violations.push(FieldViolation::new(
                        format!("{at}[{w}]"),
                        "is already a synonym in this profile (a word belongs to one group)",
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: CoreResult<()>) -> Vec<String> {
        match result {
            Err(CoreError::InvalidArgument(v)) => v.into_iter().map(|v| v.field).collect(),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn default_profile_is_valid() {
        assert_eq!(RankingProfile::default().validate(), Ok(()));
    }

    #[test]
    fn names() {
        for good in ["default", "a", "spring-sale_2025", &"a".repeat(63)] {
            assert!(is_valid_profile_name(good), "{good}");
        }
        for bad in [
            "",
            "1abc",
            "Default",
            "has space",
            "中文",
            "-x",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_profile_name(bad), "{bad}");
        }
    }

    #[test]
    fn negative_nan_and_infinite_weights_are_each_reported() {
        let profile = RankingProfile {
            title_weight: -1.0,
            sales_weight: f64::NAN,
            brand_multiplier: f64::INFINITY,
            ..RankingProfile::default()
        };
        assert_eq!(
            fields(profile.validate()),
            ["title_weight", "sales_weight", "brand_multiplier"]
        );
    }

    #[test]
    fn bounded_parameters() {
        let profile = RankingProfile {
            bm25_b: 1.5,
            rating_prior_mean: 0.5,
            rerank_depth: 0,
            duplicate_max_distance: 65,
            ..RankingProfile::default()
        };
        assert_eq!(
            fields(profile.validate()),
            [
                "bm25_b",
                "rating_prior_mean",
                "rerank_depth",
                "duplicate_max_distance"
            ]
        );
    }

    #[test]
    fn synonyms_are_chinese_words_in_one_group_each_and_weigh_below_one() {
        let profile = RankingProfile {
            synonyms: vec![
                vec!["手机壳".into(), "手机套".into()],
                vec!["卫衣".into()],
                vec!["手机套".into(), "x1".into(), "壳".into()],
            ],
            synonym_weight: 1.0,
            ..RankingProfile::default()
        };
        assert_eq!(
            fields(profile.validate()),
            [
                "synonym_weight",
                "synonyms.groups[1].words",
                "synonyms.groups[2].words[0]",
                "synonyms.groups[2].words[1]",
                "synonyms.groups[2].words[2]",
            ]
        );
    }

    #[test]
    fn all_field_weights_zero_is_refused() {
        let profile = RankingProfile {
            title_weight: 0.0,
            shop_name_weight: 0.0,
            brand_weight: 0.0,
            ..RankingProfile::default()
        };
        assert_eq!(fields(profile.validate()), ["title_weight"]);
    }

    #[test]
    fn description_limit_counts_characters_not_bytes() {
        let ok = RankingProfile {
            description: "羊".repeat(1000),
            ..RankingProfile::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        let long = RankingProfile {
            description: "羊".repeat(1001),
            ..RankingProfile::default()
        };
        assert_eq!(fields(long.validate()), ["description"]);
    }
}
