//! The email product's cryptography as both bindings see it: SigV4 for SES, provider event
//! verification, unsubscribe tokens and their headers, DKIM signing. JSON in and out; clocks
//! and random bytes from the caller.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::bridge::to_value;
use crate::email::dkim::{dkim_sign, DkimOptions};
use crate::email::events::{sns, verify_event as verify, EventOptions};
use crate::email::sigv4::{sign, SigV4Request};
use crate::email::token::{self, TokenFields};
use crate::email::{http, resend_batch};
use crate::error::Result;
use crate::input::from_value;
use crate::webhooks::seal::SecretsKeys;

/// `tokenKey`: the key as a string, or `{ current, previous? }` during a key change.
#[derive(Deserialize)]
#[serde(untagged)]
enum KeyInput {
    One(String),
    #[serde(rename_all = "camelCase")]
    Pair {
        current: String,
        previous: Option<String>,
    },
}

fn keys(value: &Value) -> Result<SecretsKeys> {
    let k: KeyInput = from_value("tokenKey", value)?;
    Ok(match k {
        KeyInput::One(c) => token::token_keys(&c, None)?,
        KeyInput::Pair { current, previous } => token::token_keys(&current, previous.as_deref())?,
    })
}

/// `emailSigV4(request)`: the headers to add and the intermediate values.
///
/// # Errors
/// `INVALID_ARGUMENT` for the shape, `EMAIL_INVALID_ARGUMENT` naming a field.
pub fn sigv4(request: &Value) -> Result<Value> {
    let r: SigV4Request = from_value("request", request)?;
    to_value(&sign(&r)?)
}

/// `emailVerifyEvent(provider, headers, body, options)`.
///
/// # Errors
/// The `EMAIL_EVENT_*` codes, `EMAIL_INVALID_CONFIG`.
pub fn verify_event(
    provider: &str,
    headers: &Value,
    body: &[u8],
    options: &Value,
) -> Result<Value> {
    let pairs: Vec<(String, String)> = from_value("headers", headers)?;
    let opts: EventOptions = from_value("options", options)?;
    to_value(&verify(provider, &pairs, body, &opts)?)
}

/// `emailSnsCertUrl(body, options)`: the certificate URL to fetch, after the version, topic and
/// URL checks.
///
/// # Errors
/// `EMAIL_EVENT_BAD_SIGNATURE`, `EMAIL_EVENT_TOPIC_REJECTED`, `EMAIL_EVENT_CERT_REJECTED`.
pub fn sns_cert_url(body: &[u8], options: &Value) -> Result<String> {
    let opts: EventOptions = from_value("options", options)?;
    Ok(sns::cert_url(body, &opts)?)
}

/// `emailUnsubscribeToken(tokenKey, fields, nonce)`.
///
/// # Errors
/// `EMAIL_INVALID_CONFIG` naming `tokenKey`; `EMAIL_INVALID_ARGUMENT` naming a field.
pub fn unsubscribe_token(token_key: &Value, fields: &Value, nonce: &[u8]) -> Result<String> {
    let f: TokenFields = from_value("fields", fields)?;
    Ok(token::seal_token(&keys(token_key)?, &f, nonce)?)
}

/// `emailOpenUnsubscribeToken(tokenKey, token)`: the fields and `stale`.
///
/// # Errors
/// `EMAIL_UNSUBSCRIBE_TOKEN_INVALID`; `EMAIL_INVALID_CONFIG` naming `tokenKey`.
pub fn open_unsubscribe_token(token_key: &Value, text: &str) -> Result<Value> {
    to_value(&token::open_token(&keys(token_key)?, text)?)
}

/// `emailUnsubscribeHeaders(baseUrl, token, mailto)`: `[[name, value], …]`.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming `baseUrl`, `token` or `mailto`.
pub fn unsubscribe_headers(base_url: &str, text: &str, mailto: Option<&str>) -> Result<Value> {
    let [a, b] = token::unsubscribe_headers(base_url, text, mailto)?;
    Ok(json!([[a.0, a.1], [b.0, b.1]]))
}

/// `emailDkimSign(message, options, random)`: the `DKIM-Signature` field, ending with CRLF.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming `privateKey`, `domain`, `selector`, `random` or `message`.
pub fn dkim(message: &[u8], options: &Value, random: &[u8]) -> Result<String> {
    let o: DkimOptions = from_value("options", options)?;
    Ok(dkim_sign(message, &o, random)?)
}

/// `emailProviderRequest(kind, message, options)`: the HTTP request a transport sends.
///
/// # Errors
/// `INVALID_ARGUMENT` for the shapes; `EMAIL_INVALID_CONFIG` naming `apiKey`, `baseUrl` or `kind`.
pub fn provider_request(kind: &str, message: &Value, options: &Value) -> Result<Value> {
    let o: http::ProviderOptions = from_value("options", options)?;
    if message.is_array() {
        // An array is one batch request (Resend's `/emails/batch`).
        let ms: Vec<http::Outgoing> = from_value("message", message)?;
        return to_value(&resend_batch::request(kind, &ms, &o)?);
    }
    let m: http::Outgoing = from_value("message", message)?;
    to_value(&http::request(kind, &m, &o)?)
}

/// `emailClassifyResponse(kind, status, headers, body, nowMs, count?)`: the hand-off outcome of
/// an answer (`headers` as `[name, value]` pairs); with `count`, the answer to a batch request
/// of that many messages, as one outcome per message.
///
/// # Errors
/// `INVALID_ARGUMENT` for the shapes.
pub fn classify_response(
    kind: &str,
    status: u16,
    headers: &Value,
    body: &str,
    now_ms: i64,
    count: Option<u32>,
) -> Result<Value> {
    let pairs: Vec<(String, String)> = from_value("headers", headers)?;
    match count {
        // The answer to a batch request: one verdict per message, in request order.
        Some(n) => {
            let n = usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(resend_batch::MAX_BATCH);
            to_value(&resend_batch::classify_batch(
                kind, status, &pairs, body, now_ms, n,
            ))
        }
        None => to_value(&http::classify(kind, status, &pairs, body, now_ms)),
    }
}
