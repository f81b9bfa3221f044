//! Creator scoring: sales scores and the ranked columns of a period.

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use xiaodian_core::creator::{self, CohortValues, Weights};
use xiaodian_core::error::{CoreError, FieldViolation};

use super::to_py_err;
use crate::creators::{self, ScoreRow};

/// The sales scores (带货分) of many creators from their 90-day components
/// (`creator::sales_score`); the four lists have one entry per creator.
#[pyfunction]
fn sales_scores(
    order_count_90d: Vec<i64>,
    quality_refund_rate_ppm: Vec<u32>,
    negative_review_rate_ppm: Vec<u32>,
    complaint_rate_ppm: Vec<u32>,
    min_orders: i64,
) -> PyResult<Vec<f64>> {
    let n = order_count_90d.len();
    if [
        &quality_refund_rate_ppm,
        &negative_review_rate_ppm,
        &complaint_rate_ppm,
    ]
    .iter()
    .any(|column| column.len() != n)
    {
        return Err(to_py_err(CoreError::InvalidArgument(vec![
            FieldViolation::new(
                "sales_score_components",
                "every component needs one entry per creator",
            ),
        ])));
    }
    Ok((0..n)
        .map(|i| {
            creator::sales_score(
                order_count_90d[i],
                quality_refund_rate_ppm[i],
                negative_review_rate_ppm[i],
                complaint_rate_ppm[i],
                min_orders,
            )
        })
        .collect())
}

/// Native-endian bytes of a column, for `array.array(code).frombytes` on the Python side.
fn column_bytes<'py, T: Copy, const N: usize>(
    py: Python<'py>,
    values: &[T],
    to_bytes: fn(T) -> [u8; N],
) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, values.len() * N, |buffer| {
        for (chunk, &value) in buffer.chunks_exact_mut(N).zip(values) {
            chunk.copy_from_slice(&to_bytes(value));
        }
        Ok(())
    })
}

/// Columns of `score_creators`, each as native-endian bytes: gmv, sales and followers
/// percentiles (f64), score (f64), rank (u32), tier (u8, `CreatorTier`).
type ScoreColumns<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
);

/// Scores cohorts of creators (`creator::score_cohorts`, GIL released). The raw values come
/// as buffers (`array('q')`, `array('d')`, …) laid out cohort after cohort, each cohort in
/// ascending creator_id order; `weights` are (gmv, sales, followers) ppm.
#[pyfunction]
fn score_creators<'py>(
    py: Python<'py>,
    settled_gmv_fen: PyBuffer<i64>,
    sales_score: PyBuffer<f64>,
    effective_followers: PyBuffer<i64>,
    cohort_sizes: Vec<u32>,
    weights: (u32, u32, u32),
) -> PyResult<ScoreColumns<'py>> {
    let gmv = settled_gmv_fen.to_vec(py)?;
    let sales = sales_score.to_vec(py)?;
    let followers = effective_followers.to_vec(py)?;
    let weights = Weights {
        gmv_ppm: weights.0,
        sales_ppm: weights.1,
        followers_ppm: weights.2,
    };
    let scores = py
        .detach(|| {
            let values = CohortValues {
                settled_gmv_fen: &gmv,
                sales_score: &sales,
                effective_followers: &followers,
            };
            creator::score_cohorts(&values, &cohort_sizes, weights)
        })
        .map_err(to_py_err)?;
    let tiers: Vec<u8> = scores.tier.iter().map(|&t| t as u8).collect();
    Ok((
        column_bytes(py, &scores.gmv_percentile, f64::to_ne_bytes)?,
        column_bytes(py, &scores.sales_percentile, f64::to_ne_bytes)?,
        column_bytes(py, &scores.followers_percentile, f64::to_ne_bytes)?,
        column_bytes(py, &scores.score, f64::to_ne_bytes)?,
        column_bytes(py, &scores.rank, u32::to_ne_bytes)?,
        PyBytes::new(py, &tiers),
    ))
}

/// A `creator_scores` row joined with its run, as `xiaodian.creators.store.SCORE_COLUMNS`
/// selects it (a tuple of 17: more than pyo3 extracts as one Rust tuple).
fn score_row(row: &Bound<'_, PyAny>) -> PyResult<ScoreRow> {
    let row = row.cast::<PyTuple>()?;
    if row.len() != 17 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "a score row has 17 columns",
        ));
    }
    let at = |i: usize| row.get_item(i);
    Ok(ScoreRow {
        creator_id: at(0)?.extract()?,
        period: at(1)?.extract()?,
        cohort: at(2)?.extract()?,
        score: at(3)?.extract()?,
        gmv_percentile: at(4)?.extract()?,
        sales_percentile: at(5)?.extract()?,
        followers_percentile: at(6)?.extract()?,
        settled_gmv_fen: at(7)?.extract()?,
        sales_score: at(8)?.extract()?,
        effective_followers: at(9)?.extract()?,
        rank: at(10)?.extract()?,
        cohort_size: at(11)?.extract()?,
        tier: at(12)?.extract()?,
        gmv_weight_ppm: at(13)?.extract()?,
        sales_weight_ppm: at(14)?.extract()?,
        followers_weight_ppm: at(15)?.extract()?,
        scored_at_us: at(16)?.extract()?,
    })
}

/// The encoded `GetCreatorScoreResponse` of one score row.
#[pyfunction]
fn get_creator_score_response<'py>(
    py: Python<'py>,
    row: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let row = score_row(row)?;
    Ok(PyBytes::new(py, &creators::get_creator_score_response(row)))
}

/// The encoded `ListTopCreatorsResponse` of a page of score rows.
#[pyfunction]
fn list_top_creators_response<'py>(
    py: Python<'py>,
    rows: Vec<Bound<'py, PyAny>>,
    next_page_token: String,
    cohort_size: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    let rows = rows.iter().map(score_row).collect::<PyResult<Vec<_>>>()?;
    Ok(PyBytes::new(
        py,
        &creators::list_top_creators_response(rows, next_page_token, cohort_size),
    ))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(get_creator_score_response, m)?)?;
    m.add_function(wrap_pyfunction!(list_top_creators_response, m)?)?;
    m.add_function(wrap_pyfunction!(sales_scores, m)?)?;
    m.add_function(wrap_pyfunction!(score_creators, m)?)
}
