//! `send()` / `sendMany()` as a short conversation, as in the webhooks bridge:
//! [`Email::send_begin`] checks every message (addresses, headers, size, category, keys) and
//! answers with the first statement; the caller runs it in its transaction and hands the rows
//! to [`Email::send_next`]. The order: the tenant's stored overrides when a message uses an
//! editable template, idempotency keys (a duplicate writes nothing), then one INSERT of
//! messages, recipients and attachments that looks the recipients' suppressions up itself (a
//! send without keys or editable templates is one statement). `Message-ID` and `Date` are fixed
//! here, so every attempt sends the same bytes.
//!
//! A templated send is stored unrendered (its props kept, `rendered = false`) with
//! `render: "worker"`, and in a build without the template engine (the edge modules) when the
//! tenant has an override of it: the worker renders it at its first hand-off.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{bytea, em, key_hash, Email};
use crate::audit::time::format_iso;
use crate::bridge::step::{from_text, parse_text, step_text, to_text, SendStep};
use crate::email::address::{parse_address, AddressOptions, Mailbox};
use crate::email::config::Render;
use crate::email::html_text::text_part;
use crate::email::message::{Attachment, BuildOptions, MessageSpec};
use crate::email::recipients::{AddressInput, OneOrMany};
use crate::email::{mime, prepare, EmailError};
use crate::error::Result;
use crate::input::from_value;
use crate::store::text_array_literal;
use crate::webhooks::ids::{self, IdKind};
use crate::webhooks::limits::check_key;

/// Furthest a `sendAt` may lie ahead.
const MAX_SEND_AHEAD_MS: i64 = 30 * 86_400_000;
/// Claim rounds before a key freed and taken again by concurrent sends is reported.
const MAX_ROUNDS: u8 = 3;

/// One message as the package hands it over: templates already rendered, or with
/// `render: "worker"` a template's name and props only.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct SendInput {
    to: Option<OneOrMany>,
    cc: Option<OneOrMany>,
    bcc: Option<OneOrMany>,
    from: Option<AddressInput>,
    reply_to: Option<OneOrMany>,
    category: Option<String>,
    pub(super) template: Option<String>,
    /// The template's props: what a tenant's database override renders with.
    pub(super) props: Option<Value>,
    pub(super) locale: Option<String>,
    pub(super) subject: Option<String>,
    pub(super) html: Option<String>,
    pub(super) text: Option<String>,
    #[serde(default)]
    headers: IndexMap<String, String>,
    #[serde(default)]
    attachments: Vec<AttachmentInput>,
    tags: Option<BTreeMap<String, String>>,
    idempotency_key: Option<String>,
    send_at_ms: Option<i64>,
    /// Absent: the category's default; `null`: never.
    #[serde(default, deserialize_with = "explicit_null")]
    expires_at_ms: Option<Option<i64>>,
    priority: Option<crate::email::config::Priority>,
}

fn explicit_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AttachmentInput {
    filename: String,
    content_type: Option<String>,
    content_id: Option<String>,
    /// Text content (written as UTF-8).
    content: Option<String>,
    /// Binary content, base64.
    base64: Option<String>,
}

/// A message on its way to the INSERT.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Pending {
    pub(super) uuid: String,
    id: String,
    request_sha256: String,
    idempotency_key: Option<String>,
    category: String,
    /// Column values in the INSERT's order (`$3…$18` for this message).
    pub(super) row: Vec<Value>,
    /// `(kind, address, key, name)` per distinct recipient.
    recipients: Vec<(String, String, String, Option<String>)>,
    /// Per recipient after the lookup: the suppression reason.
    suppressed: Vec<Option<String>>,
    /// `(filename, content type, content id, bytea text)`.
    pub(super) attachments: Vec<(String, String, Option<String>, String)>,
    /// A stored message with the same key and request: its id.
    duplicate_of: Option<String>,
    /// An earlier input of this batch with the same key and request.
    same_as: Option<usize>,
    claimed: bool,
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
    rendered: bool,
    /// The props as stored (JSON text): to render in the worker, or kept by
    /// `retention.storeProps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    props: Option<String>,
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

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum Phase {
    /// Which `from` addresses outside the app's domain a verified sender covers (spec §11),
    /// before any message is built: a refused one writes nothing, a fallback is rebuilt.
    Senders,
    /// `rateLimits.maxQueuedPerTenant`: how many the tenant has queued and how many of this
    /// call's keys are held, before anything is written (a refused send leaves no key behind).
    Queued,
    Claim,
    Lookup,
    /// The tenant's stored overrides of the batch's editable templates.
    Templates,
    /// Messages, recipients (their suppressions looked up by the statement) and attachments.
    Insert,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    phase: Phase,
    items: Vec<Pending>,
    rounds: u8,
    now_ms: i64,
    many: bool,
    /// The sender lookup's wait: the inputs as given, their random bytes, and which inputs'
    /// `from` it asks about (their index and address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    raw: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    random: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    checks: Vec<(usize, String)>,
}

