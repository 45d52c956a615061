//! WebAssembly entry points of the email product's cryptography, with the names and shapes of
//! the N-API ones. Both features are in the full build and out of the edge build, which would
//! otherwise exceed its size budget: `email-events` (SigV4, event verification with the SNS
//! certificate parser, unsubscribe tokens) and `email-dkim` (the SMTP transport's signing,
//! never used on edge).

use serde_json::Value;
use usebetter_core::bridge::email_crypto as ec;
use wasm_bindgen::prelude::*;

use crate::core_err;
#[cfg(all(feature = "email-events", feature = "email-tools"))]
use crate::opt_string;
#[cfg(feature = "email-events")]
use crate::{string, to_js};

fn json(arg: &str, value: &JsValue) -> Result<Value, JsValue> {
    crate::args::json(arg, value).map_err(|e| core_err(&e))
}

#[cfg(feature = "email-events")]
fn out(r: usebetter_core::error::Result<Value>) -> Result<JsValue, JsValue> {
    to_js(&r.map_err(|e| core_err(&e))?)
}

/// `{ method, host, path, query?, headers?, body?, region, service, accessKeyId,
/// secretAccessKey, sessionToken?, nowMs }` → the headers to add and the signature.
#[cfg(all(feature = "email-events", feature = "email-tools"))]
#[wasm_bindgen(js_name = emailSigV4)]
pub fn email_sig_v4(request: JsValue) -> Result<JsValue, JsValue> {
    out(ec::sigv4(&json("request", &request)?))
}

/// Verifies a provider's event request (`resend`, `sendgrid`, `mailgun`, `postmark`, `ses`).
#[cfg(feature = "email-events")]
#[wasm_bindgen(js_name = emailVerifyEvent)]
pub fn email_verify_event(
    provider: JsValue,
    headers: JsValue,
    body: &[u8],
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let provider = string("provider", &provider)?;
    let (headers, options) = (json("headers", &headers)?, json("options", &options)?);
    out(ec::verify_event(&provider, &headers, body, &options))
}

/// The SNS `SigningCertURL` to fetch, after the version, topic and URL checks.
#[cfg(feature = "email-events")]
#[wasm_bindgen(js_name = emailSnsCertUrl)]
pub fn email_sns_cert_url(body: &[u8], options: JsValue) -> Result<String, JsValue> {
    ec::sns_cert_url(body, &json("options", &options)?).map_err(|e| core_err(&e))
}

/// Seals `{ tenantId?, address, category, messageId?, issuedAt }`; `nonce`: 24 random bytes.
#[cfg(all(feature = "email-events", feature = "email-tools"))]
#[wasm_bindgen(js_name = emailUnsubscribeToken)]
pub fn email_unsubscribe_token(
    token_key: JsValue,
    fields: JsValue,
    nonce: &[u8],
) -> Result<String, JsValue> {
    let (key, fields) = (json("tokenKey", &token_key)?, json("fields", &fields)?);
    ec::unsubscribe_token(&key, &fields, nonce).map_err(|e| core_err(&e))
}

#[cfg(all(feature = "email-events", feature = "email-tools"))]
#[wasm_bindgen(js_name = emailOpenUnsubscribeToken)]
pub fn email_open_unsubscribe_token(
    token_key: JsValue,
    token: JsValue,
) -> Result<JsValue, JsValue> {
    let key = json("tokenKey", &token_key)?;
    out(ec::open_unsubscribe_token(&key, &string("token", &token)?))
}

/// `[["List-Unsubscribe", …], ["List-Unsubscribe-Post", "List-Unsubscribe=One-Click"]]`.
#[cfg(all(feature = "email-events", feature = "email-tools"))]
#[wasm_bindgen(js_name = emailUnsubscribeHeaders)]
pub fn email_unsubscribe_headers(
    base_url: JsValue,
    token: JsValue,
    mailto: JsValue,
) -> Result<JsValue, JsValue> {
    let (base, token) = (string("baseUrl", &base_url)?, string("token", &token)?);
    let mailto = opt_string("mailto", &mailto)?;
    out(ec::unsubscribe_headers(&base, &token, mailto.as_deref()))
}

/// The `DKIM-Signature` field (ending with CRLF) for `message`; `random`: 32 bytes.
#[cfg(feature = "email-dkim")]
#[wasm_bindgen(js_name = emailDkimSign)]
pub fn email_dkim_sign(message: &[u8], options: JsValue, random: &[u8]) -> Result<String, JsValue> {
    ec::dkim(message, &json("options", &options)?, random).map_err(|e| core_err(&e))
}

/// The HTTP request a transport of `kind` (`resend`) sends for a hand-off's `outgoing` message
/// (in every build: the HTTP transports run on edge).
#[wasm_bindgen(js_name = emailProviderRequest)]
pub fn email_provider_request(
    kind: JsValue,
    message: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let kind = crate::string("kind", &kind)?;
    let r = ec::provider_request(
        &kind,
        &json("message", &message)?,
        &json("options", &options)?,
    );
    crate::to_js(&r.map_err(|e| core_err(&e))?)
}

/// The hand-off outcome of a provider's answer (with `count`: of each message of a batch).
#[wasm_bindgen(js_name = emailClassifyResponse)]
pub fn email_classify_response(
    kind: JsValue,
    status: u32,
    headers: JsValue,
    body: JsValue,
    now_ms: f64,
    count: Option<u32>,
) -> Result<JsValue, JsValue> {
    let (kind, body) = (crate::string("kind", &kind)?, crate::string("body", &body)?);
    let status = u16::try_from(status).map_err(|_| {
        core_err(&usebetter_core::input::invalid(
            "status",
            "an HTTP status code",
        ))
    })?;
    let r = ec::classify_response(
        &kind,
        status,
        &json("headers", &headers)?,
        &body,
        crate::ms(now_ms),
        count,
    );
    crate::to_js(&r.map_err(|e| core_err(&e))?)
}
