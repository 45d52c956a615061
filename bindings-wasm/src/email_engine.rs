//! WebAssembly entry points of the email send path and worker, with the names and shapes of
//! the N-API ones: an `Email` class compiled from `betterEmail(config)`.

use serde_json::Value;
use usebetter_core::bridge::email as eb;
use wasm_bindgen::prelude::*;

use crate::{core_err, ms, string, to_js};

fn json(arg: &str, value: &JsValue) -> Result<Value, JsValue> {
    crate::args::json(arg, value).map_err(|e| core_err(&e))
}

fn out<T: serde::Serialize>(r: usebetter_core::error::Result<T>) -> Result<JsValue, JsValue> {
    to_js(&r.map_err(|e| core_err(&e))?)
}

/// A compiled `betterEmail` configuration.
#[wasm_bindgen]
pub struct Email {
    inner: eb::Email,
}

#[wasm_bindgen]
impl Email {
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue) -> Result<Email, JsValue> {
        let config = json("config", &config)?;
        let inner = eb::Email::new(&config).map_err(|e| core_err(&e))?;
        Ok(Email { inner })
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

    #[wasm_bindgen(js_name = handOff)]
    pub fn hand_off(&self, rows: JsValue, raw: Option<bool>) -> Result<JsValue, JsValue> {
        out(self
            .inner
            .hand_off(&json("rows", &rows)?, raw.unwrap_or(true)))
    }

    pub fn record(
        &self,
        reports: JsValue,
        now_ms: f64,
        draws: Vec<f64>,
        worker: String,
    ) -> Result<JsValue, JsValue> {
        let reports = json("reports", &reports)?;
        out(self.inner.record(&reports, ms(now_ms), &draws, &worker))
    }

    pub fn unsubscribe(&self, token: String, all: bool) -> Result<JsValue, JsValue> {
        out(self.inner.unsubscribe(&token, all))
    }

    pub fn events(
        &self,
        provider: String,
        request_id: JsValue,
        body: &[u8],
    ) -> Result<JsValue, JsValue> {
        let request_id = crate::opt_string("requestId", &request_id)?;
        out(self.inner.events(&provider, request_id.as_deref(), body))
    }

    pub fn transition(
        &self,
        action: String,
        id: String,
        tenant_id: JsValue,
    ) -> Result<JsValue, JsValue> {
        let tenant_id = crate::opt_string("tenantId", &tenant_id)?;
        out(self.inner.transition(&action, &id, tenant_id.as_deref()))
    }

    pub fn transitioned(
        &self,
        action: String,
        id: String,
        rows: JsValue,
    ) -> Result<JsValue, JsValue> {
        out(self.inner.transitioned(&action, &id, &json("rows", &rows)?))
    }

    #[wasm_bindgen(js_name = suppressionPlan)]
    pub fn suppression_plan(
        &self,
        op: String,
        input: JsValue,
        tenant_id: JsValue,
    ) -> Result<JsValue, JsValue> {
        let input = json("input", &input)?;
        let tenant_id = crate::opt_string("tenantId", &tenant_id)?;
        out(self
            .inner
            .suppression_plan(&op, &input, tenant_id.as_deref()))
    }

    #[wasm_bindgen(js_name = suppressionResult)]
    pub fn suppression_result(
        &self,
        op: String,
        input: JsValue,
        rows: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (input, rows) = (json("input", &input)?, json("rows", &rows)?);
        out(self.inner.suppression_result(&op, &input, &rows))
    }

    #[cfg(feature = "email-senders")]
    #[wasm_bindgen(js_name = senderPlan)]
    pub fn sender_plan(
        &self,
        op: String,
        input: JsValue,
        tenant_id: JsValue,
    ) -> Result<JsValue, JsValue> {
        let input = json("input", &input)?;
        let tenant_id = crate::opt_string("tenantId", &tenant_id)?;
        out(self.inner.sender_plan(&op, &input, tenant_id.as_deref()))
    }

    #[cfg(feature = "email-senders")]
    #[wasm_bindgen(js_name = senderResult)]
    pub fn sender_result(
        &self,
        op: String,
        input: JsValue,
        rows: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (input, rows) = (json("input", &input)?, json("rows", &rows)?);
        out(self.inner.sender_result(&op, &input, &rows))
    }

    #[wasm_bindgen(js_name = templatePlan)]
    pub fn template_plan(
        &self,
        op: String,
        input: JsValue,
        tenant_id: JsValue,
    ) -> Result<JsValue, JsValue> {
        let input = json("input", &input)?;
        let tenant_id = crate::opt_string("tenantId", &tenant_id)?;
        out(self.inner.template_plan(&op, &input, tenant_id.as_deref()))
    }

    #[wasm_bindgen(js_name = templateResult)]
    pub fn template_result(
        &self,
        op: String,
        input: JsValue,
        rows: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (input, rows) = (json("input", &input)?, json("rows", &rows)?);
        out(self.inner.template_result(&op, &input, &rows))
    }
}
