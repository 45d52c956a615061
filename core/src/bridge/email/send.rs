//! `send()` / `sendMany()` as a short conversation, as in the webhooks bridge:
//! [`Email::send_begin`] checks every message (addresses, headers, size, category, keys) and
//! answers with the first statement; the caller runs it in its transaction and hands the rows
//! to [`Email::send_next`]. The order: the tenant's stored overrides when a message uses an
//! editable template, idempotency keys (a duplicate writes nothing), then one INSERT of
//! messages, recipients and attachments that looks the recipients' suppressions up itself (a
//! send without keys or editable templates is one statement). Each message is checked
//! (`input`) and built into its row (`pending`) before the first statement that writes.
//!
//! A templated send is stored unrendered (its props kept, `rendered = false`) with
//! `render: "worker"`, and in a build without the template engine (the edge modules) when the
//! tenant has an override of it: the worker renders it at its first hand-off.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::input::{input_path, SendInput};
use super::pending::{results, Pending};
use super::{bytea, em, Email};
use crate::bridge::step::{from_text, parse_text, step_text, to_text, SendStep};
use crate::email::EmailError;
use crate::error::Result;
use crate::input::from_value;
use crate::webhooks::ids::{self, IdKind};

/// Claim rounds before a key freed and taken again by concurrent sends is reported.
const MAX_ROUNDS: u8 = 3;

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

/// A row's `ord` (a number, or its text from a driver that returns bigint as text).
fn ordinal(r: &Value) -> i64 {
    r.get("ord")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0)
}

impl Email {
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
                return Ok(results(&st.items));
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

    /// The statement of `st.phase`, or the results when nothing is left to write.
    fn step(&self, st: State) -> Result<SendStep> {
        let fresh: Vec<&Pending> = st.items.iter().filter(|p| Self::fresh(p)).collect();
        // Milliseconds to seconds for make_interval (a window of days is exact in an f64).
        #[allow(clippy::cast_precision_loss)]
        let window_secs = self.config.settings.idempotency_window_ms as f64 / 1000.0;
        let run = match st.phase {
            // Asked in `begin`, answered in `next`: never stepped to.
            Phase::Senders => return Ok(results(&st.items)),
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
            Phase::Templates | Phase::Insert if fresh.is_empty() => return Ok(results(&st.items)),
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
}
