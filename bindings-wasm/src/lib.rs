//! WebAssembly entry points, with the same names and shapes as the N-API binding. Errors are
//! JS `Error`s with the core's stable code in `err.code`.

mod args;
#[cfg(all(feature = "email-mime", feature = "email-tools"))]
pub mod email;
#[cfg(any(feature = "email-events", feature = "email-dkim"))]
pub mod email_crypto;
#[cfg(feature = "email-mime")]
pub mod email_engine;
#[cfg(feature = "suite")]
pub mod suite;
pub mod webhooks;

use serde::de::DeserializeOwned;
use usebetter_core::policy;
use wasm_bindgen::prelude::*;

fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

fn core_err(e: &usebetter_core::Error) -> JsValue {
    js_error(e.code(), &e.to_string())
}

/// Reads argument `arg` (any JS value) as `T`.
fn parse<T: DeserializeOwned>(arg: &str, value: &JsValue) -> Result<T, JsValue> {
    let json = args::json(arg, value).map_err(|e| core_err(&e))?;
    usebetter_core::input::from_value(arg, &json).map_err(|e| core_err(&e))
}

fn string(arg: &str, value: &JsValue) -> Result<String, JsValue> {
    args::string(arg, value).map_err(|e| core_err(&e))
}

fn opt_string(arg: &str, value: &JsValue) -> Result<Option<String>, JsValue> {
    args::opt_string(arg, value).map_err(|e| core_err(&e))
}

/// A JS timestamp (ms since 1970, a double) as the core's integer milliseconds.
#[expect(
    clippy::cast_possible_truncation,
    reason = "milliseconds since 1970 fit i64"
)]
fn ms(v: f64) -> i64 {
    v.floor() as i64
}

fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error("INTERNAL", &e.to_string()))
}

/// The statement that opens a scope: `{ sql, params }` (see the core's `scope_sql`).
#[wasm_bindgen(js_name = scopeSql)]
pub fn scope_sql(
    tenant_id: JsValue,
    key: JsValue,
    binding: JsValue,
    inline: JsValue,
    statement_timeout_ms: JsValue,
    lock_timeout_ms: JsValue,
    read_only: JsValue,
) -> Result<JsValue, JsValue> {
    let (tenant_id, key) = (
        opt_string("tenantId", &tenant_id)?,
        opt_string("key", &key)?,
    );
    let binding = opt_string("binding", &binding)?;
    let inline: Option<bool> = parse("inline", &inline)?;
    let read_only: Option<bool> = parse("readOnly", &read_only)?;
    let limits = policy::context::Limits {
        statement_ms: parse("statementTimeoutMs", &statement_timeout_ms)?,
        lock_ms: parse("lockTimeoutMs", &lock_timeout_ms)?,
    };
    let statement = policy::context::scope_sql(
        tenant_id.as_deref(),
        key.as_deref(),
        binding.as_deref(),
        inline.unwrap_or(false),
        limits,
        read_only.unwrap_or(false),
    )
    .map_err(|e| core_err(&e))?;
    to_js(&statement)
}
