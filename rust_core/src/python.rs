//! The only file that imports pyo3: conversions between Python values and the pure Rust
//! engine types, the mapping of [`CoreError`] to the Python hierarchy in `xiaodian.errors`,
//! and GIL release around long-running work.

use pyo3::prelude::*;

use crate::error::{CoreError, FieldViolation};
use crate::rank::profile::RankingProfile;

// One exception hierarchy for the whole project, defined in Python (`xiaodian.errors`):
// the engine raises the very classes that the server maps to gRPC status codes and that
// the client raises to its callers. `InvalidArgument` subclasses `ValueError`.
pyo3::import_exception!(xiaodian.errors, InvalidArgument);
pyo3::import_exception!(xiaodian.errors, FailedPrecondition);

/// `CoreError` → an instance of the matching `xiaodian.errors` class.
fn to_py_err(error: CoreError) -> PyErr {
    let message = error.to_string();
    match error {
        CoreError::InvalidArgument(violations) => {
            let pairs: Vec<(String, String)> = violations
                .into_iter()
                .map(|FieldViolation { field, description }| (field, description))
                .collect();
            InvalidArgument::new_err((message, pairs))
        }
        CoreError::Overflow(_) => {
            InvalidArgument::new_err((message, Vec::<(String, String)>::new()))
        }
        CoreError::FailedPrecondition(_) => FailedPrecondition::new_err((message,)),
    }
}

/// A ranking profile as a Python dict keyed by the `xiaodian.v1.RankingProfile` field names.
/// Destructured in both conversions so that a field added to [`RankingProfile`] and forgotten
/// here is a compile error.
#[derive(FromPyObject, IntoPyObject)]
#[pyo3(from_item_all)]
struct ProfileDict {
    name: String,
    description: String,
    bm25_k1: f64,
    bm25_b: f64,
    title_weight: f64,
    shop_name_weight: f64,
    brand_weight: f64,
    text_weight: f64,
    hero_quality_weight: f64,
    rating_weight: f64,
    shop_score_weight: f64,
    sales_weight: f64,
    rating_prior_count: f64,
    rating_prior_mean: f64,
    shop_score_prior_count: f64,
    shop_score_prior_mean: f64,
    brand_multiplier: f64,
    new_merchant_multiplier: f64,
    new_merchant_window_days: u32,
    rerank_depth: u32,
    duplicate_max_distance: u32,
}

impl From<ProfileDict> for RankingProfile {
    fn from(d: ProfileDict) -> Self {
        let ProfileDict {
            name,
            description,
            bm25_k1,
            bm25_b,
            title_weight,
            shop_name_weight,
            brand_weight,
            text_weight,
            hero_quality_weight,
            rating_weight,
            shop_score_weight,
            sales_weight,
            rating_prior_count,
            rating_prior_mean,
            shop_score_prior_count,
            shop_score_prior_mean,
            brand_multiplier,
            new_merchant_multiplier,
            new_merchant_window_days,
            rerank_depth,
            duplicate_max_distance,
        } = d;
        Self {
            name,
            description,
            bm25_k1,
            bm25_b,
            title_weight,
            shop_name_weight,
            brand_weight,
            text_weight,
            hero_quality_weight,
            rating_weight,
            shop_score_weight,
            sales_weight,
            rating_prior_count,
            rating_prior_mean,
            shop_score_prior_count,
            shop_score_prior_mean,
            brand_multiplier,
            new_merchant_multiplier,
            new_merchant_window_days,
            rerank_depth,
            duplicate_max_distance,
        }
    }
}

impl From<RankingProfile> for ProfileDict {
    fn from(p: RankingProfile) -> Self {
        let RankingProfile {
            name,
            description,
            bm25_k1,
            bm25_b,
            title_weight,
            shop_name_weight,
            brand_weight,
            text_weight,
            hero_quality_weight,
            rating_weight,
            shop_score_weight,
            sales_weight,
            rating_prior_count,
            rating_prior_mean,
            shop_score_prior_count,
            shop_score_prior_mean,
            brand_multiplier,
            new_merchant_multiplier,
            new_merchant_window_days,
            rerank_depth,
            duplicate_max_distance,
        } = p;
        Self {
            name,
            description,
            bm25_k1,
            bm25_b,
            title_weight,
            shop_name_weight,
            brand_weight,
            text_weight,
            hero_quality_weight,
            rating_weight,
            shop_score_weight,
            sales_weight,
            rating_prior_count,
            rating_prior_mean,
            shop_score_prior_count,
            shop_score_prior_mean,
            brand_multiplier,
            new_merchant_multiplier,
            new_merchant_window_days,
            rerank_depth,
            duplicate_max_distance,
        }
    }
}

/// The built-in default ranking profile, as a dict.
#[pyfunction]
fn default_ranking_profile() -> ProfileDict {
    RankingProfile::default().into()
}

/// Validates a ranking profile dict; raises `xiaodian.errors.InvalidArgument` listing every
/// violated rule (field names relative to the profile).
#[pyfunction]
fn validate_ranking_profile(profile: ProfileDict) -> PyResult<()> {
    RankingProfile::from(profile).validate().map_err(to_py_err)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(default_ranking_profile, m)?)?;
    m.add_function(wrap_pyfunction!(validate_ranking_profile, m)?)?;
    Ok(())
}
