//! The two per-batch calls of the delivery engine: [`Webhooks::prepare_requests`] turns claimed
//! rows into signed request headers, [`Webhooks::record_batch`] turns what each request observed
//! into the parameters of the record statements and the operational events.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{to_value, Webhooks, USER_AGENT};
use crate::error::{Error, Result};
use crate::input::from_value;
use crate::webhooks::config::{HeaderMode, StoreResponseBody};
use crate::webhooks::ids::{self, IdKind};
use crate::webhooks::outcome::{
    attempt_events, classify_outcome, endpoint_signals, Failure, Outcome, Recorded,
};
use crate::webhooks::retry_after::parse_retry_after;
use crate::webhooks::schedule::{next_attempt, NextStep};
use crate::webhooks::sign::{sign_batch, EndpointKeys, SignBatch, SignItem};
use crate::webhooks::store::expand::{expandable, LockedMessage, LockedProgress};
use crate::webhooks::stored_keys::StoredKey;
use crate::webhooks::WebhooksError;

/// Longest operator error text kept in an attempt row.
const MAX_OPERATOR_ERROR: usize = 1_000;

/// A claimed delivery, as much of it as signing needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedRequest {
    endpoint_id: String,
    message_id: String,
    body: String,
    keys: Vec<StoredKey>,
    headers: Option<BTreeMap<String, String>>,
    content_type: Option<String>,
}

/// What one request observed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordInput {
    delivery_id: String,
    lease_token: String,
    tenant_id: Option<String>,
    message_id: String,
    endpoint_id: String,
    attempt: u32,
    trigger: String,
    lane_id: Option<String>,
    started_at_ms: i64,
    duration_ms: i64,
    status: Option<u16>,
    failure: Option<Failure>,
    retry_after: Option<String>,
    response_body: Option<String>,
    operator_error: Option<String>,
    request_timestamp: i64,
    worker_id: String,
}

fn iso_ms(ms: i64) -> String {
    crate::audit::time::format_iso(ms.saturating_mul(1000))
}

