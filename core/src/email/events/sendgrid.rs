//! SendGrid's Signed Event Webhook: ECDSA P-256 with SHA-256 over `timestamp ‖ raw body`, the
//! signature base64 DER in `X-Twilio-Email-Event-Webhook-Signature`, the timestamp in
//! `X-Twilio-Email-Event-Webhook-Timestamp`, the verification key base64 SPKI DER. SendGrid
//! documents no replay window; the receiver's tolerance applies.

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;

use super::{b64, bad, fresh, header, required, EventOptions, VerifiedEvent};
use crate::email::error::{EmailError, Result};

const SIGNATURE: &str = "x-twilio-email-event-webhook-signature";
const TIMESTAMP: &str = "x-twilio-email-event-webhook-timestamp";

fn key(text: &str) -> Result<VerifyingKey> {
    let expected = "the Signed Event Webhook verification key (base64 SPKI, `MFkw…`)";
    let der = b64(text).ok_or_else(|| EmailError::config("publicKey", expected))?;
    VerifyingKey::from_public_key_der(&der).map_err(|_| EmailError::config("publicKey", expected))
}

pub(super) fn verify(
    headers: &[(String, String)],
    body: &[u8],
    opts: &EventOptions,
) -> Result<VerifiedEvent> {
    let key = key(required(
        "publicKey",
        opts.public_key.as_ref(),
        "the verification key",
    )?)?;
    let sig = header(headers, SIGNATURE)
        .ok_or_else(|| bad("sendgrid", format!("no `{SIGNATURE}` header")))?;
    let ts_text = header(headers, TIMESTAMP)
        .ok_or_else(|| bad("sendgrid", format!("no `{TIMESTAMP}` header")))?;
    let sig = b64(sig)
        .and_then(|der| Signature::from_der(&der).ok())
        .ok_or_else(|| bad("sendgrid", "the signature is not base64 DER ECDSA"))?;
    let mut signed = Vec::with_capacity(ts_text.len() + body.len());
    signed.extend_from_slice(ts_text.as_bytes());
    signed.extend_from_slice(body);
    key.verify(&signed, &sig)
        .map_err(|_| bad("sendgrid", "the signature does not match the body"))?;
    // Checked after the signature, so a forged request learns nothing from the clock.
    let ts = fresh("sendgrid", ts_text, opts)?;
    Ok(VerifiedEvent {
        provider: "sendgrid".into(),
        timestamp: Some(ts),
        ..VerifiedEvent::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vector of `@sendgrid/eventwebhook`'s tests.
    const KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==";
    const SIG: &str = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=";
    const BODY: &str =
        r#"{"category":"example_payload","event":"test_event","message_id":"message_id"}"#;

    fn headers(sig: &str, ts: &str) -> Vec<(String, String)> {
        vec![
            ("X-Twilio-Email-Event-Webhook-Signature".into(), sig.into()),
            ("X-Twilio-Email-Event-Webhook-Timestamp".into(), ts.into()),
        ]
    }

    fn opts(now: i64) -> EventOptions {
        EventOptions {
            public_key: Some(KEY.into()),
            now,
            ..EventOptions::default()
        }
    }

    #[test]
    fn documented_vector_verifies_and_one_byte_breaks_it() {
        let v = verify(
            &headers(SIG, "1588788367"),
            BODY.as_bytes(),
            &opts(1_588_788_400),
        )
        .unwrap();
        assert_eq!(v.timestamp, Some(1_588_788_367));
        let mut body = BODY.as_bytes().to_vec();
        body[2] ^= 1;
        let e = verify(&headers(SIG, "1588788367"), &body, &opts(1_588_788_400)).unwrap_err();
        assert_eq!(e.code(), "EMAIL_EVENT_BAD_SIGNATURE");
        let e = verify(
            &headers(SIG, "1588788368"),
            BODY.as_bytes(),
            &opts(1_588_788_400),
        )
        .unwrap_err();
        assert_eq!(e.code(), "EMAIL_EVENT_BAD_SIGNATURE");
    }

    #[test]
    fn stale_missing_and_malformed() {
        let e = verify(
            &headers(SIG, "1588788367"),
            BODY.as_bytes(),
            &opts(1_700_000_000),
        )
        .unwrap_err();
        assert_eq!(e.code(), "EMAIL_EVENT_STALE");
        let e = verify(
            &headers("bm9wZQ==", "1588788367"),
            BODY.as_bytes(),
            &opts(1_588_788_400),
        )
        .unwrap_err();
        assert_eq!(e.code(), "EMAIL_EVENT_BAD_SIGNATURE");
        let e = verify(&[], BODY.as_bytes(), &opts(1_588_788_400)).unwrap_err();
        assert_eq!(e.code(), "EMAIL_EVENT_BAD_SIGNATURE");
        let o = EventOptions {
            public_key: Some("MFkw".into()),
            ..opts(0)
        };
        let e = verify(&headers(SIG, "1588788367"), BODY.as_bytes(), &o).unwrap_err();
        assert_eq!(e.code(), "EMAIL_INVALID_CONFIG");
        assert!(e.to_string().contains("`publicKey`"));
    }
}
