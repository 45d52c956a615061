//! One message checked and built into what the send's INSERT writes: its row, recipients and
//! attachments, with `Message-ID` and `Date` fixed so every attempt sends the same bytes; and the
//! INSERT's parameters for a batch of them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::input::{attachment_parts, SendInput};
use super::{bytea, em, key_hash, Email};
use crate::audit::time::format_iso;
use crate::bridge::step::SendStep;
use crate::email::address::{parse_address, AddressOptions, Mailbox};
use crate::email::config::Render;
use crate::email::html_text::text_part;
use crate::email::message::{BuildOptions, MessageSpec};
use crate::email::recipients::AddressInput;
use crate::email::{mime, prepare, EmailError};
use crate::error::Result;
use crate::input::from_value;
use crate::store::text_array_literal;
use crate::webhooks::ids::{self, IdKind};
use crate::webhooks::limits::check_key;

/// Furthest a `sendAt` may lie ahead.
const MAX_SEND_AHEAD_MS: i64 = 30 * 86_400_000;

/// A message on its way to the INSERT.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Pending {
    pub(super) uuid: String,
    pub(super) id: String,
    pub(super) request_sha256: String,
    pub(super) idempotency_key: Option<String>,
    pub(super) category: String,
    /// Column values in the INSERT's order (`$3…$18` for this message).
    pub(super) row: Vec<Value>,
    /// `(kind, address, key, name)` per distinct recipient.
    pub(super) recipients: Vec<(String, String, String, Option<String>)>,
    /// Per recipient after the lookup: the suppression reason.
    pub(super) suppressed: Vec<Option<String>>,
    /// `(filename, content type, content id, bytea text)`.
    pub(super) attachments: Vec<(String, String, Option<String>, String)>,
    /// A stored message with the same key and request: its id.
    pub(super) duplicate_of: Option<String>,
    /// An earlier input of this batch with the same key and request.
    pub(super) same_as: Option<usize>,
    pub(super) claimed: bool,
    /// A templated message's template, locale and input (JSON text): a tenant's override
    /// found by the lookup renders it again. Plain strings keep the state's reader small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) source: Option<String>,
    /// Rendered at send (else the worker renders it from `props`).
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub(super) rendered: bool,
    /// The props as stored (JSON text): to render in the worker, or kept by
    /// `retention.storeProps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) props: Option<String>,
}

pub(super) fn yes() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_yes(b: &bool) -> bool {
    *b
}

/// `row`'s subject, html and text columns (see [`Email::pending`]).
const CONTENT: std::ops::Range<usize> = 4..7;

impl Pending {
    /// Left for the worker to render: the content columns stay empty until then.
    pub(super) fn defer(&mut self, props: &Value) {
        for v in &mut self.row[CONTENT] {
            *v = Value::Null;
        }
        self.rendered = false;
        self.props = Some(props.to_string());
    }
}

fn address_object(address: &str, name: Option<&str>) -> Value {
    match name {
        Some(n) => json!({ "address": address, "name": n }),
        None => json!({ "address": address }),
    }
}

