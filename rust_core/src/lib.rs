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

/// The extension's allocator. Inside a Python process glibc's heap is fragmented by the
/// interpreter's own objects, and every String and Vec the engines allocate paid for it
/// (a third of recording's row building went to `_int_malloc` and `malloc_consolidate`);
/// mimalloc keeps Rust's allocations in its own thread-local pages. Memory handed to
/// Python is always copied into Python objects, so the two heaps never free each other's.
#[cfg(feature = "python")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
