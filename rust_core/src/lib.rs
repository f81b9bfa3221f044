//! xiaodian engines in pure Rust. No module here imports pyo3: the binding layer is
//! `python.rs`, compiled only with the `python` feature, so `cargo test` needs no Python.

pub mod creator;
pub mod error;
pub mod hero;
pub mod rank;
pub mod settle;
pub mod text;

pub use error::{CoreError, CoreResult, FieldViolation};
pub use rank::profile::RankingProfile;

#[cfg(feature = "python")]
mod python;
