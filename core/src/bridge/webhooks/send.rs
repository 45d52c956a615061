//! `send()` / `sendMany()` as a short conversation: [`Webhooks::send_begin`] checks every input
//! and answers with the first statement to run; the caller runs it in its transaction and hands
//! the rows to [`Webhooks::send_next`], which answers with the next statement or the results.
//! The order is fixed here: idempotency keys first (a duplicate must not take an ordering
//! number, or fan-out would wait forever for the gap), then ordering keys, then one INSERT.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::message::{insert_run, Pending};
use super::Webhooks;
use crate::bridge::step::{from_text, parse_text, step_text, to_text, SendStep};
use crate::error::{Error, Result};
use crate::input::from_value;
use crate::webhooks::body::idempotency_verdict;
use crate::webhooks::ids::{self, IdKind};
use crate::webhooks::WebhooksError;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(super) enum Phase {
    Claim,
    Lookup,
    Ordering,
    Insert,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct State {
    pub(super) phase: Phase,
    pub(super) items: Vec<Pending>,
    /// Claim rounds so far: a key freed by a concurrent rollback between claim and lookup is
    /// claimed again, a bounded number of times.
    pub(super) rounds: u8,
    /// Joins the payloads (and prefixes) the INSERT takes as one text; `None` for one message,
    /// or when every candidate occurs in them (the core then passes the bodies itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) separator: Option<char>,
}

pub(super) fn wh(e: WebhooksError) -> Error {
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

    pub(super) fn advance(&self, mut st: State) -> Result<SendStep> {
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
