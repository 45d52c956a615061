//! Verification of provider event webhooks (delivery, bounce, complaint) before anything in
//! them is believed: Resend (Standard Webhooks, the webhooks receiver's own code), SendGrid
//! (ECDSA P-256), Mailgun (HMAC-SHA256 inside the body), Postmark (HTTP Basic credentials) and
//! SES through SNS (RSA over the SNS canonical string, X.509 certificate from an allowed URL).
//!
//! Every failure is one of four codes: `EMAIL_EVENT_BAD_SIGNATURE`, `EMAIL_EVENT_STALE`,
//! `EMAIL_EVENT_CERT_REJECTED`, `EMAIL_EVENT_TOPIC_REJECTED` (the handler answers 401), or
//! `EMAIL_INVALID_CONFIG` for a missing or malformed key. Secrets are compared in constant time.
//! No clock: the caller passes `now` (Unix seconds).

mod mailgun;
pub mod normalize;
mod sendgrid;
pub mod sns;
mod x509;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::error::{EmailError, Result};
use crate::webhooks::verify::{verify_webhook, VerifyOptions};
use crate::webhooks::WebhooksError;

/// Default tolerance between a signed timestamp and `now`, as the webhooks receiver.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// What the provider's endpoint is configured with, and the clock. Only the fields of the
/// provider at hand are read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
pub struct EventOptions {
    /// Resend: the endpoint's `whsec_…` signing secret.
    pub secret: Option<String>,
    /// SendGrid: the verification key (base64 SPKI DER, as the dashboard shows it).
    pub public_key: Option<String>,
    /// Mailgun: the HTTP webhook signing key.
    pub signing_key: Option<String>,
    /// Postmark: the Basic credentials configured in the webhook URL.
    pub username: Option<String>,
    pub password: Option<String>,
    /// SES: the SNS topics events may come from.
    #[cfg_attr(feature = "serde", serde(default))]
    pub topic_arns: Vec<String>,
    /// SES: accept `SignatureVersion` 1 (RSA-SHA1); off by default.
    #[cfg_attr(feature = "serde", serde(default))]
    pub allow_signature_v1: bool,
    /// SES: host patterns the certificate URL may name (see [`sns::DEFAULT_CERT_HOSTS`]).
    pub cert_hosts: Option<Vec<String>>,
    /// SES: accepted certificate subject common names (see [`sns::DEFAULT_CERT_SUBJECTS`]).
    pub cert_subjects: Option<Vec<String>>,
    /// SES: the PEM fetched from `SigningCertURL`.
    pub certificate: Option<String>,
    /// SES: a CA (certificate or public key, PEM) that must have signed the certificate.
    pub trusted_ca: Option<String>,
    pub tolerance_sec: Option<u64>,
    /// Unix seconds.
    pub now: i64,
}

/// A verified event request: the replay/dedupe key where the provider has one per request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct VerifiedEvent {
    pub provider: String,
    /// `svix-id` (Resend), `token` (Mailgun), `MessageId` (SNS); SendGrid and Postmark carry
    /// theirs per event inside the body.
    pub id: Option<String>,
    /// The signed timestamp (Unix seconds) where the provider signs one.
    pub timestamp: Option<i64>,
    /// SNS: `Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
    pub sns_type: Option<String>,
    pub topic_arn: Option<String>,
    /// SNS confirmations: the URL to fetch, already checked against the host rule.
    pub subscribe_url: Option<String>,
}

pub(crate) fn bad(provider: &str, reason: impl Into<String>) -> EmailError {
    EmailError::EventBadSignature {
        provider: provider.to_owned(),
        reason: reason.into(),
    }
}

pub(crate) fn required<'a>(field: &str, v: Option<&'a String>, expected: &str) -> Result<&'a str> {
    v.map(String::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| EmailError::config(field, expected))
}

/// The value of header `name` (any case), first occurrence.
pub(crate) fn header<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub(crate) fn b64(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text.trim()).ok()
}

/// Equality whose time depends only on the lengths, not on where the inputs differ.
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A decimal Unix timestamp within `tolerance` of `now`.
pub(crate) fn fresh(provider: &str, text: &str, opts: &EventOptions) -> Result<i64> {
    let t = text.trim();
    let ts: i64 = (!t.is_empty() && t.len() <= 12 && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse().ok())
        .flatten()
        .ok_or_else(|| bad(provider, format!("timestamp {text:?} is not Unix seconds")))?;
    let tol =
        i64::try_from(opts.tolerance_sec.unwrap_or(DEFAULT_TOLERANCE_SECS)).unwrap_or(i64::MAX);
    if (opts.now - ts).abs() > tol {
        return Err(EmailError::EventStale {
            provider: provider.to_owned(),
            timestamp: ts,
            now: opts.now,
        });
    }
    Ok(ts)
}

