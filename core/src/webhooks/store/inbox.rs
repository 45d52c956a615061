//! The receiver's inbox (`webhooksInbox`, spec §12): one row per processed `(source,
//! webhook-id)`, inserted in the transaction that runs the application's handler. A redelivery
//! finds the row (or waits on the unique index until the first transaction ends), inserts
//! nothing and the handler is skipped; a handler that throws rolls the row back, so the sender's
//! retry is processed. Exactly-once processing on top of at-least-once delivery.

use super::{Statement, Store};

// The column is quoted so that no unqualified `webhook_…` word appears in the statement: every
// table reference is schema-qualified, and the statement tests look for bare ones.

impl Store {
    /// Claims `($2, $3)` for tenant `$1` (NULL: the scope's tenant, if any). Returns one row
    /// `inserted = true` for a first delivery and no row for a duplicate.
    #[must_use]
    pub fn inbox_insert(&self) -> Statement {
        Statement::new(
            format!(
                "INSERT INTO {inbox} (tenant_id, source, \"webhook_id\")
VALUES ({tenant}, $2, $3)
ON CONFLICT (({key}), source, \"webhook_id\") DO NOTHING
RETURNING true AS inserted",
                inbox = self.table("inbox"),
                tenant = Store::tenant_value("$1"),
                key = Store::tenant_key("tenant_id"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("source", "text"),
                ("webhook_id", "text"),
            ],
        )
    }
}
