//! HTTP providers' requests and answers (spec §8.2, §8.3), pure: [`request`] writes the request
//! a transport sends for one message and [`classify`] judges the answer into a hand-off outcome.
//! The TypeScript transport only performs `fetch`. Resend: `POST /emails` with the message id as
//! `Idempotency-Key` (honoured for 24 h, so a retry after an unknown answer cannot send twice)
//! and `better_email_id` as a tag (how its events correlate).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::{EmailError, Result};
use super::events::header;
use super::recipients::AddressObject;
use super::smtp_outcome::HandOff;
use crate::webhooks::retry_after::parse_retry_after;

/// Provider texts kept in the attempt log (spec §14: truncated).
pub const MAX_DETAIL: usize = 2048;

/// A message as JSON providers take it: the structured fields of a hand-off.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outgoing {
    pub id: String,
    pub from: AddressObject,
    #[serde(default)]
    pub to: Vec<AddressObject>,
    #[serde(default)]
    pub cc: Vec<AddressObject>,
    #[serde(default)]
    pub bcc: Vec<AddressObject>,
    #[serde(default)]
    pub reply_to: Vec<AddressObject>,
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
    /// Custom headers and the list headers, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub attachments: Vec<OutgoingAttachment>,
    pub tenant_id: Option<String>,
    pub idempotency_key: String,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    /// The exact MIME, for the providers that take it raw (SES, Mailgun).
    #[serde(default)]
    pub raw: Option<String>,
    /// The envelope's recipients (to, cc and bcc, suppressed ones removed): where a raw-MIME
    /// provider delivers, since the MIME carries no `Bcc`.
    #[serde(default)]
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingAttachment {
    pub filename: String,
    pub content_type: String,
    pub content_id: Option<String>,
    pub base64: String,
}

/// The transport's options (`resend({ apiKey, baseUrl })`, `postmark({ serverToken, baseUrl,
/// messageStream })`, `sendgrid({ apiKey })`, `mailgun({ apiKey, domain })`, `ses({ region,
/// credentials, configurationSetName })` with the clock SigV4 signs at).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderOptions {
    #[serde(default, alias = "serverToken")]
    pub api_key: String,
    #[serde(default)]
    pub base_url: Option<String>,
    /// Postmark: the message stream (default `outbound`).
    #[serde(default)]
    pub message_stream: Option<String>,
    /// Mailgun: the sending domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// SES: the AWS region.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub credentials: Option<AwsCredentials>,
    #[serde(default)]
    pub configuration_set_name: Option<String>,
    /// SES: when the request is signed (`Date.now()`).
    #[serde(default)]
    pub now_ms: Option<i64>,
}

/// What the application's credentials give SES's signer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsCredentials {
    // Missing keys are empty, so the check names the one missing.
    #[serde(default)]
    pub access_key_id: String,
    #[serde(default)]
    pub secret_access_key: String,
    #[serde(default)]
    pub session_token: Option<String>,
}

/// What the transport sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The judgement of an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub outcome: HandOff,
    pub provider_message_id: Option<String>,
    pub retry_after_ms: Option<i64>,
    pub detail: Option<String>,
    /// Recipients the provider refused by name (Postmark's inactive recipients), as the worker
    /// reports per-recipient answers.
    pub recipients: Vec<RefusedRecipient>,
}

/// A recipient a provider refused, in the shape of an SMTP server's per-recipient answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusedRecipient {
    pub address: String,
    pub accepted: bool,
    pub enhanced_code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `Name <addr>`, the name quoted when it holds specials (RFC 5322 `display-name`).
pub(super) fn mailbox(a: &AddressObject) -> String {
    match a.name.as_deref().filter(|n| !n.is_empty()) {
        None => a.address.clone(),
        Some(n)
            if n.chars()
                .all(|c| c.is_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c)) =>
        {
            format!("{n} <{}>", a.address)
        }
        Some(n) => format!(
            "\"{}\" <{}>",
            n.replace('\\', "\\\\").replace('"', "\\\""),
            a.address
        ),
    }
}

