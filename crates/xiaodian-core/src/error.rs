//! The one error type of the engines. `python.rs` maps each variant to a class of the
//! Python hierarchy in `xiaodian.errors`; nothing else in the crate knows about Python.

use std::fmt;

/// One broken rule on one input field, as in `google.rpc.BadRequest.FieldViolation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the offending field relative to the value being checked, e.g. `title_weight`.
    pub field: String,
    /// The rule that was broken, readable by a person, e.g. `must be finite and >= 0`.
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The input breaks one or more rules; every violation found is listed.
    #[error("invalid argument: {}", join(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// Integer arithmetic would overflow; amounts this large are refused, never wrapped.
    #[error("arithmetic overflow: {0}")]
    Overflow(String),
    /// The input is well formed but the current state forbids the operation.
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
}

fn join(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

pub type CoreResult<T> = Result<T, CoreError>;
