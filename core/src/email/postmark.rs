//! Postmark (spec §8.2, §8.3): `POST /email` with `X-Postmark-Server-Token`, the message as
//! Postmark's JSON, `better_email_id` and the tenant in `Metadata` (how its events correlate),
//! and the category's message stream. Postmark keeps no idempotency key, so a retry after an
//! unknown answer can deliver twice (the ambiguity policy decides, §9.4). An answer is judged by
//! its `ErrorCode`: 0 is accepted, 406 is Postmark's own suppression of inactive recipients
//! (a hard bounce or complaint it saw), anything else at 422 a refusal of the message.

use serde_json::{json, Map, Value};

use super::error::{EmailError, Result};
use super::http::{base_url, cut, mailbox, HttpRequest, Outgoing, ProviderOptions};
use super::recipients::AddressObject;
use super::smtp_outcome::HandOff;

/// Postmark's stream for transactional mail, used unless the options name another.
pub const DEFAULT_STREAM: &str = "outbound";
/// `ErrorCode` of a message refused because a recipient is inactive.
const INACTIVE_RECIPIENT: i64 = 406;

pub(super) fn request(m: &Outgoing, o: &ProviderOptions) -> Result<HttpRequest> {
    if o.api_key.trim().is_empty() {
        return Err(EmailError::config(
            "serverToken",
            "the Postmark server API token",
        ));
    }
    // Postmark takes every address list as one comma-separated string.
    let list = |v: &[AddressObject]| v.iter().map(mailbox).collect::<Vec<_>>().join(", ");
    let mut metadata = Map::new();
    metadata.insert("better_email_id".into(), json!(m.id));
    if let Some(t) = &m.tenant_id {
        metadata.insert("tenant".into(), json!(t));
    }
    for (k, v) in m.tags.iter().flatten() {
        metadata.insert(k.clone(), json!(v));
    }
    let mut body = json!({
        "From": mailbox(&m.from),
        "To": list(&m.to),
        "Subject": m.subject,
        "Metadata": metadata,
        "MessageStream": o.message_stream.as_deref().unwrap_or(DEFAULT_STREAM),
    });
    let b = body.as_object_mut().expect("an object literal");
    for (k, v) in [("Cc", &m.cc), ("Bcc", &m.bcc), ("ReplyTo", &m.reply_to)] {
        if !v.is_empty() {
            b.insert(k.into(), json!(list(v)));
        }
    }
    if let Some(h) = &m.html {
        b.insert("HtmlBody".into(), json!(h));
    }
    if let Some(t) = &m.text {
        b.insert("TextBody".into(), json!(t));
    }
    if !m.headers.is_empty() {
        let headers: Vec<Value> = m
            .headers
            .iter()
            .map(|(k, v)| json!({ "Name": k, "Value": v }))
            .collect();
        b.insert("Headers".into(), json!(headers));
    }
    if !m.attachments.is_empty() {
        let a: Vec<Value> = m
            .attachments
            .iter()
            .map(|a| {
                let mut x = json!({ "Name": a.filename, "Content": a.base64, "ContentType": a.content_type });
                if let Some(id) = &a.content_id {
                    x["ContentID"] = json!(format!("cid:{id}"));
                }
                x
            })
            .collect();
        b.insert("Attachments".into(), json!(a));
    }
    Ok(HttpRequest {
        method: "POST",
        url: format!(
            "{}/email",
            base_url("baseUrl", o, "https://api.postmarkapp.com")?
        ),
        headers: vec![
            ("x-postmark-server-token".into(), o.api_key.clone()),
            ("accept".into(), "application/json".into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: body.to_string(),
    })
}

/// The outcome of a Postmark answer, its message id, its detail and, for an inactive-recipient
/// refusal, the addresses Postmark names.
pub(super) fn judge(
    status: u16,
    body: &str,
) -> (HandOff, Option<String>, Option<String>, Vec<String>) {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let field = |k: &str| parsed.as_ref().and_then(|v| v.get(k));
    let code = field("ErrorCode").and_then(Value::as_i64);
    let message = field("Message")
        .and_then(Value::as_str)
        .map_or_else(|| cut(body), cut);
    let id = field("MessageID")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let outcome = match (status, code) {
        (200..=299, Some(0)) if id.is_some() => HandOff::Sent,
        // Accepted without the answer the API promises: it may or may not have the message.
        (200..=299, _) => HandOff::Ambiguous,
        (401 | 403, _) => HandOff::AuthFailed,
        (429, _) => HandOff::Throttled,
        (422, Some(INACTIVE_RECIPIENT)) => HandOff::RejectedRecipient,
        (400..=499, _) => HandOff::RejectedPermanent,
        _ => HandOff::Retryable,
    };
    let inactive = if outcome == HandOff::RejectedRecipient {
        inactive_addresses(&message)
    } else {
        Vec::new()
    };
    let detail = (outcome != HandOff::Sent).then(|| match code {
        Some(c) => format!("{status}: {message} (ErrorCode {c})"),
        None => format!("{status}: {message}"),
    });
    (outcome, id, detail, inactive)
}

/// The addresses after "Found inactive addresses:" in a 406 message.
fn inactive_addresses(message: &str) -> Vec<String> {
    let Some((_, rest)) = message.split_once("Found inactive addresses:") else {
        return Vec::new();
    };
    let list = rest.split_once(". ").map_or(rest, |(l, _)| l);
    list.split(',')
        .map(|a| a.trim().trim_end_matches('.').to_owned())
        .filter(|a| a.contains('@'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing() -> Outgoing {
        serde_json::from_value(json!({
            "id": "eml_1", "from": { "address": "hello@acme.example", "name": "Acme" },
            "to": [{ "address": "jane@example.com" }, { "address": "joe@example.com", "name": "Joe, Jr." }],
            "subject": "Hi", "html": "<p>Hi</p>", "text": "Hi",
            "headers": [["List-Unsubscribe", "<https://u.example/x>"]],
            "attachments": [{ "filename": "a.png", "contentType": "image/png", "contentId": "logo", "base64": "AA==" }],
            "tenantId": "t1", "idempotencyKey": "eml_1", "tags": { "kind": "welcome" }
        }))
        .unwrap()
    }

    fn options(stream: Option<&str>) -> ProviderOptions {
        ProviderOptions {
            api_key: "pm-token".into(),
            base_url: Some("http://127.0.0.1:9/".into()),
            message_stream: stream.map(str::to_owned),
            ..ProviderOptions::default()
        }
    }

    #[test]
    fn request_maps_every_field_to_postmarks_names() {
        let r = request(&outgoing(), &options(Some("broadcast"))).unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9/email");
        assert!(r
            .headers
            .contains(&("x-postmark-server-token".into(), "pm-token".into())));
        let b: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(b["From"], "Acme <hello@acme.example>");
        assert_eq!(b["To"], "jane@example.com, \"Joe, Jr.\" <joe@example.com>");
        assert_eq!(
            b["Metadata"],
            json!({ "better_email_id": "eml_1", "tenant": "t1", "kind": "welcome" })
        );
        assert_eq!(b["MessageStream"], "broadcast");
        assert_eq!(
            b["Headers"],
            json!([{ "Name": "List-Unsubscribe", "Value": "<https://u.example/x>" }])
        );
        assert_eq!(b["Attachments"][0]["ContentID"], "cid:logo");
        let d = request(&outgoing(), &options(None)).unwrap();
        assert!(d.body.contains("\"MessageStream\":\"outbound\""));
        let mut empty = options(None);
        empty.api_key = " ".into();
        assert!(request(&outgoing(), &empty)
            .unwrap_err()
            .to_string()
            .contains("`serverToken`"));
    }

    #[test]
    fn answers_are_judged_by_status_and_error_code() {
        let ok = r#"{"To":"jane@example.com","SubmittedAt":"2026-01-01T00:00:00Z","MessageID":"b7bc2f4a","ErrorCode":0,"Message":"OK"}"#;
        assert_eq!(judge(200, ok).0, HandOff::Sent);
        assert_eq!(judge(200, ok).1.as_deref(), Some("b7bc2f4a"));
        assert_eq!(judge(200, "{}").0, HandOff::Ambiguous);
        assert_eq!(
            judge(401, r#"{"ErrorCode":10,"Message":"Bad token"}"#).0,
            HandOff::AuthFailed
        );
        let inactive = r#"{"ErrorCode":406,"Message":"You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: jane@example.com, joe@example.com. Inactive recipients are ones that have generated a hard bounce or a spam complaint."}"#;
        let (o, _, detail, addresses) = judge(422, inactive);
        assert_eq!(o, HandOff::RejectedRecipient);
        assert_eq!(addresses, ["jane@example.com", "joe@example.com"]);
        assert!(detail.unwrap().ends_with("(ErrorCode 406)"));
        assert_eq!(
            judge(
                422,
                r#"{"ErrorCode":300,"Message":"Invalid email request"}"#
            )
            .0,
            HandOff::RejectedPermanent
        );
        assert_eq!(judge(429, "").0, HandOff::Throttled);
        assert_eq!(judge(503, "").0, HandOff::Retryable);
    }
}
