//! Time partitions of `webhook_messages` and `webhook_attempts` (`ensure-partitions`, `purge`),
//! on the shared partition scheme (`crate::store::partitions`). A messages partition is kept
//! while it holds an unexpanded message or one with an unfinished delivery.

use super::super::error::{Result, WebhooksError};
use super::{Statement, Store};

/// The partitioned tables.
pub const PARTITIONED: [&str; 2] = ["messages", "attempts"];

/// `webhook_<table>_pYYYYMMDD`.
#[must_use]
pub fn partition_name(table: &str, start_day: i64) -> String {
    use crate::store::Kind;
    crate::store::partitions::partition_name(super::Webhook::PRODUCT.prefix, table, start_day)
}

impl Store {
    /// Partitions of `table` (`messages` or `attempts`) whose whole range is older than
    /// `$1` days, oldest first (`name`, `lower`, `upper`). A messages partition is kept while it
    /// holds an unexpanded message or one with an unfinished delivery.
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_ARGUMENT` naming `table` for another table.
    pub fn droppable_partitions(&self, table: &str) -> Result<Statement> {
        if !PARTITIONED.contains(&table) {
            return Err(WebhooksError::argument(
                "table",
                format!("{table:?} is not partitioned; expected messages or attempts"),
            ));
        }
        let keep = if table == "messages" {
            format!(
                "
  AND b.upper <= {oldest}
  AND NOT EXISTS (SELECT 1 FROM {parent} m WHERE m.expanded_at IS NULL AND m.created_at >= b.lower AND m.created_at < b.upper)",
                oldest = self.oldest_unfinished_message(),
                parent = self.table(table),
            )
        } else {
            String::new()
        };
        Ok(self.droppable_sql(table, &keep))
    }

    /// `DROP TABLE` of partitions listed by [`Store::droppable_partitions`].
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_ARGUMENT` naming `names[i]` for a name that is not one of our
    /// dated partitions (the DEFAULT partition is never dropped).
    pub fn drop_partitions_sql(&self, names: &[String]) -> Result<String> {
        self.drop_dated_sql(names)
            .map_err(|(field, reason)| WebhooksError::argument(field, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_only_dated_partitions() {
        let s = Store::new(&super::super::StoreConfig::default()).unwrap();
        assert_eq!(
            s.drop_partitions_sql(&["webhook_attempts_p20260824".into()])
                .unwrap(),
            "DROP TABLE IF EXISTS \"public\".\"webhook_attempts_p20260824\";\n"
        );
        for bad in [
            "webhook_messages_default",
            "webhook_endpoints",
            "webhook_messages_p2026",
        ] {
            assert!(s.drop_partitions_sql(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(s.droppable_partitions("deliveries").is_err());
    }
}
