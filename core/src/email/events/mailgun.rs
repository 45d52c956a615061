//! Mailgun's webhook signature: inside the JSON body, `signature.signature` is the hex
//! HMAC-SHA256 of `timestamp ‖ token` keyed with the HTTP webhook signing key. The body has to
//! be read to find it; nothing else in it is looked at before the MAC verifies. `token` is the
//! replay key.

use hmac::Mac;
use serde_json::Value;

use super::{bad, fresh, required, EventOptions, VerifiedEvent};
use crate::crypto::hmac_sha256;
use crate::email::error::Result;

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

pub(super) fn verify(body: &[u8], opts: &EventOptions) -> Result<VerifiedEvent> {
    let key = required(
        "signingKey",
        opts.signing_key.as_ref(),
        "the HTTP webhook signing key",
    )?;
    let doc: Value =
        serde_json::from_slice(body).map_err(|_| bad("mailgun", "the body is not JSON"))?;
    let field = |name: &str| -> Result<String> {
        match doc.get("signature").and_then(|s| s.get(name)) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(bad("mailgun", format!("no `signature.{name}` in the body"))),
        }
    };
    let (timestamp, token, signature) = (field("timestamp")?, field("token")?, field("signature")?);
    let given =
        unhex(&signature).ok_or_else(|| bad("mailgun", "`signature.signature` is not hex"))?;
    let mut mac = hmac_sha256(key.as_bytes());
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given)
        .map_err(|_| bad("mailgun", "the signature does not match"))?;
    let ts = fresh("mailgun", &timestamp, opts)?;
    Ok(VerifiedEvent {
        provider: "mailgun".into(),
        id: Some(token),
        timestamp: Some(ts),
        ..VerifiedEvent::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hex;

    fn body(key: &str, ts: &str, token: &str) -> String {
        let mut m = hmac_sha256(key.as_bytes());
        m.update(format!("{ts}{token}").as_bytes());
        let sig = hex(&m.finalize().into_bytes());
        format!(
            r#"{{"signature":{{"timestamp":"{ts}","token":"{token}","signature":"{sig}"}},"event-data":{{"event":"delivered"}}}}"#
        )
    }

    fn opts(now: i64) -> EventOptions {
        EventOptions {
            signing_key: Some("key-abc".into()),
            now,
            ..EventOptions::default()
        }
    }

    #[test]
    fn verifies_and_refuses() {
        let b = body("key-abc", "1700000000", "tok123");
        let v = verify(b.as_bytes(), &opts(1_700_000_100)).unwrap();
        assert_eq!(v.id.as_deref(), Some("tok123"));
        let e = verify(
            body("key-abd", "1700000000", "tok123").as_bytes(),
            &opts(1_700_000_100),
        )
        .unwrap_err();
        assert_eq!(e.code(), "EMAIL_EVENT_BAD_SIGNATURE");
        let e = verify(
            b.replace("tok123", "tok124").as_bytes(),
            &opts(1_700_000_100),
        )
        .unwrap_err();
        assert_eq!(e.code(), "EMAIL_EVENT_BAD_SIGNATURE");
        let e = verify(b.as_bytes(), &opts(1_700_000_400)).unwrap_err();
        assert_eq!(e.code(), "EMAIL_EVENT_STALE");
        for junk in [
            "",
            "[]",
            r#"{"signature":{"timestamp":"1","token":"t","signature":"zz"}}"#,
        ] {
            assert_eq!(
                verify(junk.as_bytes(), &opts(0)).unwrap_err().code(),
                "EMAIL_EVENT_BAD_SIGNATURE"
            );
        }
        let e = verify(b.as_bytes(), &EventOptions::default()).unwrap_err();
        assert_eq!(e.code(), "EMAIL_INVALID_CONFIG");
    }
}
