//! SendGrid (spec §8.2): `POST /v3/mail/send` with a Bearer key, the message as SendGrid's JSON
//! (one personalization with every recipient list, `text/plain` before `text/html` as the API
//! requires), the custom and list headers in `headers`, `better_email_id` and the tenant in
//! `custom_args` (how its events correlate). An accepted message is `202` with its id in the
//! `X-Message-Id` header. SendGrid keeps no idempotency key.

use serde_json::{json, Map, Value};

use super::error::{EmailError, Result};
use super::http::{base_url, header_object, HttpRequest, Outgoing, ProviderOptions};
use super::recipients::AddressObject;

fn address(a: &AddressObject) -> Value {
    match a.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => json!({ "email": a.address, "name": name }),
        None => json!({ "email": a.address }),
    }
}

pub(super) fn request(m: &Outgoing, o: &ProviderOptions) -> Result<HttpRequest> {
    if o.api_key.trim().is_empty() {
        return Err(EmailError::config("apiKey", "the SendGrid API key (SG.…)"));
    }
    let list = |v: &[AddressObject]| Value::Array(v.iter().map(address).collect());
    let mut to = Map::new();
    for (k, v) in [("to", &m.to), ("cc", &m.cc), ("bcc", &m.bcc)] {
        if !v.is_empty() {
            to.insert(k.into(), list(v));
        }
    }
    let mut args = Map::new();
    args.insert("better_email_id".into(), json!(m.id));
    if let Some(t) = &m.tenant_id {
        args.insert("tenant".into(), json!(t));
    }
    for (k, v) in m.tags.iter().flatten() {
        args.insert(k.clone(), json!(v));
    }
    let content: Vec<Value> = [("text/plain", &m.text), ("text/html", &m.html)]
        .into_iter()
        .filter_map(|(t, v)| v.as_ref().map(|v| json!({ "type": t, "value": v })))
        .collect();
    let mut body = json!({
        "personalizations": [to],
        "from": address(&m.from),
        "subject": m.subject,
        "content": content,
        "custom_args": args,
    });
    let b = body.as_object_mut().expect("an object literal");
    match m.reply_to.as_slice() {
        [] => {}
        [one] => {
            b.insert("reply_to".into(), address(one));
        }
        many => {
            b.insert("reply_to_list".into(), list(many));
        }
    }
    if !m.headers.is_empty() {
        b.insert("headers".into(), header_object(&m.headers));
    }
    if !m.attachments.is_empty() {
        let a: Vec<Value> = m
            .attachments
            .iter()
            .map(|a| {
                let mut x = json!({ "content": a.base64, "type": a.content_type, "filename": a.filename, "disposition": "attachment" });
                if let Some(id) = &a.content_id {
                    x["disposition"] = json!("inline");
                    x["content_id"] = json!(id);
                }
                x
            })
            .collect();
        b.insert("attachments".into(), Value::Array(a));
    }
    Ok(HttpRequest {
        method: "POST",
        url: format!(
            "{}/v3/mail/send",
            base_url("baseUrl", o, "https://api.sendgrid.com")?
        ),
        headers: vec![
            ("authorization".into(), format!("Bearer {}", o.api_key)),
            ("content-type".into(), "application/json".into()),
        ],
        body: body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::http::classify;
    use crate::email::smtp_outcome::HandOff;

    fn outgoing() -> Outgoing {
        serde_json::from_value(json!({
            "id": "eml_1", "from": { "address": "hello@acme.example", "name": "Acme" },
            "to": [{ "address": "jane@example.com", "name": "Jane" }], "bcc": [{ "address": "b@example.com" }],
            "replyTo": [{ "address": "s@acme.example" }], "subject": "Hi", "html": "<p>Hi</p>", "text": "Hi",
            "headers": [["List-Unsubscribe", "<https://u.example/x>"]],
            "attachments": [{ "filename": "a.png", "contentType": "image/png", "contentId": "logo", "base64": "AA==" }],
            "tenantId": "t1", "idempotencyKey": "eml_1", "tags": { "kind": "welcome" }
        }))
        .unwrap()
    }

    #[test]
    fn request_maps_every_field_to_sendgrids_names() {
        let o = ProviderOptions {
            api_key: "SG.key".into(),
            base_url: Some("http://127.0.0.1:9".into()),
            ..ProviderOptions::default()
        };
        let r = request(&outgoing(), &o).unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9/v3/mail/send");
        assert!(r
            .headers
            .contains(&("authorization".into(), "Bearer SG.key".into())));
        let b: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            b["personalizations"],
            json!([{ "to": [{ "email": "jane@example.com", "name": "Jane" }], "bcc": [{ "email": "b@example.com" }] }])
        );
        assert_eq!(
            b["from"],
            json!({ "email": "hello@acme.example", "name": "Acme" })
        );
        assert_eq!(b["reply_to"], json!({ "email": "s@acme.example" }));
        assert_eq!(b["content"][0]["type"], "text/plain");
        assert_eq!(
            b["content"][1],
            json!({ "type": "text/html", "value": "<p>Hi</p>" })
        );
        assert_eq!(
            b["custom_args"],
            json!({ "better_email_id": "eml_1", "tenant": "t1", "kind": "welcome" })
        );
        assert_eq!(b["headers"]["List-Unsubscribe"], "<https://u.example/x>");
        assert_eq!(b["attachments"][0]["disposition"], "inline");
        assert_eq!(b["attachments"][0]["content_id"], "logo");
        let err = request(&outgoing(), &ProviderOptions::default()).unwrap_err();
        assert!(err.to_string().contains("`apiKey`"), "{err}");
    }

    #[test]
    fn accepted_is_202_with_the_id_in_a_header() {
        let ok = classify(
            "sendgrid",
            202,
            &[("X-Message-Id".into(), "Xm1".into())],
            "",
            0,
        );
        assert_eq!(
            (ok.outcome, ok.provider_message_id.as_deref()),
            (HandOff::Sent, Some("Xm1"))
        );
        assert_eq!(
            classify("sendgrid", 202, &[], "", 0).outcome,
            HandOff::Ambiguous
        );
        let bad = classify(
            "sendgrid",
            400,
            &[],
            r#"{"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from"}]}"#,
            0,
        );
        assert_eq!(bad.outcome, HandOff::RejectedPermanent);
        assert_eq!(
            bad.detail.as_deref(),
            Some("400: The from address does not match a verified Sender Identity.")
        );
        assert_eq!(
            classify("sendgrid", 401, &[], "", 0).outcome,
            HandOff::AuthFailed
        );
        assert_eq!(
            classify("sendgrid", 413, &[], "", 0).outcome,
            HandOff::RejectedPermanent
        );
        assert_eq!(
            classify("sendgrid", 429, &[], "", 0).outcome,
            HandOff::Throttled
        );
        assert_eq!(
            classify("sendgrid", 502, &[], "", 0).outcome,
            HandOff::Retryable
        );
    }
}