/// Where input `n`'s field `key` is, as errors name it: `inputs[3].to` for `sendMany`, `to` for
/// `send`; the message itself (`key` empty): `inputs[3]` or `input`.
pub(super) fn input_path(many: bool, n: usize, key: &str) -> String {
    match (many, key.is_empty()) {
        (true, true) => format!("inputs[{n}]"),
        (true, false) => format!("inputs[{n}].{key}"),
        (false, true) => "input".into(),
        (false, false) => key.to_owned(),
    }
}

/// A row's `ord` (a number, or its text from a driver that returns bigint as text).
fn ordinal(r: &Value) -> i64 {
    r.get("ord")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0)
}

fn address_object(address: &str, name: Option<&str>) -> Value {
    match name {
        Some(n) => json!({ "address": address, "name": n }),
        None => json!({ "address": address }),
    }
}

/// The tags every provider request carries: a message's own tags cannot take these names.
const RESERVED_TAGS: [&str; 2] = ["better_email_id", "tenant"];

impl Email {
    fn check_tags(&self, field: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let ok = |s: &str| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if tags.len() > 10 {
            return Err(em(EmailError::argument(field, "at most 10 tags")));
        }
        if let Some(k) = tags.keys().find(|k| RESERVED_TAGS.contains(&k.as_str())) {
            return Err(em(EmailError::argument(
                format!("{field}.{k}"),
                "is set by the library (providers' events correlate by it): use another name",
            )));
        }
        match tags.iter().find(|(k, v)| !ok(k) || !ok(v)) {
            Some((k, _)) => Err(em(EmailError::argument(
                format!("{field}.{k}"),
                "tag names and values are 1 to 64 of [A-Za-z0-9_-]",
            ))),
            None => Ok(()),
        }
    }

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
        let mut contents = Vec::with_capacity(i.attachments.len());
        let mut attachments = Vec::with_capacity(i.attachments.len());
        for (n, a) in i.attachments.iter().enumerate() {
            let bytes = match &a.base64 {
                Some(b) => Some(STANDARD.decode(b).map_err(|_| {
                    em(EmailError::argument(
                        format!("attachments[{n}].content"),
                        "bytes that did not survive base64",
                    ))
                })?),
                None => None,
            };
            contents.push(bytes);
            attachments.push(Attachment {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                content_id: a.content_id.clone(),
                content: a.content.clone(),
            });
        }
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

    /// Checks `inputs` (JSON text; `many`: field names `inputs[i].…`) and returns the first
    /// step as JSON text (a batch crosses the binding as one string each way, as in webhooks).
    /// `random` holds 10 bytes per input (message ids).
    ///
    /// # Errors
    /// The send errors of spec §18, naming the field; nothing has been written.
    pub fn send_begin(
        &self,
        inputs: &str,
        many: bool,
        now_ms: i64,
        random: &[u8],
    ) -> Result<String> {
        step_text(&self.begin(&parse_text("inputs", inputs)?, many, now_ms, random)?)
    }