fn resend(headers: &[(String, String)], body: &[u8], opts: &EventOptions) -> Result<VerifiedEvent> {
    let secret = required(
        "secret",
        opts.secret.as_ref(),
        "the endpoint's `whsec_…` signing secret",
    )?;
    let v = verify_webhook(
        headers,
        body,
        &VerifyOptions {
            secret: Some(secret.to_owned()),
            tolerance_sec: opts.tolerance_sec,
            now: opts.now,
            ..VerifyOptions::default()
        },
    )
    .map_err(|e| match e {
        WebhooksError::TimestampTooOld { timestamp, now, .. }
        | WebhooksError::TimestampTooNew { timestamp, now, .. } => EmailError::EventStale {
            provider: "resend".into(),
            timestamp,
            now,
        },
        WebhooksError::InvalidKey { .. } => {
            EmailError::config("secret", "a `whsec_…` signing secret")
        }
        other => bad("resend", other.to_string()),
    })?;
    Ok(VerifiedEvent {
        provider: "resend".into(),
        id: Some(v.id),
        timestamp: Some(v.timestamp),
        ..VerifiedEvent::default()
    })
}

/// Postmark signs nothing: the webhook URL carries Basic credentials, compared here.
fn postmark(headers: &[(String, String)], opts: &EventOptions) -> Result<VerifiedEvent> {
    let user = required(
        "username",
        opts.username.as_ref(),
        "the webhook's Basic user name",
    )?;
    let pass = required(
        "password",
        opts.password.as_ref(),
        "the webhook's Basic password",
    )?;
    let given = header(headers, "authorization")
        .and_then(|v| {
            v.trim()
                .strip_prefix("Basic ")
                .or_else(|| v.trim().strip_prefix("basic "))
        })
        .and_then(b64)
        .ok_or_else(|| bad("postmark", "no Basic `authorization` header"))?;
    if !ct_eq(&given, format!("{user}:{pass}").as_bytes()) {
        return Err(bad("postmark", "wrong Basic credentials"));
    }
    Ok(VerifiedEvent {
        provider: "postmark".into(),
        ..VerifiedEvent::default()
    })
}

/// Verifies one event request of `provider` (`resend`, `sendgrid`, `mailgun`, `postmark`,
/// `ses`): header pairs as received, the raw body.
///
/// # Errors
/// The event codes above; `EMAIL_EVENT_UNKNOWN_PROVIDER` for another provider name.
pub fn verify_event(
    provider: &str,
    headers: &[(String, String)],
    body: &[u8],
    opts: &EventOptions,
) -> Result<VerifiedEvent> {
    match provider {
        "resend" => resend(headers, body, opts),
        "sendgrid" => sendgrid::verify(headers, body, opts),
        "mailgun" => mailgun::verify(body, opts),
        "postmark" => postmark(headers, opts),
        "ses" => sns::verify(body, opts),
        other => Err(EmailError::EventUnknownProvider {
            provider: other.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::sign::sign_webhook;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn resend_uses_standard_webhooks() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"type":"email.delivered"}"#;
        let sig = sign_webhook("msg_1", 1_700_000_000, body, secret).unwrap();
        let h = pairs(&[
            ("svix-id", "msg_1"),
            ("svix-timestamp", "1700000000"),
            ("svix-signature", &sig),
        ]);
        let opts = EventOptions {
            secret: Some(secret.into()),
            now: 1_700_000_010,
            ..EventOptions::default()
        };
        let v = verify_event("resend", &h, body, &opts).unwrap();
        assert_eq!(v.id.as_deref(), Some("msg_1"));
        assert_eq!(
            verify_event("resend", &h, b"{}", &opts).unwrap_err().code(),
            "EMAIL_EVENT_BAD_SIGNATURE"
        );
        let late = EventOptions {
            now: 1_700_001_000,
            ..opts.clone()
        };
        assert_eq!(
            verify_event("resend", &h, body, &late).unwrap_err().code(),
            "EMAIL_EVENT_STALE"
        );
        let none = EventOptions {
            secret: None,
            ..opts
        };
        assert_eq!(
            verify_event("resend", &h, body, &none).unwrap_err().code(),
            "EMAIL_INVALID_CONFIG"
        );
    }

    #[test]
    fn postmark_basic_credentials() {
        let opts = EventOptions {
            username: Some("hook".into()),
            password: Some("s3cret".into()),
            ..EventOptions::default()
        };
        let ok = format!("Basic {}", STANDARD.encode("hook:s3cret"));
        assert!(verify_event("postmark", &pairs(&[("Authorization", &ok)]), b"{}", &opts).is_ok());
        let wrong = format!("Basic {}", STANDARD.encode("hook:s3creT"));
        for h in [pairs(&[("authorization", &wrong)]), pairs(&[])] {
            assert_eq!(
                verify_event("postmark", &h, b"{}", &opts)
                    .unwrap_err()
                    .code(),
                "EMAIL_EVENT_BAD_SIGNATURE"
            );
        }
        assert_eq!(
            verify_event("sparkpost", &[], b"", &opts)
                .unwrap_err()
                .code(),
            "EMAIL_EVENT_UNKNOWN_PROVIDER"
        );
    }

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
