//! The body of a message, fixed once at `send()`: every attempt, replay and endpoint gets these
//! exact bytes. `envelope: "standard"` wraps the payload as
//! `{"type":…,"timestamp":…,"data":…}` (minified, the payload's own text and key order kept,
//! timestamp RFC 3339 UTC with microseconds); `"raw"` sends the text as given. The SHA-256 of
//! the body decides whether a reused idempotency key is a duplicate or a conflict.

use sha2::{Digest, Sha256};

use super::error::{Result, WebhooksError};
use super::limits::check_payload_size;
use crate::audit::time::format_iso;

/// `envelope` of the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Envelope {
    #[default]
    Standard,
    Raw,
}

impl Envelope {
    /// What follows the payload in a body: the standard envelope's closing brace.
    #[must_use]
    pub fn suffix(self) -> &'static str {
        match self {
            Envelope::Standard => "}",
            Envelope::Raw => "",
        }
    }

    /// A whole body: the [`PreparedBody::prefix`] of `data`, `data` as given, the suffix.
    #[must_use]
    pub fn body(self, prefix: &str, data: &str) -> String {
        [prefix, data, self.suffix()].concat()
    }
}

/// One message's body as the caller has it: `data` is the payload already serialised
/// (`JSON.stringify`), or the raw body; `data_is_json` when the caller has already parsed it as
/// one JSON value (a second scan of every payload would be wasted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyInput<'a> {
    pub event_type: &'a str,
    /// `occurredAt` in microseconds since the Unix epoch.
    pub occurred_at_micros: i64,
    pub data: &'a str,
    pub data_is_json: bool,
}

/// The body to store and sign is `prefix`, the payload text as given and the envelope's
/// suffix ([`Envelope::body`]); and its SHA-256. The payload is not copied: the caller that
/// holds it can hand it to the database itself, the statement joining the three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedBody {
    pub prefix: String,
    pub sha256: [u8; 32],
}

/// Checks the body's size against `limit` (`maxPayloadBytes`) and hashes it. In the standard
/// envelope `data` must be one JSON value; it is embedded as written (whitespace around it
/// included, which JSON allows).
///
/// # Errors
/// `WEBHOOKS_PAYLOAD_INVALID` naming `field` for standard-envelope data that is not JSON,
/// `WEBHOOKS_PAYLOAD_TOO_LARGE` naming `field`.
pub fn prepare_body(
    field: &str,
    envelope: Envelope,
    input: &BodyInput<'_>,
    limit: usize,
) -> Result<PreparedBody> {
    let prefix = match envelope {
        Envelope::Raw => String::new(),
        Envelope::Standard => {
            if !input.data_is_json
                && serde_json::from_str::<&serde_json::value::RawValue>(input.data).is_err()
            {
                return Err(WebhooksError::PayloadInvalid {
                    field: field.to_owned(),
                    reason: "the serialised payload is not one JSON value".into(),
                });
            }
            let ty = serde_json::Value::String(input.event_type.to_owned());
            let ts = serde_json::Value::String(format_iso(input.occurred_at_micros));
            format!("{{\"type\":{ty},\"timestamp\":{ts},\"data\":")
        }
    };
    let suffix = envelope.suffix();
    check_payload_size(field, prefix.len() + input.data.len() + suffix.len(), limit)?;
    let mut h = Sha256::new();
    h.update(prefix.as_bytes());
    h.update(input.data.as_bytes());
    h.update(suffix.as_bytes());
    Ok(PreparedBody {
        prefix,
        sha256: h.finalize().into(),
    })
}

/// A reused idempotency key: the same body is a duplicate of the stored message, another body
/// is a conflict.
///
/// # Errors
/// `WEBHOOKS_IDEMPOTENCY_CONFLICT` naming `field`.
pub fn idempotency_verdict(field: &str, stored_sha256: &[u8], new_sha256: &[u8]) -> Result<()> {
    if stored_sha256 == new_sha256 {
        Ok(())
    } else {
        Err(WebhooksError::IdempotencyConflict {
            field: field.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(data: &str) -> BodyInput<'_> {
        BodyInput {
            event_type: "invoice.paid",
            occurred_at_micros: 1_667_507_170_344_522,
            data,
            data_is_json: false,
        }
    }

    #[test]
    fn standard_envelope_keeps_the_payload_text() {
        let data = r#"{"z":1,"a":[2]}"#;
        let b = prepare_body("payload", Envelope::Standard, &input(data), 1024).unwrap();
        let body = Envelope::Standard.body(&b.prefix, data);
        assert_eq!(
            body,
            r#"{"type":"invoice.paid","timestamp":"2022-11-03T20:26:10.344522Z","data":{"z":1,"a":[2]}}"#
        );
        assert_eq!(b.sha256, <[u8; 32]>::from(Sha256::digest(body.as_bytes())));
        let raw = prepare_body("payload", Envelope::Raw, &input("not json"), 1024).unwrap();
        assert_eq!(Envelope::Raw.body(&raw.prefix, "not json"), "not json");
        assert_eq!(raw.sha256, <[u8; 32]>::from(Sha256::digest(b"not json")));
        // Whitespace around the payload stays inside the envelope, which is still JSON.
        let spaced = prepare_body("payload", Envelope::Standard, &input(" 1 "), 1024).unwrap();
        let body = Envelope::Standard.body(&spaced.prefix, " 1 ");
        assert!(body.ends_with(r#""data": 1 }"#));
        assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
        // A caller that has parsed the payload already is trusted with it.
        let checked = BodyInput {
            data_is_json: true,
            ..input("{")
        };
        assert!(prepare_body("payload", Envelope::Standard, &checked, 1024).is_ok());
    }

    #[test]
    fn invalid_and_oversized() {
        for bad in ["", "{", "1 2", "{\"a\":1}}"] {
            let e = prepare_body("payload", Envelope::Standard, &input(bad), 1024).unwrap_err();
            assert_eq!(e.code(), "WEBHOOKS_PAYLOAD_INVALID", "{bad:?}");
        }
        let big = format!("\"{}\"", "x".repeat(300));
        assert!(prepare_body("inputs[0].payload", Envelope::Standard, &input("1"), 256).is_ok());
        let e =
            prepare_body("inputs[1].payload", Envelope::Standard, &input(&big), 256).unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_PAYLOAD_TOO_LARGE");
        assert!(e.to_string().contains("`inputs[1].payload`"));
        assert!(idempotency_verdict("idempotencyKey", &[1], &[1]).is_ok());
        assert_eq!(
            idempotency_verdict("idempotencyKey", &[1], &[2])
                .unwrap_err()
                .code(),
            "WEBHOOKS_IDEMPOTENCY_CONFLICT"
        );
    }
}