    /// Takes the last step's `state` and the rows of its statement (JSON text) and returns the
    /// next step.
    ///
    /// # Errors
    /// `EMAIL_IDEMPOTENCY_CONFLICT`; `INVALID_ARGUMENT` for rows or a state that did not come
    /// from this conversation.
    pub fn send_next(&self, state: &str, rows: &str) -> Result<String> {
        step_text(&self.next(from_text("state", state)?, &parse_text("rows", rows)?)?)
    }

    fn begin(&self, inputs: &Value, many: bool, now_ms: i64, random: &[u8]) -> Result<SendStep> {
        let raw: Vec<Value> = from_value("inputs", inputs)?;
        if raw.is_empty() || raw.len() > 500 {
            return Err(em(EmailError::argument(
                "inputs",
                format!("1 to 500 messages per call, got {}", raw.len()),
            )));
        }
        if random.len() < raw.len() * 10 {
            return Err(em(EmailError::argument("random", "10 bytes per message")));
        }
        let checks = self.sender_checks(&raw, many)?;
        let want_default = self.config.settings.tenant_senders
            && raw.iter().any(|v| v.get("from").is_none_or(Value::is_null));
        if checks.is_empty() && !want_default {
            return self.build(&raw, &raw, many, now_ms, random);
        }
        let (addresses, domains): (Vec<String>, Vec<String>) =
            checks.iter().map(|c| (c.1.clone(), c.2.clone())).unzip();
        let st = State {
            phase: Phase::Senders,
            items: Vec::new(),
            rounds: 0,
            now_ms,
            many,
            raw: Some(raw),
            random: Some(random.to_vec()),
            checks: checks.into_iter().map(|(n, a, _)| (n, a)).collect(),
        };
        Ok(SendStep {
            run: Some(
                json!({ "statement": "senderMatch", "params": [addresses, domains, want_default] }),
            ),
            state: Some(to_text("state", &st)?),
            results: None,
            queued: None,
            last: false,
        })
    }

    /// Checks the inputs and builds their messages: the first statement that writes follows.
    /// `given` are the inputs as the caller gave them (before a sender's fallback or default
    /// rewrote `raw`): an idempotency key compares those, so a retry is a duplicate whatever
    /// became of its sender meanwhile.
    fn build(
        &self,
        raw: &[Value],
        given: &[Value],
        many: bool,
        now_ms: i64,
        random: &[u8],
    ) -> Result<SendStep> {
        let mut items: Vec<Pending> = Vec::with_capacity(raw.len());
        let mut keys: BTreeMap<String, usize> = BTreeMap::new();
        for (n, value) in raw.iter().enumerate() {
            let input: SendInput = from_value(&input_path(many, n, ""), value)?;
            let f = |k: &str| input_path(many, n, k);
            let uuid = ids::uuid_v7(
                u64::try_from(now_ms).unwrap_or(0),
                &random[n * 10..n * 10 + 10],
            )
            .map_err(|e| em(EmailError::argument("random", e.to_string())))?;
            let mut p = self.pending(&input, &uuid, now_ms, &f)?;
            // Only a template the application marked editable can have a tenant's override
            // (looked for here unless the worker renders it).
            if p.rendered
                && input
                    .template
                    .as_ref()
                    .is_some_and(|t| self.config.settings.editable.contains(t))
            {
                p.template.clone_from(&input.template);
                p.locale.clone_from(&input.locale);
                p.source = Some(value.to_string());
            }
            let mut request = given.get(n).unwrap_or(value).clone();
            if let Some(o) = request.as_object_mut() {
                o.remove("sendAtMs");
            }
            p.request_sha256 = bytea(&Sha256::digest(request.to_string().as_bytes()));
            if let Some(k) = &p.idempotency_key {
                if let Some(&first) = keys.get(k) {
                    if items[first].request_sha256 != p.request_sha256 {
                        return Err(em(EmailError::IdempotencyConflict {
                            field: f("idempotencyKey"),
                        }));
                    }
                    p.same_as = Some(first);
                } else {
                    keys.insert(k.clone(), n);
                }
            }
            items.push(p);
        }
        let state = State {
            phase: if self.config.settings.max_queued_per_tenant.is_some() {
                Phase::Queued
            } else {
                Self::after_queued(&items)
            },
            items,
            rounds: 0,
            now_ms,
            many,
            raw: None,
            random: None,
            checks: Vec::new(),
        };
        self.step(state)
    }

