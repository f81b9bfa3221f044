//! Platform pieces shared by the services: page tokens.

use pyo3::prelude::*;

use super::api_err;
use crate::page_tokens::{PageTokens as Keys, TokenValue};

/// A value carried by a page token: an int (within int64) or a string.
#[derive(FromPyObject, IntoPyObject)]
enum Value {
    Int(i64),
    Str(String),
}

/// Issues and reads the signed page tokens of one server (`crate::page_tokens`).
#[pyclass(frozen, name = "PageTokens")]
pub(super) struct PageTokens(pub(super) Keys);

#[pymethods]
impl PageTokens {
    /// Keys of at least 32 bytes; `previous_key` still reads tokens during a rotation.
    #[new]
    #[pyo3(signature = (key, previous_key = None))]
    fn new(key: Vec<u8>, previous_key: Option<Vec<u8>>) -> PyResult<Self> {
        Keys::new(key, previous_key)
            .map(Self)
            .map_err(pyo3::exceptions::PyValueError::new_err)
    }

    /// A token of `kind` carrying `values`.
    fn issue(&self, kind: &str, values: Vec<Value>) -> String {
        let values: Vec<TokenValue> = values
            .into_iter()
            .map(|v| match v {
                Value::Int(i) => TokenValue::Int(i),
                Value::Str(s) => TokenValue::Str(s),
            })
            .collect();
        self.0.issue(kind, &values)
    }

    /// The `count` values of a token issued for `kind`; InvalidArgument on `field` otherwise.
    #[pyo3(signature = (token, kind, count, field = "page_token"))]
    fn read(&self, token: &str, kind: &str, count: usize, field: &str) -> PyResult<Vec<Value>> {
        let values = self.0.read(token, kind, count, field).map_err(api_err)?;
        Ok(values
            .into_iter()
            .map(|v| match v {
                TokenValue::Int(i) => Value::Int(i),
                TokenValue::Str(s) => Value::Str(s),
            })
            .collect())
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PageTokens>()
}
