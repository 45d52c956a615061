//! Query cursors: base64 of `{"t": <ISO timestamp>, "i": <uuid>}`, the reference's format, but
//! with microseconds. The reference cut timestamps to milliseconds, so rows stored with
//! microseconds made pages skip or repeat entries; its cursors still decode here.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::time::{format_iso, parse_iso};
use crate::error::{Error, Result};
use crate::resolve::is_uuid;

fn invalid(reason: &str) -> Error {
    Error::InvalidCursor {
        reason: reason.to_owned(),
    }
}

/// Encodes the position after the row `(timestamp, id)`.
#[must_use]
pub fn encode(timestamp_micros: i64, id: &str) -> String {
    STANDARD.encode(json!({ "t": format_iso(timestamp_micros), "i": id }).to_string())
}

/// Decodes a cursor into `(timestamp in microseconds, id)`.
///
/// # Errors
/// `InvalidCursor` with the reference's reasons.
pub fn decode(cursor: &str) -> Result<(i64, String)> {
    let bytes = STANDARD
        .decode(cursor.trim())
        .map_err(|_| invalid("failed to decode"))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid("failed to decode"))?;
    let (Some(t), Some(i)) = (value.get("t"), value.get("i")) else {
        return Err(invalid("missing required fields"));
    };
    let (Some(t), Some(i)) = (t.as_str(), i.as_str()) else {
        return Err(invalid("fields must be strings"));
    };
    let micros = parse_iso(t).ok_or_else(|| invalid("invalid timestamp"))?;
    if !is_uuid(i) {
        return Err(invalid("id must be a valid UUID"));
    }
    Ok((micros, i.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    #[test]
    fn microseconds_survive() {
        let t = 1_790_000_000_123_456;
        assert_eq!(decode(&encode(t, ID)).unwrap(), (t, ID.to_owned()));
    }

    #[test]
    fn reads_reference_cursors() {
        let reference =
            STANDARD.encode(format!(r#"{{"t":"2026-01-01T00:00:00.123Z","i":"{ID}"}}"#));
        assert_eq!(decode(&reference).unwrap().0 % 1_000_000, 123_000);
    }

    #[test]
    fn errors_name_the_reason() {
        let b = |s: &str| STANDARD.encode(s);
        let cases = [
            ("%%%".to_owned(), "Invalid cursor: failed to decode"),
            (b("not json"), "Invalid cursor: failed to decode"),
            (b(r#"{"t":"x"}"#), "Invalid cursor: missing required fields"),
            (
                b(r#"{"t":1,"i":2}"#),
                "Invalid cursor: fields must be strings",
            ),
            (
                b(&format!(r#"{{"t":"yesterday","i":"{ID}"}}"#)),
                "Invalid cursor: invalid timestamp",
            ),
            (
                b(r#"{"t":"2026-01-01T00:00:00Z","i":"42"}"#),
                "Invalid cursor: id must be a valid UUID",
            ),
        ];
        for (cursor, message) in cases {
            let e = decode(&cursor).unwrap_err();
            assert_eq!(
                (e.code(), e.to_string().as_str()),
                ("INVALID_CURSOR", message)
            );
        }
    }
}
