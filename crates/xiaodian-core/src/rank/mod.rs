//! Search ranking: the versioned ranking profile (weights of every phase), the in-memory
//! index and query execution.

pub mod approximate;
pub mod index;
pub mod profile;
pub mod search;
pub mod suggest;
