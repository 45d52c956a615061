//! An endpoint's signing keys as stored in `webhook_endpoints.keys` (jsonb): current key first,
//! then old keys that keep signing until their `expires_at` (key rotation, as Svix: every
//! request carries one signature per unexpired key, so receivers can switch at any time).

use super::error::{Result, WebhooksError};
use super::keys::{parse_signing_key, Scheme, SigningKey};
use super::seal::{seal, unseal, SecretsKeys};
use crate::audit::time::{format_iso, parse_iso};

/// At most this many unexpired old keys (Svix's limit).
pub const MAX_OLD_KEYS: usize = 10;
/// Longest rotation grace period.
pub const MAX_GRACE_HOURS: u32 = 168;

/// One element of `keys`: `{kind, sealed}` (or `{kind, secret}` in clear, only with
/// `allowPlaintextSecrets`), and `expires_at` (RFC 3339) on old keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct StoredKey {
    pub kind: Scheme,
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub sealed: Option<String>,
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub secret: Option<String>,
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub expires_at: Option<String>,
}

impl StoredKey {
    fn expires_micros(&self, field: &str) -> Result<Option<i64>> {
        self.expires_at
            .as_deref()
            .map(|t| {
                parse_iso(t).ok_or_else(|| {
                    WebhooksError::argument(
                        format!("{field}.expires_at"),
                        format!("{t:?} is not an RFC 3339 time"),
                    )
                })
            })
            .transpose()
    }

