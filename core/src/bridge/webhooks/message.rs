//! One message of `send()` / `sendMany()`: its input as the package hands it over, its checks,
//! and what it carries through the conversation until the INSERT (see `send`), which is planned
//! here too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::send::{wh, Phase, State};
use super::Webhooks;
use crate::audit::time::format_iso;
use crate::bridge::bytea;
use crate::bridge::step::SendStep;
use crate::error::Result;
use crate::store::{separator_for, text_array_literal};
use crate::webhooks::body::{idempotency_verdict, prepare_body, BodyInput, Envelope};
use crate::webhooks::ids::{self, IdKind};
use crate::webhooks::limits::{check_deliver_after, check_key, check_send_many};
use crate::webhooks::WebhooksError;

/// One message as the package hands it over (payload already serialised): in `data` as text,
/// or, when it is JSON, in `json` as the value itself, so a payload is neither escaped by the
/// caller nor unescaped here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct SendInput {
    pub(super) event_type: String,
    pub(super) data: Option<String>,
    /// Present as `null` for a `null` payload: not read as an absent field.
    #[serde(default, deserialize_with = "present")]
    pub(super) json: Option<Box<RawValue>>,
    pub(super) idempotency_key: Option<String>,
    pub(super) ordering_key: Option<String>,
    pub(super) endpoints: Option<Vec<String>>,
    pub(super) occurred_at_ms: Option<i64>,
    pub(super) content_type: Option<String>,
    pub(super) deliver_after_ms: Option<i64>,
}

/// A raw JSON field that is there, whatever its value (`Option`'s own reading takes `null` for
/// absent).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

impl SendInput {
    /// The serialised payload: `data` or `json`, exactly one of them.
    pub(super) fn payload(&self) -> Option<&str> {
        match (&self.data, &self.json) {
            (Some(text), None) => Some(text),
            (None, Some(value)) => Some(value.get()),
            _ => None,
        }
    }
}

/// Serialised into the step's state: fields at their defaults are left out, and after the
/// INSERT is planned only the id and the verdicts remain.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Pending {
    pub(super) uuid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) event_type: String,
    /// The body before the payload (the standard envelope's head).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) prefix: String,
    /// The payload, kept only when the caller cannot be asked for it (no separator fits).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) data: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) sha256: String,
    /// What a reused idempotency key is judged by: the event type and payload as given (the
    /// body also holds the send time, which differs on every call).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) payload_sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) ordering_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) ordering_seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) idempotency_key: Option<String>,
    /// The key's field name, for a conflict found later.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) key_field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) targets: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) deliver_after: Option<String>,
    /// This message's key is claimed for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(super) claimed: bool,
    /// A duplicate of a stored message: its UUID and creation time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) duplicate_of: Option<(String, i64)>,
    /// A duplicate of an earlier input of the same batch (same key, same body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) same_as: Option<usize>,
}

impl Pending {
    /// Will be inserted (unless a later answer makes it a duplicate).
    pub(super) fn fresh(&self) -> bool {
        self.duplicate_of.is_none() && self.same_as.is_none()
    }
}

