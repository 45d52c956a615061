//! Key formats of Standard Webhooks 1.0.0: `whsec_` (HMAC-SHA256, 24–64 random bytes, base64),
//! `whsk_` / `whpk_` (ed25519 secret and public key, base64), and their generation from
//! caller-supplied random bytes (the core reads no randomness).
//!
//! A `whsk_` secret is accepted as the 32-byte seed or as the 64-byte seed‖public key that Svix
//! emits; it is always written in the 64-byte form so the public key travels with it.

use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use ed25519_dalek::{SigningKey as EdSigningKey, VerifyingKey as EdVerifyingKey};

use super::error::{Result, WebhooksError};

/// Prefix of HMAC secrets.
pub const HMAC_PREFIX: &str = "whsec_";
/// Prefix of ed25519 secret keys.
pub const ED_SECRET_PREFIX: &str = "whsk_";
/// Prefix of ed25519 public keys.
pub const ED_PUBLIC_PREFIX: &str = "whpk_";
/// Bytes of a generated HMAC secret.
pub const GENERATED_HMAC_BYTES: usize = 32;
/// HMAC secret lengths the specification allows.
pub const HMAC_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// Standard base64 that also reads unpadded input (secrets get copied without their `=`).
const B64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    B64.decode(text).ok()
}

/// Signature scheme: `v1` (HMAC-SHA256) or `v1a` (ed25519).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Scheme {
    V1,
    V1a,
}

impl Scheme {
    /// The identifier written before the comma in `webhook-signature`.
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            Scheme::V1 => "v1",
            Scheme::V1a => "v1a",
        }
    }
}

/// A key that signs outgoing requests.
#[derive(Clone)]
pub enum SigningKey {
    Hmac(Vec<u8>),
    Ed25519(Box<EdSigningKey>),
}

impl std::fmt::Debug for SigningKey {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.scheme().tag())
    }
}

/// A key that verifies incoming requests.
#[derive(Clone)]
pub enum VerifyingKey {
    Hmac(Vec<u8>),
    Ed25519(Box<EdVerifyingKey>),
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyingKey::Hmac(_) => f.write_str("VerifyingKey(v1)"),
            VerifyingKey::Ed25519(_) => f.write_str("VerifyingKey(v1a)"),
        }
    }
}

fn secret_err(field: &str, reason: impl Into<String>) -> WebhooksError {
    WebhooksError::SecretInvalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn ed_from_secret_bytes(field: &str, raw: &[u8]) -> Result<EdSigningKey> {
    let bad = || {
        secret_err(
            field,
            format!(
                "`{ED_SECRET_PREFIX}` keys are 32 bytes (seed) or 64 bytes (seed and public key), got {}",
                raw.len()
            ),
        )
    };
    let seed: [u8; 32] = raw
        .get(..32)
        .ok_or_else(bad)?
        .try_into()
        .map_err(|_| bad())?;
    let key = EdSigningKey::from_bytes(&seed);
    match raw.len() {
        32 => Ok(key),
        64 if raw[32..] == key.verifying_key().to_bytes() => Ok(key),
        64 => Err(secret_err(
            field,
            "the public half of this 64-byte `whsk_` key does not belong to its seed",
        )),
        _ => Err(bad()),
    }
}

/// Parses an endpoint secret (`whsec_…` of 24–64 bytes, or `whsk_…`).
///
/// # Errors
/// `WEBHOOKS_SECRET_INVALID` naming `field`.
pub fn parse_signing_key(field: &str, text: &str) -> Result<SigningKey> {
    if let Some(b) = text.strip_prefix(HMAC_PREFIX) {
        let raw = b64_decode(b).ok_or_else(|| secret_err(field, "not valid base64"))?;
        if !HMAC_BYTES.contains(&raw.len()) {
            return Err(secret_err(
                field,
                format!(
                    "`{HMAC_PREFIX}` secrets are 24 to 64 bytes, got {}",
                    raw.len()
                ),
            ));
        }
        return Ok(SigningKey::Hmac(raw));
    }
    if let Some(b) = text.strip_prefix(ED_SECRET_PREFIX) {
        let raw = b64_decode(b).ok_or_else(|| secret_err(field, "not valid base64"))?;
        return Ok(SigningKey::Ed25519(Box::new(ed_from_secret_bytes(
            field, &raw,
        )?)));
    }
    Err(secret_err(
        field,
        format!("expected a `{HMAC_PREFIX}…` or `{ED_SECRET_PREFIX}…` secret"),
    ))
}

impl SigningKey {
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        match self {
            SigningKey::Hmac(_) => Scheme::V1,
            SigningKey::Ed25519(_) => Scheme::V1a,
        }
    }

    /// The canonical text (`whsec_…`, or the 64-byte `whsk_…`).
    #[must_use]
    pub fn to_text(&self) -> String {
        match self {
            SigningKey::Hmac(k) => format!("{HMAC_PREFIX}{}", b64_encode(k)),
            SigningKey::Ed25519(k) => {
                format!("{ED_SECRET_PREFIX}{}", b64_encode(&k.to_keypair_bytes()))
            }
        }
    }

    /// `whpk_…` for ed25519 keys.
    #[must_use]
    pub fn public_key(&self) -> Option<String> {
        match self {
            SigningKey::Hmac(_) => None,
            SigningKey::Ed25519(k) => Some(format!(
                "{ED_PUBLIC_PREFIX}{}",
                b64_encode(k.verifying_key().as_bytes())
            )),
        }
    }

    /// The key that verifies this key's signatures.
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            SigningKey::Hmac(k) => VerifyingKey::Hmac(k.clone()),
            SigningKey::Ed25519(k) => VerifyingKey::Ed25519(Box::new(k.verifying_key())),
        }
    }
}

