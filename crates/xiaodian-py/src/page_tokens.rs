//! Page tokens (AIP-158) that cannot be forged: a few values, signed with HMAC-SHA256.
//!
//! A token is base64url(payload ‖ tag), unpadded: the payload is the JSON list
//! `[kind, value, …]` (kind names the method, say "statement"; the values say where the next
//! page starts and what it belongs to), the tag the first 16 bytes of HMAC-SHA256(key,
//! payload). A token is read only if its tag matches the current key or the previous one
//! (during a rotation), and only as the kind it was issued for; each reader then checks its
//! values' ranges ([`int_in`]). So a hand-edited or replayed token of another kind is
//! INVALID_ARGUMENT, and no token asks for more work than an honest page.
//!
//! The one implementation: the search path uses it in Rust, the Python services through
//! `xiaodian.platform.page_tokens`.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::api_error::ApiError;

/// The tag's length in bytes (128 bits: forging one takes 2^128 tries on average).
pub const TAG_BYTES: usize = 16;
/// Longest token accepted; every token the services issue is far shorter.
pub const MAX_TOKEN_CHARS: usize = 512;
/// Shortest key accepted.
pub const MIN_KEY_BYTES: usize = 32;

const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One value carried by a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenValue {
    Int(i64),
    Str(String),
}

/// The keys of one server: the current one signs, either one reads.
#[derive(Clone)]
pub struct PageTokens {
    keys: Vec<Vec<u8>>,
}

impl PageTokens {
    /// Refuses keys shorter than [`MIN_KEY_BYTES`].
    pub fn new(key: Vec<u8>, previous_key: Option<Vec<u8>>) -> Result<Self, String> {
        if key.len() < MIN_KEY_BYTES
            || previous_key
                .as_ref()
                .is_some_and(|k| k.len() < MIN_KEY_BYTES)
        {
            return Err(format!(
                "a page-token key has at least {MIN_KEY_BYTES} bytes"
            ));
        }
        Ok(Self {
            keys: std::iter::once(key).chain(previous_key).collect(),
        })
    }

    fn tag(key: &[u8], payload: &[u8]) -> [u8; TAG_BYTES] {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(payload);
        let digest = mac.finalize().into_bytes();
        let mut tag = [0; TAG_BYTES];
        tag.copy_from_slice(&digest[..TAG_BYTES]);
        tag
    }

    /// A token of `kind` carrying `values`.
    pub fn issue(&self, kind: &str, values: &[TokenValue]) -> String {
        let list: Vec<serde_json::Value> = std::iter::once(serde_json::Value::from(kind))
            .chain(values.iter().map(|v| match v {
                TokenValue::Int(i) => serde_json::Value::from(*i),
                TokenValue::Str(s) => serde_json::Value::from(s.as_str()),
            }))
            .collect();
        let mut raw = serde_json::to_vec(&list).expect("a list of ints and strings serializes");
        let tag = Self::tag(&self.keys[0], &raw);
        raw.extend_from_slice(&tag);
        BASE64.encode(raw)
    }

    /// The `count` values of a token issued for `kind`; INVALID_ARGUMENT on `field` if the
    /// token is not one this server issued for it (forged, edited, of another method).
    pub fn read(
        &self,
        token: &str,
        kind: &str,
        count: usize,
        field: &str,
    ) -> Result<Vec<TokenValue>, ApiError> {
        let bad = || {
            ApiError::invalid(
                field,
                "is not a page token of this request (pass next_page_token unchanged)",
            )
        };
        if token.len() > MAX_TOKEN_CHARS {
            return Err(bad());
        }
        let raw = BASE64.decode(token).map_err(|_| bad())?;
        if raw.len() <= TAG_BYTES {
            return Err(bad());
        }
        let (payload, tag) = raw.split_at(raw.len() - TAG_BYTES);
        // Constant time: `verify_truncated_left` compares the tag without early exit.
        let signed = self.keys.iter().any(|key| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
            mac.update(payload);
            mac.verify_truncated_left(tag).is_ok()
        });
        if !signed {
            return Err(bad());
        }
        let Ok(serde_json::Value::Array(list)) = serde_json::from_slice(payload) else {
            return Err(bad());
        };
        if list.len() != count + 1 || list[0].as_str() != Some(kind) {
            return Err(bad());
        }
        list[1..]
            .iter()
            .map(|v| match v {
                serde_json::Value::Number(n) => n.as_i64().map(TokenValue::Int),
                serde_json::Value::String(s) => Some(TokenValue::Str(s.clone())),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)
    }
}

/// `value` as an int within [low, high]; INVALID_ARGUMENT on `field` otherwise (a signed
/// token of an older server whose limits were wider).
pub fn int_in(value: &TokenValue, low: i64, high: i64, field: &str) -> Result<i64, ApiError> {
    match value {
        TokenValue::Int(i) if (low..=high).contains(i) => Ok(*i),
        _ => Err(ApiError::invalid(
            field,
            "is out of range for this server (start again from the first page)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(key: u8) -> PageTokens {
        PageTokens::new(vec![key; 32], None).unwrap()
    }

    #[test]
    fn a_token_reads_back_only_as_its_kind_and_key() {
        let values = vec![
            TokenValue::Str("escrow".into()),
            TokenValue::Int(-5),
            TokenValue::Int(i64::MAX),
        ];
        let token = tokens(1).issue("statement", &values);
        assert_eq!(
            tokens(1)
                .read(&token, "statement", 3, "page_token")
                .unwrap(),
            values
        );
        assert!(tokens(2)
            .read(&token, "statement", 3, "page_token")
            .is_err());
        assert!(tokens(1).read(&token, "search", 3, "page_token").is_err());
        assert!(tokens(1)
            .read(&token, "statement", 2, "page_token")
            .is_err());
        let rotated = PageTokens::new(vec![2; 32], Some(vec![1; 32])).unwrap();
        assert_eq!(
            rotated.read(&token, "statement", 3, "page_token").unwrap(),
            values
        );
    }

    #[test]
    fn edited_or_garbage_tokens_are_invalid_argument_on_the_field() {
        let token = tokens(1).issue("search", &[TokenValue::Int(1)]);
        let mut raw = BASE64.decode(&token).unwrap();
        raw[2] ^= 1;
        for bad in [
            BASE64.encode(raw),
            "not a token".into(),
            String::new(),
            "x".repeat(600),
        ] {
            match tokens(1).read(&bad, "search", 1, "page_token") {
                Err(ApiError::InvalidArgument { violations, .. }) => {
                    assert_eq!(violations[0].field, "page_token")
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(PageTokens::new(vec![0; 31], None).is_err());
    }
}
