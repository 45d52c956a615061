//! The worker's side, first half: [`Email::hand_off`] turns claimed rows into what a transport
//! sends (the MIME bytes rebuilt from the frozen columns, so every attempt sends the same bytes;
//! the envelope without recipients suppressed since the send). The transports' answers are
//! recorded by [`Email::record`] (`record`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{json, Value};

use super::render::Failed;
use super::{em, Email};
use crate::audit::time::parse_iso_ms;
use crate::email::address::address_key;
use crate::email::message::{Attachment, BuildOptions, MessageSpec};
use crate::email::recipients::{AddressInput, AddressObject, OneOrMany};
use crate::email::token::LIST_UNSUBSCRIBE_POST;
use crate::email::{mime, prepare, EmailError};
use crate::error::Result;
use crate::input::from_value;
use crate::webhooks::ids::{self, IdKind};

#[derive(Debug, Deserialize)]
struct Recipient {
    kind: String,
    address: Option<String>,
    key: String,
    status: String,
    blocked: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredAttachment {
    filename: String,
    content_type: String,
    content_id: Option<String>,
    base64: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredHeaders {
    from: AddressObject,
    #[serde(default)]
    to: Vec<AddressObject>,
    #[serde(default)]
    cc: Vec<AddressObject>,
    #[serde(default)]
    reply_to: Vec<AddressObject>,
    #[serde(default)]
    custom: Vec<(String, String)>,
}

/// A claimed row (the claim statement's columns).
#[derive(Debug, Deserialize)]
struct Claimed {
    id: String,
    tenant_id: Option<String>,
    created_at: String,
    category: String,
    subject: Option<String>,
    html: Option<String>,
    text_body: Option<String>,
    headers: Value,
    message_id_header: String,
    date_header: String,
    tags: Option<Value>,
    attempt_count: u32,
    lease_token: String,
    expires_at: Option<String>,
    /// The transport an earlier ambiguous attempt used: every later attempt goes there.
    #[serde(default)]
    pinned: Option<String>,
    /// The batch request it belongs to, when that request is to be repeated as it was.
    #[serde(default)]
    batch_id: Option<String>,
    recipients: Vec<Recipient>,
    attachments: Vec<StoredAttachment>,
    /// False for mail the worker renders (`render: "worker"`): then the template, its props
    /// (JSON text), the tenant's active overrides of it and, attached by the worker, what the
    /// code template gave.
    #[serde(default = "super::pending::yes")]
    rendered: bool,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    props: Option<String>,
    #[serde(default)]
    overrides: Option<Value>,
    #[serde(default)]
    code: Option<Value>,
}

fn list(items: Vec<AddressObject>) -> Option<OneOrMany> {
    (!items.is_empty())
        .then(|| OneOrMany::Many(items.into_iter().map(AddressInput::Object).collect()))
}

impl Email {
    /// `List-Unsubscribe` for a claimed message: its first recipient's token.
    fn list_unsubscribe_of(&self, c: &Claimed, date_ms: i64) -> Result<Option<String>> {
        let Some(first) = c.recipients.first() else {
            return Ok(None);
        };
        self.list_unsubscribe(&c.category, c.tenant_id.clone(), &c.id, &first.key, date_ms)
    }

    fn hand_off_one(&self, mut c: Claimed, with_raw: bool) -> Result<Value> {
        let id = ids::from_uuid("id", IdKind::Email, &c.id)
            .map_err(|e| em(EmailError::argument("rows", e.to_string())))?;
        let date_ms = parse_iso_ms(&c.date_header).unwrap_or(0);
        let record = json!({
            "id": c.id, "createdAt": c.created_at, "leaseToken": c.lease_token,
            "attempt": c.attempt_count, "expiresAtMs": c.expires_at.as_deref().and_then(parse_iso_ms),
            "batch": c.batch_id,
        });
        let mut suppressed = Vec::new();
        let mut envelope = Vec::new();
        for r in &c.recipients {
            match (&r.blocked, r.status.as_str()) {
                (Some(reason), "pending") => {
                    suppressed.push(json!({ "key": r.key, "address": r.address, "reason": reason }))
                }
                (None, "pending") => {
                    envelope.push(r.address.clone().unwrap_or_else(|| r.key.clone()))
                }
                _ => {}
            }
        }
        if envelope.is_empty() {
            return Ok(json!({ "record": record, "suppressed": suppressed, "skip": "suppressed" }));
        }
        let failed = |f: Failed| json!({ "record": record, "suppressed": suppressed, "failed": { "code": f.0, "message": f.1, "retry": f.retry() } });
        let mut freeze = None;
        if !c.rendered {
            match self.render_deferred(
                c.template.as_deref(),
                c.locale.as_deref(),
                c.props.as_deref(),
                c.overrides.as_ref(),
                c.code.as_ref(),
            ) {
                Ok(content) => {
                    freeze = Some(content.freeze());
                    c.subject = Some(content.subject);
                    c.html = content.html;
                    c.text_body = content.text;
                }
                Err(f) => return Ok(failed(f)),
            }
        }
        let stored: StoredHeaders = from_value("headers", &c.headers)?;
        let mut contents = Vec::with_capacity(c.attachments.len());
        let mut attachments = Vec::with_capacity(c.attachments.len());
        for a in &c.attachments {
            contents.push(Some(STANDARD.decode(&a.base64).map_err(|e| {
                em(EmailError::argument("attachments", e.to_string()))
            })?));
            attachments.push(Attachment {
                filename: a.filename.clone(),
                content_type: Some(a.content_type.clone()),
                content_id: a.content_id.clone(),
                content: None,
            });
        }
        let list_unsubscribe = self.list_unsubscribe_of(&c, date_ms)?;
        let s = &self.config.settings;
        let from = stored.from.address.clone();
        let spec = MessageSpec {
            from: AddressInput::Object(stored.from),
            to: list(stored.to),
            cc: list(stored.cc),
            bcc: None,
            reply_to: list(stored.reply_to),
            subject: c.subject.clone().unwrap_or_default(),
            text: c.text_body.clone(),
            html: c.html.clone(),
            message_id: c.message_id_header.clone(),
            date_ms,
            headers: stored.custom.into_iter().collect::<IndexMap<_, _>>(),
            attachments,
            list_unsubscribe_post: list_unsubscribe.is_some(),
            list_unsubscribe,
            list_id: s
                .categories
                .get(&c.category)
                .and_then(|p| p.list_id.clone()),
        };
        // The stored message passed these checks at send; the limits no longer apply to it,
        // except to the content just rendered, checked as a send checks it.
        let opts = BuildOptions {
            smtp_utf8: s.smtp_utf8,
            max_recipients: Some(usize::MAX),
            max_message_bytes: if freeze.is_some() {
                usize::try_from(s.max_message_bytes).ok()
            } else {
                Some(usize::MAX)
            },
        };
        let prepared = if with_raw || freeze.is_some() {
            let checked = prepare::prepare(&spec, &opts, &contents).and_then(|p| {
                if freeze.is_some() {
                    mime::estimate_size(&p)?;
                }
                Ok(p)
            });
            match checked {
                Ok(p) => Some(p),
                Err(e) if freeze.is_some() => return Ok(failed(e.into())),
                Err(e) => return Err(em(e)),
            }
        } else {
            None
        };
        // Only transports that send MIME need it: the JSON providers take `outgoing`.
        let raw = match prepared.filter(|_| with_raw) {
            Some(p) => String::from_utf8_lossy(&mime::build(&p).map_err(em)?).into_owned(),
            None => String::new(),
        };
        let outgoing = Self::outgoing(&c, &spec, &id, &envelope, &c.attachments);
        let message = json!({
            "id": id, "category": c.category, "from": from, "recipients": envelope,
            "raw": raw,
            "messageId": c.message_id_header.trim_start_matches('<').trim_end_matches('>'),
            "attempt": c.attempt_count, "pinned": c.pinned,
            // Subject, bodies, tags, tenant and key: once, in the structured form.
            "outgoing": outgoing,
        });
        Ok(
            json!({ "message": message, "record": record, "suppressed": suppressed, "freeze": freeze }),
        )
    }

    /// The structured message JSON providers take (the same content as the MIME): the
    /// recipients still to be sent to, by field, and every header the MIME carries besides the
    /// fixed ones.
    fn outgoing(
        c: &Claimed,
        spec: &MessageSpec,
        id: &str,
        envelope: &[String],
        stored: &[StoredAttachment],
    ) -> Value {
        let sending: std::collections::BTreeSet<String> =
            envelope.iter().map(|a| address_key(a)).collect();
        // `only_sending`: recipients still to be sent to (not Reply-To, which receives nothing).
        let keep = |list: &Option<OneOrMany>, only_sending: bool| -> Vec<Value> {
            match list {
                Some(OneOrMany::Many(items)) => items
                    .iter()
                    .filter_map(|a| match a {
                        AddressInput::Object(o)
                            if !only_sending || sending.contains(&address_key(&o.address)) =>
                        {
                            Some(json!({ "address": o.address, "name": o.name }))
                        }
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            }
        };
        let mut bcc: Vec<Value> = c
            .recipients
            .iter()
            .filter(|r| r.kind == "bcc" && r.status == "pending" && r.blocked.is_none())
            .map(|r| json!({ "address": r.address.clone().unwrap_or_else(|| r.key.clone()) }))
            .collect();
        // The JSON providers refuse a message without `to`. When every To recipient was
        // suppressed since the send, the Cc recipients (who see each other anyway) become the
        // `to`, or a single Bcc recipient does; several Bcc recipients alone are left as they
        // are (any one of them in `to` would be shown to the others), and the provider refuses.
        let (mut to, mut cc) = (keep(&spec.to, true), keep(&spec.cc, true));
        if to.is_empty() {
            if !cc.is_empty() {
                std::mem::swap(&mut to, &mut cc);
            } else if bcc.len() == 1 {
                std::mem::swap(&mut to, &mut bcc);
            }
        }
        let mut headers: Vec<(String, String)> = spec
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(v) = &spec.list_unsubscribe {
            headers.push(("List-Unsubscribe".into(), v.clone()));
            headers.push(("List-Unsubscribe-Post".into(), LIST_UNSUBSCRIBE_POST.into()));
        }
        if let Some(l) = &spec.list_id {
            headers.push(("List-Id".into(), format!("<{l}>")));
        }
        let from = match &spec.from {
            AddressInput::Object(o) => json!({ "address": o.address, "name": o.name }),
            AddressInput::Text(t) => json!({ "address": t }),
        };
        json!({
            "id": id, "from": from, "to": to, "cc": cc, "bcc": bcc,
            "replyTo": keep(&spec.reply_to, false), "subject": spec.subject, "html": spec.html, "text": spec.text,
            "headers": headers,
            "attachments": stored.iter().map(|a| json!({ "filename": a.filename, "contentType": a.content_type, "contentId": a.content_id, "base64": a.base64 })).collect::<Vec<_>>(),
            "tenantId": c.tenant_id, "idempotencyKey": id, "tags": c.tags,
        })
    }

    /// Claimed rows → `[{ message?, record, suppressed, skip? }]`: `message` for the transport
    /// (MIME in `raw` when `with_raw`, else empty), `skip: "suppressed"` when every remaining
    /// recipient is now suppressed.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for rows that did not come from the claim statement.
    pub fn hand_off(&self, rows: &Value, with_raw: bool) -> Result<Value> {
        let rows: Vec<Claimed> = from_value("rows", rows)?;
        Ok(Value::Array(
            rows.into_iter()
                .map(|c| self.hand_off_one(c, with_raw))
                .collect::<Result<_>>()?,
        ))
    }
}
