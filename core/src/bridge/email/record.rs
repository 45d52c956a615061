//! The worker's side, second half: [`Email::record`] turns the transports' answers into the
//! record statement's parameters, deciding each message's next state (§9.3, §9.4) and each
//! recipient's.

use serde::Deserialize;
use serde_json::{json, Value};

use super::Email;
use crate::email::address::address_key;
use crate::email::config::OnAmbiguous;
use crate::email::http::cut;
use crate::email::retry::{after_hand_off, Attempted, Next};
use crate::email::smtp_outcome::HandOff;
use crate::error::Result;
use crate::input::from_value;

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
