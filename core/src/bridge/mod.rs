//! Argument shapes shared by both bindings (feature `serde`), so that each binding function
//! stays a one-line translation and both read and write exactly the same JSON.

pub mod audit;
#[cfg(feature = "email")]
pub mod email;
#[cfg(feature = "email")]
pub mod email_crypto;
#[cfg(feature = "webhooks")]
mod step;
#[cfg(feature = "webhooks")]
pub mod webhooks;

#[cfg(feature = "webhooks")]
/// A result as the JSON both bindings hand back.
pub(crate) fn to_value<T: serde::Serialize>(v: &T) -> crate::error::Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| crate::error::Error::InvalidArgument {
        field: "result".into(),
        reason: e.to_string(),
    })
}

#[cfg(feature = "webhooks")]
/// Bytes as a `bytea` parameter in text form (`\x…`), which every driver passes through.
pub(crate) fn bytea(b: &[u8]) -> String {
    format!("\\x{}", crate::crypto::hex(b))
}
