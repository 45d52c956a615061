//! Endpoint management: the checks of `endpoints.create/update` (URL, filters, headers, limits)
//! and the key operations (generate or adopt a secret, seal it, rotate, reveal, re-seal). The
//! package runs the statements; what is stored is decided here.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{to_value, Webhooks};
use crate::error::{Error, Result};
use crate::input::from_value;
use crate::webhooks::ids::{self, IdKind};
use crate::webhooks::keys::{generate_secret, parse_signing_key, Scheme};
use crate::webhooks::limits::check_headers;
use crate::webhooks::network::{check_endpoint_url, UrlParts};
use crate::webhooks::store::endpoints::ENDPOINT_PATCH_FIELDS;
use crate::webhooks::stored_keys::{live_keys, open_key, reseal_all, rotate, store_key, StoredKey};
use crate::webhooks::WebhooksError;

/// Bytes of randomness `prepare_endpoint` and `rotate_secret` take: id (10), nonce (24), a
/// generated secret (32).
pub const ENDPOINT_RANDOM_BYTES: usize = 66;

/// The parts of the WHATWG `URL` the package parsed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Url {
    href: String,
    protocol: String,
    username: String,
    password: String,
    hostname: String,
    port: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Fields {
    url: Option<Url>,
    description: Option<String>,
    event_types: Option<Vec<String>>,
    ordering: Option<String>,
    signing: Option<Scheme>,
    secret: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    rate_limit_per_second: Option<u32>,
    metadata: Option<BTreeMap<String, String>>,
    enabled: Option<bool>,
}

fn arg(field: &str, reason: impl Into<String>) -> Error {
    Error::Webhooks(WebhooksError::argument(field, reason))
}

