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

/// One message's body as the caller has it: `data` is the payload already serialised
/// (`JSON.stringify`), or the raw body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
pub struct BodyInput {
    pub event_type: String,
    /// `occurredAt` in microseconds since the Unix epoch.
    pub occurred_at_micros: i64,
    pub data: String,
}

/// The body to store and sign, and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedBody {
    pub body: String,
    pub sha256: [u8; 32],
}

/// Builds the body, checks its size against `limit` (`maxPayloadBytes`) and hashes it.
/// In the standard envelope `data` must be one JSON value; it is embedded as written.
///
/// # Errors
/// `WEBHOOKS_PAYLOAD_INVALID` naming `field` for standard-envelope data that is not JSON,
/// `WEBHOOKS_PAYLOAD_TOO_LARGE` naming `field`.
pub fn prepare_body(
    field: &str,
    envelope: Envelope,
    input: &BodyInput,
    limit: usize,
) -> Result<PreparedBody> {
    let body = match envelope {
        Envelope::Raw => input.data.clone(),
        Envelope::Standard => {
            if serde_json::from_str::<&serde_json::value::RawValue>(&input.data).is_err() {
                return Err(WebhooksError::PayloadInvalid {
                    field: field.to_owned(),
                    reason: "the serialised payload is not one JSON value".into(),
                });
            }
            let ty = serde_json::Value::String(input.event_type.clone());
            let ts = serde_json::Value::String(format_iso(input.occurred_at_micros));
            format!(
                "{{\"type\":{ty},\"timestamp\":{ts},\"data\":{}}}",
                input.data.trim()
            )
        }
    };
    check_payload_size(field, body.len(), limit)?;
    Ok(PreparedBody {
        sha256: Sha256::digest(body.as_bytes()).into(),
        body,
    })
}

/// [`prepare_body`] for a whole `sendMany`, one result per input (`field` is `inputs[i].payload`).
#[must_use]
pub fn prepare_bodies(
    envelope: Envelope,
    inputs: &[BodyInput],
    limit: usize,
) -> Vec<Result<PreparedBody>> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, b)| prepare_body(&format!("inputs[{i}].payload"), envelope, b, limit))
        .collect()
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

    fn input(data: &str) -> BodyInput {
        BodyInput {
            event_type: "invoice.paid".into(),
            occurred_at_micros: 1_667_507_170_344_522,
            data: data.into(),
        }
    }

    #[test]
    fn standard_envelope_keeps_the_payload_text() {
        let b = prepare_body(
            "payload",
            Envelope::Standard,
            &input(r#"{"z":1,"a":[2]}"#),
            1024,
        )
        .unwrap();
        assert_eq!(
            b.body,
            r#"{"type":"invoice.paid","timestamp":"2022-11-03T20:26:10.344522Z","data":{"z":1,"a":[2]}}"#
        );
        assert_eq!(
            b.sha256,
            <[u8; 32]>::from(Sha256::digest(b.body.as_bytes()))
        );
        let raw = prepare_body("payload", Envelope::Raw, &input("not json"), 1024).unwrap();
        assert_eq!(raw.body, "not json");
    }

    #[test]
    fn invalid_and_oversized() {
        for bad in ["", "{", "1 2", "{\"a\":1}}"] {
            let e = prepare_body("payload", Envelope::Standard, &input(bad), 1024).unwrap_err();
            assert_eq!(e.code(), "WEBHOOKS_PAYLOAD_INVALID", "{bad:?}");
        }
        let big = format!("\"{}\"", "x".repeat(300));
        let out = prepare_bodies(Envelope::Standard, &[input("1"), input(&big)], 256);
        assert!(out[0].is_ok());
        let e = out[1].as_ref().unwrap_err();
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
