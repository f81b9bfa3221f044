//! xiaodian engines in pure Rust: text analysis, the search index and ranking, hero images,
//! creator scoring and commission settlement. Nothing here knows its callers' formats: no
//! pyo3, no protobuf, no SQL rows, no JSON; errors name fields and rules, not gRPC codes.
//! The wire and the Python binding live in the `xiaodian-py` crate.

pub mod creator;
pub mod error;
pub mod hero;
pub mod rank;
pub mod settle;
pub mod text;

pub use error::{CoreError, CoreResult, FieldViolation};
pub use rank::profile::RankingProfile;