impl Email {
    /// Checks one input and builds its pending row. `uuid` is fresh for this message.
    pub(super) fn pending(
        &self,
        i: &SendInput,
        uuid: &[u8; 16],
        now_ms: i64,
        f: &dyn Fn(&str) -> String,
    ) -> Result<Pending> {
        let s = &self.config.settings;
        let category = match (&i.category, &i.template) {
            (Some(c), _) => c.clone(),
            (None, Some(t)) => s
                .templates
                .get(t)
                .cloned()
                .unwrap_or_else(|| "transactional".into()),
            (None, None) => "transactional".into(),
        };
        let Some(policy) = s.categories.get(&category) else {
            let known: Vec<&str> = s.categories.keys().map(String::as_str).collect();
            return Err(em(EmailError::argument(
                f("category"),
                format!(
                    "{category:?} is not a configured category ({})",
                    known.join(", ")
                ),
            )));
        };
        if let Some(k) = &i.idempotency_key {
            check_key(&f("idempotencyKey"), k)
                .map_err(|e| em(EmailError::argument(f("idempotencyKey"), e.to_string())))?;
        }
        if let Some(tags) = &i.tags {
            self.check_tags(&f("tags"), tags)?;
        }
        if let Some(at) = i.send_at_ms {
            if at > now_ms + MAX_SEND_AHEAD_MS {
                return Err(em(EmailError::argument(
                    f("sendAt"),
                    "at most 30 days ahead",
                )));
            }
        }
        // `render: "worker"`: the content is checked when the worker renders it.
        let defer = i.template.is_some() && s.render == Render::Worker;
        let subject = match (&i.subject, defer) {
            (Some(x), _) => x.clone(),
            (None, true) => String::new(),
            (None, false) => {
                return Err(em(EmailError::argument(
                    f("subject"),
                    "missing: give `subject` (with `html` or `text`) or a `template`",
                )))
            }
        };
        let expires = match i.expires_at_ms {
            Some(e) => e,
            None => policy
                .expires_after_ms
                .map(|ms| i.send_at_ms.unwrap_or(now_ms).max(now_ms) + ms),
        };
        // A template that gives no text part gets one from its HTML (§7.4).
        let text = match (&i.text, &i.template) {
            (None, Some(_)) if !defer => text_part(i.html.as_deref()),
            _ => i.text.clone(),
        };
        let id = ids::encode(IdKind::Email, uuid);
        let from = i
            .from
            .clone()
            .unwrap_or_else(|| AddressInput::Text(s.from.clone()));
        let reply_to = match (&i.reply_to, &self.config.reply_to) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(v)) => Some(from_value("replyTo", v)?),
            (None, None) => None,
        };
        let (contents, attachments) = attachment_parts(i)?;
        let ao = AddressOptions {
            smtp_utf8: s.smtp_utf8,
        };
        // The sender's domain names the Message-ID (`<eml_…@domain>`).
        let sender = parse_address(&f("from"), &from, ao).map_err(em)?;
        let domain = sender
            .address
            .rsplit_once('@')
            .map_or("localhost", |(_, d)| d)
            .to_owned();
        let message_id = format!("{id}@{domain}");
        let spec = MessageSpec {
            from,
            to: i.to.clone(),
            cc: i.cc.clone(),
            bcc: i.bcc.clone(),
            reply_to,
            subject: subject.clone(),
            text: if defer {
                Some(String::new())
            } else {
                text.clone()
            },
            html: i.html.clone().filter(|_| !defer),
            message_id: message_id.clone(),
            date_ms: now_ms,
            headers: i.headers.clone(),
            attachments,
            list_unsubscribe: None,
            list_unsubscribe_post: false,
            list_id: policy.list_id.clone(),
        };
        let opts = BuildOptions {
            smtp_utf8: s.smtp_utf8,
            max_recipients: usize::try_from(s.max_recipients).ok(),
            max_message_bytes: usize::try_from(s.max_message_bytes).ok(),
        };
        let p = prepare::prepare(&spec, &opts, &contents).map_err(em)?;
        let r = mime::envelope(&p);
        // The worker adds `List-Unsubscribe` to mail of an unsubscribable category: the size
        // checked here counts it at its longest (the tenant, not known here, as a UUID; the
        // longest address of the kind whose first recipient the token names), so that no mail
        // enqueued here is too large when the worker builds it.
        let first = [&r.to, &r.cc, &r.bcc]
            .into_iter()
            .find(|l| !l.is_empty())
            .and_then(|l| l.iter().map(|m| m.key.as_str()).max_by_key(|k| k.len()));
        let longest = match first {
            Some(key) => self.list_unsubscribe(
                &category,
                Some(ids::uuid_text(&[0xff; 16])),
                &ids::uuid_text(uuid),
                key,
                now_ms,
            )?,
            None => None,
        };
        match longest {
            None => mime::estimate_size(&p).map_err(em)?,
            Some(v) => {
                let listed = MessageSpec {
                    list_unsubscribe: Some(v),
                    list_unsubscribe_post: true,
                    ..spec.clone()
                };
                mime::estimate_size(&prepare::prepare(&listed, &opts, &contents).map_err(em)?)
                    .map_err(em)?
            }
        };
        let mailbox = |m: &Mailbox| address_object(&m.address, m.name.as_deref());
        let headers = json!({
            "from": mailbox(p.from()),
            "to": r.to.iter().map(mailbox).collect::<Vec<_>>(),
            "cc": r.cc.iter().map(mailbox).collect::<Vec<_>>(),
            "replyTo": p.reply_to().iter().map(mailbox).collect::<Vec<_>>(),
            "custom": i.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        });
        let mut recipients = Vec::new();
        for (kind, list) in [("to", &r.to), ("cc", &r.cc), ("bcc", &r.bcc)] {
            for m in list {
                recipients.push((
                    kind.to_owned(),
                    m.address.clone(),
                    m.key.clone(),
                    m.name.clone(),
                ));
            }
        }
        let reply_to: Vec<String> = p.reply_to().iter().map(|m| m.address.clone()).collect();
        let row = vec![
            json!(category),
            json!(i.priority.unwrap_or(policy.priority).rank()),
            json!(p.from().address),
            if reply_to.is_empty() {
                Value::Null
            } else {
                json!(text_array_literal(&reply_to))
            },
            json!(subject),
            json!(i.html),
            json!(text),
            json!(headers.to_string()),
            json!(i.template),
            json!(i.locale),
            json!(format!("<{message_id}>")),
            json!(format_iso(now_ms * 1000)),
            i.tags
                .as_ref()
                .map_or(Value::Null, |t| json!(json!(t).to_string())),
            json!(i.idempotency_key),
            i.send_at_ms
                .map_or(Value::Null, |t| json!(format_iso(t * 1000))),
            expires.map_or(Value::Null, |t| json!(format_iso(t * 1000))),
        ];
        let attachments = i
            .attachments
            .iter()
            .zip(&contents)
            .map(|(a, c)| {
                let b: &[u8] = c
                    .as_deref()
                    .unwrap_or_else(|| a.content.as_deref().unwrap_or("").as_bytes());
                (
                    a.filename.clone(),
                    a.content_type
                        .clone()
                        .unwrap_or_else(|| "application/octet-stream".into()),
                    a.content_id.clone(),
                    bytea(b),
                )
            })
            .collect();
        let n = recipients.len();
        let props = i.props.clone().unwrap_or_else(|| json!({}));
        let mut out = Pending {
            uuid: ids::uuid_text(uuid),
            id,
            request_sha256: String::new(),
            idempotency_key: i.idempotency_key.clone(),
            category,
            row,
            recipients,
            suppressed: vec![None; n],
            attachments,
            duplicate_of: None,
            same_as: None,
            claimed: false,
            template: None,
            locale: None,
            source: None,
            rendered: true,
            props: (s.store_props && i.template.is_some()).then(|| props.to_string()),
        };
        if defer {
            out.defer(&props);
        }
        Ok(out)
    }

    /// The INSERT's parameters for the batch's fresh messages: one array per column.
    pub(super) fn insert_params(&self, fresh: &[&Pending]) -> Value {
        let mut cols: Vec<Vec<Value>> = vec![Vec::new(); 30];
        for p in fresh {
            cols[0].push(json!(p.uuid));
            for (c, v) in p.row.iter().enumerate() {
                cols[1 + c].push(v.clone());
            }
            for (kind, address, key, name) in &p.recipients {
                let r = [
                    json!(p.uuid),
                    json!(kind),
                    json!(address),
                    json!(key),
                    json!(name),
                    json!(bytea(&key_hash(key))),
                    json!(p.category),
                ];
                for (c, v) in r.into_iter().enumerate() {
                    cols[17 + c].push(v);
                }
            }
            for (idx, (filename, ct, cid, content)) in p.attachments.iter().enumerate() {
                let a = [
                    json!(p.uuid),
                    json!(idx),
                    json!(filename),
                    json!(ct),
                    json!(cid),
                    json!(content),
                ];
                for (c, v) in a.into_iter().enumerate() {
                    cols[24 + c].push(v);
                }
            }
        }
        let mut params: Vec<Value> = cols.into_iter().map(Value::Array).collect();
        params.push(json!(self.unsubscribable()));
        params.push(json!(fresh.iter().map(|p| p.rendered).collect::<Vec<_>>()));
        params.push(json!(fresh
            .iter()
            .map(|p| p.props.clone())
            .collect::<Vec<_>>()));
        json!({ "statement": "insert", "params": params })
    }
}

/// What `send()` / `sendMany()` answer for the batch: each input's id, status and suppressed
/// recipients (a repeat of an earlier input of the batch answers as that one, as a duplicate).
pub(super) fn results(items: &[Pending]) -> SendStep {
    let results: Vec<Value> = items
        .iter()
        .map(|p| {
            let target = p.same_as.map(|i| &items[i]).unwrap_or(p);
            if let Some(d) = &target.duplicate_of {
                return json!({ "id": d, "status": "duplicate", "suppressed": [] });
            }
            let suppressed: Vec<Value> = target
                .recipients
                .iter()
                .zip(&target.suppressed)
                .filter_map(|((_, a, _, _), s)| {
                    s.as_ref().map(|r| json!({ "address": a, "reason": r }))
                })
                .collect();
            let status = if p.same_as.is_some() {
                "duplicate"
            } else if suppressed.len() == target.recipients.len() {
                "suppressed"
            } else {
                "queued"
            };
            json!({ "id": target.id, "status": status, "suppressed": suppressed })
        })
        .collect();
    SendStep {
        run: None,
        state: None,
        results: Some(Value::Array(results)),
        queued: None,
        last: false,
    }
}
