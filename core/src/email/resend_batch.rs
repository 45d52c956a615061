//! Resend's batch endpoint (spec §8.2): up to [`MAX_BATCH`] messages in one `POST
//! /emails/batch`, in permissive validation mode so that one invalid message does not fail the
//! others. The request's `Idempotency-Key` is [`batch_key`] of its members' ids, the same for
//! any order of the same messages, so a replay of an unanswered request cannot send twice.
//! Answers map back by position: `errors` name the refused messages by index, and `data` holds
//! the ids of the others, in request order.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::{EmailError, Result};
use super::http::{
    base_url, classify, cut, resend_auth, resend_body, HttpRequest, Outgoing, ProviderOptions,
    Verdict,
};
use super::smtp_outcome::HandOff;

/// Resend takes at most 100 messages per batch request.
pub const MAX_BATCH: usize = 100;

/// The batch's key: `batch_` and SHA-256 of its sorted message ids (fits Resend's 256 chars).
#[must_use]
pub fn batch_key(ids: &[&str]) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let mut h = Sha256::new();
    h.update(b"better-email/batch\0");
    for id in sorted {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    format!("batch_{}", crate::crypto::hex(&h.finalize()))
}

/// The request for `messages` as one batch.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming `message` for an empty or oversized batch, or a message with
/// attachments (the batch endpoint does not take them: such a message goes alone);
/// `EMAIL_INVALID_CONFIG` naming `apiKey`, `baseUrl` or `kind` (only `resend` batches).
pub fn request(kind: &str, messages: &[Outgoing], o: &ProviderOptions) -> Result<HttpRequest> {
    if kind != "resend" {
        return Err(EmailError::config(
            "kind",
            format!("\"resend\" (the only provider batched here), got {kind:?}"),
        ));
    }
    if messages.is_empty() || messages.len() > MAX_BATCH {
        return Err(EmailError::argument(
            "message",
            format!(
                "a batch holds 1 to {MAX_BATCH} messages, got {}",
                messages.len()
            ),
        ));
    }
    if let Some(m) = messages.iter().find(|m| !m.attachments.is_empty()) {
        return Err(EmailError::argument(
            "message",
            format!(
                "{} has attachments, which Resend's batch endpoint does not take: send it alone",
                m.id
            ),
        ));
    }
    let auth = resend_auth(o)?;
    let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
    let body = Value::Array(messages.iter().map(resend_body).collect());
    Ok(HttpRequest {
        method: "POST",
        url: format!(
            "{}/emails/batch",
            base_url("baseUrl", o, "https://api.resend.com")?
        ),
        headers: vec![
            auth,
            ("content-type".into(), "application/json".into()),
            ("idempotency-key".into(), batch_key(&ids)),
            ("x-batch-validation".into(), "permissive".into()),
        ],
        body: body.to_string(),
    })
}

