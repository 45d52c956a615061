//! Retention (`better-webhooks purge`, and the worker hourly with `--purge`) besides dropping
//! partitions: batched deletes that each take one short transaction and use an index, so a
//! purge never holds locks for long. Pending deliveries are never purged.

use super::schema::WAITING;
use super::{Statement, Store};

/// Rows per delete batch.
pub const PURGE_BATCH: u32 = 5_000;

impl Store {
    /// Finished deliveries (`finished_at` older than `$1` days), at most `$2`.
    #[must_use]
    pub fn purge_deliveries(&self) -> Statement {
        self.purge(
            "deliveries",
            "finished_at < now() - make_interval(days => $1)",
            &[("retention_days", "int"), ("batch", "int")],
        )
    }

    /// Idempotency keys expired more than `$1` days ago (0: all expired), at most `$2`.
    #[must_use]
    pub fn purge_idempotency_keys(&self) -> Statement {
        self.purge(
            "idempotency_keys",
            "expires_at <= now() - make_interval(days => $1)",
            &[("grace_days", "int"), ("batch", "int")],
        )
    }

    /// Inbox rows received more than `$1` days ago (`webhooksInbox` `retentionDays`).
    #[must_use]
    pub fn purge_inbox(&self) -> Statement {
        self.purge(
            "inbox",
            "received_at < now() - make_interval(days => $1)",
            &[("retention_days", "int"), ("batch", "int")],
        )
    }

    /// Operational events older than `$1` days.
    #[must_use]
    pub fn purge_operational_events(&self) -> Statement {
        self.purge(
            "operational_events",
            "created_at < now() - make_interval(days => $1)",
            &[("retention_days", "int"), ("batch", "int")],
        )
    }

    /// Operator error texts of attempts older than `$1` days (the attempts' own retention).
    #[must_use]
    pub fn purge_attempt_errors(&self) -> Statement {
        self.purge(
            "attempt_errors",
            "created_at < now() - make_interval(days => $1)",
            &[("retention_days", "int"), ("batch", "int")],
        )
    }

    /// The creation time of the oldest message an unfinished delivery still needs (`infinity`
    /// when none): pending ones through `deliveries_waiting_idx`, in-flight ones (a worker's
    /// few) through the lease index.
    pub(super) fn oldest_unfinished_message(&self) -> String {
        let d = self.table("deliveries");
        format!(
            "coalesce(least((SELECT min(d.message_created_at) FROM {d} d WHERE d.{WAITING}),
    (SELECT min(d.message_created_at) FROM {d} d WHERE d.status = 'in_flight')), 'infinity')"
        )
    }

    /// Heartbeats of workers not seen for `$1` days (killed without a clean stop).
    #[must_use]
    pub fn purge_workers(&self) -> Statement {
        Statement::new(
            format!(
                "DELETE FROM {} WHERE last_seen < now() - make_interval(days => $1)",
                self.table("workers")
            ),
            &[("days", "int")],
        )
    }

    /// Rows of the DEFAULT partitions older than `$1` days (those a dated partition could not
    /// take); messages only when expanded and older than every unfinished delivery's message.
    #[must_use]
    pub fn purge_default_partitions(&self) -> [Statement; 2] {
        let params = [("retention_days", "int"), ("batch", "int")];
        [
            self.purge(
                "messages_default",
                &format!(
                    "created_at < now() - make_interval(days => $1) AND expanded_at IS NOT NULL
    AND created_at < {}",
                    self.oldest_unfinished_message()
                ),
                &params,
            ),
            self.purge(
                "attempts_default",
                "created_at < now() - make_interval(days => $1)",
                &params,
            ),
        ]
    }
}
