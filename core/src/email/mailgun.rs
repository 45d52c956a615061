//! Mailgun (spec §8.2): `POST /v3/{domain}/messages.mime` with HTTP Basic `api:{key}`, as
//! `multipart/form-data`: one `to` field per envelope recipient (the MIME carries no `Bcc`), the
//! message as the `message` file (our MIME, exactly), and `v:better_email_id` and `v:tenant` as
//! user variables (how its events correlate). Mailgun keeps no idempotency key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::error::{EmailError, Result};
use super::http::{base_url, raw_mime, HttpRequest, Outgoing, ProviderOptions};
use crate::crypto::hex;

/// A form field's name as a quoted string: no quote, backslash or line break can end it early.
fn field_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '"' | '\\' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

pub(super) fn request(m: &Outgoing, o: &ProviderOptions) -> Result<HttpRequest> {
    if o.api_key.trim().is_empty() {
        return Err(EmailError::config("apiKey", "the Mailgun API key"));
    }
    let domain = o.domain.as_deref().unwrap_or_default();
    if domain.is_empty()
        || !domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(EmailError::config(
            "domain",
            "the Mailgun sending domain, such as mg.acme.example",
        ));
    }
    let raw = raw_mime(m, "Mailgun")?;
    let mut fields: Vec<(String, &str)> = m
        .recipients
        .iter()
        .map(|r| ("to".into(), r.as_str()))
        .collect();
    fields.push(("v:better_email_id".into(), &m.id));
    if let Some(t) = &m.tenant_id {
        fields.push(("v:tenant".into(), t));
    }
    for (k, v) in m.tags.iter().flatten() {
        fields.push((format!("v:{}", field_name(k)), v));
    }
    // A hash of everything the parts hold: no part can contain the boundary derived from it.
    let mut h = Sha256::new();
    h.update(raw.as_bytes());
    for (_, v) in &fields {
        h.update([0]);
        h.update(v.as_bytes());
    }
    let boundary = format!("better-email-{}", &hex(&h.finalize())[..32]);
    let mut body = String::with_capacity(raw.len() + 512);
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"message\"; filename=\"message.mime\"\r\nContent-Type: message/rfc822\r\n\r\n{raw}\r\n--{boundary}--\r\n"
    ));
    Ok(HttpRequest {
        method: "POST",
        url: format!(
            "{}/v3/{domain}/messages.mime",
            base_url("baseUrl", o, "https://api.mailgun.net")?
        ),
        headers: vec![
            (
                "authorization".into(),
                format!("Basic {}", STANDARD.encode(format!("api:{}", o.api_key))),
            ),
            (
                "content-type".into(),
                format!("multipart/form-data; boundary={boundary}"),
            ),
        ],
        body,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::email::http::classify;
    use crate::email::smtp_outcome::HandOff;

    fn outgoing() -> Outgoing {
        serde_json::from_value(json!({
            "id": "eml_1", "from": { "address": "hello@acme.example" }, "to": [{ "address": "jane@example.com" }],
            "subject": "Hi", "tenantId": "t1", "idempotencyKey": "eml_1", "tags": { "a\"b": "x" },
            "raw": "Subject: Hi\r\n\r\nHi\r\n", "recipients": ["jane@example.com", "hidden@example.com"]
        }))
        .unwrap()
    }

    fn options() -> ProviderOptions {
        ProviderOptions {
            api_key: "key-1".into(),
            domain: Some("mg.acme.example".into()),
            base_url: Some("http://127.0.0.1:9".into()),
            ..ProviderOptions::default()
        }
    }

    #[test]
    fn request_is_a_form_with_the_mime_and_one_to_per_recipient() {
        let r = request(&outgoing(), &options()).unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9/v3/mg.acme.example/messages.mime");
        assert!(r
            .headers
            .contains(&("authorization".into(), "Basic YXBpOmtleS0x".into())));
        let ct = &r.headers[1].1;
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let parts: Vec<&str> = r.body.split(&format!("--{boundary}")).collect();
        // Preamble, 2 × to, id, tenant, tag, message, and the closing `--`.
        assert_eq!(parts.len(), 8, "{}", r.body);
        assert!(parts[1].contains("name=\"to\"\r\n\r\njane@example.com\r\n"));
        assert!(parts[2].contains("name=\"to\"\r\n\r\nhidden@example.com\r\n"));
        assert!(parts[3].contains("name=\"v:better_email_id\"\r\n\r\neml_1\r\n"));
        assert!(parts[5].contains("name=\"v:a_b\""));
        assert!(
            parts[6].ends_with("Content-Type: message/rfc822\r\n\r\nSubject: Hi\r\n\r\nHi\r\n\r\n")
        );
        assert_eq!(parts[7], "--\r\n");
        let mut o = options();
        o.domain = Some("mg.acme.example/../x".into());
        assert!(request(&outgoing(), &o)
            .unwrap_err()
            .to_string()
            .contains("`domain`"));
    }

    #[test]
    fn accepted_is_200_with_the_id_unbracketed() {
        let ok = classify(
            "mailgun",
            200,
            &[],
            r#"{"id":"<20260101.1@mg.acme.example>","message":"Queued. Thank you."}"#,
            0,
        );
        assert_eq!(ok.outcome, HandOff::Sent);
        assert_eq!(
            ok.provider_message_id.as_deref(),
            Some("20260101.1@mg.acme.example")
        );
        assert_eq!(
            classify("mailgun", 401, &[], "Forbidden", 0).outcome,
            HandOff::AuthFailed
        );
        let bad = classify(
            "mailgun",
            400,
            &[],
            r#"{"message":"to parameter is not a valid address"}"#,
            0,
        );
        assert_eq!(
            bad.detail.as_deref(),
            Some("400: to parameter is not a valid address")
        );
    }
}
