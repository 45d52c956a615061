//! Endpoint secrets at rest: XChaCha20-Poly1305 under the key-encryption key `secretsKey`
//! (32 bytes, base64), with the endpoint id as associated data so that a sealed secret copied
//! to another endpoint's row does not open. The 24-byte nonce comes from the caller's CSPRNG
//! (the core reads no randomness); XChaCha's nonce is long enough to be drawn at random.
//!
//! Sealed text: base64 of `version (1) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`. The version byte
//! leaves room for another algorithm without guessing from lengths.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::error::{Result, WebhooksError};
use super::ids::{id_or_uuid, IdKind};
use super::keys::{b64_decode, b64_encode};

const VERSION: u8 = 1;
/// Nonce bytes the caller supplies.
pub const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;

/// The key-encryption keys: `current` seals, `previous` (during a key change) still opens.
#[derive(Clone)]
pub struct SecretsKeys {
    current: [u8; 32],
    previous: Option<[u8; 32]>,
}

impl std::fmt::Debug for SecretsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SecretsKeys {{ previous: {} }}",
            if self.previous.is_some() {
                "set"
            } else {
                "none"
            }
        )
    }
}

fn parse_kek(field: &str, text: &str) -> Result<[u8; 32]> {
    let raw = b64_decode(text.trim()).ok_or_else(|| {
        WebhooksError::config(
            field,
            "32 bytes in base64 (generate one with `openssl rand -base64 32`)",
        )
    })?;
    raw.as_slice().try_into().map_err(|_| {
        WebhooksError::config(
            field,
            format!(
                "32 bytes in base64, got {} bytes (generate one with `openssl rand -base64 32`)",
                raw.len()
            ),
        )
    })
}