    /// Whether the key still signs at `now_ms`.
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_ARGUMENT` for an unreadable `expires_at`.
    pub fn live_at(&self, field: &str, now_ms: i64) -> Result<bool> {
        Ok(self
            .expires_micros(field)?
            .is_none_or(|e| e > now_ms.saturating_mul(1000)))
    }
}

/// Validates `secret` (`whsec_…`/`whsk_…`) and stores it: sealed for `endpoint_id` when
/// `secrets` is given, in clear only when `allow_plaintext` (development) says so.
///
/// # Errors
/// `WEBHOOKS_SECRET_INVALID` naming `secret`, `WEBHOOKS_SECRETS_KEY_MISSING` without a key and
/// without `allowPlaintextSecrets`, or the errors of [`seal`].
pub fn store_key(
    secrets: Option<&SecretsKeys>,
    allow_plaintext: bool,
    endpoint_id: &str,
    secret: &str,
    nonce: &[u8],
) -> Result<StoredKey> {
    let key = parse_signing_key("secret", secret)?;
    let text = key.to_text();
    let (sealed, clear) = match (secrets, allow_plaintext) {
        (Some(k), _) => (Some(seal(k, endpoint_id, &text, nonce)?), None),
        (None, true) => (None, Some(text)),
        (None, false) => {
            return Err(WebhooksError::SecretsKeyMissing {
                field: "secret".into(),
            })
        }
    };
    Ok(StoredKey {
        kind: key.scheme(),
        sealed,
        secret: clear,
        expires_at: None,
    })
}

/// The signing key in `stored`; `stale` when it was sealed with the previous `secretsKey`.
///
/// # Errors
/// `WEBHOOKS_SECRETS_KEY_MISSING` / `_WRONG`, or `WEBHOOKS_SECRET_INVALID` for a stored value
/// that is neither sealed nor clear, or whose scheme disagrees with `kind`.
pub fn open_key(
    stored: &StoredKey,
    secrets: Option<&SecretsKeys>,
    endpoint_id: &str,
    field: &str,
) -> Result<(SigningKey, bool)> {
    let (text, stale) = match (&stored.sealed, &stored.secret, secrets) {
        (Some(s), _, Some(k)) => {
            let o = unseal(k, endpoint_id, s, field)?;
            (o.secret, o.stale)
        }
        (Some(_), _, None) => {
            return Err(WebhooksError::SecretsKeyMissing {
                field: field.to_owned(),
            })
        }
        (None, Some(clear), _) => (clear.clone(), false),
        (None, None, _) => {
            return Err(WebhooksError::SecretInvalid {
                field: field.to_owned(),
                reason: "neither `sealed` nor `secret` is set".into(),
            })
        }
    };
    let key = parse_signing_key(field, &text)?;
    if key.scheme() != stored.kind {
        return Err(WebhooksError::SecretInvalid {
            field: field.to_owned(),
            reason: format!(
                "`kind` is {} but the secret is {}",
                stored.kind.tag(),
                key.scheme().tag()
            ),
        });
    }
    Ok((key, stale))
}

/// The keys that sign at `now_ms`, current first, and whether any needs sealing again.
///
/// # Errors
/// Those of [`open_key`], with `field` = `keys[i]`; `WEBHOOKS_SECRET_INVALID` when no key is live.
pub fn live_keys(
    stored: &[StoredKey],
    secrets: Option<&SecretsKeys>,
    endpoint_id: &str,
    now_ms: i64,
) -> Result<(Vec<SigningKey>, bool)> {
    let mut out = Vec::with_capacity(stored.len());
    let mut stale = false;
    for (i, k) in stored.iter().enumerate() {
        let field = format!("keys[{i}]");
        if !k.live_at(&field, now_ms)? {
            continue;
        }
        let (key, s) = open_key(k, secrets, endpoint_id, &field)?;
        stale |= s;
        out.push(key);
    }
    if out.is_empty() {
        return Err(WebhooksError::SecretInvalid {
            field: "keys".into(),
            reason: "the endpoint has no unexpired signing key".into(),
        });
    }
    Ok((out, stale))
}

/// Key rotation: `new` becomes current, the old current key expires after `grace_hours`
/// (0 drops it now), expired keys are dropped.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `graceHours` (over 168), `WEBHOOKS_TOO_MANY_OLD_KEYS`.
pub fn rotate(
    stored: &[StoredKey],
    new: StoredKey,
    now_ms: i64,
    grace_hours: u32,
) -> Result<Vec<StoredKey>> {
    if grace_hours > MAX_GRACE_HOURS {
        return Err(WebhooksError::argument(
            "graceHours",
            format!("{grace_hours} is over the maximum of {MAX_GRACE_HOURS} hours"),
        ));
    }
    let now_us = now_ms.saturating_mul(1000);
    let expiry = now_us.saturating_add(i64::from(grace_hours) * 3_600_000_000);
    let mut out = vec![new];
    for (i, k) in stored.iter().enumerate() {
        let field = format!("keys[{i}]");
        let old = match k.expires_micros(&field)? {
            // The current key: from now on an old key.
            None if grace_hours > 0 => StoredKey {
                expires_at: Some(format_iso(expiry)),
                ..k.clone()
            },
            Some(e) if e > now_us => k.clone(),
            _ => continue,
        };
        out.push(old);
    }
    if out.len() - 1 > MAX_OLD_KEYS {
        return Err(WebhooksError::TooManyOldKeys {
            field: "keys".into(),
            max: MAX_OLD_KEYS,
        });
    }
    Ok(out)
}

/// `rekey`: every key sealed again under the current `secretsKey` (clear keys get sealed too).
///
/// # Errors
/// Those of [`open_key`] and [`seal`]; `nonces` must hold one 24-byte nonce per key.
pub fn reseal_all(
    stored: &[StoredKey],
    secrets: &SecretsKeys,
    endpoint_id: &str,
    nonces: &[Vec<u8>],
) -> Result<Vec<StoredKey>> {
    if nonces.len() != stored.len() {
        return Err(WebhooksError::argument(
            "nonces",
            format!("expected {} nonces, got {}", stored.len(), nonces.len()),
        ));
    }
    stored
        .iter()
        .zip(nonces)
        .enumerate()
        .map(|(i, (k, nonce))| {
            let (key, _) = open_key(k, Some(secrets), endpoint_id, &format!("keys[{i}]"))?;
            Ok(StoredKey {
                sealed: Some(seal(secrets, endpoint_id, &key.to_text(), nonce)?),
                secret: None,
                ..k.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::keys::b64_encode;
    use super::*;

    const EP: &str = "018f3c00-7c00-7000-8000-00a0c91e6bf6";
    const HOUR_MS: i64 = 3_600_000;

    fn kek(b: u8) -> SecretsKeys {
        SecretsKeys::parse("secretsKey", &b64_encode(&[b; 32]), None).unwrap()
    }

    fn secret(b: u8) -> String {
        format!("whsec_{}", b64_encode(&[b; 32]))
    }

    #[test]
    fn store_and_open() {
        let k = kek(1);
        let s = store_key(Some(&k), false, EP, &secret(5), &[0; 24]).unwrap();
        assert!(s.secret.is_none() && s.sealed.is_some() && s.kind == Scheme::V1);
        let (key, stale) = open_key(&s, Some(&k), EP, "keys[0]").unwrap();
        assert_eq!(key.to_text(), secret(5));
        assert!(!stale);
        let e = open_key(&s, None, EP, "keys[0]").unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_SECRETS_KEY_MISSING");
        let e = store_key(None, false, EP, &secret(5), &[0; 24]).unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_SECRETS_KEY_MISSING");
        let clear = store_key(None, true, EP, &secret(5), &[]).unwrap();
        assert_eq!(clear.secret, Some(secret(5)));
        let wrong_kind = StoredKey {
            kind: Scheme::V1a,
            ..clear
        };
        assert!(open_key(&wrong_kind, None, EP, "keys[0]")
            .unwrap_err()
            .to_string()
            .contains("`kind` is v1a"));
    }

    #[test]
    fn rotation_grace_and_limit() {
        let k = kek(1);
        let now = 1_800_000_000_000;
        let mut keys = vec![store_key(Some(&k), false, EP, &secret(0), &[0; 24]).unwrap()];
        for i in 1..=10 {
            let new = store_key(Some(&k), false, EP, &secret(i), &[i; 24]).unwrap();
            keys = rotate(&keys, new, now + i64::from(i), 24).unwrap();
        }
        assert_eq!(keys.len(), 11);
        let (live, _) = live_keys(&keys, Some(&k), EP, now + 100).unwrap();
        assert_eq!(live.len(), 11);
        assert_eq!(live[0].to_text(), secret(10));
        let new = store_key(Some(&k), false, EP, &secret(11), &[11; 24]).unwrap();
        let e = rotate(&keys, new.clone(), now + 200, 24).unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_TOO_MANY_OLD_KEYS");
        // After the grace period the old keys are gone.
        let later = now + 25 * HOUR_MS;
        let (live, _) = live_keys(&keys, Some(&k), EP, later).unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(rotate(&keys, new.clone(), later, 24).unwrap().len(), 2);
        assert_eq!(rotate(&keys, new.clone(), later, 0).unwrap().len(), 1);
        assert!(rotate(&keys, new, later, 169).is_err());
    }

    #[test]
    fn rekey_under_a_new_key() {
        let old = kek(1);
        let keys = vec![store_key(Some(&old), false, EP, &secret(3), &[1; 24]).unwrap()];
        let both = SecretsKeys::parse(
            "secretsKey",
            &b64_encode(&[2; 32]),
            Some(&b64_encode(&[1; 32])),
        )
        .unwrap();
        let (_, stale) = live_keys(&keys, Some(&both), EP, 0).unwrap();
        assert!(stale);
        let resealed = reseal_all(&keys, &both, EP, &[vec![4; 24]]).unwrap();
        let (live, stale) = live_keys(&resealed, Some(&kek(2)), EP, 0).unwrap();
        assert!(!stale);
        assert_eq!(live[0].to_text(), secret(3));
        assert!(reseal_all(&keys, &both, EP, &[]).is_err());
        assert!(live_keys(&[], None, EP, 0).is_err());
    }
}
