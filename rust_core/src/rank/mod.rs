//! Search ranking: the versioned ranking profile (weights of every phase).

pub mod profile;
