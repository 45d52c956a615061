//! N-API entry points of the email product: addresses, recipients and the MIME build. The
//! message is JSON; attachment bytes come as a separate `contents` array of `Uint8Array`s so that
//! megabytes are copied once, not converted into JSON.

use napi::bindgen_prelude::*;
use napi::{JsValue, ValueType};
use napi_derive::napi;
use serde_json::Value;
use usebetter_core::email::message as em;

use crate::{core_err, to_js, Code};

fn json(arg: &str, value: Unknown<'_>) -> Result<Value, Code> {
    crate::args::json(arg, value).map_err(|e| core_err(&e))
}

fn kind(v: &Unknown<'_>) -> &'static str {
    match v.get_type() {
        Ok(ValueType::Undefined) => "undefined",
        Ok(ValueType::Null) => "null",
        Ok(ValueType::Boolean) => "boolean",
        Ok(ValueType::Number) => "number",
        Ok(ValueType::String) => "string",
        Ok(ValueType::Symbol) => "symbol",
        Ok(ValueType::Function) => "function",
        Ok(ValueType::BigInt) => "bigint",
        _ => "object",
    }
}

/// `contents`: absent, or an array whose entries are `Uint8Array`s or null/undefined.
fn contents(value: Unknown<'_>) -> Result<Vec<Option<Vec<u8>>>, Code> {
    let bad = |path: &str, v: &Unknown<'_>| core_err(&em::bad_contents(path, kind(v)));
    let fail = |e: napi::Error| core_err(&usebetter_core::input::invalid("contents", e.reason));
    match value.get_type().map_err(fail)? {
        ValueType::Undefined | ValueType::Null => return Ok(Vec::new()),
        ValueType::Object if value.is_array().map_err(fail)? => {}
        _ => return Err(bad("contents", &value)),
    }
    let arr = Array::from_unknown(value).map_err(fail)?;
    let mut out = Vec::with_capacity(arr.len() as usize);
    for i in 0..arr.len() {
        let path = usebetter_core::input::index_path("contents", i);
        let Some(item) = arr.get::<Unknown<'_>>(i).map_err(fail)? else {
            out.push(None);
            continue;
        };
        match item.get_type().map_err(fail)? {
            ValueType::Undefined | ValueType::Null => out.push(None),
            ValueType::Object if item.is_typedarray().map_err(fail)? => {
                let bytes = Uint8Array::from_unknown(item).map_err(|_| bad(&path, &item))?;
                out.push(Some(bytes.to_vec()));
            }
            _ => return Err(bad(&path, &item)),
        }
    }
    Ok(out)
}

/// The three arguments of the build and the size estimate.
type MessageArgs = (Value, Value, Vec<Option<Vec<u8>>>);

fn message_args(
    message: Unknown<'_>,
    options: Unknown<'_>,
    contents_: Unknown<'_>,
) -> Result<MessageArgs, Code> {
    let (message, options) = (json("message", message)?, json("options", options)?);
    Ok((message, options, contents(contents_)?))
}

/// `{ address, name?, key }` of `"addr"`, `"Name <addr>"` or `{ address, name? }`.
#[napi]
pub fn email_parse_address(input: Unknown<'_>, options: Unknown<'_>) -> Result<Value, Code> {
    let (input, options) = (json("input", input)?, json("options", options)?);
    to_js(&em::parse_address(&input, &options).map_err(|e| core_err(&e))?)
}

/// The distinct recipients of `{ to?, cc?, bcc? }`, checked against `maxRecipients`.
#[napi]
pub fn email_recipients(input: Unknown<'_>, options: Unknown<'_>) -> Result<Value, Code> {
    let (input, options) = (json("input", input)?, json("options", options)?);
    to_js(&em::recipients(&input, &options).map_err(|e| core_err(&e))?)
}

/// The message's MIME bytes (deterministic: the same input gives the same bytes).
#[napi]
pub fn email_build_message(
    message: Unknown<'_>,
    options: Unknown<'_>,
    contents_: Unknown<'_>,
) -> Result<Uint8Array, Code> {
    let (message, options, contents) = message_args(message, options, contents_)?;
    let bytes = em::build_message(&message, &options, &contents).map_err(|e| core_err(&e))?;
    Ok(Uint8Array::from(bytes))
}

/// The text part a template without one gets, derived from `html` (spec §7.4).
#[napi]
pub fn email_html_to_text(html: Unknown<'_>) -> Result<String, Code> {
    let html = crate::args::string("html", html).map_err(|e| core_err(&e))?;
    Ok(usebetter_core::email::html_text::html_to_text(&html))
}

/// The encoded size `emailBuildMessage` would produce, after the same checks.
#[napi]
pub fn email_message_size(
    message: Unknown<'_>,
    options: Unknown<'_>,
    contents_: Unknown<'_>,
) -> Result<f64, Code> {
    let (message, options, contents) = message_args(message, options, contents_)?;
    let n = em::message_size(&message, &options, &contents).map_err(|e| core_err(&e))?;
    // Sizes are bounded by maxMessageBytes (usize), far inside f64's exact integers.
    #[expect(clippy::cast_precision_loss, reason = "message sizes are < 2^53")]
    Ok(n as f64)
}