    fn next(&self, mut st: State, rows: &Value) -> Result<SendStep> {
        let rows: Vec<Value> = from_value("rows", rows)?;
        let text = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        match st.phase {
            Phase::Senders => {
                let covered: BTreeSet<i64> = rows.iter().map(ordinal).filter(|&o| o > 0).collect();
                let default = rows.iter().find(|r| ordinal(r) == 0);
                let given = st.raw.take().unwrap_or_default();
                let mut raw = given.clone();
                self.sender_verdict(&mut raw, &st.checks, &covered, default, st.many)?;
                let random = st.random.take().unwrap_or_default();
                return self.build(&raw, &given, st.many, st.now_ms, &random);
            }
            Phase::Queued => {
                let count = |k: &str| {
                    rows.first()
                        .and_then(|r| r.get(k))
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                };
                // This call's new messages count too: a `sendMany` cannot step over the cap.
                let adding = st.items.iter().filter(|p| p.same_as.is_none()).count() as u64;
                let adding = adding.saturating_sub(count("known"));
                if let Some(limit) = self.config.settings.max_queued_per_tenant {
                    if count("n") + adding > u64::from(limit) {
                        return Err(em(EmailError::RateLimited { limit }));
                    }
                }
                st.phase = Self::after_queued(&st.items);
            }
            Phase::Claim => {
                let claimed: BTreeSet<String> = rows.iter().map(|r| text(r, "key")).collect();
                for p in st.items.iter_mut().filter(|p| p.same_as.is_none()) {
                    if let Some(k) = &p.idempotency_key {
                        p.claimed = claimed.contains(k);
                    }
                }
                st.rounds += 1;
                let open = st.items.iter().any(|p| {
                    p.idempotency_key.is_some()
                        && p.same_as.is_none()
                        && !p.claimed
                        && p.duplicate_of.is_none()
                });
                st.phase = if open { Phase::Lookup } else { Phase::Insert };
            }
            Phase::Lookup => {
                let found: BTreeMap<String, (String, String)> = rows
                    .iter()
                    .map(|r| {
                        (
                            text(r, "key"),
                            (text(r, "message_id"), text(r, "request_sha256")),
                        )
                    })
                    .collect();
                let mut retry = false;
                for (n, p) in st.items.iter_mut().enumerate() {
                    let Some(k) = p.idempotency_key.clone() else {
                        continue;
                    };
                    if p.claimed || p.same_as.is_some() || p.duplicate_of.is_some() {
                        continue;
                    }
                    match found.get(&k) {
                        Some((_, hash)) if *hash != p.request_sha256 => {
                            let field = if st.items.len() > 1 {
                                format!("inputs[{n}].idempotencyKey")
                            } else {
                                "idempotencyKey".into()
                            };
                            return Err(em(EmailError::IdempotencyConflict { field }));
                        }
                        Some((uuid, _)) => {
                            p.duplicate_of = Some(
                                ids::from_uuid("id", IdKind::Email, uuid)
                                    .map_err(|e| em(EmailError::argument("rows", e.to_string())))?,
                            )
                        }
                        // Freed by a concurrent rollback since the claim: claim it again.
                        None => retry = true,
                    }
                }
                if retry && st.rounds >= MAX_ROUNDS {
                    return Err(em(EmailError::argument(
                        "idempotencyKey",
                        "the key keeps changing hands between concurrent sends; retry the send",
                    )));
                }
                st.phase = if retry { Phase::Claim } else { Phase::Insert };
            }
            Phase::Templates => {
                let fresh: Vec<usize> = (0..st.items.len())
                    .filter(|&n| Self::fresh(&st.items[n]))
                    .collect();
                for row in &rows {
                    let ord = ordinal(row);
                    let Some(&n) = usize::try_from(ord - 1).ok().and_then(|i| fresh.get(i)) else {
                        continue;
                    };
                    self.render_override(&mut st.items[n], row, st.now_ms, st.many, n)?;
                }
                st.phase = Self::after_templates(&st.items);
            }
            Phase::Insert => {
                // The statement answers the suppressed recipients: `ord` counts the fresh
                // messages' recipients in order, as the INSERT's parameters list them.
                let reasons: BTreeMap<i64, String> = rows
                    .iter()
                    .filter_map(|r| Some((ordinal(r), r.get("reason")?.as_str()?.to_owned())))
                    .collect();
                let mut at = 0i64;
                for p in st.items.iter_mut().filter(|p| Self::fresh(p)) {
                    for s in &mut p.suppressed {
                        at += 1;
                        s.clone_from(&reasons.get(&at).cloned());
                    }
                }
                return Ok(Self::results(&st));
            }
        }
        self.step(st)
    }

