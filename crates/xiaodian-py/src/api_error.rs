//! What a call answers when it fails, before it is a gRPC status: the kind (one class of
//! `xiaodian.errors` each, which the server maps to the status code), the message, the field
//! violations and the `ErrorInfo` reason. Engine errors ([`CoreError`]) convert into it; the
//! binding turns it into the Python exception, in one place (`bindings::to_py_err`).

use xiaodian_core::{CoreError, FieldViolation};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The request breaks one or more rules (`reason` None: the class's default).
    InvalidArgument {
        message: String,
        violations: Vec<FieldViolation>,
        reason: Option<&'static str>,
    },
    /// A name the request gives does not exist; `metadata` goes to `ErrorInfo`.
    NotFound {
        message: String,
        reason: &'static str,
        metadata: Vec<(&'static str, String)>,
    },
    /// The state forbids the operation.
    FailedPrecondition { message: String },
}

impl ApiError {
    /// One violation on `field`, the message made of it.
    pub fn invalid(field: &str, description: &str) -> Self {
        Self::from_violations(vec![FieldViolation::new(field, description)])
    }

    /// Every violation found, the message made of them.
    pub fn from_violations(violations: Vec<FieldViolation>) -> Self {
        let message = violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        Self::InvalidArgument {
            message,
            violations,
            reason: None,
        }
    }

    /// Every violation of a request, the message naming the first five (as
    /// `xiaodian.platform.validation.Violations.raise_if_any`).
    pub fn invalid_request(violations: Vec<FieldViolation>) -> Self {
        let shown: Vec<String> = violations.iter().take(5).map(ToString::to_string).collect();
        let more = match violations.len() {
            n if n > 5 => format!(" (and {} more)", n - 5),
            _ => String::new(),
        };
        Self::InvalidArgument {
            message: format!("invalid request: {}{more}", shown.join("; ")),
            violations,
            reason: None,
        }
    }

    /// Bytes that do not parse as the method's request message `message_name`.
    pub fn malformed(message_name: &str) -> Self {
        Self::InvalidArgument {
            message: format!("the request is not a valid {message_name} message"),
            violations: vec![FieldViolation::new(
                "request",
                format!("bytes do not parse as {message_name}"),
            )],
            reason: Some("MALFORMED_REQUEST"),
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::InvalidArgument(ref violations) => Self::InvalidArgument {
                message: error.to_string(),
                violations: violations.clone(),
                reason: None,
            },
            CoreError::Overflow(_) => Self::InvalidArgument {
                message: error.to_string(),
                violations: Vec::new(),
                reason: None,
            },
            CoreError::FailedPrecondition(_) => Self::FailedPrecondition {
                message: error.to_string(),
            },
        }
    }
}
