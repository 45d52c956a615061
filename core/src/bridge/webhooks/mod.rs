//! The webhooks product as both bindings see it: a [`Webhooks`] compiled once from
//! `betterWebhooks(config)`, whose methods take and return JSON, plus the free functions of the
//! receiver. The TypeScript engine moves rows between the database and these methods; every
//! decision (what to write, how to sign, when to retry, whether an address may be dialled) is
//! made here, once per batch.
//!
//! Clocks and randomness come from the caller (`now_ms`, `random` bytes), as everywhere in the
//! webhooks core, so every answer is reproducible.

mod deliver;
mod endpoints;
mod message;
mod queries;
mod send;

use serde::Deserialize;
use serde_json::{json, Map, Value};

pub(crate) use crate::bridge::to_value;
use crate::error::{Error, Result};
use crate::input::from_value;
use crate::webhooks::config::{self, Config};
use crate::webhooks::ids::{self, IdKind};
use crate::webhooks::keys::{generate_secret, Scheme};
use crate::webhooks::outcome::{classify_outcome, Failure, Outcome};
use crate::webhooks::retry_after::parse_retry_after;
use crate::webhooks::schedule::next_attempt;
use crate::webhooks::sign::sign_webhook;
use crate::webhooks::verify::{verify_webhook, VerifyOptions};
use crate::webhooks::{address, network::NetworkPolicy, store::SCHEMA_VERSION};

pub use deliver::{PreparedRequest, RecordInput};

/// Value of the `user-agent` header.
pub const USER_AGENT: &str = concat!("better-webhooks/", env!("CARGO_PKG_VERSION"));

/// A compiled configuration.
#[derive(Debug, Clone)]
pub struct Webhooks {
    config: Config,
}

impl Webhooks {
    /// # Errors
    /// `WEBHOOKS_INVALID_CONFIG` (or the code of the part that refused a value) naming the key.
    pub fn new(config: &Value, require_event_types: bool) -> Result<Webhooks> {
        Ok(Webhooks {
            config: config::parse(config, require_event_types)?,
        })
    }

    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The resolved settings the engine reads.
    ///
    /// # Errors
    /// Never in practice (serialising plain data).
    pub fn settings(&self) -> Result<Value> {
        to_value(&self.config.settings)
    }

    /// Every statement by name: `{ name: { sql, params: [{ name, type }] } }`.
    ///
    /// # Errors
    /// Never in practice.
    pub fn statements(&self) -> Result<Value> {
        let mut out = Map::new();
        for (name, s) in self.config.store.statements() {
            out.insert(name.to_owned(), to_value(&s)?);
        }
        out.insert("schemaVersionExpected".into(), json!(SCHEMA_VERSION));
        Ok(Value::Object(out))
    }

    /// The DDL `better-webhooks migrate` applies, with `ahead` future partitions.
    #[must_use]
    pub fn migration_sql(&self, now_ms: i64, ahead: u32) -> String {
        self.config.store.migration_sql(now_ms, ahead)
    }

    /// The guarded lookup's verdicts on the addresses a name resolved to.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for a value that is not a list of strings.
    pub fn check_addresses(&self, addresses: &Value) -> Result<Value> {
        let list: Vec<String> = from_value("addresses", addresses)?;
        to_value(&self.config.network.check_all(&list))
    }

    /// `nextAttempt` with this configuration's schedule (for tests and tools; the engine gets
    /// the same decision through [`Webhooks::record_batch`]).
    ///
    /// # Errors
    /// Those of [`next_attempt`].
    pub fn next_attempt(
        &self,
        attempts: u32,
        outcome: &Value,
        retry_after_secs: Option<f64>,
        now_ms: i64,
        u: f64,
    ) -> Result<Value> {
        let outcome: Outcome = from_value("outcome", outcome)?;
        let step = next_attempt(
            &self.config.retry,
            attempts,
            outcome,
            retry_after_secs,
            now_ms,
            u,
        )?;
        to_value(&step)
    }
}

/// `classifyOutcome(status, failure)`.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `status` or `failure`.
pub fn classify(status: Option<u16>, failure: &Value) -> Result<String> {
    let failure: Option<Failure> = from_value("failure", failure)?;
    Ok(classify_outcome(status, failure)?.as_str().to_owned())
}

/// `Retry-After` (seconds or HTTP-date) in seconds from `now_ms`, if it parses.
#[must_use]
pub fn retry_after_secs(value: &str, now_ms: i64) -> Option<f64> {
    parse_retry_after(value, now_ms)
}

/// The default classification of one address (no allow or deny list): `null` when allowed,
/// else `{ range, reason }`.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `address` for text that is not an IP address.
pub fn classify_address(text: &str) -> Result<Value> {
    let ip = text.parse().map_err(|_| {
        Error::from(crate::webhooks::WebhooksError::InvalidArgument {
            field: "address".into(),
            reason: format!("{text:?} is not an IP address"),
        })
    })?;
    Ok(match address::classify_address(ip) {
        None => Value::Null,
        Some(d) => json!({ "range": d.range, "reason": d.reason }),
    })
}

/// Verdicts with an explicit policy (`allowNetworks`, `denyNetworks`), for the CLI and tests.
///
/// # Errors
/// `WEBHOOKS_INVALID_CONFIG` naming a bad CIDR.
pub fn check_addresses_with(
    allow: &[String],
    deny: &[String],
    addresses: &[String],
) -> Result<Value> {
    to_value(&NetworkPolicy::new(allow, deny)?.check_all(addresses))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignInput {
    id: String,
    timestamp: i64,
    body: String,
    secret: String,
}

/// `signWebhook({ id, timestamp, body, secret })` → the `webhook-signature` value.
///
/// # Errors
/// `INVALID_ARGUMENT` for a wrong shape; `WEBHOOKS_SECRET_INVALID`, `WEBHOOKS_INVALID_ARGUMENT`.
pub fn sign(input: &Value) -> Result<String> {
    let i: SignInput = from_value("input", input)?;
    Ok(sign_webhook(
        &i.id,
        i.timestamp,
        i.body.as_bytes(),
        &i.secret,
    )?)
}

/// `verifyWebhook` on data: `headers` as `[name, value]` pairs, the body's bytes, options with
/// `now` in Unix seconds. Returns `{ id, timestamp }`.
///
/// # Errors
/// The receiver's `WEBHOOK_*` codes.
pub fn verify(headers: &Value, body: &[u8], options: &Value) -> Result<Value> {
    let pairs: Vec<(String, String)> = from_value("headers", headers)?;
    let opts: VerifyOptions = from_value("options", options)?;
    let v = verify_webhook(&pairs, body, &opts)?;
    Ok(json!({ "id": v.id, "timestamp": v.timestamp }))
}

/// `generateSecret("v1" | "v1a")` from the caller's random bytes.
///
/// # Errors
/// `INVALID_ARGUMENT` for another scheme; `WEBHOOKS_INVALID_ARGUMENT` for the wrong byte count.
pub fn generate(scheme: &Value, random: &[u8]) -> Result<Value> {
    let scheme: Scheme = from_value("scheme", scheme)?;
    to_value(&generate_secret(scheme, random)?)
}

/// A prefixed id (`msg_…`) from a UUID, or the UUID of a prefixed id; `kind` names the prefix.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `id`.
pub fn convert_id(kind: &Value, text: &str, to_prefixed: bool) -> Result<String> {
    let kind: IdKind = from_value("kind", kind)?;
    Ok(if to_prefixed {
        ids::from_uuid("id", kind, text)?
    } else {
        ids::to_uuid("id", kind, text)?
    })
}
