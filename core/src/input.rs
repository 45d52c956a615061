//! Typed reading of JSON input for the bindings (feature `serde`).
//!
//! Both bindings turn their JS argument into a `serde_json::Value` first and read it here, so a
//! value of the wrong shape gets the same error, naming the same field path, in Node and wasm.
//! The bindings' readers of JS values share the rules below (what counts as JSON data, how a
//! number or a string is read, the wording of each refusal), so neither backend can drift.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

mod track;

/// Reads argument `arg` as `T`.
///
/// # Errors
/// `InvalidArgument` naming the path of the first bad field, e.g. `config.jwt.secret`.
pub fn from_value<T: DeserializeOwned>(arg: &str, value: &Value) -> Result<T> {
    track::deserialize(value).map_err(|(path, e)| Error::InvalidArgument {
        field: field_path(arg, &path),
        reason: e.to_string(),
    })
}

/// Argument `arg` joined with a [`with_path`] path: `arg`, `arg.key` or `arg[0]`.
#[must_use]
pub fn field_path(arg: &str, path: &str) -> String {
    match path {
        "." => arg.to_owned(),
        p if p.starts_with('[') => format!("{arg}{p}"),
        p => format!("{arg}.{p}"),
    }
}

/// [`field_path`] of the field an error of [`with_path`] is about. serde reports a missing
/// field at the object that lacks it, naming the field only in its message; this names it.
#[must_use]
pub fn error_field(arg: &str, path: &str, e: &serde_json::Error) -> String {
    let base = field_path(arg, path);
    let text = e.to_string();
    match text
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        Some(name) => format!("{base}.{name}"),
        None => base,
    }
}

/// Reads `value` as `T`; on failure, the path of the value that refused (`.` for the whole
/// value) and serde's message.
///
/// # Errors
/// The path and the error of the first value that refused.
pub fn with_path<T: DeserializeOwned>(
    value: &Value,
) -> std::result::Result<T, (String, serde_json::Error)> {
    track::deserialize(value)
}

/// Reads a product's configuration object: on failure, the field at fault (`config` for the
/// whole object) and what was expected there, ``one of the documented keys (unknown key `…`)``
/// for a misspelt key. Each product wraps the pair in its own `INVALID_CONFIG` error.
///
/// # Errors
/// `(field, expected)` of the first value that refused.
pub fn config_object<T: DeserializeOwned>(
    value: &Value,
) -> std::result::Result<T, (String, String)> {
    with_path(value).map_err(|(path, e)| {
        let inner = e.to_string();
        // The path already ends with the unknown key itself.
        if inner.starts_with("unknown field `") {
            let expected = format!("one of the documented keys (unknown key `{path}`)");
            return (path, expected);
        }
        (if path == "." { "config".into() } else { path }, inner)
    })
}

/// Deepest nesting read from a JS value: deeper (or cyclic) values are refused, never recursed
/// into until the stack runs out.
pub const MAX_DEPTH: usize = 128;

/// The path of property `key` of the value at `path`.
#[must_use]
pub fn key_path(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

/// The path of element `i` of the array at `path`.
#[must_use]
pub fn index_path(path: &str, i: u32) -> String {
    format!("{path}[{i}]")
}

/// `InvalidArgument` for the value at `path`.
pub fn invalid(path: &str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        field: path.to_owned(),
        reason: reason.into(),
    }
}

/// The value at `path` should be a string but has JS type `got` (`typeof`, or `null`).
#[must_use]
pub fn expected_string(path: &str, got: &str) -> Error {
    invalid(path, format!("expected a string, got {got}"))
}

/// The value at `path` (JS type `got`) has no JSON form: a function, symbol or bigint.
#[must_use]
pub fn not_json(path: &str, got: &str) -> Error {
    invalid(path, format!("expected JSON data, got {got}"))
}

/// Nesting beyond `MAX_DEPTH`.
#[must_use]
pub fn too_deep(path: &str) -> Error {
    invalid(
        path,
        format!("nested more than {MAX_DEPTH} levels deep (or refers to itself)"),
    )
}

/// A string with an unpaired UTF-16 surrogate. Refused rather than replaced by U+FFFD, so two
/// different JS strings never read as the same text (a tenant id, a hash input).
#[must_use]
pub fn lone_surrogate(path: &str) -> Error {
    invalid(
        path,
        "contains an unpaired UTF-16 surrogate, which is not valid Unicode text",
    )
}

/// Text from UTF-16 code units.
///
/// # Errors
/// `InvalidArgument` for a lone surrogate.
pub fn text_from_utf16(path: &str, units: &[u16]) -> Result<String> {
    String::from_utf16(units).map_err(|_| lone_surrogate(path))
}

/// A JS number as JSON: integral values as integers (as `JSON.stringify` prints them).
///
/// # Errors
/// `InvalidArgument` for NaN and infinities, which JSON cannot represent.
pub fn number(path: &str, n: f64) -> Result<Value> {
    if !n.is_finite() {
        let js = if n.is_nan() {
            "NaN"
        } else if n > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        };
        return Err(invalid(path, format!("expected a finite number, got {js}")));
    }
    // 2^63: every integral f64 below it in magnitude converts to i64 exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if n.fract() == 0.0 && n.abs() < LIMIT {
        #[expect(clippy::cast_possible_truncation, reason = "integral and within i64")]
        let i = n as i64;
        return Ok(Value::from(i));
    }
    Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::ResolverConfig;

    #[test]
    fn names_the_nested_field() {
        let v = serde_json::json!({ "jwt": { "claim": "t", "secret": 5 } });
        let err = from_value::<ResolverConfig>("config", &v).unwrap_err();
        assert_eq!(err.code(), "INVALID_ARGUMENT");
        assert!(err.to_string().starts_with("invalid `config.jwt"), "{err}");
    }

    #[test]
    fn unknown_resolver_keys_are_refused() {
        for v in [
            serde_json::json!({ "heder": "x" }),
            serde_json::json!({ "path": { "pattern": "/t/:id", "segmentIdx": 1 } }),
            serde_json::json!({ "jwt": { "claim": "t", "secrett": "x" } }),
        ] {
            let err = from_value::<ResolverConfig>("config", &v).unwrap_err();
            assert_eq!(err.code(), "INVALID_ARGUMENT", "{v}");
            assert!(err.to_string().starts_with("invalid `config"), "{err}");
        }
    }

    #[test]
    fn numbers_and_text() {
        assert_eq!(number("n", 3.0).unwrap(), Value::from(3));
        assert_eq!(number("n", -0.0).unwrap(), Value::from(0));
        assert_eq!(number("n", 1.5).unwrap(), Value::from(1.5));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = number("config.leeway", bad).unwrap_err();
            assert_eq!(err.code(), "INVALID_ARGUMENT");
            assert!(
                err.to_string().starts_with("invalid `config.leeway`: "),
                "{err}"
            );
        }
        assert_eq!(
            text_from_utf16("s", &[0x61, 0xD83D, 0xDE00]).unwrap(),
            "a\u{1F600}"
        );
        let err = text_from_utf16("token", &[0x61, 0xD800]).unwrap_err();
        assert!(err.to_string().starts_with("invalid `token`: "), "{err}");
    }

    #[test]
    fn top_level_type_error() {
        let err = from_value::<ResolverConfig>("config", &Value::from("x")).unwrap_err();
        assert!(err.to_string().starts_with("invalid `config`: "), "{err}");
    }
}