/// One verdict per message of a batch of `count`. An answer other than 2xx is the whole
/// batch's; a 2xx one gives each message refused in `errors` its text and each other message
/// the next id of `data`. A message the answer accounts for neither way is `ambiguous`.
#[must_use]
pub fn classify_batch(
    kind: &str,
    status: u16,
    headers: &[(String, String)],
    body: &str,
    now_ms: i64,
    count: usize,
) -> Vec<Verdict> {
    if !(200..=299).contains(&status) {
        return vec![classify(kind, status, headers, body, now_ms); count];
    }
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let field = |name| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_array)
    };
    let mut refused: Vec<Option<String>> = vec![None; count];
    for e in field("errors").into_iter().flatten() {
        let index = e
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok());
        if let Some(slot) = index.and_then(|i| refused.get_mut(i)) {
            let text = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("refused");
            *slot = Some(format!("{status}: {}", cut(text)));
        }
    }
    let mut ids = field("data")
        .into_iter()
        .flatten()
        .map(|d| d.get("id").and_then(Value::as_str).map(str::to_owned));
    let verdict = |outcome, id, detail| Verdict {
        outcome,
        provider_message_id: id,
        retry_after_ms: None,
        detail,
        recipients: Vec::new(),
    };
    refused
        .into_iter()
        .map(|r| match r {
            Some(text) => verdict(HandOff::RejectedPermanent, None, Some(text)),
            None => match ids.next().flatten() {
                Some(id) => verdict(HandOff::Sent, Some(id), None),
                None => verdict(
                    HandOff::Ambiguous,
                    None,
                    Some(format!(
                        "{status}: the batch answer has no id for this message"
                    )),
                ),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outgoing(id: &str, attachments: bool) -> Outgoing {
        let mut m = json!({
            "id": id, "from": { "address": "a@acme.example" }, "to": [{ "address": "j@example.com" }],
            "subject": "Hi", "text": "t", "idempotencyKey": id, "tenantId": null,
        });
        if attachments {
            m["attachments"] = json!([{ "filename": "a", "contentType": "text/plain", "contentId": null, "base64": "YQ==" }]);
        }
        serde_json::from_value(m).unwrap()
    }

    fn opts() -> ProviderOptions {
        serde_json::from_value(json!({ "apiKey": "re_1", "baseUrl": "http://127.0.0.1:9" }))
            .unwrap()
    }

    #[test]
    fn key_ignores_order_and_differs_by_member() {
        assert_eq!(batch_key(&["b", "a"]), batch_key(&["a", "b"]));
        assert_ne!(batch_key(&["a", "b"]), batch_key(&["a", "c"]));
        assert_ne!(batch_key(&["ab"]), batch_key(&["a", "b"]));
        assert!(batch_key(&["a"]).len() <= 256);
    }

    #[test]
    fn request_is_an_array_in_permissive_mode() {
        let r = request(
            "resend",
            &[outgoing("eml_1", false), outgoing("eml_2", false)],
            &opts(),
        )
        .unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9/emails/batch");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body.as_array().unwrap().len(), 2);
        assert_eq!(body[1]["tags"][0]["value"], "eml_2");
        let h = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(h("x-batch-validation").as_deref(), Some("permissive"));
        assert_eq!(h("idempotency-key"), Some(batch_key(&["eml_2", "eml_1"])));
    }

    #[test]
    fn refuses_attachments_sizes_and_other_kinds() {
        let code = |r: Result<HttpRequest>| match r.unwrap_err() {
            EmailError::InvalidArgument { field, .. } | EmailError::InvalidConfig { field, .. } => {
                field
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            code(request("resend", &[outgoing("a", true)], &opts())),
            "message"
        );
        assert_eq!(code(request("resend", &[], &opts())), "message");
        let many: Vec<Outgoing> = (0..=MAX_BATCH)
            .map(|i| outgoing(&format!("m{i}"), false))
            .collect();
        assert_eq!(code(request("resend", &many, &opts())), "message");
        assert_eq!(
            code(request("postmark", &[outgoing("a", false)], &opts())),
            "kind"
        );
    }

    #[test]
    fn answers_map_back_by_position() {
        let body = r#"{"data":[{"id":"r1"},{"id":"r3"}],"errors":[{"index":1,"message":"The `to` field is missing."}]}"#;
        let v = classify_batch("resend", 200, &[], body, 0, 4);
        let outcomes: Vec<HandOff> = v.iter().map(|x| x.outcome).collect();
        assert_eq!(
            outcomes,
            [
                HandOff::Sent,
                HandOff::RejectedPermanent,
                HandOff::Sent,
                HandOff::Ambiguous
            ]
        );
        assert_eq!(v[0].provider_message_id.as_deref(), Some("r1"));
        assert_eq!(v[2].provider_message_id.as_deref(), Some("r3"));
        assert!(v[1].detail.as_deref().unwrap().contains("`to` field"));
        let throttled = classify_batch(
            "resend",
            429,
            &[("retry-after".into(), "2".into())],
            "{}",
            0,
            3,
        );
        assert!(throttled
            .iter()
            .all(|x| x.outcome == HandOff::Throttled && x.retry_after_ms == Some(2000)));
        let garbled = classify_batch("resend", 200, &[], "not json", 0, 2);
        assert!(garbled.iter().all(|x| x.outcome == HandOff::Ambiguous));
    }
}
