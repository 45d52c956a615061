//! N-API entry points of the webhooks product: a `Webhooks` class compiled from the config, and
//! the receiver's free functions. Clocks and random bytes come from the caller.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use usebetter_core::bridge::webhooks as wh;

use crate::{core_err, ms, opt_string, string, Code};

fn json(arg: &str, value: Unknown<'_>) -> Result<Value, Code> {
    crate::args::json(arg, value).map_err(|e| core_err(&e))
}

/// A compiled `betterWebhooks` configuration.
#[napi]
pub struct Webhooks {
    inner: wh::Webhooks,
}

#[napi]
impl Webhooks {
    /// `requireEventTypes` is false for the CLI, whose config file may omit them.
    #[napi(constructor)]
    pub fn new(config: Unknown<'_>, require_event_types: bool) -> Result<Self, Code> {
        let config = json("config", config)?;
        let inner = wh::Webhooks::new(&config, require_event_types).map_err(|e| core_err(&e))?;
        Ok(Webhooks { inner })
    }

    #[napi]
    pub fn settings(&self) -> Result<Value, Code> {
        self.inner.settings().map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn statements(&self) -> Result<Value, Code> {
        self.inner.statements().map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn migration_sql(&self, now_ms: f64, ahead: u32) -> String {
        self.inner.migration_sql(ms(now_ms), ahead)
    }

    #[napi]
    pub fn check_addresses(&self, addresses: Unknown<'_>) -> Result<Value, Code> {
        let a = json("addresses", addresses)?;
        self.inner.check_addresses(&a).map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn next_attempt(
        &self,
        attempts: u32,
        outcome: Unknown<'_>,
        retry_after_secs: Option<f64>,
        now_ms: f64,
        u: f64,
    ) -> Result<Value, Code> {
        let outcome = json("outcome", outcome)?;
        self.inner
            .next_attempt(attempts, &outcome, retry_after_secs, ms(now_ms), u)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn send_begin(
        &self,
        inputs: Unknown<'_>,
        many: bool,
        now_ms: f64,
        random: Uint8Array,
    ) -> Result<String, Code> {
        let inputs = string("inputs", inputs)?;
        self.inner
            .send_begin(&inputs, many, ms(now_ms), &random)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn send_next(&self, state: Unknown<'_>, rows: Unknown<'_>) -> Result<String, Code> {
        let (state, rows) = (string("state", state)?, string("rows", rows)?);
        self.inner
            .send_next(&state, &rows)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn prepare_requests(&self, rows: Unknown<'_>, now_ms: f64) -> Result<Value, Code> {
        let rows = json("rows", rows)?;
        self.inner
            .prepare_requests(&rows, ms(now_ms))
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn record_batch(
        &self,
        results: Unknown<'_>,
        now_ms: f64,
        u: Vec<f64>,
    ) -> Result<Value, Code> {
        let results = json("results", results)?;
        self.inner
            .record_batch(&results, ms(now_ms), &u)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn expand_step(&self, messages: Unknown<'_>, progress: Unknown<'_>) -> Result<Value, Code> {
        let (m, p) = (json("messages", messages)?, json("progress", progress)?);
        self.inner.expand_step(&m, &p).map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn list_params(&self, kind: Unknown<'_>, query: Unknown<'_>) -> Result<Value, Code> {
        let (kind, query) = (string("kind", kind)?, json("query", query)?);
        self.inner
            .list_params(&kind, &query)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn list_page(
        &self,
        kind: Unknown<'_>,
        rows: Unknown<'_>,
        limit: u32,
    ) -> Result<Value, Code> {
        let (kind, rows) = (string("kind", kind)?, json("rows", rows)?);
        self.inner
            .list_page(&kind, &rows, limit)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn row_object(&self, kind: Unknown<'_>, row: Unknown<'_>) -> Result<Value, Code> {
        let (kind, row) = (string("kind", kind)?, json("row", row)?);
        self.inner.row_object(&kind, &row).map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn stats_params(&self, window: Unknown<'_>) -> Result<Value, Code> {
        let window = opt_string("window", window)?;
        self.inner
            .stats_params(window.as_deref())
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn endpoint_events(&self, rows: Unknown<'_>) -> Result<Value, Code> {
        let rows = json("rows", rows)?;
        self.inner.endpoint_events(&rows).map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn event_params(&self, events: Unknown<'_>) -> Result<Value, Code> {
        let events = json("events", events)?;
        self.inner.event_params(&events).map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn prepare_endpoint(
        &self,
        input: Unknown<'_>,
        now_ms: f64,
        random: Uint8Array,
    ) -> Result<Value, Code> {
        let input = json("input", input)?;
        self.inner
            .prepare_endpoint(&input, ms(now_ms), &random)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn check_patch(&self, patch: Unknown<'_>) -> Result<Value, Code> {
        let patch = json("patch", patch)?;
        self.inner.check_patch(&patch).map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn rotate_secret(
        &self,
        endpoint_id: Unknown<'_>,
        keys: Unknown<'_>,
        options: Unknown<'_>,
        now_ms: f64,
        random: Uint8Array,
    ) -> Result<Value, Code> {
        let id = string("endpointId", endpoint_id)?;
        let (keys, options) = (json("keys", keys)?, json("options", options)?);
        self.inner
            .rotate_secret(&id, &keys, &options, ms(now_ms), &random)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn reveal_secret(
        &self,
        endpoint_id: Unknown<'_>,
        keys: Unknown<'_>,
        now_ms: f64,
    ) -> Result<Value, Code> {
        let id = string("endpointId", endpoint_id)?;
        let keys = json("keys", keys)?;
        self.inner
            .reveal_secret(&id, &keys, ms(now_ms))
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn reseal_keys(
        &self,
        endpoint_id: Unknown<'_>,
        keys: Unknown<'_>,
        random: Uint8Array,
    ) -> Result<Value, Code> {
        let id = string("endpointId", endpoint_id)?;
        let keys = json("keys", keys)?;
        self.inner
            .reseal_keys(&id, &keys, &random)
            .map_err(|e| core_err(&e))
    }
}

/// `signWebhook({ id, timestamp, body, secret })`.
#[napi]
pub fn webhook_sign(input: Unknown<'_>) -> Result<String, Code> {
    let input = json("input", input)?;
    wh::sign(&input).map_err(|e| core_err(&e))
}

/// Verifies a delivery: header pairs, body bytes, `{ secret?, publicKey?, keys?, toleranceSec?, now }`.
#[napi]
pub fn webhook_verify(
    headers: Unknown<'_>,
    body: Uint8Array,
    options: Unknown<'_>,
) -> Result<Value, Code> {
    let (headers, options) = (json("headers", headers)?, json("options", options)?);
    wh::verify(&headers, &body, &options).map_err(|e| core_err(&e))
}

#[napi]
pub fn webhook_generate_secret(scheme: Unknown<'_>, random: Uint8Array) -> Result<Value, Code> {
    let scheme = json("scheme", scheme)?;
    wh::generate(&scheme, &random).map_err(|e| core_err(&e))
}

/// The default SSRF classification of one address: null (allowed) or `{ range, reason }`.
#[napi]
pub fn webhook_classify_address(address: Unknown<'_>) -> Result<Value, Code> {
    wh::classify_address(&string("address", address)?).map_err(|e| core_err(&e))
}

/// `classifyOutcome(status, failure)`.
#[napi]
pub fn webhook_classify_outcome(status: Option<u32>, failure: Unknown<'_>) -> Result<String, Code> {
    let failure = json("failure", failure)?;
    let status = status.map(|s| u16::try_from(s).unwrap_or(u16::MAX));
    wh::classify(status, &failure).map_err(|e| core_err(&e))
}

/// `Retry-After` in seconds from `nowMs`, or null.
#[napi]
pub fn webhook_retry_after(value: Unknown<'_>, now_ms: f64) -> Result<Option<f64>, Code> {
    let value = opt_string("value", value)?.unwrap_or_default();
    Ok(wh::retry_after_secs(&value, ms(now_ms)))
}

/// `msg_…` from a UUID (`toPrefixed`), or the UUID of `msg_…`; `kind` names the prefix.
#[napi]
pub fn webhook_id(kind: Unknown<'_>, id: Unknown<'_>, to_prefixed: bool) -> Result<String, Code> {
    let kind = json("kind", kind)?;
    wh::convert_id(&kind, &string("id", id)?, to_prefixed).map_err(|e| core_err(&e))
}