fn key_err(field: &str, reason: impl Into<String>) -> WebhooksError {
    WebhooksError::InvalidKey {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Parses a receiver's key: `whsec_…` (or bare base64, as the Standard Webhooks libraries
/// accept), `whpk_…`, or a `whsk_…` whose public half is used. HMAC keys of any non-empty length
/// are accepted here so that webhooks of other senders verify; we only issue 24–64 bytes.
///
/// # Errors
/// `WEBHOOK_INVALID_KEY` naming `field`.
pub fn parse_verifying_key(field: &str, text: &str) -> Result<VerifyingKey> {
    if let Some(b) = text.strip_prefix(ED_PUBLIC_PREFIX) {
        let raw = b64_decode(b).ok_or_else(|| key_err(field, "not valid base64"))?;
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
            key_err(
                field,
                format!("`{ED_PUBLIC_PREFIX}` keys are 32 bytes, got {}", raw.len()),
            )
        })?;
        let key = EdVerifyingKey::from_bytes(&bytes)
            .map_err(|_| key_err(field, "not an ed25519 public key"))?;
        return Ok(VerifyingKey::Ed25519(Box::new(key)));
    }
    if text.starts_with(ED_SECRET_PREFIX) {
        return parse_signing_key(field, text)
            .map(|k| k.verifying_key())
            .map_err(|e| match e {
                WebhooksError::SecretInvalid { reason, .. } => key_err(field, reason),
                other => other,
            });
    }
    let b = text.strip_prefix(HMAC_PREFIX).unwrap_or(text);
    let raw = b64_decode(b).ok_or_else(|| {
        key_err(
            field,
            format!("expected `{HMAC_PREFIX}…`, `{ED_PUBLIC_PREFIX}…` or `{ED_SECRET_PREFIX}…` with base64 after the prefix"),
        )
    })?;
    if raw.is_empty() {
        return Err(key_err(field, "the key is empty"));
    }
    Ok(VerifyingKey::Hmac(raw))
}

/// A generated secret: the text to store (shown once) and, for `v1a`, the public key to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct GeneratedSecret {
    pub secret: String,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub public_key: Option<String>,
}