    /// After the queue count: the override lookup when a message has an editable template
    /// (before anything is written, so a template that fails leaves no claimed key behind),
    /// then the keys.
    fn after_queued(items: &[Pending]) -> Phase {
        if items.iter().any(|p| Self::fresh(p) && p.template.is_some()) {
            Phase::Templates
        } else {
            Self::after_templates(items)
        }
    }

    /// The first phase that writes: the idempotency claim when any input has a key.
    fn after_templates(items: &[Pending]) -> Phase {
        if items.iter().any(|p| p.idempotency_key.is_some()) {
            Phase::Claim
        } else {
            Phase::Insert
        }
    }

    fn fresh(p: &Pending) -> bool {
        p.duplicate_of.is_none() && p.same_as.is_none()
    }

    fn results(st: &State) -> SendStep {
        let results: Vec<Value> = st
            .items
            .iter()
            .map(|p| {
                let target = p.same_as.map(|i| &st.items[i]).unwrap_or(p);
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

    /// The statement of `st.phase`, or the results when nothing is left to write.
    fn step(&self, st: State) -> Result<SendStep> {
        let fresh: Vec<&Pending> = st.items.iter().filter(|p| Self::fresh(p)).collect();
        // Milliseconds to seconds for make_interval (a window of days is exact in an f64).
        #[allow(clippy::cast_precision_loss)]
        let window_secs = self.config.settings.idempotency_window_ms as f64 / 1000.0;
        let run = match st.phase {
            // Asked in `begin`, answered in `next`: never stepped to.
            Phase::Senders => return Ok(Self::results(&st)),
            Phase::Queued => json!({ "statement": "queuedCount", "params": [
                self.config.settings.max_queued_per_tenant,
                fresh.iter().filter_map(|p| p.idempotency_key.clone()).collect::<Vec<_>>(),
            ]}),
            Phase::Claim => {
                let mine: Vec<&&Pending> = fresh
                    .iter()
                    .filter(|p| p.idempotency_key.is_some() && !p.claimed)
                    .collect();
                json!({ "statement": "idempotencyClaim", "params": [
                    mine.iter().map(|p| p.idempotency_key.clone()).collect::<Vec<_>>(),
                    mine.iter().map(|p| p.uuid.clone()).collect::<Vec<_>>(),
                    mine.iter().map(|p| p.request_sha256.clone()).collect::<Vec<_>>(),
                    window_secs,
                ]})
            }
            Phase::Lookup => {
                let open: Vec<Option<String>> = fresh
                    .iter()
                    .filter(|p| !p.claimed)
                    .map(|p| p.idempotency_key.clone())
                    .collect();
                json!({ "statement": "idempotencyLookup", "params": [open] })
            }
            Phase::Templates | Phase::Insert if fresh.is_empty() => return Ok(Self::results(&st)),
            Phase::Templates => {
                let [names, locales, ranks, ords] =
                    Self::override_candidates(&fresh).unwrap_or_default();
                json!({ "statement": "templateFind", "params": [names, locales, ranks, ords] })
            }
            Phase::Insert => self.insert_params(&fresh),
        };
        Ok(SendStep {
            run: Some(run),
            state: Some(to_text("state", &st)?),
            results: None,
            queued: None,
            last: st.phase == Phase::Insert,
        })
    }

    fn insert_params(&self, fresh: &[&Pending]) -> Value {
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
