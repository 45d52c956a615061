//! WebAssembly entry points of the webhooks product, with the names and shapes of the N-API
//! ones: a `Webhooks` class compiled from the config (feature `webhooks-engine`), and the
//! receiver's free functions (`suite` or `webhooks-engine`). `webhookId` is everyone's: the email
//! package names its messages with it.

use serde_json::Value;
use usebetter_core::bridge::webhooks as wh;
use wasm_bindgen::prelude::*;

use crate::{core_err, string};
#[cfg(any(feature = "suite", feature = "webhooks-engine"))]
use crate::{ms, opt_string, to_js};

fn json(arg: &str, value: &JsValue) -> Result<Value, JsValue> {
    crate::args::json(arg, value).map_err(|e| core_err(&e))
}

/// Core results are JSON values; errors carry the core's code.
#[cfg(any(feature = "suite", feature = "webhooks-engine"))]
fn out(r: usebetter_core::error::Result<Value>) -> Result<JsValue, JsValue> {
    to_js(&r.map_err(|e| core_err(&e))?)
}

/// A compiled `betterWebhooks` configuration.
#[cfg(feature = "webhooks-engine")]
#[wasm_bindgen]
pub struct Webhooks {
    inner: wh::Webhooks,
}

#[cfg(feature = "webhooks-engine")]
#[wasm_bindgen]
impl Webhooks {
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue, require_event_types: bool) -> Result<Webhooks, JsValue> {
        let config = json("config", &config)?;
        let inner = wh::Webhooks::new(&config, require_event_types).map_err(|e| core_err(&e))?;
        Ok(Webhooks { inner })
    }

    pub fn settings(&self) -> Result<JsValue, JsValue> {
        out(self.inner.settings())
    }

    pub fn statements(&self) -> Result<JsValue, JsValue> {
        out(self.inner.statements())
    }

    #[wasm_bindgen(js_name = migrationSql)]
    pub fn migration_sql(&self, now_ms: f64, ahead: u32) -> String {
        self.inner.migration_sql(ms(now_ms), ahead)
    }

    #[wasm_bindgen(js_name = checkAddresses)]
    pub fn check_addresses(&self, addresses: JsValue) -> Result<JsValue, JsValue> {
        out(self.inner.check_addresses(&json("addresses", &addresses)?))
    }

    #[wasm_bindgen(js_name = nextAttempt)]
    pub fn next_attempt(
        &self,
        attempts: u32,
        outcome: JsValue,
        retry_after_secs: Option<f64>,
        now_ms: f64,
        u: f64,
    ) -> Result<JsValue, JsValue> {
        let outcome = json("outcome", &outcome)?;
        out(self
            .inner
            .next_attempt(attempts, &outcome, retry_after_secs, ms(now_ms), u))
    }

    #[wasm_bindgen(js_name = sendBegin)]
    pub fn send_begin(
        &self,
        inputs: JsValue,
        many: bool,
        now_ms: f64,
        random: &[u8],
    ) -> Result<String, JsValue> {
        let inputs = string("inputs", &inputs)?;
        self.inner
            .send_begin(&inputs, many, ms(now_ms), random)
            .map_err(|e| core_err(&e))
    }

    #[wasm_bindgen(js_name = sendNext)]
    pub fn send_next(&self, state: JsValue, rows: JsValue) -> Result<String, JsValue> {
        let (state, rows) = (string("state", &state)?, string("rows", &rows)?);
        self.inner
            .send_next(&state, &rows)
            .map_err(|e| core_err(&e))
    }

    #[wasm_bindgen(js_name = prepareRequests)]
    pub fn prepare_requests(&self, rows: JsValue, now_ms: f64) -> Result<JsValue, JsValue> {
        out(self
            .inner
            .prepare_requests(&json("rows", &rows)?, ms(now_ms)))
    }

    #[wasm_bindgen(js_name = recordBatch)]
    pub fn record_batch(
        &self,
        results: JsValue,
        now_ms: f64,
        u: Vec<f64>,
    ) -> Result<JsValue, JsValue> {
        out(self
            .inner
            .record_batch(&json("results", &results)?, ms(now_ms), &u))
    }

    #[wasm_bindgen(js_name = expandStep)]
    pub fn expand_step(&self, messages: JsValue, progress: JsValue) -> Result<JsValue, JsValue> {
        out(self
            .inner
            .expand_step(&json("messages", &messages)?, &json("progress", &progress)?))
    }

    #[wasm_bindgen(js_name = listParams)]
    pub fn list_params(&self, kind: JsValue, query: JsValue) -> Result<JsValue, JsValue> {
        out(self
            .inner
            .list_params(&string("kind", &kind)?, &json("query", &query)?))
    }

    #[wasm_bindgen(js_name = listPage)]
    pub fn list_page(&self, kind: JsValue, rows: JsValue, limit: u32) -> Result<JsValue, JsValue> {
        out(self
            .inner
            .list_page(&string("kind", &kind)?, &json("rows", &rows)?, limit))
    }

    #[wasm_bindgen(js_name = rowObject)]
    pub fn row_object(&self, kind: JsValue, row: JsValue) -> Result<JsValue, JsValue> {
        out(self
            .inner
            .row_object(&string("kind", &kind)?, &json("row", &row)?))
    }

    #[wasm_bindgen(js_name = statsParams)]
    pub fn stats_params(&self, window: JsValue) -> Result<JsValue, JsValue> {
        let window = opt_string("window", &window)?;
        out(self.inner.stats_params(window.as_deref()))
    }

    #[wasm_bindgen(js_name = endpointEvents)]
    pub fn endpoint_events(&self, rows: JsValue) -> Result<JsValue, JsValue> {
        out(self.inner.endpoint_events(&json("rows", &rows)?))
    }

    #[wasm_bindgen(js_name = eventParams)]
    pub fn event_params(&self, events: JsValue) -> Result<JsValue, JsValue> {
        out(self.inner.event_params(&json("events", &events)?))
    }

    #[wasm_bindgen(js_name = prepareEndpoint)]
    pub fn prepare_endpoint(
        &self,
        input: JsValue,
        now_ms: f64,
        random: &[u8],
    ) -> Result<JsValue, JsValue> {
        out(self
            .inner
            .prepare_endpoint(&json("input", &input)?, ms(now_ms), random))
    }

    #[wasm_bindgen(js_name = checkPatch)]
    pub fn check_patch(&self, patch: JsValue) -> Result<JsValue, JsValue> {
        out(self.inner.check_patch(&json("patch", &patch)?))
    }

    #[wasm_bindgen(js_name = rotateSecret)]
    pub fn rotate_secret(
        &self,
        endpoint_id: JsValue,
        keys: JsValue,
        options: JsValue,
        now_ms: f64,
        random: &[u8],
    ) -> Result<JsValue, JsValue> {
        let id = string("endpointId", &endpoint_id)?;
        let (keys, options) = (json("keys", &keys)?, json("options", &options)?);
        out(self
            .inner
            .rotate_secret(&id, &keys, &options, ms(now_ms), random))
    }

    #[wasm_bindgen(js_name = revealSecret)]
    pub fn reveal_secret(
        &self,
        endpoint_id: JsValue,
        keys: JsValue,
        now_ms: f64,
    ) -> Result<JsValue, JsValue> {
        let id = string("endpointId", &endpoint_id)?;
        out(self
            .inner
            .reveal_secret(&id, &json("keys", &keys)?, ms(now_ms)))
    }

    #[wasm_bindgen(js_name = resealKeys)]
    pub fn reseal_keys(
        &self,
        endpoint_id: JsValue,
        keys: JsValue,
        random: &[u8],
    ) -> Result<JsValue, JsValue> {
        let id = string("endpointId", &endpoint_id)?;
        out(self.inner.reseal_keys(&id, &json("keys", &keys)?, random))
    }
}