/// A new secret from `random` (from the caller's CSPRNG): `v1` takes 24–64 bytes (32
/// recommended), `v1a` exactly 32 (the ed25519 seed).
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `random` for a wrong number of bytes.
pub fn generate_secret(scheme: Scheme, random: &[u8]) -> Result<GeneratedSecret> {
    let key = match scheme {
        Scheme::V1 if HMAC_BYTES.contains(&random.len()) => SigningKey::Hmac(random.to_vec()),
        Scheme::V1a if random.len() == 32 => {
            SigningKey::Ed25519(Box::new(ed_from_secret_bytes("random", random)?))
        }
        _ => {
            return Err(WebhooksError::argument(
                "random",
                format!(
                    "{} random bytes given; `{}` needs {}",
                    random.len(),
                    scheme.tag(),
                    if scheme == Scheme::V1 {
                        "24 to 64 (32 recommended)"
                    } else {
                        "32"
                    }
                ),
            ))
        }
    };
    Ok(GeneratedSecret {
        secret: key.to_text(),
        public_key: key.public_key(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED32: &str = "whsk_V0VCSE9PS0FTWU1NRVRSSUNURVNUUFJJVkFURUtFWTE=";
    const SEED64: &str = "whsk_V0VCSE9PS0FTWU1NRVRSSUNURVNUUFJJVkFURUtFWTHitBmOOQKefib9yJgFpE9JlMD5j9TCqAPqGDE6WUXbyA==";
    const PUBLIC: &str = "whpk_4rQZjjkCnn4m/ciYBaRPSZTA+Y/UwqgD6hgxOllF28g=";

    #[test]
    fn ed25519_forms_agree() {
        let a = parse_signing_key("secret", SEED32).unwrap();
        let b = parse_signing_key("secret", SEED64).unwrap();
        assert_eq!(a.to_text(), SEED64);
        assert_eq!(b.to_text(), SEED64);
        assert_eq!(a.public_key().as_deref(), Some(PUBLIC));
        assert!(matches!(
            parse_verifying_key("publicKey", PUBLIC).unwrap(),
            VerifyingKey::Ed25519(_)
        ));
        let g = generate_secret(Scheme::V1a, b"WEBHOOKASYMMETRICTESTPRIVATEKEY1").unwrap();
        assert_eq!(g.secret, SEED64);
        assert_eq!(g.public_key.as_deref(), Some(PUBLIC));
    }

    #[test]
    fn hmac_lengths() {
        assert!(parse_signing_key("secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        let short = format!("whsec_{}", b64_encode(&[1; 23]));
        let long = format!("whsec_{}", b64_encode(&[1; 65]));
        for bad in [
            short.as_str(),
            long.as_str(),
            "whsec_***",
            "plain",
            "whsk_AAAA",
        ] {
            let e = parse_signing_key("secret", bad).unwrap_err();
            assert_eq!(e.code(), "WEBHOOKS_SECRET_INVALID", "{bad}");
            assert!(e.to_string().contains("`secret`"));
        }
        let g = generate_secret(Scheme::V1, &[7; 32]).unwrap();
        assert!(g.secret.starts_with("whsec_") && g.public_key.is_none());
        assert!(parse_signing_key("s", &g.secret).is_ok());
        assert!(generate_secret(Scheme::V1, &[7; 16]).is_err());
        assert!(generate_secret(Scheme::V1a, &[7; 64]).is_err());
    }

    #[test]
    fn mismatched_keypair_is_refused() {
        let mut raw = b64_decode(&SEED64[5..]).unwrap();
        raw[40] ^= 1;
        let text = format!("whsk_{}", b64_encode(&raw));
        assert!(parse_signing_key("secret", &text)
            .unwrap_err()
            .to_string()
            .contains("does not belong"));
    }

    #[test]
    fn receiver_keys() {
        // Bare base64 is an HMAC key, as in the Standard Webhooks libraries.
        assert!(matches!(
            parse_verifying_key("secret", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            VerifyingKey::Hmac(_)
        ));
        assert!(matches!(
            parse_verifying_key("keys[0]", SEED32).unwrap(),
            VerifyingKey::Ed25519(_)
        ));
        for bad in ["whsec_", "", "whpk_AAAA", "whsk_AAAA", "not base64!"] {
            let e = parse_verifying_key("secret", bad).unwrap_err();
            assert_eq!(e.code(), "WEBHOOK_INVALID_KEY", "{bad}");
        }
        assert_eq!(
            format!("{:?}", parse_signing_key("s", SEED32).unwrap()),
            "SigningKey(v1a)"
        );
    }
}