pub(super) fn base_url(field: &str, o: &ProviderOptions, default: &str) -> Result<String> {
    let url = o
        .base_url
        .as_deref()
        .unwrap_or(default)
        .trim_end_matches('/');
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url.to_owned())
    } else {
        Err(EmailError::config(
            field,
            format!("an http(s) URL such as {default}"),
        ))
    }
}

/// Custom and list headers as one JSON object, as Resend and SendGrid take them.
pub(super) fn header_object(headers: &[(String, String)]) -> Value {
    Value::Object(headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

/// What a raw-MIME provider sends: the MIME and the envelope's recipients, both required.
pub(super) fn raw_mime<'a>(m: &'a Outgoing, provider: &str) -> Result<&'a str> {
    let Some(raw) = m.raw.as_deref().filter(|r| !r.is_empty()) else {
        return Err(EmailError::argument(
            "message.raw",
            format!("{provider} sends the message's MIME, which is missing"),
        ));
    };
    if m.recipients.is_empty() {
        return Err(EmailError::argument(
            "message.recipients",
            format!("{provider} needs the envelope's recipients"),
        ));
    }
    Ok(raw)
}

/// `Authorization`, checked: the Resend API key.
pub(super) fn resend_auth(o: &ProviderOptions) -> Result<(String, String)> {
    if o.api_key.trim().is_empty() {
        return Err(EmailError::config("apiKey", "the Resend API key (re_…)"));
    }
    Ok(("authorization".into(), format!("Bearer {}", o.api_key)))
}

fn resend_request(m: &Outgoing, o: &ProviderOptions) -> Result<HttpRequest> {
    let auth = resend_auth(o)?;
    Ok(HttpRequest {
        method: "POST",
        url: format!(
            "{}/emails",
            base_url("baseUrl", o, "https://api.resend.com")?
        ),
        headers: vec![
            auth,
            ("content-type".into(), "application/json".into()),
            ("idempotency-key".into(), m.idempotency_key.clone()),
        ],
        body: resend_body(m).to_string(),
    })
}

/// One message as Resend's `/emails` (and each item of `/emails/batch`) takes it.
pub(super) fn resend_body(m: &Outgoing) -> Value {
    let list = |v: &[AddressObject]| v.iter().map(mailbox).collect::<Vec<_>>();
    let mut tags = vec![json!({ "name": "better_email_id", "value": m.id })];
    if let Some(t) = &m.tenant_id {
        tags.push(json!({ "name": "tenant", "value": t }));
    }
    for (k, v) in m.tags.iter().flatten() {
        tags.push(json!({ "name": k, "value": v }));
    }
    let mut body = json!({
        "from": mailbox(&m.from),
        "to": list(&m.to),
        "subject": m.subject,
        "tags": tags,
    });
    let b = body.as_object_mut().expect("an object literal");
    for (k, v) in [("cc", &m.cc), ("bcc", &m.bcc), ("reply_to", &m.reply_to)] {
        if !v.is_empty() {
            b.insert(k.into(), json!(list(v)));
        }
    }
    if let Some(h) = &m.html {
        b.insert("html".into(), json!(h));
    }
    if let Some(t) = &m.text {
        b.insert("text".into(), json!(t));
    }
    if !m.headers.is_empty() {
        b.insert("headers".into(), header_object(&m.headers));
    }
    if !m.attachments.is_empty() {
        let a: Vec<Value> = m
            .attachments
            .iter()
            .map(|a| {
                let mut x = json!({ "filename": a.filename, "content": a.base64, "content_type": a.content_type });
                if let Some(id) = &a.content_id {
                    x["content_id"] = json!(id);
                }
                x
            })
            .collect();
        b.insert("attachments".into(), json!(a));
    }
    body
}