#[cfg(any(feature = "suite", feature = "webhooks-engine"))]
/// `signWebhook({ id, timestamp, body, secret })`.
#[wasm_bindgen(js_name = webhookSign)]
pub fn webhook_sign(input: JsValue) -> Result<String, JsValue> {
    wh::sign(&json("input", &input)?).map_err(|e| core_err(&e))
}

#[cfg(any(feature = "suite", feature = "webhooks-engine"))]
/// Verifies a delivery: header pairs, body bytes, `{ secret?, publicKey?, keys?, toleranceSec?, now }`.
#[wasm_bindgen(js_name = webhookVerify)]
pub fn webhook_verify(headers: JsValue, body: &[u8], options: JsValue) -> Result<JsValue, JsValue> {
    let (headers, options) = (json("headers", &headers)?, json("options", &options)?);
    out(wh::verify(&headers, body, &options))
}

#[cfg(any(feature = "suite", feature = "webhooks-engine"))]
#[wasm_bindgen(js_name = webhookGenerateSecret)]
pub fn webhook_generate_secret(scheme: JsValue, random: &[u8]) -> Result<JsValue, JsValue> {
    out(wh::generate(&json("scheme", &scheme)?, random))
}

#[cfg(any(feature = "suite", feature = "webhooks-engine"))]
/// The default SSRF classification of one address: null (allowed) or `{ range, reason }`.
#[wasm_bindgen(js_name = webhookClassifyAddress)]
pub fn webhook_classify_address(address: JsValue) -> Result<JsValue, JsValue> {
    out(wh::classify_address(&string("address", &address)?))
}

#[cfg(any(feature = "suite", feature = "webhooks-engine"))]
/// `classifyOutcome(status, failure)`.
#[wasm_bindgen(js_name = webhookClassifyOutcome)]
pub fn webhook_classify_outcome(status: Option<u32>, failure: JsValue) -> Result<String, JsValue> {
    let failure = json("failure", &failure)?;
    let status = status.map(|s| u16::try_from(s).unwrap_or(u16::MAX));
    wh::classify(status, &failure).map_err(|e| core_err(&e))
}

#[cfg(any(feature = "suite", feature = "webhooks-engine"))]
/// `Retry-After` in seconds from `nowMs`, or null.
#[wasm_bindgen(js_name = webhookRetryAfter)]
pub fn webhook_retry_after(value: JsValue, now_ms: f64) -> Result<Option<f64>, JsValue> {
    let value = opt_string("value", &value)?.unwrap_or_default();
    Ok(wh::retry_after_secs(&value, ms(now_ms)))
}

/// `msg_…` from a UUID (`toPrefixed`), or the UUID of `msg_…`; `kind` names the prefix.
#[wasm_bindgen(js_name = webhookId)]
pub fn webhook_id(kind: JsValue, id: JsValue, to_prefixed: bool) -> Result<String, JsValue> {
    wh::convert_id(&json("kind", &kind)?, &string("id", &id)?, to_prefixed)
        .map_err(|e| core_err(&e))
}