impl Webhooks {
    /// Checks the fields present in `input`; returns them as stored (`url` text, sorted
    /// filters, …). `null` for an optional field clears it; an absent one is not in the result.
    fn check_fields(&self, input: &Fields) -> Result<serde_json::Map<String, Value>> {
        let mut out = serde_json::Map::new();
        if let Some(u) = &input.url {
            let parts = UrlParts {
                protocol: &u.protocol,
                username: &u.username,
                password: &u.password,
                hostname: &u.hostname,
                port: &u.port,
            };
            check_endpoint_url(
                "url",
                &parts,
                self.config.settings.allow_http,
                &self.config.network,
            )?;
            // WHATWG keeps the fragment in `href`; it is never sent.
            let href = u.href.split('#').next().unwrap_or_default();
            out.insert("url".into(), json!(href));
        }
        if let Some(d) = &input.description {
            if d.chars().count() > 1_000 {
                return Err(arg("description", "at most 1000 characters"));
            }
            // PostgreSQL text cannot hold NUL.
            if d.contains('\0') {
                return Err(arg("description", "contains a NUL character"));
            }
            out.insert("description".into(), json!(d));
        }
        if let Some(list) = &input.event_types {
            if list.is_empty() {
                return Err(arg(
                    "eventTypes",
                    "at least one pattern; leave it out to receive every type",
                ));
            }
            let stored = self.config.event_types.check_filter("eventTypes", list)?;
            out.insert("eventTypes".into(), json!(stored));
        }
        if let Some(o) = &input.ordering {
            if o != "none" && o != "key" {
                return Err(arg("ordering", format!("\"none\" or \"key\", got {o:?}")));
            }
            out.insert("ordering".into(), json!(o));
        }
        if let Some(h) = &input.headers {
            let pairs: Vec<(String, String)> =
                h.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            check_headers("headers", &pairs)?;
            out.insert("headers".into(), json!(h));
        }
        if let Some(r) = input.rate_limit_per_second {
            if !(1..=10_000).contains(&r) {
                return Err(arg("rateLimitPerSecond", format!("1 to 10000, got {r}")));
            }
            out.insert("rateLimitPerSecond".into(), json!(r));
        }
        if let Some(m) = &input.metadata {
            if m.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
                return Err(arg("metadata", "contains a NUL character"));
            }
            if m.len() > 50 || m.iter().any(|(k, v)| k.len() > 128 || v.len() > 1_024) {
                return Err(arg(
                    "metadata",
                    "at most 50 entries, keys ≤ 128 and values ≤ 1024 bytes",
                ));
            }
            out.insert("metadata".into(), json!(m));
        }
        if let Some(e) = input.enabled {
            out.insert(
                "status".into(),
                json!(if e { "enabled" } else { "disabled" }),
            );
        }
        Ok(out)
    }

    /// `endpoints.create`: the row to insert (`id` a UUID; `keys` sealed), the `ep_…` id, and
    /// the secret to show once (a `v1a` endpoint also gets its public key).
    ///
    /// # Errors
    /// The endpoint errors of the product naming the field; `WEBHOOKS_SECRETS_KEY_MISSING` when
    /// no `secretsKey` is configured and plaintext secrets are not allowed.
    pub fn prepare_endpoint(&self, input: &Value, now_ms: i64, random: &[u8]) -> Result<Value> {
        let input: Fields = from_value("input", input)?;
        if input.url.is_none() {
            return Err(arg("url", "required"));
        }
        if random.len() < ENDPOINT_RANDOM_BYTES {
            return Err(arg("random", format!("{ENDPOINT_RANDOM_BYTES} bytes")));
        }
        let mut row = self.check_fields(&input)?;
        let uuid = ids::uuid_text(&ids::uuid_v7(
            u64::try_from(now_ms).unwrap_or(0),
            &random[..10],
        )?);
        let scheme = input
            .signing
            .unwrap_or(self.config.settings.signing_default);
        let (key, public_key) =
            self.new_key(&uuid, scheme, input.secret.as_deref(), &random[10..])?;
        row.insert("id".into(), json!(uuid));
        row.insert("keys".into(), to_value(&vec![key.0])?);
        let mut out =
            json!({ "row": row, "endpointId": ids::from_uuid("id", IdKind::Endpoint, &uuid)? });
        if scheme == Scheme::V1 {
            out["secret"] = json!(key.1);
        } else {
            out["publicKey"] = json!(public_key);
            out["secret"] = json!(key.1);
        }
        Ok(out)
    }

    /// `endpoints.update`: `patch` checked, as the parameters `$3…$11` of
    /// [`Store::update_endpoint`](crate::webhooks::store::Store::update_endpoint): the columns
    /// to set, then one value per column (`headers` and `metadata` as JSON text). A key present
    /// with `null` clears an optional column; absent keys keep their value.
    ///
    /// # Errors
    /// As [`Webhooks::prepare_endpoint`]; a `secret` or `signing` in a patch is refused (use
    /// `rotateSecret`), as is `null` for `url`, `ordering` or `enabled`, and an empty patch.
    pub fn check_patch(&self, patch: &Value) -> Result<Value> {
        let input: Fields = from_value("patch", patch)?;
        if input.secret.is_some() || input.signing.is_some() {
            return Err(arg(
                "patch",
                "`secret` and `signing` change through `endpoints.rotateSecret(id)`",
            ));
        }
        let checked = self.check_fields(&input)?;
        let given = patch
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>());
        let given = given.unwrap_or_default();
        if given.is_empty() {
            return Err(arg("patch", "nothing to change"));
        }
        let mut fields = Vec::new();
        let mut params = vec![Value::Null; 9];
        // The patch's keys, in the order of the statement's columns.
        const KEYS: [&str; 8] = [
            "url",
            "description",
            "eventTypes",
            "ordering",
            "headers",
            "rateLimitPerSecond",
            "metadata",
            "enabled",
        ];
        for (at, (key, column)) in KEYS.iter().zip(ENDPOINT_PATCH_FIELDS).enumerate() {
            let (key, at) = (*key, at + 1);
            let clearable = !matches!(key, "url" | "ordering" | "enabled");
            if !given.iter().any(|g| g == key) {
                continue;
            }
            let value = if key == "enabled" {
                checked.get("status").map(|s| json!(s == "enabled"))
            } else {
                checked.get(key).cloned()
            };
            match value {
                None if !clearable => return Err(arg(key, "cannot be cleared")),
                None => {}
                Some(v @ Value::Object(_)) => params[at] = json!(v.to_string()),
                Some(v) => params[at] = v,
            }
            fields.push(column);
        }
        params[0] = json!(fields);
        Ok(Value::Array(params))
    }

    /// A new key for endpoint `uuid`: the given `secret` or one generated from `random[24..]`,
    /// sealed with nonce `random[..24]`. Returns the stored key with the clear secret, and the
    /// public key of a `v1a` key.
    fn new_key(
        &self,
        uuid: &str,
        scheme: Scheme,
        secret: Option<&str>,
        random: &[u8],
    ) -> Result<((StoredKey, String), Option<String>)> {
        let secret = match secret {
            Some(s) => {
                let k = parse_signing_key("secret", s)?;
                if k.scheme() != scheme {
                    return Err(arg(
                        "secret",
                        format!(
                            "a {} secret for a {} endpoint",
                            k.scheme().tag(),
                            scheme.tag()
                        ),
                    ));
                }
                k.to_text()
            }
            None => generate_secret(scheme, &random[24..56])?.secret,
        };
        let public = parse_signing_key("secret", &secret)?.public_key();
        let s = &self.config.settings;
        let stored = store_key(
            self.config.secrets.as_ref(),
            s.allow_plaintext_secrets,
            uuid,
            &secret,
            &random[..24],
        )?;
        Ok(((stored, secret), public))
    }

    /// `endpoints.rotateSecret`: the new `keys` (new key first, the old ones expiring after
    /// `graceHours`) and the new secret.
    ///
    /// # Errors
    /// `WEBHOOKS_TOO_MANY_OLD_KEYS`, `WEBHOOKS_SECRET_INVALID`, key errors.
    pub fn rotate_secret(
        &self,
        endpoint_id: &str,
        keys: &Value,
        options: &Value,
        now_ms: i64,
        random: &[u8],
    ) -> Result<Value> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Options {
            grace_hours: Option<u32>,
            secret: Option<String>,
        }
        let stored: Vec<StoredKey> = from_value("keys", keys)?;
        let o: Options = from_value("options", options)?;
        if random.len() < ENDPOINT_RANDOM_BYTES {
            return Err(arg("random", format!("{ENDPOINT_RANDOM_BYTES} bytes")));
        }
        let uuid = ids::uuid_text(&ids::id_or_uuid("id", IdKind::Endpoint, endpoint_id)?);
        let scheme = stored
            .first()
            .map_or(self.config.settings.signing_default, |k| k.kind);
        let ((key, secret), public) =
            self.new_key(&uuid, scheme, o.secret.as_deref(), &random[10..])?;
        let rotated = rotate(&stored, key, now_ms, o.grace_hours.unwrap_or(24))?;
        Ok(json!({ "keys": rotated, "secret": secret, "publicKey": public }))
    }

    /// `endpoints.revealSecret`: the current key's secret (and public key for `v1a`).
    ///
    /// # Errors
    /// `WEBHOOKS_SECRETS_KEY_MISSING` / `_WRONG`, `WEBHOOKS_SECRET_INVALID`.
    pub fn reveal_secret(&self, endpoint_id: &str, keys: &Value, now_ms: i64) -> Result<Value> {
        let stored: Vec<StoredKey> = from_value("keys", keys)?;
        let uuid = ids::uuid_text(&ids::id_or_uuid("id", IdKind::Endpoint, endpoint_id)?);
        // The current key must be live; `live_keys` also refuses an endpoint with none.
        live_keys(&stored, self.config.secrets.as_ref(), &uuid, now_ms)?;
        let first = stored.first().ok_or_else(|| arg("keys", "no key"))?;
        let (key, _) = open_key(first, self.config.secrets.as_ref(), &uuid, "keys[0]")?;
        Ok(json!({ "secret": key.to_text(), "publicKey": key.public_key() }))
    }

    /// Every key of an endpoint sealed again with the current `secretsKey` (`rekey`, and the
    /// lazy re-seal of keys that opened with the previous one). `random`: 24 bytes per key.
    ///
    /// # Errors
    /// `WEBHOOKS_SECRETS_KEY_MISSING` without a `secretsKey`; key errors.
    pub fn reseal_keys(&self, endpoint_id: &str, keys: &Value, random: &[u8]) -> Result<Value> {
        let stored: Vec<StoredKey> = from_value("keys", keys)?;
        let secrets = self.config.secrets.as_ref().ok_or_else(|| {
            Error::Webhooks(WebhooksError::SecretsKeyMissing {
                field: "secretsKey".into(),
            })
        })?;
        let uuid = ids::uuid_text(&ids::id_or_uuid("id", IdKind::Endpoint, endpoint_id)?);
        if random.len() < stored.len() * 24 {
            return Err(arg("random", "24 bytes per key"));
        }
        let nonces: Vec<Vec<u8>> = random
            .chunks(24)
            .take(stored.len())
            .map(<[u8]>::to_vec)
            .collect();
        to_value(&reseal_all(&stored, secrets, &uuid, &nonces)?)
    }
}
