//! `send()` / `sendMany()` as a short conversation: [`Webhooks::send_begin`] checks every input
//! and answers with the first statement to run; the caller runs it in its transaction and hands
//! the rows to [`Webhooks::send_next`], which answers with the next statement or the results.
//! The order is fixed here: idempotency keys first (a duplicate must not take an ordering
//! number, or fan-out would wait forever for the gap), then ordering keys, then one INSERT.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::Webhooks;
use crate::audit::time::format_iso;
use crate::bridge::bytea;
use crate::bridge::step::{from_text, parse_text, step_text, to_text, SendStep};
use crate::error::{Error, Result};
use crate::input::from_value;
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
struct SendInput {
    event_type: String,
    data: Option<String>,
    /// Present as `null` for a `null` payload: not read as an absent field.
    #[serde(default, deserialize_with = "present")]
    json: Option<Box<RawValue>>,
    idempotency_key: Option<String>,
    ordering_key: Option<String>,
    endpoints: Option<Vec<String>>,
    occurred_at_ms: Option<i64>,
    content_type: Option<String>,
    deliver_after_ms: Option<i64>,
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
    fn payload(&self) -> Option<&str> {
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
struct Pending {
    uuid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    event_type: String,
    /// The body before the payload (the standard envelope's head).
    #[serde(skip_serializing_if = "String::is_empty")]
    prefix: String,
    /// The payload, kept only when the caller cannot be asked for it (no separator fits).
    #[serde(skip_serializing_if = "String::is_empty")]
    data: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    sha256: String,
    /// What a reused idempotency key is judged by: the event type and payload as given (the
    /// body also holds the send time, which differs on every call).
    #[serde(skip_serializing_if = "String::is_empty")]
    payload_sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ordering_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ordering_seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idempotency_key: Option<String>,
    /// The key's field name, for a conflict found later.
    #[serde(skip_serializing_if = "String::is_empty")]
    key_field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    targets: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deliver_after: Option<String>,
    /// This message's key is claimed for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    claimed: bool,
    /// A duplicate of a stored message: its UUID and creation time.
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate_of: Option<(String, i64)>,
    /// A duplicate of an earlier input of the same batch (same key, same body).
    #[serde(skip_serializing_if = "Option::is_none")]
    same_as: Option<usize>,
}

impl Pending {
    /// Will be inserted (unless a later answer makes it a duplicate).
    fn fresh(&self) -> bool {
        self.duplicate_of.is_none() && self.same_as.is_none()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum Phase {
    Claim,
    Lookup,
    Ordering,
    Insert,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    phase: Phase,
    items: Vec<Pending>,
    /// Claim rounds so far: a key freed by a concurrent rollback between claim and lookup is
    /// claimed again, a bounded number of times.
    rounds: u8,
    /// Joins the payloads (and prefixes) the INSERT takes as one text; `None` for one message,
    /// or when every candidate occurs in them (the core then passes the bodies itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    separator: Option<char>,
}

fn wh(e: WebhooksError) -> Error {
    Error::Webhooks(e)
}

impl Webhooks {
    /// Checks `inputs` (JSON text; `many`: field names `inputs[i].…`, else the single input's
    /// keys) and returns the first step as JSON text (see [`crate::bridge::step`]). `random`
    /// holds 10 bytes per input (message ids).
    ///
    /// # Errors
    /// The send errors of the product, naming the field; nothing has been written.
    pub fn send_begin(
        &self,
        inputs: &str,
        many: bool,
        now_ms: i64,
        random: &[u8],
    ) -> Result<String> {
        step_text(&self.begin(from_text("inputs", inputs)?, many, now_ms, random)?)
    }

    /// Takes the rows of the step's statement (JSON text: rows as objects, `bytea` as `\x…`
    /// text, timestamps as ISO text) and the step's `state`, and returns the next step.
    ///
    /// # Errors
    /// `WEBHOOKS_IDEMPOTENCY_CONFLICT` naming the key's field; `INVALID_ARGUMENT` for rows or
    /// state of the wrong shape.
    pub fn send_next(&self, state: &str, rows: &str) -> Result<String> {
        step_text(&self.next(from_text("state", state)?, &parse_text("rows", rows)?)?)
    }

    fn begin(
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

    fn next(&self, mut st: State, rows: &Value) -> Result<SendStep> {
        let rows: Vec<Value> = from_value("rows", rows)?;
        match st.phase {
            Phase::Claim => {
                let claimed: Vec<String> = rows.iter().filter_map(|r| text(r, "key")).collect();
                for p in st.items.iter_mut().filter(|p| p.fresh()) {
                    if p.idempotency_key
                        .as_ref()
                        .is_some_and(|k| claimed.contains(k))
                    {
                        p.claimed = true;
                    }
                }
                st.phase = if open_keys(&st).is_empty() {
                    Phase::Ordering
                } else {
                    Phase::Lookup
                };
            }
            Phase::Lookup => {
                for r in &rows {
                    let (Some(key), Some(id), Some(at), Some(sha)) = (
                        text(r, "key"),
                        text(r, "message_id"),
                        millis(r, "message_created_ms"),
                        text(r, "body_sha256"),
                    ) else {
                        return Err(wh(WebhooksError::argument(
                            "rows",
                            "expected key, message_id, message_created_ms, body_sha256",
                        )));
                    };
                    let sha = sha.to_ascii_lowercase();
                    for p in st.items.iter_mut().filter(|p| p.fresh() && !p.claimed) {
                        if p.idempotency_key.as_deref() == Some(key.as_str()) {
                            idempotency_verdict(
                                &p.key_field,
                                sha.as_bytes(),
                                p.payload_sha256.as_bytes(),
                            )
                            .map_err(wh)?;
                            p.duplicate_of = Some((id.clone(), at));
                        }
                    }
                }
                st.rounds += 1;
                // Keys neither claimed nor found were freed by a rollback meanwhile: claim again.
                st.phase = if open_keys(&st).is_empty() {
                    Phase::Ordering
                } else {
                    Phase::Claim
                };
                if st.rounds > 3 && st.phase == Phase::Claim {
                    return Err(wh(WebhooksError::argument(
                        "idempotencyKey",
                        "the key stays contended by concurrent transactions; retry the transaction",
                    )));
                }
            }
            Phase::Ordering => {
                let last: BTreeMap<String, i64> = rows
                    .iter()
                    .filter_map(|r| Some((text(r, "key")?, number(r.get("last_seq")?)?)))
                    .collect();
                let mut next: BTreeMap<String, i64> = BTreeMap::new();
                for (k, n) in ordering_counts(&st) {
                    let l = last.get(&k).ok_or_else(|| {
                        wh(WebhooksError::argument(
                            "rows",
                            format!("no row for ordering key {k:?}"),
                        ))
                    })?;
                    next.insert(k, l - n + 1);
                }
                for p in st.items.iter_mut().filter(|p| p.fresh()) {
                    if let Some(seq) = p.ordering_key.as_ref().and_then(|k| next.get_mut(k)) {
                        p.ordering_seq = Some(*seq);
                        *seq += 1;
                    }
                }
                st.phase = Phase::Insert;
            }
            Phase::Insert => return results(&st, &rows),
        }
        self.advance(st)
    }

    fn advance(&self, mut st: State) -> Result<SendStep> {
        let (run, queued) = match st.phase {
            Phase::Claim | Phase::Lookup => {
                let keys = open_keys(&st);
                if keys.is_empty() {
                    return self.advance(State {
                        phase: Phase::Ordering,
                        ..st
                    });
                }
                let run = if st.phase == Phase::Lookup {
                    json!({ "statement": "sendIdempotencyLookup", "params": [keys] })
                } else {
                    let owners: Vec<&Pending> = keys
                        .iter()
                        .filter_map(|k| {
                            st.items.iter().find(|p| {
                                p.fresh() && !p.claimed && p.idempotency_key.as_ref() == Some(k)
                            })
                        })
                        .collect();
                    json!({ "statement": "sendIdempotencyClaim", "params": [
                        keys,
                        owners.iter().map(|p| &p.uuid).collect::<Vec<_>>(),
                        owners.iter().map(|p| &p.payload_sha256).collect::<Vec<_>>(),
                        self.config.settings.idempotency_window_secs,
                    ]})
                };
                (run, None)
            }
            Phase::Ordering => {
                let counts = ordering_counts(&st);
                if counts.is_empty() {
                    return self.advance(State {
                        phase: Phase::Insert,
                        ..st
                    });
                }
                let run = json!({ "statement": "sendOrderingKeys", "params": [
                    counts.keys().collect::<Vec<_>>(), counts.values().collect::<Vec<_>>(),
                ]});
                (run, None)
            }
            Phase::Insert => {
                let fresh: Vec<&Pending> = st.items.iter().filter(|p| p.fresh()).collect();
                if fresh.is_empty() {
                    return results(&st, &[]);
                }
                let run = insert_run(&st, &fresh, self.config.settings.envelope);
                // Every message new (no duplicate): the rows alone make the results.
                let queued = if fresh.len() == st.items.len() {
                    let ids = fresh
                        .iter()
                        .map(|p| ids::from_uuid("id", IdKind::Message, &p.uuid))
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(wh)?;
                    Some(ids)
                } else {
                    None
                };
                // The results need only ids and verdicts: the rest is not carried back.
                for p in &mut st.items {
                    *p = Pending {
                        uuid: std::mem::take(&mut p.uuid),
                        duplicate_of: p.duplicate_of.take(),
                        same_as: p.same_as,
                        ..Pending::default()
                    };
                }
                (run, queued)
            }
        };
        Ok(SendStep {
            run: Some(run),
            state: Some(to_text("state", &st)?),
            results: None,
            queued,
            last: st.phase == Phase::Insert,
        })
    }
}

/// The INSERT of the `fresh` messages. Their payloads are the caller's: the run names the
/// parameter it fills with them (`payloads.param`, 0-based after the tenant), joined by
/// `payloads.separator` when there are several, taken from the inputs at `payloads.items` when
/// not every input is inserted. When no separator fits, the core passes the whole bodies.
fn insert_run(st: &State, fresh: &[&Pending], envelope: Envelope) -> Value {
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

fn text(r: &Value, k: &str) -> Option<String> {
    r.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// Unix milliseconds the statements return as a whole float8 (`…_ms`). Times cross as these,
/// not as timestamps, whose text form differs by driver (postgres.js hands some back as
/// PostgreSQL's own text).
fn millis(r: &Value, k: &str) -> Option<i64> {
    number(r.get(k)?)
}

/// A number column as drivers return it (`bigint` often as text).
fn number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

/// Idempotency keys not yet settled (neither claimed nor judged a duplicate), sorted.
fn open_keys(st: &State) -> Vec<String> {
    let mut keys: Vec<String> = st
        .items
        .iter()
        .filter(|p| p.fresh() && !p.claimed)
        .filter_map(|p| p.idempotency_key.clone())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Messages per ordering key among those to insert.
fn ordering_counts(st: &State) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for p in st.items.iter().filter(|p| p.fresh()) {
        if let Some(k) = &p.ordering_key {
            *counts.entry(k.clone()).or_default() += 1;
        }
    }
    counts
}

/// `SendResult`s in input order from the INSERT's rows (`id`, `created_ms`, in insert order).
fn results(st: &State, rows: &[Value]) -> Result<SendStep> {
    let fresh = st.items.iter().filter(|p| p.fresh()).count();
    if rows.len() != fresh {
        return Err(wh(WebhooksError::argument(
            "rows",
            format!("expected {fresh} inserted rows, got {}", rows.len()),
        )));
    }
    let mut inserted = rows.iter().map(|r| millis(r, "created_ms"));
    let mut stored: Vec<(String, Option<i64>, &str)> = Vec::with_capacity(st.items.len());
    for p in &st.items {
        let entry = match (&p.duplicate_of, p.same_as) {
            (Some((uuid, at)), _) => (uuid.clone(), Some(*at), "duplicate"),
            (None, Some(j)) => {
                let (uuid, at, _) = stored[j].clone();
                (uuid, at, "duplicate")
            }
            (None, None) => (p.uuid.clone(), inserted.next().flatten(), "queued"),
        };
        stored.push(entry);
    }
    let out = stored
        .into_iter()
        .map(|(uuid, ms, status)| {
            let id = ids::from_uuid("id", IdKind::Message, &uuid).map_err(wh)?;
            Ok(json!({ "id": id, "status": status, "createdAtMs": ms }))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SendStep {
        run: None,
        state: None,
        results: Some(Value::Array(out)),
        queued: None,
        last: false,
    })
}
