//! The worker's side: [`Email::hand_off`] turns claimed rows into what a transport sends (the
//! MIME bytes rebuilt from the frozen columns, so every attempt sends the same bytes; the
//! envelope without recipients suppressed since the send), and [`Email::record`] turns the
//! transports' answers into the record statement's parameters, deciding each message's next
//! state (§9.3, §9.4) and each recipient's.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{json, Value};

use super::render::Failed;
use super::{em, Email};
use crate::audit::time::parse_iso_ms;
use crate::email::address::address_key;
use crate::email::config::OnAmbiguous;
use crate::email::http::cut;
use crate::email::message::{Attachment, BuildOptions, MessageSpec};
use crate::email::recipients::{AddressInput, AddressObject, OneOrMany};
use crate::email::retry::{after_hand_off, Attempted, Next};
use crate::email::smtp_outcome::HandOff;
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
    #[serde(default = "super::send::yes")]
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

/// What the package reports for one message.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    record: RecordRef,
    #[serde(default)]
    suppressed: Vec<Suppressed>,
    /// The addresses handed to the transport.
    #[serde(default)]
    envelope: Vec<String>,
    transport: Option<String>,
    #[serde(default)]
    idempotent: bool,
    outcome: String,
    provider_message_id: Option<String>,
    status: Option<i64>,
    detail: Option<String>,
    retry_after_ms: Option<i64>,
    started_at_ms: Option<i64>,
    duration_ms: Option<i64>,
    #[serde(default)]
    recipients: Vec<RecipientReport>,
    /// Transports a failover tried first in this attempt, which definitely did not take it.
    #[serde(default)]
    tried: Vec<Tried>,
    /// An ambiguous answer only the identical request could safely repeat (a batch member):
    /// held for an operator whatever `onAmbiguous` says.
    #[serde(default)]
    hold: bool,
    /// A member of a batch request that may have reached the provider (unanswered, or being
    /// repeated): it keeps its batch, to be repeated as that identical request; and since it
    /// may have been delivered, it is held rather than `failed` or `expired` when its retries
    /// run out, unless this answer settled it.
    #[serde(default)]
    rebatch: bool,
}

