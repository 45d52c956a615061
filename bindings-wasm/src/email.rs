//! WebAssembly entry points of the email product, with the names and shapes of the N-API ones.
//! Attachment bytes come as a separate `contents` array of `Uint8Array`s. Standalone helpers
//! (feature `email-tools`): the email package reaches this code through the `Email` class.

use js_sys::{Array, Uint8Array};
use serde_json::Value;
use usebetter_core::email::message as em;
use wasm_bindgen::prelude::*;

use crate::{core_err, to_js};

fn json(arg: &str, value: &JsValue) -> Result<Value, JsValue> {
    crate::args::json(arg, value).map_err(|e| core_err(&e))
}

fn kind(v: &JsValue) -> String {
    if v.is_null() {
        return "null".to_owned();
    }
    v.js_typeof().as_string().unwrap_or_default()
}

/// `contents`: absent, or an array whose entries are `Uint8Array`s or null/undefined.
fn contents(value: &JsValue) -> Result<Vec<Option<Vec<u8>>>, JsValue> {
    let bad = |path: &str, v: &JsValue| core_err(&em::bad_contents(path, &kind(v)));
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if !Array::is_array(value) {
        return Err(bad("contents", value));
    }
    let arr: &Array = value.unchecked_ref();
    let mut out = Vec::with_capacity(arr.length() as usize);
    for i in 0..arr.length() {
        let item = arr.get(i);
        if item.is_undefined() || item.is_null() {
            out.push(None);
        } else if let Some(bytes) = item.dyn_ref::<Uint8Array>() {
            out.push(Some(bytes.to_vec()));
        } else {
            return Err(bad(
                &usebetter_core::input::index_path("contents", i),
                &item,
            ));
        }
    }
    Ok(out)
}

/// The three arguments of the build and the size estimate.
type MessageArgs = (Value, Value, Vec<Option<Vec<u8>>>);

fn message_args(
    message: &JsValue,
    options: &JsValue,
    contents_: &JsValue,
) -> Result<MessageArgs, JsValue> {
    let (message, options) = (json("message", message)?, json("options", options)?);
    Ok((message, options, contents(contents_)?))
}

/// `{ address, name?, key }` of `"addr"`, `"Name <addr>"` or `{ address, name? }`.
#[wasm_bindgen(js_name = emailParseAddress)]
pub fn email_parse_address(input: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let (input, options) = (json("input", &input)?, json("options", &options)?);
    to_js(&em::parse_address(&input, &options).map_err(|e| core_err(&e))?)
}

/// The distinct recipients of `{ to?, cc?, bcc? }`, checked against `maxRecipients`.
#[wasm_bindgen(js_name = emailRecipients)]
pub fn email_recipients(input: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let (input, options) = (json("input", &input)?, json("options", &options)?);
    to_js(&em::recipients(&input, &options).map_err(|e| core_err(&e))?)
}

/// The message's MIME bytes (deterministic: the same input gives the same bytes).
#[wasm_bindgen(js_name = emailBuildMessage)]
pub fn email_build_message(
    message: JsValue,
    options: JsValue,
    contents_: JsValue,
) -> Result<Vec<u8>, JsValue> {
    let (message, options, contents) = message_args(&message, &options, &contents_)?;
    em::build_message(&message, &options, &contents).map_err(|e| core_err(&e))
}

/// The text part a template without one gets, derived from `html` (spec §7.4).
#[wasm_bindgen(js_name = emailHtmlToText)]
pub fn email_html_to_text(html: &JsValue) -> Result<String, JsValue> {
    let html = crate::args::string("html", html).map_err(|e| core_err(&e))?;
    Ok(usebetter_core::email::html_text::html_to_text(&html))
}

/// The encoded size `emailBuildMessage` would produce, after the same checks.
#[wasm_bindgen(js_name = emailMessageSize)]
pub fn email_message_size(
    message: JsValue,
    options: JsValue,
    contents_: JsValue,
) -> Result<f64, JsValue> {
    let (message, options, contents) = message_args(&message, &options, &contents_)?;
    let n = em::message_size(&message, &options, &contents).map_err(|e| core_err(&e))?;
    #[expect(clippy::cast_precision_loss, reason = "message sizes are < 2^53")]
    Ok(n as f64)
}
