//! N-API entry points. Each function converts JS values to core types, calls the core and
//! converts the result back; errors carry the core's stable code as `err.code`.

mod args;
pub mod audit;
pub mod email;
pub mod email_crypto;
pub mod email_engine;
pub mod smtp;
pub mod tenant;
pub mod webhooks;

use napi::bindgen_prelude::*;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `err.code` for JS: the core's code, or `INVALID_ARGUMENT` for values of the wrong shape.
pub struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

pub(crate) fn core_err(e: &usebetter_core::Error) -> Error<Code> {
    Error::new(Code(e.code()), e.to_string())
}

/// Reads argument `arg` (any JS value) as `T`.
pub(crate) fn parse<T: DeserializeOwned>(arg: &str, value: Unknown<'_>) -> Result<T, Code> {
    let json = args::json(arg, value).map_err(|e| core_err(&e))?;
    usebetter_core::input::from_value(arg, &json).map_err(|e| core_err(&e))
}

pub(crate) fn string(arg: &str, value: Unknown<'_>) -> Result<String, Code> {
    args::string(arg, value).map_err(|e| core_err(&e))
}

pub(crate) fn opt_string(arg: &str, value: Unknown<'_>) -> Result<Option<String>, Code> {
    args::opt_string(arg, value).map_err(|e| core_err(&e))
}

/// A JS timestamp (ms since 1970, a double) as the core's integer milliseconds.
#[expect(
    clippy::cast_possible_truncation,
    reason = "milliseconds since 1970 fit i64"
)]
pub(crate) fn ms(v: f64) -> i64 {
    v.floor() as i64
}

pub(crate) fn to_js<T: serde::Serialize>(v: &T) -> Result<Value, Code> {
    serde_json::to_value(v).map_err(|e| Error::new(Code("INTERNAL"), e.to_string()))
}

pub(crate) fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