/// One transport a failover tried before the one that answered for the message.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tried {
    transport: String,
    outcome: HandOff,
    status: Option<i64>,
    detail: Option<String>,
    started_at_ms: i64,
    duration_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordRef {
    id: String,
    created_at: String,
    lease_token: String,
    attempt: u32,
    expires_at_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Suppressed {
    key: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecipientReport {
    address: String,
    accepted: bool,
    code: Option<i64>,
    enhanced_code: Option<String>,
}

/// A refused recipient: hard bounce (`5.1.x`: the mailbox does not exist) or plain rejection.
fn refused_status(r: &RecipientReport) -> (&'static str, bool) {
    let hard = match &r.enhanced_code {
        Some(e) => e.starts_with("5.1."),
        None => matches!(r.code, Some(550 | 551 | 553)),
    };
    if hard {
        ("bounced", true)
    } else {
        ("rejected", false)
    }
}

impl Email {
    /// The record statement's parameters for `reports` (`worker` is the worker id, `draws` one
    /// uniform draw in [−1, 1] per report), and per message its new status.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for a report of the wrong shape or an unknown outcome.
    pub fn record(
        &self,
        reports: &Value,
        now_ms: i64,
        draws: &[f64],
        worker: &str,
    ) -> Result<Value> {
        let reports: Vec<Report> = from_value("reports", reports)?;
        let mut m: Vec<Vec<Value>> = vec![Vec::new(); 12];
        let mut rc: Vec<Vec<Value>> = vec![Vec::new(); 4];
        let mut sp: Vec<Vec<Value>> = vec![Vec::new(); 6];
        let mut pa: Vec<Vec<Value>> = vec![Vec::new(); 7];
        let mut summary = Vec::new();
        for (n, r) in reports.iter().enumerate() {
            let next = match r.outcome.as_str() {
                "suppressed" => None,
                "expired" => Some(Next::Expired),
                o => {
                    let outcome: HandOff = from_value(&format!("reports[{n}].outcome"), &json!(o))?;
                    Some(after_hand_off(
                        &self.config.retry,
                        if r.hold {
                            OnAmbiguous::Hold
                        } else {
                            self.config.settings.on_ambiguous
                        },
                        &Attempted {
                            attempts: r.record.attempt.max(1),
                            outcome,
                            retry_after_ms: r.retry_after_ms,
                            now_ms,
                            expires_at_ms: r.record.expires_at_ms,
                            idempotent: r.idempotent && !r.hold,
                            u: draws.get(n).copied().unwrap_or(0.0),
                        },
                    ))
                }
            };
            let settled = matches!(
                r.outcome.as_str(),
                "sent" | "rejected_permanent" | "rejected_recipient"
            );
            let next = match next {
                Some(Next::Failed | Next::Expired) if r.rebatch && !settled => {
                    Some(Next::Ambiguous)
                }
                other => other,
            };
            let status = next.map_or("suppressed", Next::status);
            let at = match next {
                Some(Next::RetryAt(t)) => json!(crate::audit::time::format_iso(t * 1000)),
                _ => Value::Null,
            };
            let started = r.started_at_ms.map_or(Value::Null, |t| {
                json!(crate::audit::time::format_iso(t * 1000))
            });
            for (c, v) in [
                json!(r.record.id),
                json!(r.record.created_at),
                json!(r.record.lease_token),
                json!(status),
                at.clone(),
                json!(r.outcome),
                json!(r.detail.as_deref().map(cut)),
                json!(r.provider_message_id),
                json!(r.transport.as_ref().filter(|_| r.started_at_ms.is_some())),
                started,
                json!(r.duration_ms),
                json!(r.status),
            ]
            .into_iter()
            .enumerate()
            {
                m[c].push(v);
            }
            let mut recipient = |key: String, status: &str, reason: Option<&str>| {
                for (c, v) in [json!(r.record.id), json!(key), json!(status), json!(reason)]
                    .into_iter()
                    .enumerate()
                {
                    rc[c].push(v);
                }
            };
            for s in &r.suppressed {
                recipient(s.key.clone(), "suppressed", Some(&s.reason));
            }
            let judged = matches!(next, Some(Next::Sent))
                || (matches!(next, Some(Next::Failed)) && r.outcome == "rejected_recipient");
            if judged {
                for address in &r.envelope {
                    let key = address_key(address);
                    match r
                        .recipients
                        .iter()
                        .find(|x| address_key(&x.address) == key && !x.accepted)
                    {
                        Some(x) => {
                            let (st, hard) = refused_status(x);
                            recipient(key.clone(), st, hard.then_some("hard_bounce"));
                            if hard {
                                for (c, v) in [
                                    json!(r.record.id),
                                    json!(address),
                                    json!(key),
                                    json!("hard_bounce"),
                                    json!(false),
                                    // Who refused it: the SMTP server, or a provider by name.
                                    json!(r.transport.as_deref().unwrap_or("smtp")),
                                ]
                                .into_iter()
                                .enumerate()
                                {
                                    sp[c].push(v);
                                }
                            }
                        }
                        None if matches!(next, Some(Next::Sent)) => recipient(key, "sent", None),
                        None => {}
                    }
                }
            }
            for t in &r.tried {
                for (c, v) in [
                    json!(r.record.id),
                    json!(t.transport),
                    json!(crate::audit::time::format_iso(t.started_at_ms * 1000)),
                    json!(t.duration_ms),
                    json!(t.outcome),
                    json!(t.status),
                    json!(t.detail.as_deref().map(cut)),
                ]
                .into_iter()
                .enumerate()
                {
                    pa[c].push(v);
                }
            }
            summary.push(json!({ "id": r.record.id, "status": status, "nextAttemptAt": at }));
        }
        let mut params: Vec<Value> = m.into_iter().map(Value::from).collect();
        params.push(json!(worker));
        params.extend(rc.into_iter().map(Value::from));
        params.extend(sp.into_iter().map(Value::from));
        params.extend(pa.into_iter().map(Value::from));
        params.push(json!(reports.iter().map(|r| r.rebatch).collect::<Vec<_>>()));
        Ok(json!({ "params": params, "messages": summary }))
    }
}
