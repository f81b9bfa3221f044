//! The only module that imports pyo3: the Python module `xiaodian._core`, one submodule per
//! domain (conversions between Python values and the engines' types, GIL release around
//! long-running work), and the one mapping of errors to the Python hierarchy in
//! `xiaodian.errors` (`to_py_err`), whose classes the server maps to gRPC statuses.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use xiaodian_core::error::{CoreError, FieldViolation};

use crate::api_error::ApiError;

mod creators;
mod hero;
mod platform;
mod search;
mod settle;

// One exception hierarchy for the whole project, defined in Python (`xiaodian.errors`):
// the engine raises the very classes that the server maps to gRPC status codes and that
// the client raises to its callers. `InvalidArgument` subclasses `ValueError`.
pyo3::import_exception!(xiaodian.errors, InvalidArgument);
pyo3::import_exception!(xiaodian.errors, FailedPrecondition);
pyo3::import_exception!(xiaodian.errors, NotFound);

fn pairs(violations: Vec<FieldViolation>) -> Vec<(String, String)> {
    violations
        .into_iter()
        .map(|FieldViolation { field, description }| (field, description))
        .collect()
}

/// `ApiError` → an instance of the matching `xiaodian.errors` class.
fn api_err(error: ApiError) -> PyErr {
    Python::attach(|py| {
        let made = (|| {
            let kwargs = PyDict::new(py);
            match error {
                ApiError::InvalidArgument {
                    message,
                    violations,
                    reason,
                } => {
                    if let Some(reason) = reason {
                        kwargs.set_item("reason", reason)?;
                    }
                    py.get_type::<InvalidArgument>()
                        .call((message, pairs(violations)), Some(&kwargs))
                }
                ApiError::NotFound {
                    message,
                    reason,
                    metadata,
                } => {
                    kwargs.set_item("reason", reason)?;
                    kwargs.set_item("metadata", metadata.into_iter().collect::<HashMap<_, _>>())?;
                    py.get_type::<NotFound>().call((message,), Some(&kwargs))
                }
                ApiError::FailedPrecondition { message } => {
                    py.get_type::<FailedPrecondition>().call1((message,))
                }
            }
        })();
        match made {
            Ok(instance) => PyErr::from_value(instance),
            Err(error) => error,
        }
    })
}

/// `CoreError` → an instance of the matching `xiaodian.errors` class.
fn to_py_err(error: CoreError) -> PyErr {
    api_err(ApiError::from(error))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    platform::register(m)?;
    search::register(m)?;
    hero::register(m)?;
    settle::register(m)?;
    creators::register(m)?;
    Ok(())
}