impl Webhooks {
    /// Checks every input and builds its message; the first statement follows.
    pub(super) fn begin(
        &self,
        inputs: Vec<SendInput>,
        many: bool,
        now_ms: i64,
        random: &[u8],
    ) -> Result<SendStep> {
        check_send_many(inputs.len()).map_err(wh)?;
        if random.len() < inputs.len() * 10 {
            return Err(wh(WebhooksError::argument(
                "random",
                "10 bytes per message",
            )));
        }
        let s = &self.config.settings;
        let mut items = Vec::with_capacity(inputs.len());
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, input) in inputs.iter().enumerate() {
            let f = |k: &str| {
                if many {
                    format!("inputs[{i}].{k}")
                } else {
                    k.to_owned()
                }
            };
            // Field names are built only for an error: three `format!`s per item were a tenth
            // of a large batch's time here.
            let named = |k: &'static str| move |e: WebhooksError| wh(e.in_field(f(k)));
            self.config
                .event_types
                .check_send("eventType", &input.event_type)
                .map_err(named("eventType"))?;
            for (k, v) in [
                ("idempotencyKey", &input.idempotency_key),
                ("orderingKey", &input.ordering_key),
            ] {
                if let Some(v) = v {
                    check_key(&f(k), v).map_err(wh)?;
                }
            }
            if let Some(at) = input.deliver_after_ms {
                check_deliver_after(&f("deliverAfter"), at, now_ms).map_err(wh)?;
            }
            if input.content_type.is_some() && s.envelope != Envelope::Raw {
                return Err(wh(WebhooksError::argument(
                    f("contentType"),
                    "only with `envelope: \"raw\"` (the standard envelope is JSON)",
                )));
            }
            let Some(data) = input.payload() else {
                return Err(wh(WebhooksError::argument(
                    f("payload"),
                    "the serialised payload in `data` or `json`, not both",
                )));
            };
            let body = prepare_body(
                "payload",
                s.envelope,
                &BodyInput {
                    event_type: &input.event_type,
                    occurred_at_micros: input.occurred_at_ms.unwrap_or(now_ms).saturating_mul(1000),
                    data,
                    data_is_json: input.json.is_some(),
                },
                s.max_payload_bytes,
            )
            .map_err(named("payload"))?;
            let targets = match &input.endpoints {
                None => None,
                Some(list) => {
                    let uuids = list
                        .iter()
                        .enumerate()
                        .map(|(j, e)| {
                            ids::id_or_uuid(&f(&format!("endpoints[{j}]")), IdKind::Endpoint, e)
                                .map(|b| ids::uuid_text(&b))
                        })
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(wh)?;
                    Some(format!("{{{}}}", uuids.join(",")))
                }
            };
            let uuid = ids::uuid_v7(
                u64::try_from(now_ms).unwrap_or(0),
                &random[i * 10..i * 10 + 10],
            )
            .map_err(wh)?;
            let mut p = Pending {
                uuid: ids::uuid_text(&uuid),
                event_type: input.event_type.clone(),
                sha256: bytea(&body.sha256),
                payload_sha256: if input.idempotency_key.is_some() {
                    bytea(&payload_hash(&input.event_type, data))
                } else {
                    String::new()
                },
                prefix: body.prefix,
                data: String::new(),
                content_type: input.content_type.clone(),
                ordering_key: input.ordering_key.clone(),
                ordering_seq: None,
                idempotency_key: input.idempotency_key.clone(),
                key_field: match input.idempotency_key {
                    Some(_) => f("idempotencyKey"),
                    None => String::new(),
                },
                targets,
                deliver_after: input
                    .deliver_after_ms
                    .map(|ms| format_iso(ms.saturating_mul(1000))),
                claimed: false,
                duplicate_of: None,
                same_as: None,
            };
            // The same key twice in one batch: the later one is judged against the earlier.
            if let Some(k) = &input.idempotency_key {
                if let Some(&j) = seen.get(k.as_str()) {
                    let first: &Pending = &items[j];
                    idempotency_verdict(
                        &p.key_field,
                        first.payload_sha256.as_bytes(),
                        p.payload_sha256.as_bytes(),
                    )
                    .map_err(wh)?;
                    p.same_as = Some(j);
                } else {
                    seen.insert(k, i);
                }
            }
            items.push(p);
        }
        // The caller holds the payloads and passes them joined: pick what joins them here, so
        // that they need not be kept (nor carried through the state) unless nothing fits.
        let separator = if items.len() > 1 {
            let texts = inputs.iter().filter_map(SendInput::payload);
            separator_for(texts.chain(items.iter().map(|p| p.prefix.as_str())))
        } else {
            None
        };
        if separator.is_none() && items.len() > 1 {
            for (p, input) in items.iter_mut().zip(&inputs) {
                p.data = input.payload().unwrap_or_default().to_owned();
            }
        }
        self.advance(State {
            phase: Phase::Claim,
            items,
            rounds: 0,
            separator,
        })
    }
}

/// The INSERT of the `fresh` messages. Their payloads are the caller's: the run names the
/// parameter it fills with them (`payloads.param`, 0-based after the tenant), joined by
/// `payloads.separator` when there are several, taken from the inputs at `payloads.items` when
/// not every input is inserted. When no separator fits, the core passes the whole bodies.
pub(super) fn insert_run(st: &State, fresh: &[&Pending], envelope: Envelope) -> Value {
    const PAYLOADS: usize = 2;
    let columns: [fn(&Pending) -> Value; 10] = [
        |p| json!(p.uuid),
        |p| json!(p.event_type),
        |_| Value::Null,
        |p| json!(p.sha256),
        |p| json!(p.content_type),
        |p| json!(p.ordering_key),
        |p| json!(p.ordering_seq),
        |p| json!(p.idempotency_key),
        |p| json!(p.targets),
        |p| json!(p.deliver_after),
    ];
    let suffix = envelope.suffix();
    let mut payloads = json!({ "param": PAYLOADS });
    if fresh.len() < st.items.len() {
        let items: Vec<usize> = (0..st.items.len())
            .filter(|&i| st.items[i].fresh())
            .collect();
        payloads["items"] = json!(items);
    }
    // One message (the usual `send()`): one VALUES row with scalar parameters.
    if let [one] = fresh {
        let mut params: Vec<Value> = columns.iter().map(|f| f(one)).collect();
        params.extend([json!(one.prefix), json!(suffix)]);
        return json!({ "statement": "sendInsertMessage", "params": params, "payloads": payloads });
    }
    let mut params: Vec<Value> = columns
        .iter()
        .map(|f| Value::Array(fresh.iter().map(|p| f(p)).collect()))
        .collect();
    match st.separator {
        Some(sep) => {
            let sep = sep.to_string();
            let prefixes: Vec<&str> = fresh.iter().map(|p| p.prefix.as_str()).collect();
            params[PAYLOADS] = Value::Null;
            params.extend([json!(sep), json!(prefixes.join(&sep)), json!(suffix)]);
            payloads["separator"] = json!(sep);
            json!({ "statement": "sendInsertMessages", "params": params, "payloads": payloads })
        }
        None => {
            let bodies: Vec<String> = fresh
                .iter()
                .map(|p| envelope.body(&p.prefix, &p.data))
                .collect();
            params[PAYLOADS] = json!(text_array_literal(&bodies));
            params.extend([Value::Null, Value::Null, json!("")]);
            json!({ "statement": "sendInsertMessages", "params": params })
        }
    }
}

/// SHA-256 of `event_type`, a NUL and the serialised payload.
fn payload_hash(event_type: &str, data: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(event_type.as_bytes());
    h.update([0u8]);
    h.update(data.as_bytes());
    h.finalize().into()
}
