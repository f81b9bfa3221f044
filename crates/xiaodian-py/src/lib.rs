//! The edge of the xiaodian engines: everything that knows a caller's format.
//!
//! - [`proto`]: the `xiaodian.v1` protobuf messages, generated from `proto/` by prost at build
//!   time (`build.rs`);
//! - [`wire`]: orders read from their encodings, checked against SPEC §5 and turned into the
//!   split's input; the settlement store's rows and the recording responses;
//! - `bindings` (feature `python`): the PyO3 module `xiaodian._core`, the one place where
//!   engine errors become the Python classes of `xiaodian.errors` (which the server maps to
//!   gRPC statuses).

pub mod proto {
    //! `xiaodian.v1`, as prost generates it.
    #![allow(clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/xiaodian.v1.rs"));
}
pub mod api_error;
pub mod creators;
pub mod page_tokens;
pub mod search;
pub mod wire;

#[cfg(feature = "python")]
mod bindings;

/// The extension's allocator. Inside a Python process glibc's heap is fragmented by the
/// interpreter's own objects, and every String and Vec the engines allocate paid for it
/// (a third of recording's row building went to `_int_malloc` and `malloc_consolidate`);
/// mimalloc keeps Rust's allocations in its own thread-local pages. Memory handed to
/// Python is always copied into Python objects, so the two heaps never free each other's.
#[cfg(feature = "python")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
