//! Retention (`better-email purge`): bodies and props are PII, kept `retention.bodiesDays`
//! (default 7) and then nulled, attachments deleted with them; messages, recipients, attempts
//! and events kept `retention.metadataDays` (default 90) and then dropped by whole partition;
//! expired idempotency keys, event keys and suppressions deleted. A message that is queued,
//! in flight or ambiguous is never purged, and its partition (messages and recipients) stays.
//! Every row statement is a batch of at most `$2` rows in one short transaction.

use super::super::error::{EmailError, Result};
use super::{Statement, Store, PARTITIONED};

/// Rows per batch.
pub const PURGE_BATCH: u32 = 5_000;
/// `retention.bodiesDays` by default.
pub const BODIES_DAYS: u32 = 7;
/// `retention.metadataDays` by default.
pub const METADATA_DAYS: u32 = 90;

/// Statuses that keep a message, its body and its partition.
const OPEN: &str = "('queued', 'in_flight', 'ambiguous')";

impl Store {
    /// Partitions of `table` (one of [`PARTITIONED`]) wholly older than `$1` days, oldest
    /// first (`name`, `lower`, `upper`); messages and recipients partitions stay while the
    /// messages partition of their range holds an open message.
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` naming `table` for another table.
    pub fn droppable_partitions(&self, table: &str) -> Result<Statement> {
        if !PARTITIONED.contains(&table) {
            return Err(EmailError::InvalidArgument {
                field: "table".into(),
                reason: format!("{table:?} is not partitioned; expected one of {PARTITIONED:?}"),
            });
        }
        let keep = if matches!(table, "messages" | "recipients") {
            format!(
                "
  AND NOT EXISTS (SELECT 1 FROM {} m WHERE m.status IN {OPEN} AND m.created_at >= b.lower AND m.created_at < b.upper)",
                self.table("messages")
            )
        } else {
            String::new()
        };
        Ok(self.droppable_sql(table, &keep))
    }

    /// `DROP TABLE` of partitions listed by [`Store::droppable_partitions`].
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` naming `names[i]` for a name that is not a dated email
    /// partition (the DEFAULT partitions are never dropped).
    pub fn drop_partitions_sql(&self, names: &[String]) -> Result<String> {
        self.drop_dated_sql(names)
            .map_err(|(field, reason)| EmailError::InvalidArgument { field, reason })
    }

    /// Nulls `html`, `text_body` and `props` of finished messages older than `$1` days
    /// (`bodiesDays`), at most `$2`; counted as `deleted`.
    #[must_use]
    pub fn purge_bodies(&self) -> Statement {
        let t = self.table("messages");
        Statement::new(
            format!(
                "WITH del AS (
  UPDATE {t} SET html = NULL, text_body = NULL, props = NULL
   WHERE ctid = ANY(ARRAY(SELECT ctid FROM {t}
     WHERE created_at < now() - make_interval(days => $1) AND status NOT IN {OPEN}
       AND (html IS NOT NULL OR text_body IS NOT NULL OR props IS NOT NULL) LIMIT $2))
  RETURNING 1
)
SELECT count(*) AS deleted FROM del"
            ),
            &[("bodies_days", "int"), ("batch", "int")],
        )
    }

    /// Attachments of finished messages older than `$1` days (`bodiesDays`), and those whose
    /// message is gone; at most `$2`.
    #[must_use]
    pub fn purge_attachments(&self) -> Statement {
        self.purge(
            "attachments",
            &format!(
                "NOT EXISTS (SELECT 1 FROM {} m WHERE m.id = message_id
      AND (m.status IN {OPEN} OR m.created_at >= now() - make_interval(days => $1)))",
                self.table("messages")
            ),
            &[("bodies_days", "int"), ("batch", "int")],
        )
    }

    /// Rows of `table` with `expires_at` more than `$1` days ago (0: all expired), at most
    /// `$2`: `idempotency_keys`, `event_keys` or `suppressions`.
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` naming `table` for another table.
    pub fn purge_expired(&self, table: &str) -> Result<Statement> {
        if !matches!(table, "idempotency_keys" | "event_keys" | "suppressions") {
            return Err(EmailError::InvalidArgument {
                field: "table".into(),
                reason: format!("{table:?} has no expiry"),
            });
        }
        Ok(self.purge(
            table,
            "expires_at <= now() - make_interval(days => $1)",
            &[("grace_days", "int"), ("batch", "int")],
        ))
    }

    /// Rows of the DEFAULT partitions older than `$1` days (`metadataDays`), those a dated
    /// partition could not take; messages and recipients only of finished messages.
    #[must_use]
    pub fn purge_default_partitions(&self) -> Vec<(&'static str, Statement)> {
        let params = [("metadata_days", "int"), ("batch", "int")];
        let messages = self.table("messages");
        let old = "< now() - make_interval(days => $1)";
        vec![
            (
                "messages",
                self.purge(
                    "messages_default",
                    &format!("created_at {old} AND status NOT IN {OPEN}"),
                    &params,
                ),
            ),
            (
                "recipients",
                self.purge(
                    "recipients_default",
                    &format!("created_at {old} AND NOT EXISTS (SELECT 1 FROM {messages} m WHERE m.id = message_id AND m.status IN {OPEN})"),
                    &params,
                ),
            ),
            (
                "attempts",
                self.purge("attempts_default", &format!("created_at {old}"), &params),
            ),
            (
                "events",
                self.purge("events_default", &format!("received_at {old}"), &params),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::super::StoreConfig;
    use super::*;

    #[test]
    fn arguments() {
        let s = Store::new(&StoreConfig::default()).unwrap();
        assert!(s.droppable_partitions("suppressions").is_err());
        assert!(s.purge_expired("messages").is_err());
        assert_eq!(
            s.drop_partitions_sql(&["email_events_p20260824".into()])
                .unwrap(),
            "DROP TABLE IF EXISTS \"public\".\"email_events_p20260824\";\n"
        );
        let e = s
            .drop_partitions_sql(&["email_messages_default".into()])
            .unwrap_err();
        assert_eq!(e.code(), "EMAIL_INVALID_ARGUMENT");
        assert!(e.to_string().contains("names[0]"));
        assert!(s
            .droppable_partitions("recipients")
            .unwrap()
            .sql
            .contains("m.status IN ('queued', 'in_flight', 'ambiguous')"));
    }
}
