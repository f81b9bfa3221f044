//! Hero images: analysis and dHash distance.

use pyo3::prelude::*;

use xiaodian_core::hero::{self, HeroReport};

use super::to_py_err;

/// A hero-image report as a dict (keys as `xiaodian.v1.HeroImageReport`; `format` is the
/// enum's number).
#[derive(IntoPyObject)]
struct HeroReportDict {
    width: u32,
    height: u32,
    format: u32,
    squareness: f64,
    sharpness: f64,
    exposure: f64,
    border_whiteness: f64,
    dhash: u64,
    quality: f64,
}

impl From<HeroReport> for HeroReportDict {
    fn from(r: HeroReport) -> Self {
        Self {
            width: r.width,
            height: r.height,
            format: r.format as u32,
            squareness: r.squareness,
            sharpness: r.sharpness,
            exposure: r.exposure,
            border_whiteness: r.border_whiteness,
            dhash: r.dhash,
            quality: r.quality,
        }
    }
}

/// Decodes (with every limit checked first) and analyses a hero image; raises
/// `InvalidArgument` with a violation on `image_bytes` whose description starts with the
/// reason: format, size, dimensions, animation, corrupt, or memory (the analysis would hold
/// more than `max_decoded_bytes` at once, worked out from the header before decoding).
#[pyfunction]
fn analyze_hero_image(
    py: Python<'_>,
    image_bytes: &[u8],
    max_decoded_bytes: u64,
) -> PyResult<HeroReportDict> {
    py.detach(|| hero::analyze(image_bytes, max_decoded_bytes))
        .map(Into::into)
        .map_err(to_py_err)
}

/// Hamming distance between two dHashes.
#[pyfunction]
fn dhash_distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(analyze_hero_image, m)?)?;
    m.add_function(wrap_pyfunction!(dhash_distance, m)?)
}
