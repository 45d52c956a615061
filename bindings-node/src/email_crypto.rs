//! N-API entry points of the email product's cryptography: SigV4, provider event verification,
//! unsubscribe tokens and headers, DKIM. Clocks and random bytes come from the caller.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use usebetter_core::bridge::email_crypto as ec;

use crate::{core_err, opt_string, string, Code};

fn json(arg: &str, value: Unknown<'_>) -> Result<Value, Code> {
    crate::args::json(arg, value).map_err(|e| core_err(&e))
}

/// `{ method, host, path, query?, headers?, body?, region, service, accessKeyId,
/// secretAccessKey, sessionToken?, nowMs }` → the headers to add and the signature.
#[napi]
pub fn email_sig_v4(request: Unknown<'_>) -> Result<Value, Code> {
    ec::sigv4(&json("request", request)?).map_err(|e| core_err(&e))
}

/// Verifies a provider's event request (`resend`, `sendgrid`, `mailgun`, `postmark`, `ses`).
#[napi]
pub fn email_verify_event(
    provider: Unknown<'_>,
    headers: Unknown<'_>,
    body: Uint8Array,
    options: Unknown<'_>,
) -> Result<Value, Code> {
    let provider = string("provider", provider)?;
    let (headers, options) = (json("headers", headers)?, json("options", options)?);
    ec::verify_event(&provider, &headers, &body, &options).map_err(|e| core_err(&e))
}

/// The SNS `SigningCertURL` to fetch, after the version, topic and URL checks.
#[napi]
pub fn email_sns_cert_url(body: Uint8Array, options: Unknown<'_>) -> Result<String, Code> {
    ec::sns_cert_url(&body, &json("options", options)?).map_err(|e| core_err(&e))
}

/// Seals `{ tenantId?, address, category, messageId?, issuedAt }`; `nonce`: 24 random bytes.
#[napi]
pub fn email_unsubscribe_token(
    token_key: Unknown<'_>,
    fields: Unknown<'_>,
    nonce: Uint8Array,
) -> Result<String, Code> {
    let (key, fields) = (json("tokenKey", token_key)?, json("fields", fields)?);
    ec::unsubscribe_token(&key, &fields, &nonce).map_err(|e| core_err(&e))
}

#[napi]
pub fn email_open_unsubscribe_token(
    token_key: Unknown<'_>,
    token: Unknown<'_>,
) -> Result<Value, Code> {
    let key = json("tokenKey", token_key)?;
    ec::open_unsubscribe_token(&key, &string("token", token)?).map_err(|e| core_err(&e))
}

/// `[["List-Unsubscribe", …], ["List-Unsubscribe-Post", "List-Unsubscribe=One-Click"]]`.
#[napi]
pub fn email_unsubscribe_headers(
    base_url: Unknown<'_>,
    token: Unknown<'_>,
    mailto: Unknown<'_>,
) -> Result<Value, Code> {
    let (base, token) = (string("baseUrl", base_url)?, string("token", token)?);
    let mailto = opt_string("mailto", mailto)?;
    ec::unsubscribe_headers(&base, &token, mailto.as_deref()).map_err(|e| core_err(&e))
}

/// The `DKIM-Signature` field (ending with CRLF) for `message`; `random`: 32 bytes.
#[napi]
pub fn email_dkim_sign(
    message: Uint8Array,
    options: Unknown<'_>,
    random: Uint8Array,
) -> Result<String, Code> {
    ec::dkim(&message, &json("options", options)?, &random).map_err(|e| core_err(&e))
}

/// The HTTP request a transport of `kind` (`resend`) sends for a hand-off's `outgoing` message.
#[napi]
pub fn email_provider_request(
    kind: Unknown<'_>,
    message: Unknown<'_>,
    options: Unknown<'_>,
) -> Result<Value, Code> {
    let kind = string("kind", kind)?;
    let (message, options) = (json("message", message)?, json("options", options)?);
    ec::provider_request(&kind, &message, &options).map_err(|e| core_err(&e))
}

/// The hand-off outcome of a provider's answer (with `count`: of each message of a batch).
#[napi]
pub fn email_classify_response(
    kind: Unknown<'_>,
    status: u32,
    headers: Unknown<'_>,
    body: Unknown<'_>,
    now_ms: f64,
    count: Option<u32>,
) -> Result<Value, Code> {
    let (kind, body) = (string("kind", kind)?, string("body", body)?);
    let status = u16::try_from(status).map_err(|_| {
        core_err(&usebetter_core::input::invalid(
            "status",
            "an HTTP status code",
        ))
    })?;
    ec::classify_response(
        &kind,
        status,
        &json("headers", headers)?,
        &body,
        crate::ms(now_ms),
        count,
    )
    .map_err(|e| core_err(&e))
}