impl SecretsKeys {
    /// Parses `secretsKey` (a string) or `{ current, previous? }`; `field` is the config path.
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_CONFIG` naming `field`, `field.current` or `field.previous`.
    pub fn parse(field: &str, current: &str, previous: Option<&str>) -> Result<SecretsKeys> {
        let (cur_field, prev_field) = if previous.is_some() {
            (format!("{field}.current"), format!("{field}.previous"))
        } else {
            (field.to_owned(), format!("{field}.previous"))
        };
        Ok(SecretsKeys {
            current: parse_kek(&cur_field, current)?,
            previous: previous.map(|p| parse_kek(&prev_field, p)).transpose()?,
        })
    }
}

fn aad(endpoint_id: &str) -> Result<[u8; 16]> {
    id_or_uuid("endpointId", IdKind::Endpoint, endpoint_id)
}

/// XChaCha20-Poly1305 of `plain` with `aad` under the current key: `nonce ‖ ciphertext ‖ tag`. Shared by
/// every sealed value of the core (endpoint secrets here, unsubscribe tokens in email), each
/// with its own associated data so that one kind never opens as another.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `nonce` when it is not 24 bytes.
pub(crate) fn seal_with(
    keys: &SecretsKeys,
    aad: &[u8],
    plain: &[u8],
    nonce: &[u8],
) -> Result<Vec<u8>> {
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| {
        WebhooksError::argument(
            "nonce",
            format!("expected {NONCE_BYTES} random bytes, got {}", nonce.len()),
        )
    })?;
    let ct = XChaCha20Poly1305::new((&keys.current).into())
        .encrypt(&XNonce::from(nonce), Payload { msg: plain, aad })
        .map_err(|_| WebhooksError::argument("secret", "cannot be sealed"))?;
    let mut out = Vec::with_capacity(NONCE_BYTES + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens `nonce ‖ ciphertext ‖ tag` with the current key, then the previous one; the flag says
/// the previous key opened it. `None`: too short, tampered, another key or other `aad`.
pub(crate) fn open_with(keys: &SecretsKeys, aad: &[u8], sealed: &[u8]) -> Option<(Vec<u8>, bool)> {
    if sealed.len() < NONCE_BYTES + TAG_BYTES {
        return None;
    }
    let mut nonce = [0u8; NONCE_BYTES];
    nonce.copy_from_slice(&sealed[..NONCE_BYTES]);
    let nonce = XNonce::from(nonce);
    let open = |k: &[u8; 32]| {
        XChaCha20Poly1305::new(k.into())
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed[NONCE_BYTES..],
                    aad,
                },
            )
            .ok()
    };
    open(&keys.current)
        .map(|p| (p, false))
        .or_else(|| keys.previous.as_ref().and_then(open).map(|p| (p, true)))
}

/// Seals `secret` for `endpoint_id` (`ep_…` or its UUID) under the current key.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `nonce` (not 24 bytes) or `endpointId`.
pub fn seal(keys: &SecretsKeys, endpoint_id: &str, secret: &str, nonce: &[u8]) -> Result<String> {
    let ad = aad(endpoint_id)?;
    let sealed = seal_with(keys, &ad, secret.as_bytes(), nonce)?;
    let mut out = Vec::with_capacity(1 + sealed.len());
    out.push(VERSION);
    out.extend_from_slice(&sealed);
    Ok(b64_encode(&out))
}

/// An opened secret; `stale` means it opened with the previous key and should be sealed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub secret: String,
    pub stale: bool,
}

/// Opens `sealed` for `endpoint_id`; `field` names the stored value in errors.
///
/// # Errors
/// `WEBHOOKS_SECRET_INVALID` for text that is not a sealed secret of this format,
/// `WEBHOOKS_SECRETS_KEY_WRONG` when neither key opens it (wrong key or another endpoint's row).
pub fn unseal(keys: &SecretsKeys, endpoint_id: &str, sealed: &str, field: &str) -> Result<Opened> {
    let raw = b64_decode(sealed)
        .filter(|r| r.len() > 1 + NONCE_BYTES + TAG_BYTES && r[0] == VERSION)
        .ok_or_else(|| WebhooksError::SecretInvalid {
            field: field.to_owned(),
            reason: "not a sealed secret of this version".into(),
        })?;
    let ad = aad(endpoint_id)?;
    let (plain, stale) =
        open_with(keys, &ad, &raw[1..]).ok_or_else(|| WebhooksError::SecretsKeyWrong {
            field: field.to_owned(),
        })?;
    let secret = String::from_utf8(plain).map_err(|_| WebhooksError::SecretInvalid {
        field: field.to_owned(),
        reason: "the opened secret is not text".into(),
    })?;
    Ok(Opened { secret, stale })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EP: &str = "018f3c00-7c00-7000-8000-00a0c91e6bf6";
    const OTHER: &str = "018f3c00-7c00-7000-8000-00a0c91e6bf7";

    fn kek(b: u8) -> String {
        b64_encode(&[b; 32])
    }

    #[test]
    fn round_trip_binds_the_endpoint() {
        let keys = SecretsKeys::parse("secretsKey", &kek(1), None).unwrap();
        let s = seal(&keys, EP, "whsec_abc", &[9; 24]).unwrap();
        let o = unseal(&keys, EP, &s, "keys[0]").unwrap();
        assert_eq!(o.secret, "whsec_abc");
        assert!(!o.stale);
        let ep = super::super::ids::from_uuid("e", IdKind::Endpoint, EP).unwrap();
        assert_eq!(unseal(&keys, &ep, &s, "k").unwrap().secret, "whsec_abc");
        let e = unseal(&keys, OTHER, &s, "keys[0]").unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_SECRETS_KEY_WRONG");
        assert!(e.to_string().contains("`keys[0]`"));
        let mut raw = b64_decode(&s).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(
            unseal(&keys, EP, &b64_encode(&raw), "k")
                .unwrap_err()
                .code(),
            "WEBHOOKS_SECRETS_KEY_WRONG"
        );
    }

    #[test]
    fn previous_key_opens_and_marks_stale() {
        let old = SecretsKeys::parse("secretsKey", &kek(1), None).unwrap();
        let s = seal(&old, EP, "whsec_abc", &[3; 24]).unwrap();
        let rotated = SecretsKeys::parse("secretsKey", &kek(2), Some(&kek(1))).unwrap();
        let o = unseal(&rotated, EP, &s, "k").unwrap();
        assert!(o.stale);
        let fresh = SecretsKeys::parse("secretsKey", &kek(2), None).unwrap();
        assert_eq!(
            unseal(&fresh, EP, &s, "k").unwrap_err().code(),
            "WEBHOOKS_SECRETS_KEY_WRONG"
        );
    }

    #[test]
    fn bad_inputs_are_named() {
        let e = SecretsKeys::parse("secretsKey", &b64_encode(&[1; 16]), None).unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_INVALID_CONFIG");
        assert!(e.to_string().contains("`secretsKey`") && e.to_string().contains("16 bytes"));
        let e = SecretsKeys::parse("secretsKey", &kek(1), Some("nope!")).unwrap_err();
        assert!(e.to_string().contains("`secretsKey.previous`"), "{e}");
        let keys = SecretsKeys::parse("secretsKey", &kek(1), None).unwrap();
        assert!(seal(&keys, EP, "x", &[0; 12])
            .unwrap_err()
            .to_string()
            .contains("`nonce`"));
        assert!(seal(&keys, "ep_bad", "x", &[0; 24])
            .unwrap_err()
            .to_string()
            .contains("`endpointId`"));
        assert_eq!(
            unseal(&keys, EP, "whsec_plain", "k").unwrap_err().code(),
            "WEBHOOKS_SECRET_INVALID"
        );
        assert!(!format!("{keys:?}").contains('1'));
    }
}