/// The request for `kind`.
///
/// # Errors
/// `EMAIL_INVALID_CONFIG` naming `apiKey` or `baseUrl`; `EMAIL_TRANSPORT_UNAVAILABLE` for a kind
/// without an HTTP API here.
pub fn request(kind: &str, m: &Outgoing, o: &ProviderOptions) -> Result<HttpRequest> {
    match kind {
        "resend" => resend_request(m, o),
        "postmark" => super::postmark::request(m, o),
        "ses" => super::ses::request(m, o),
        "sendgrid" => super::sendgrid::request(m, o),
        "mailgun" => super::mailgun::request(m, o),
        other => Err(EmailError::config(
            "kind",
            format!("one of resend, postmark, ses, sendgrid, mailgun; got {other:?}"),
        )),
    }
}

/// A provider's text as the attempt log keeps it: at most [`MAX_DETAIL`] bytes.
#[must_use]
pub fn cut(s: &str) -> String {
    let mut end = s.len().min(MAX_DETAIL);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Judges a provider's answer: accepted, refused for good, refused for now, or throttled (with
/// when to come back).
#[must_use]
pub fn classify(
    kind: &str,
    status: u16,
    headers: &[(String, String)],
    body: &str,
    now_ms: i64,
) -> Verdict {
    if kind == "postmark" {
        let (outcome, id, detail, refused) = super::postmark::judge(status, body);
        // Postmark marks a recipient inactive after a hard bounce or complaint it saw: recorded
        // as a hard bounce (`5.1.1`, a mailbox that cannot receive), which suppresses it.
        let recipients = refused
            .into_iter()
            .map(|address| RefusedRecipient {
                address,
                accepted: false,
                enhanced_code: "5.1.1",
                text: detail.clone(),
            })
            .collect();
        return Verdict {
            outcome,
            provider_message_id: id,
            retry_after_ms: retry_after(outcome, headers, now_ms),
            detail,
            recipients,
        };
    }
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let field = |k: &str| parsed.as_ref().and_then(|v| v.get(k));
    // SendGrid explains a refusal in `errors[0].message`, SES and Mailgun in `message`.
    let message = field("message")
        .or_else(|| field("Message"))
        .or_else(|| field("errors").and_then(|e| e.get(0)?.get("message")))
        .and_then(Value::as_str)
        .map_or_else(|| cut(body), cut);
    // Where each API puts the id of an accepted message; Mailgun's is a `Message-ID` in brackets.
    let id = match kind {
        "sendgrid" => header(headers, "x-message-id"),
        "ses" => field("MessageId").and_then(Value::as_str),
        _ => field("id").and_then(Value::as_str),
    }
    .map(|v| v.trim_start_matches('<').trim_end_matches('>').to_owned())
    .filter(|v| !v.is_empty());
    let outcome = match status {
        200..=299 if id.is_some() => HandOff::Sent,
        // Accepted without the id the API promises: the provider may or may not have it.
        200..=299 => HandOff::Ambiguous,
        _ if kind == "ses" => super::ses::judge(status, headers, parsed.as_ref()),
        401 | 403 => HandOff::AuthFailed,
        429 => HandOff::Throttled,
        // Resend: another request with the same key is in progress.
        409 => HandOff::Retryable,
        400..=499 => HandOff::RejectedPermanent,
        _ => HandOff::Retryable,
    };
    Verdict {
        outcome,
        provider_message_id: id,
        retry_after_ms: retry_after(outcome, headers, now_ms),
        detail: (outcome != HandOff::Sent).then(|| format!("{status}: {message}")),
        recipients: Vec::new(),
    }
}

/// When a throttled answer says to come back, in ms from now.
fn retry_after(outcome: HandOff, headers: &[(String, String)], now_ms: i64) -> Option<i64> {
    (outcome == HandOff::Throttled)
        .then(|| {
            header(headers, "retry-after")
                .or_else(|| header(headers, "ratelimit-reset"))
                .and_then(|v| parse_retry_after(v, now_ms))
        })
        .flatten()
        // Seconds (at most a day, parse_retry_after caps it) to ms.
        .map(|s| {
            #[allow(clippy::cast_possible_truncation)]
            let ms = (s * 1000.0).round() as i64;
            ms
        })
}