fn truncate(text: &str, max: usize) -> String {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

impl Webhooks {
    /// Signs a claimed batch in one call: per row `{ headers: [[name, value], …], id }` or
    /// `{ error: { code, message } }` (keys that do not open fail only their own rows).
    /// `staleEndpoints` lists endpoint ids whose keys opened with `secretsKey.previous`.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for rows of the wrong shape.
    pub fn prepare_requests(&self, rows: &Value, now_ms: i64) -> Result<Value> {
        let rows: Vec<PreparedRequest> = from_value("rows", rows)?;
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        let mut batch = SignBatch::default();
        let timestamp = now_ms.div_euclid(1000);
        let mut msg_ids = Vec::with_capacity(rows.len());
        for r in &rows {
            let endpoint = *index.entry(r.endpoint_id.as_str()).or_insert_with(|| {
                batch.endpoints.push(EndpointKeys {
                    endpoint_id: r.endpoint_id.clone(),
                    keys: r.keys.clone(),
                });
                batch.endpoints.len() - 1
            });
            let id = ids::from_uuid("messageId", IdKind::Message, &r.message_id)?;
            batch.items.push(SignItem {
                endpoint,
                id: id.clone(),
                timestamp,
                body: r.body.clone(),
            });
            msg_ids.push(id);
        }
        let signed = sign_batch(&batch, self.config.secrets.as_ref(), now_ms);
        let mode = self.config.settings.headers;
        let out: Vec<Value> = rows
            .iter()
            .zip(signed.signatures)
            .zip(msg_ids)
            .map(|((r, sig), id)| match sig {
                Err(e) => json!({ "error": { "code": e.code(), "message": e.to_string() } }),
                Ok(sig) => {
                    let mut h: Vec<(String, String)> = Vec::with_capacity(10);
                    let ts = timestamp.to_string();
                    for prefix in match mode {
                        HeaderMode::Standard => &["webhook"][..],
                        HeaderMode::Svix => &["svix"][..],
                        HeaderMode::Both => &["webhook", "svix"][..],
                    } {
                        h.push((format!("{prefix}-id"), id.clone()));
                        h.push((format!("{prefix}-timestamp"), ts.clone()));
                        h.push((format!("{prefix}-signature"), sig.clone()));
                    }
                    h.push((
                        "content-type".into(),
                        r.content_type
                            .clone()
                            .unwrap_or_else(|| "application/json".into()),
                    ));
                    h.push(("user-agent".into(), USER_AGENT.into()));
                    for (k, v) in r.headers.iter().flatten() {
                        h.push((k.clone(), v.clone()));
                    }
                    json!({ "id": id, "timestamp": timestamp, "headers": h })
                }
            })
            .collect();
        let stale: Vec<&str> = signed
            .stale_endpoints
            .iter()
            .map(|&i| batch.endpoints[i].endpoint_id.as_str())
            .collect();
        Ok(json!({ "requests": out, "staleEndpoints": stale }))
    }

    /// Decides each result (outcome, retry time or final state, what of the response to keep)
    /// and returns the parameters of `lockLanes` (null when no result is laned),
    /// `recordDeliveries`, `insertAttempts` and
    /// `updateEndpointHealth` (null when no endpoint changes), and the operational events.
    /// `u` holds one uniform draw in [−1, 1] per result (the jitter).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` / `WEBHOOKS_INVALID_ARGUMENT` naming `results[i]…` or `u`.
    pub fn record_batch(&self, results: &Value, now_ms: i64, u: &[f64]) -> Result<Value> {
        let results: Vec<RecordInput> = from_value("results", results)?;
        if u.len() != results.len() {
            return Err(Error::Webhooks(WebhooksError::argument(
                "u",
                format!(
                    "one draw per result: expected {}, got {}",
                    results.len(),
                    u.len()
                ),
            )));
        }
        let s = &self.config.settings;
        let mut d: [Vec<Value>; 6] = Default::default();
        let mut a: [Vec<Value>; 14] = Default::default();
        let mut recorded = Vec::with_capacity(results.len());
        let mut events: Vec<Value> = Vec::new();
        for (i, (r, &draw)) in results.iter().zip(u).enumerate() {
            let outcome = classify_outcome(r.status, r.failure)
                .map_err(|e| Error::Webhooks(field_in(e, i)))?;
            let retry_after = r
                .retry_after
                .as_deref()
                .and_then(|v| parse_retry_after(v, now_ms));
            // A manual replay is one attempt, with no automatic retries after it.
            let step = if r.trigger == "manual" && outcome != Outcome::Ok {
                NextStep::Exhausted
            } else {
                next_attempt(
                    &self.config.retry,
                    r.attempt.max(1),
                    outcome,
                    retry_after,
                    now_ms,
                    draw,
                )
                .map_err(|e| Error::Webhooks(field_in(e, i)))?
            };
            let (status, next_at) = match step {
                NextStep::Succeeded => ("succeeded", Value::Null),
                NextStep::Exhausted => ("exhausted", Value::Null),
                NextStep::Retry { at_ms, .. } => ("pending", json!(iso_ms(at_ms))),
            };
            let keep_body =
                match s.store_response_body {
                    StoreResponseBody::Always => true,
                    StoreResponseBody::Failures => outcome != Outcome::Ok,
                    StoreResponseBody::Never => false,
                } && !matches!(outcome, Outcome::DestinationBlocked | Outcome::NetworkError);
            let body = r
                .response_body
                .as_deref()
                .filter(|_| keep_body)
                .map(|b| truncate(b, s.store_response_bytes as usize));
            for (col, v) in d.iter_mut().zip([
                json!(r.delivery_id),
                json!(r.lease_token),
                json!(status),
                next_at,
                json!(outcome.as_str()),
                json!(r.status),
            ]) {
                col.push(v);
            }
            for (col, v) in a.iter_mut().zip([
                json!(r.tenant_id),
                json!(r.delivery_id),
                json!(r.message_id),
                json!(r.endpoint_id),
                json!(r.attempt),
                json!(r.trigger),
                json!(iso_ms(r.started_at_ms)),
                json!(r.duration_ms.clamp(0, i64::from(i32::MAX))),
                json!(outcome.as_str()),
                json!(r.status),
                json!(body),
                json!(r
                    .operator_error
                    .as_deref()
                    .map(|e| truncate(e, MAX_OPERATOR_ERROR))),
                json!(r.request_timestamp),
                json!(r.worker_id),
            ]) {
                col.push(v);
            }
            let exhausted = status == "exhausted";
            recorded.push(Recorded {
                endpoint_id: r.endpoint_id.clone(),
                outcome,
                exhausted,
            });
            for ty in attempt_events(outcome, r.attempt, exhausted, r.lane_id.is_some()) {
                events.push(json!({
                    "tenantId": r.tenant_id,
                    "type": ty,
                    "data": {
                        "messageId": ids::from_uuid("messageId", IdKind::Message, &r.message_id)?,
                        "endpointId": ids::from_uuid("endpointId", IdKind::Endpoint, &r.endpoint_id)?,
                        "attempt": r.attempt,
                        "outcome": outcome.as_str(),
                        "status": r.status,
                    }
                }));
            }
        }
        let mut lanes: Vec<&str> = results
            .iter()
            .filter_map(|r| r.lane_id.as_deref())
            .collect();
        lanes.sort_unstable();
        lanes.dedup();
        let signals = endpoint_signals(&recorded);
        let health = if signals.is_empty() {
            Value::Null
        } else {
            let col = |f: fn(&crate::webhooks::outcome::EndpointSignal) -> Value| {
                Value::Array(signals.iter().map(f).collect())
            };
            json!([
                col(|x| json!(x.endpoint_id)),
                col(|x| json!(x.ok)),
                col(|x| json!(x.overloaded)),
                col(|x| json!(x.gone)),
                col(|x| json!(x.exhausted)),
                self.config.disable.after_ms as f64 / 1000.0,
                self.config.disable.min_failed_attempts,
            ])
        };
        Ok(json!({
            "lockLanes": if lanes.is_empty() { Value::Null } else { json!([lanes]) },
            "recordDeliveries": d,
            "insertAttempts": a,
            "updateEndpointHealth": health,
            "events": events,
        }))
    }

    /// Events for the rows `updateEndpointHealth` returned (`id`, `tenant_id`,
    /// `disabled_reason`): `endpoint.disabled` for each endpoint it disabled.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for rows of the wrong shape.
    pub fn endpoint_events(&self, rows: &Value) -> Result<Value> {
        let rows: Vec<Value> = from_value("rows", rows)?;
        let mut out = Vec::new();
        for r in rows {
            let Some(reason) = r.get("disabled_reason").and_then(Value::as_str) else {
                continue;
            };
            let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
            out.push(json!({
                "tenantId": r.get("tenant_id"),
                "type": "endpoint.disabled",
                "data": { "endpointId": ids::from_uuid("id", IdKind::Endpoint, id)?, "reason": reason },
            }));
        }
        to_value(&out)
    }

    /// Parameters of `insertOperationalEvents` for `events` (as returned above).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for events of the wrong shape.
    pub fn event_params(&self, events: &Value) -> Result<Value> {
        let events: Vec<Value> = from_value("events", events)?;
        let col = |k: &str| -> Vec<Value> {
            events
                .iter()
                .map(|e| e.get(k).cloned().unwrap_or(Value::Null))
                .collect()
        };
        let data: Vec<Value> = col("data").iter().map(|d| json!(d.to_string())).collect();
        Ok(json!([col("tenantId"), col("type"), data]))
    }
}

/// One row of `expandLockMessages` / `expandLockProgress` as drivers return it (`bigint` may
/// arrive as text).
fn locked(rows: &[Value]) -> (Vec<LockedMessage>, Vec<LockedProgress>) {
    let text = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
    let num = |r: &Value, k: &str| {
        r.get(k)
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
    };
    let messages = rows
        .iter()
        .filter_map(|r| {
            Some(LockedMessage {
                id: text(r, "id")?,
                tenant_id: text(r, "tenant_id"),
                ordering_key: text(r, "ordering_key"),
                ordering_seq: num(r, "ordering_seq"),
            })
        })
        .collect();
    let progress = rows
        .iter()
        .filter_map(|r| {
            Some(LockedProgress {
                tenant_id: text(r, "tenant_id"),
                key: text(r, "key")?,
                expanded_seq: num(r, "expanded_seq")?,
            })
        })
        .collect();
    (messages, progress)
}

impl Webhooks {
    /// Fan-out between its statements: with only the locked `messages`, the parameters of
    /// `expandLockProgress` when some are keyed (`{ lockProgress }`); with the locked
    /// `progress` rows too (or no keyed message), the parameters of `expandInsert`
    /// (`{ insert }`, null when nothing can be expanded yet).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for rows of the wrong shape.
    pub fn expand_step(&self, messages: &Value, progress: &Value) -> Result<Value> {
        let rows: Vec<Value> = from_value("messages", messages)?;
        let (locked_messages, _) = locked(&rows);
        let keyed: Vec<&LockedMessage> = locked_messages
            .iter()
            .filter(|m| m.ordering_key.is_some())
            .collect();
        if progress.is_null() && !keyed.is_empty() {
            return Ok(json!({ "lockProgress": [
                keyed.iter().map(|m| &m.tenant_id).collect::<Vec<_>>(),
                keyed.iter().map(|m| &m.ordering_key).collect::<Vec<_>>(),
            ]}));
        }
        let progress: Vec<Value> = if progress.is_null() {
            Vec::new()
        } else {
            from_value("progress", progress)?
        };
        let (_, locked_progress) = locked(&progress);
        let chosen = expandable(&locked_messages, &locked_progress);
        if chosen.is_empty() {
            return Ok(json!({ "insert": null }));
        }
        let since = chosen
            .iter()
            .filter_map(|&i| rows[i].get("created_at").and_then(Value::as_str))
            .filter_map(crate::audit::time::parse_iso)
            .min()
            .unwrap_or(0);
        // Drivers keep milliseconds: the bound is floored to the millisecond so it stays below.
        let since = crate::audit::time::format_iso(since.div_euclid(1000) * 1000);
        let ids: Vec<&str> = chosen
            .iter()
            .map(|&i| locked_messages[i].id.as_str())
            .collect();
        Ok(json!({ "insert": [ids, since] }))
    }
}

/// Prefixes an argument error's field with `results[i].`.
fn field_in(e: WebhooksError, i: usize) -> WebhooksError {
    match e {
        WebhooksError::InvalidArgument { field, reason } => WebhooksError::InvalidArgument {
            field: format!("results[{i}].{field}"),
            reason,
        },
        other => other,
    }
}
