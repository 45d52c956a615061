//! Signing per Standard Webhooks 1.0.0: the signed content is `{webhook-id}.{webhook-timestamp}.
//! {body}` (bytes), `v1` is base64 HMAC-SHA256 with the `whsec_` key, `v1a` base64 ed25519.
//! `webhook-signature` lists one signature per live key, current key first, space-separated.
//!
//! The worker signs a whole claimed batch in one call ([`sign_batch`]): each endpoint's keys
//! are opened once per batch, not once per message.

use ed25519_dalek::Signer;
use hmac::Mac;

use super::error::{Result, WebhooksError};
use super::keys::{b64_encode, parse_signing_key, SigningKey};
use super::seal::SecretsKeys;
use super::stored_keys::{live_keys, StoredKey};
use crate::crypto::hmac_sha256;

/// `id.timestamp.body`.
fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let ts = timestamp.to_string();
    let mut out = Vec::with_capacity(id.len() + ts.len() + body.len() + 2);
    out.extend_from_slice(id.as_bytes());
    out.push(b'.');
    out.extend_from_slice(ts.as_bytes());
    out.push(b'.');
    out.extend_from_slice(body);
    out
}

/// One signature, `v1,…` or `v1a,…`.
#[must_use]
pub fn sign_with(key: &SigningKey, content: &[u8]) -> String {
    match key {
        SigningKey::Hmac(k) => {
            let mut mac = hmac_sha256(k);
            mac.update(content);
            format!("v1,{}", b64_encode(&mac.finalize().into_bytes()))
        }
        SigningKey::Ed25519(k) => format!("v1a,{}", b64_encode(&k.sign(content).to_bytes())),
    }
}

/// The message id goes into the signed content before a `.`: an id containing `.` (or
/// whitespace, which would split the header) could shift that boundary.
pub(crate) fn check_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.bytes().any(|b| b == b'.' || b.is_ascii_whitespace()) {
        return Err(WebhooksError::argument(
            field,
            format!("{id:?} must be non-empty and contain no `.` or whitespace"),
        ));
    }
    Ok(())
}

/// The `webhook-signature` value for `keys` (current first).
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `id` (see [`check_id`]) or `keys` (empty).
pub fn signature_header(
    keys: &[SigningKey],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String> {
    check_id("id", id)?;
    if keys.is_empty() {
        return Err(WebhooksError::argument(
            "keys",
            "at least one key is needed",
        ));
    }
    let content = signed_content(id, timestamp, body);
    Ok(keys
        .iter()
        .map(|k| sign_with(k, &content))
        .collect::<Vec<_>>()
        .join(" "))
}

/// `signWebhook({ id, timestamp, body, secret })` of the receiver package.
///
/// # Errors
/// `WEBHOOKS_SECRET_INVALID` naming `secret`, or those of [`signature_header`].
pub fn sign_webhook(id: &str, timestamp: i64, body: &[u8], secret: &str) -> Result<String> {
    let key = parse_signing_key("secret", secret)?;
    signature_header(std::slice::from_ref(&key), id, timestamp, body)
}

/// The keys of one endpoint in a batch, as read from `webhook_endpoints`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
pub struct EndpointKeys {
    /// `ep_…` or the UUID: the associated data of its sealed secrets.
    pub endpoint_id: String,
    pub keys: Vec<StoredKey>,
}

/// One request to sign: `endpoint` indexes [`SignBatch::endpoints`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
pub struct SignItem {
    pub endpoint: usize,
    /// `webhook-id` (`msg_…`).
    pub id: String,
    /// `webhook-timestamp`: the attempt time, Unix seconds.
    pub timestamp: i64,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
pub struct SignBatch {
    pub endpoints: Vec<EndpointKeys>,
    pub items: Vec<SignItem>,
}

/// Result of [`sign_batch`]: one entry per item, and the endpoints whose keys opened with the
/// previous `secretsKey` (to be sealed again, lazily, by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBatch {
    pub signatures: Vec<Result<String>>,
    pub stale_endpoints: Vec<usize>,
}

/// Signs every item with its endpoint's keys live at `now_ms`. An endpoint whose keys do not
/// open fails only its own items; the rest of the batch is signed.
#[must_use]
pub fn sign_batch(batch: &SignBatch, secrets: Option<&SecretsKeys>, now_ms: i64) -> SignedBatch {
    let opened: Vec<Result<(Vec<SigningKey>, bool)>> = batch
        .endpoints
        .iter()
        .map(|e| live_keys(&e.keys, secrets, &e.endpoint_id, now_ms))
        .collect();
    let stale_endpoints = opened
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Ok((_, true))))
        .map(|(i, _)| i)
        .collect();
    let signatures = batch
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let keys = opened.get(item.endpoint).ok_or_else(|| {
                WebhooksError::argument(
                    format!("items[{i}].endpoint"),
                    format!("{} is not an index of `endpoints`", item.endpoint),
                )
            })?;
            let (keys, _) = keys.as_ref().map_err(Clone::clone)?;
            check_id(&format!("items[{i}].id"), &item.id)?;
            signature_header(keys, &item.id, item.timestamp, item.body.as_bytes())
        })
        .collect();
    SignedBatch {
        signatures,
        stale_endpoints,
    }
}

#[cfg(test)]
mod tests {
    use super::super::stored_keys::store_key;
    use super::*;

    #[test]
    fn ids_with_dots_are_refused() {
        let key = parse_signing_key("s", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        for bad in ["", "msg.1", "msg 1"] {
            let e = signature_header(std::slice::from_ref(&key), bad, 1, b"{}").unwrap_err();
            assert!(e.to_string().contains("`id`"), "{e}");
        }
        assert!(signature_header(&[], "msg_1", 1, b"{}").is_err());
    }

    #[test]
    fn batch_isolates_failing_endpoints() {
        let ep = "018f3c00-7c00-7000-8000-00a0c91e6bf6";
        let kek = SecretsKeys::parse("secretsKey", &b64_encode(&[1; 32]), None).unwrap();
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let good = store_key(Some(&kek), false, ep, secret, &[0; 24]).unwrap();
        let batch = SignBatch {
            endpoints: vec![
                EndpointKeys {
                    endpoint_id: ep.into(),
                    keys: vec![good.clone()],
                },
                EndpointKeys {
                    endpoint_id: "018f3c00-7c00-7000-8000-00a0c91e6bf7".into(),
                    keys: vec![good],
                },
            ],
            items: vec![
                SignItem {
                    endpoint: 0,
                    id: "msg_p5jXN8AQM9LWM0D4loKWxJek".into(),
                    timestamp: 1_614_265_330,
                    body: r#"{"test": 2432232314}"#.into(),
                },
                SignItem {
                    endpoint: 1,
                    id: "msg_x".into(),
                    timestamp: 1,
                    body: String::new(),
                },
                SignItem {
                    endpoint: 7,
                    id: "msg_x".into(),
                    timestamp: 1,
                    body: String::new(),
                },
            ],
        };
        let out = sign_batch(&batch, Some(&kek), 0);
        assert_eq!(
            out.signatures[0].as_deref().unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(
            out.signatures[1].as_ref().unwrap_err().code(),
            "WEBHOOKS_SECRETS_KEY_WRONG"
        );
        assert!(out.signatures[2]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("`items[2].endpoint`"));
        assert!(out.stale_endpoints.is_empty());
    }
}
