//! Verification on the receiving side (`verifyWebhook`): headers `webhook-id`,
//! `webhook-timestamp`, `webhook-signature` (each falling back to its `svix-` form, so
//! Svix-powered senders verify too), a timestamp tolerance against replays, and a signature
//! list of which any entry with a known scheme that verifies under any configured key is
//! accepted. Unknown schemes are skipped, so senders can add schemes without breaking receivers.
//! Comparisons are constant-time; the body is never parsed before it verified.

use ed25519_dalek::Signature;
use hmac::Mac;

use super::error::{Result, WebhooksError};
use super::keys::{b64_decode, parse_verifying_key, VerifyingKey};
use crate::crypto::hmac_sha256;

/// Default tolerance between `webhook-timestamp` and the receiver's clock.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The three signed headers, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
}

/// Picks the signed headers from `(name, value)` pairs (names in any case), each `webhook-*`
/// first, then `svix-*`.
///
/// # Errors
/// `WEBHOOK_MISSING_HEADER` naming the `webhook-` header.
pub fn pick_headers(pairs: &[(String, String)]) -> Result<SignedHeaders> {
    let find = |suffix: &str| -> Result<String> {
        ["webhook-", "svix-"]
            .iter()
            .find_map(|p| {
                pairs.iter().find_map(|(n, v)| {
                    (n.len() == p.len() + suffix.len()
                        && n[..p.len()].eq_ignore_ascii_case(p)
                        && n[p.len()..].eq_ignore_ascii_case(suffix))
                    .then(|| v.clone())
                })
            })
            .ok_or_else(|| WebhooksError::MissingHeader {
                header: format!("webhook-{suffix}"),
            })
    };
    Ok(SignedHeaders {
        id: find("id")?,
        timestamp: find("timestamp")?,
        signature: find("signature")?,
    })
}

/// What a verified request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Verified {
    pub id: String,
    /// Unix seconds.
    pub timestamp: i64,
}

fn check_timestamp(text: &str, tolerance: u64, now: i64) -> Result<i64> {
    let t = text.trim();
    let ts: i64 = (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse().ok())
        .flatten()
        .ok_or_else(|| WebhooksError::BadTimestamp {
            value: text.to_owned(),
        })?;
    let tol = i64::try_from(tolerance).unwrap_or(i64::MAX);
    if now.saturating_sub(ts) > tol {
        return Err(WebhooksError::TimestampTooOld {
            timestamp: ts,
            now,
            tolerance,
        });
    }
    if ts.saturating_sub(now) > tol {
        return Err(WebhooksError::TimestampTooNew {
            timestamp: ts,
            now,
            tolerance,
        });
    }
    Ok(ts)
}

/// Verifies `body` against `headers` with any of `keys`, at `now` (Unix seconds).
///
/// # Errors
/// `WEBHOOK_BAD_TIMESTAMP`, `WEBHOOK_TIMESTAMP_TOO_OLD`, `WEBHOOK_TIMESTAMP_TOO_NEW`,
/// `WEBHOOK_BAD_SIGNATURE`; `WEBHOOK_INVALID_KEY` naming `keys` when none is given.
pub fn verify(
    headers: &SignedHeaders,
    body: &[u8],
    keys: &[VerifyingKey],
    tolerance_secs: u64,
    now: i64,
) -> Result<Verified> {
    if keys.is_empty() {
        return Err(WebhooksError::InvalidKey {
            field: "keys".into(),
            reason: "give `secret`, `publicKey` or `keys`".into(),
        });
    }
    let ts = check_timestamp(&headers.timestamp, tolerance_secs, now)?;
    let mut content = Vec::with_capacity(headers.id.len() + body.len() + 24);
    content.extend_from_slice(headers.id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(ts.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    // One MAC state per HMAC key over the content; cloned per candidate signature.
    let macs: Vec<_> = keys
        .iter()
        .filter_map(|k| match k {
            VerifyingKey::Hmac(secret) => {
                let mut m = hmac_sha256(secret);
                m.update(&content);
                Some(m)
            }
            VerifyingKey::Ed25519(_) => None,
        })
        .collect();
    let ok = headers
        .signature
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .any(|(scheme, sig)| {
            let Some(raw) = b64_decode(sig).filter(|r| !r.is_empty()) else {
                return false;
            };
            match scheme {
                // `verify_slice` compares in constant time.
                "v1" => macs.iter().any(|m| m.clone().verify_slice(&raw).is_ok()),
                "v1a" => {
                    let Ok(bytes) = <[u8; 64]>::try_from(raw.as_slice()) else {
                        return false;
                    };
                    let sig = Signature::from_bytes(&bytes);
                    keys.iter().any(|k| match k {
                        VerifyingKey::Ed25519(pk) => pk.verify_strict(&content, &sig).is_ok(),
                        VerifyingKey::Hmac(_) => false,
                    })
                }
                _ => false,
            }
        });
    if !ok {
        return Err(WebhooksError::BadSignature);
    }
    Ok(Verified {
        id: headers.id.clone(),
        timestamp: ts,
    })
}

/// Options of `verifyWebhook`: the keys to trust and the clock.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
pub struct VerifyOptions {
    pub secret: Option<String>,
    pub public_key: Option<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub keys: Vec<String>,
    pub tolerance_sec: Option<u64>,
    /// Unix seconds.
    pub now: i64,
}

/// `verifyWebhook` on plain data: header pairs, raw body bytes and options.
///
/// # Errors
/// `WEBHOOK_INVALID_KEY` naming `secret`, `publicKey` or `keys[i]`; those of [`pick_headers`]
/// and [`verify`].
pub fn verify_webhook(
    pairs: &[(String, String)],
    body: &[u8],
    opts: &VerifyOptions,
) -> Result<Verified> {
    let mut keys = Vec::with_capacity(opts.keys.len() + 2);
    if let Some(s) = &opts.secret {
        keys.push(parse_verifying_key("secret", s)?);
    }
    if let Some(p) = &opts.public_key {
        if !p.starts_with(super::keys::ED_PUBLIC_PREFIX) {
            return Err(WebhooksError::InvalidKey {
                field: "publicKey".into(),
                reason: "expected `whpk_…`".into(),
            });
        }
        keys.push(parse_verifying_key("publicKey", p)?);
    }
    for (i, k) in opts.keys.iter().enumerate() {
        keys.push(parse_verifying_key(&format!("keys[{i}]"), k)?);
    }
    let headers = pick_headers(pairs)?;
    verify(
        &headers,
        body,
        &keys,
        opts.tolerance_sec.unwrap_or(DEFAULT_TOLERANCE_SECS),
        opts.now,
    )
}
