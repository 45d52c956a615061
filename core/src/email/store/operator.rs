//! An operator's decisions on one message: `cancel` (queued → cancelled), `retry` (failed or
//! expired → queued, once more, to the recipients not yet sent to), and for an `ambiguous` message held by `onAmbiguous: "hold"`,
//! `resend` (→ queued) or `drop` (→ cancelled). One statement locks the message, changes it only
//! from the states the action allows, and returns the state it found, so "no such message" and
//! "not in a state this action takes" are told apart without a second round trip.

use super::{Statement, Store};
use crate::email::error::{EmailError, Result};

/// What an operator can decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Cancel,
    Retry,
    Resend,
    Drop,
}

impl Action {
    /// `cancel`, `retry`, `resend` or `drop`.
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` naming `action`.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "cancel" => Action::Cancel,
            "retry" => Action::Retry,
            "resend" => Action::Resend,
            "drop" => Action::Drop,
            other => {
                return Err(EmailError::argument(
                    "action",
                    format!("expected cancel, retry, resend or drop, got {other:?}"),
                ))
            }
        })
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Action::Cancel => "cancel",
            Action::Retry => "retry",
            Action::Resend => "resend",
            Action::Drop => "drop",
        }
    }

    /// The states the action takes a message from. An in-flight message is the worker's: a
    /// cancel then would race the hand-off.
    #[must_use]
    pub fn from(self) -> &'static [&'static str] {
        match self {
            Action::Cancel => &["queued"],
            Action::Retry => &["failed", "expired"],
            Action::Resend | Action::Drop => &["ambiguous"],
        }
    }

    /// The state it leaves the message in.
    #[must_use]
    pub fn to(self) -> &'static str {
        match self {
            Action::Cancel | Action::Drop => "cancelled",
            Action::Retry | Action::Resend => "queued",
        }
    }

    /// What the message's `last_error` says afterwards.
    #[must_use]
    pub fn note(self) -> String {
        format!("{} by an operator", self.name())
    }

    /// The statement's parameters for the message `id` (its UUID text), of `tenant` only when
    /// given.
    #[must_use]
    pub fn params(self, id: &str, tenant: Option<&str>) -> serde_json::Value {
        serde_json::json!([id, self.from(), self.to(), self.note(), tenant])
    }

    /// Judges the statement's rows: `[{ status, changed }]`, none when no message has that id
    /// (or the caller's tenant cannot see it). `public_id` is the id as the caller gave it.
    ///
    /// # Errors
    /// `EMAIL_NOT_FOUND`, or `EMAIL_INVALID_STATE` naming the state found.
    pub fn judge(self, public_id: &str, found: Option<(&str, bool)>) -> Result<&'static str> {
        match found {
            None => Err(EmailError::NotFound {
                what: format!("message {public_id}"),
            }),
            Some((_, true)) => Ok(self.to()),
            Some((status, false)) => Err(EmailError::InvalidState {
                id: public_id.to_owned(),
                action: self.name().to_owned(),
                status: status.to_owned(),
                allowed: self.from().join(" or "),
            }),
        }
    }
}

impl Store {
    /// One message as `better-email messages show` prints it: `$1` its id, `$2` the tenant it
    /// must belong to (NULL: any). Its columns (no bodies), and as JSON arrays its recipients,
    /// attempts and provider events (found through the recipients' addresses, which the events
    /// index leads with). No row when there is no such message.
    #[must_use]
    pub fn email_message_show(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT m.id, m.tenant_id, m.category, m.priority, m.status, m.from_addr, m.subject, m.template,
       m.transport, m.provider_message_id, m.attempt_count, m.last_outcome, m.last_error,
       m.created_at, m.send_at, m.next_attempt_at, m.expires_at, m.finished_at,
       (SELECT coalesce(json_agg(json_build_object('kind', r.kind, 'address', r.address, 'status', r.status,
                 'suppressionReason', r.suppression_reason) ORDER BY r.kind, r.address_key), '[]')
          FROM {rcpt} r WHERE r.created_at = m.created_at AND r.message_id = m.id) AS recipients,
       (SELECT coalesce(json_agg(json_build_object('attempt', a.attempt_number, 'transport', a.transport,
                 'startedAt', a.started_at, 'durationMs', a.duration_ms, 'outcome', a.outcome,
                 'providerStatus', a.provider_status, 'detail', a.detail) ORDER BY a.attempt_number, a.started_at), '[]')
          FROM {att} a WHERE a.message_id = m.id) AS attempts,
       (SELECT coalesce(json_agg(json_build_object('type', e.type, 'bounce', e.bounce, 'recipient', e.address_key,
                 'provider', e.provider, 'occurredAt', e.occurred_at) ORDER BY e.occurred_at), '[]')
          FROM {ev} e WHERE e.message_id = m.id
           AND e.address_key IN (SELECT r.address_key FROM {rcpt} r WHERE r.created_at = m.created_at AND r.message_id = m.id)) AS events
  FROM {m} m WHERE m.id = $1::uuid AND ($2::uuid IS NULL OR m.tenant_id = $2::uuid)",
                m = self.table("messages"),
                rcpt = self.table("recipients"),
                att = self.table("attempts"),
                ev = self.table("events"),
            ),
            &[("id", "uuid"), ("tenant_id", "uuid")],
        )
    }

    /// `$1` the message id, `$2` the states it may leave, `$3` the state it goes to, `$4` the
    /// note kept as its last error, `$5` the tenant it must belong to (NULL: any the caller sees). Returns the state found and whether it changed; no row when
    /// the message does not exist (or is another tenant's, under row-level security).
    #[must_use]
    pub fn email_transition(&self) -> Statement {
        Statement::new(
            format!(
                "WITH f AS (
  SELECT created_at, id, status FROM {m} WHERE id = $1::uuid AND ($5::uuid IS NULL OR tenant_id = $5::uuid) FOR UPDATE
), u AS (
  UPDATE {m} m SET status = $3,
    next_attempt_at = CASE WHEN $3 = 'queued' THEN now() ELSE m.next_attempt_at END,
    -- An operator's send-again is deliberate: a deadline already past would expire it unsent.
    expires_at = CASE WHEN $3 = 'queued' AND m.expires_at <= now() THEN NULL ELSE m.expires_at END,
    finished_at = CASE WHEN $3 = 'queued' THEN NULL ELSE now() END,
    -- Sent again on its own: the operator has taken it out of its batch request.
    batch_id = CASE WHEN $3 = 'queued' THEN NULL ELSE m.batch_id END,
    lease_until = NULL, lease_token = NULL, lease_owner = NULL, last_error = $4
  FROM f WHERE m.created_at = f.created_at AND m.id = f.id AND f.status = ANY($2::text[])
  RETURNING m.id, m.created_at
), r AS (
  -- Sent again to the recipients a server refused; a suppression still blocks them at claim.
  UPDATE {rcpt} r SET status = 'pending', updated_at = now()
  FROM u WHERE $3 = 'queued' AND r.created_at = u.created_at AND r.message_id = u.id AND r.status IN ('rejected', 'bounced')
)
SELECT f.status, EXISTS (SELECT 1 FROM u) AS changed FROM f",
                m = self.table("messages"),
                rcpt = self.table("recipients"),
            ),
            &[
                ("id", "uuid"),
                ("from_statuses", "text[]"),
                ("to_status", "text"),
                ("note", "text"),
                ("tenant_id", "uuid"),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_name_their_states_and_judge_what_they_found() {
        assert_eq!(Action::parse("drop").unwrap(), Action::Drop);
        assert_eq!(
            Action::parse("undo").unwrap_err().code(),
            "EMAIL_INVALID_ARGUMENT"
        );
        assert_eq!(
            Action::Resend.params("x", None)[1],
            serde_json::json!(["ambiguous"])
        );
        assert_eq!(
            Action::Retry
                .judge("eml_1", Some(("failed", true)))
                .unwrap(),
            "queued"
        );
        assert_eq!(
            Action::Cancel.judge("eml_1", None).unwrap_err().code(),
            "EMAIL_NOT_FOUND"
        );
        let e = Action::Cancel
            .judge("eml_1", Some(("sent", false)))
            .unwrap_err();
        assert_eq!(e.code(), "EMAIL_INVALID_STATE");
        assert_eq!(
            e.to_string(),
            "cannot cancel eml_1: it is sent, and cancel takes a message that is queued"
        );
    }
}
