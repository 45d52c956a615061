//! N-API entry points of the email send path and worker: an `Email` class compiled from
//! `betterEmail(config)`. JSON in and out; clocks, random bytes and jitter draws from the caller.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use usebetter_core::bridge::email as eb;

use crate::{core_err, ms, string, Code};

fn json(arg: &str, value: Unknown<'_>) -> Result<Value, Code> {
    crate::args::json(arg, value).map_err(|e| core_err(&e))
}

/// A compiled `betterEmail` configuration.
#[napi]
pub struct Email {
    inner: eb::Email,
}

#[napi]
impl Email {
    #[napi(constructor)]
    pub fn new(config: Unknown<'_>) -> Result<Self, Code> {
        let config = json("config", config)?;
        let inner = eb::Email::new(&config).map_err(|e| core_err(&e))?;
        Ok(Email { inner })
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
    pub fn hand_off(&self, rows: Unknown<'_>, raw: Option<bool>) -> Result<Value, Code> {
        let rows = json("rows", rows)?;
        self.inner
            .hand_off(&rows, raw.unwrap_or(true))
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn record(
        &self,
        reports: Unknown<'_>,
        now_ms: f64,
        draws: Vec<f64>,
        worker: String,
    ) -> Result<Value, Code> {
        let reports = json("reports", reports)?;
        self.inner
            .record(&reports, ms(now_ms), &draws, &worker)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn unsubscribe(&self, token: String, all: bool) -> Result<Value, Code> {
        self.inner
            .unsubscribe(&token, all)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn events(
        &self,
        provider: String,
        request_id: Unknown<'_>,
        body: Uint8Array,
    ) -> Result<Value, Code> {
        let request_id = crate::opt_string("requestId", request_id)?;
        self.inner
            .events(&provider, request_id.as_deref(), &body)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn transition(
        &self,
        action: String,
        id: String,
        tenant_id: Unknown<'_>,
    ) -> Result<Value, Code> {
        let tenant_id = crate::opt_string("tenantId", tenant_id)?;
        self.inner
            .transition(&action, &id, tenant_id.as_deref())
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn transitioned(
        &self,
        action: String,
        id: String,
        rows: Unknown<'_>,
    ) -> Result<Value, Code> {
        let rows = json("rows", rows)?;
        self.inner
            .transitioned(&action, &id, &rows)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn suppression_plan(
        &self,
        op: String,
        input: Unknown<'_>,
        tenant_id: Unknown<'_>,
    ) -> Result<Value, Code> {
        let input = json("input", input)?;
        let tenant_id = crate::opt_string("tenantId", tenant_id)?;
        self.inner
            .suppression_plan(&op, &input, tenant_id.as_deref())
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn suppression_result(
        &self,
        op: String,
        input: Unknown<'_>,
        rows: Unknown<'_>,
    ) -> Result<Value, Code> {
        let (input, rows) = (json("input", input)?, json("rows", rows)?);
        self.inner
            .suppression_result(&op, &input, &rows)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn sender_plan(
        &self,
        op: String,
        input: Unknown<'_>,
        tenant_id: Unknown<'_>,
    ) -> Result<Value, Code> {
        let input = json("input", input)?;
        let tenant_id = crate::opt_string("tenantId", tenant_id)?;
        self.inner
            .sender_plan(&op, &input, tenant_id.as_deref())
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn sender_result(
        &self,
        op: String,
        input: Unknown<'_>,
        rows: Unknown<'_>,
    ) -> Result<Value, Code> {
        let (input, rows) = (json("input", input)?, json("rows", rows)?);
        self.inner
            .sender_result(&op, &input, &rows)
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn template_plan(
        &self,
        op: String,
        input: Unknown<'_>,
        tenant_id: Unknown<'_>,
    ) -> Result<Value, Code> {
        let input = json("input", input)?;
        let tenant_id = crate::opt_string("tenantId", tenant_id)?;
        self.inner
            .template_plan(&op, &input, tenant_id.as_deref())
            .map_err(|e| core_err(&e))
    }

    #[napi]
    pub fn template_result(
        &self,
        op: String,
        input: Unknown<'_>,
        rows: Unknown<'_>,
    ) -> Result<Value, Code> {
        let (input, rows) = (json("input", input)?, json("rows", rows)?);
        self.inner
            .template_result(&op, &input, &rows)
            .map_err(|e| core_err(&e))
    }
}
