//! The SQL of `@usebetterdev/webhooks`, as data: the schema (tables, indexes, partitions, row-level
//! security) and every statement of the delivery engine, each a [`Statement`] — SQL text with
//! numbered parameters and the name and type of each. The TypeScript engine and the CLI execute
//! them; none of them builds SQL text itself.
//!
//! Batch statements take one array per column (`unnest($1::uuid[], …)`), so their text does not
//! depend on the batch size and a prepared statement serves every batch.

pub mod actions;
pub mod claim;
pub mod cursor;
pub mod endpoints;
pub mod expand;
pub mod health;
pub mod inbox;
pub mod partitions;
pub mod queries;
pub mod record;
pub mod retention;
pub mod rls;
pub mod schema;
pub mod send;
pub mod stats;

use super::error::{Result, WebhooksError};
pub(crate) use crate::sql::{literal as quote_literal, quote_ident};
use crate::store::{schema_state, Kind, Product, SchemaState, Tables};
pub use crate::store::{Param, PartitionWidth, Statement, StoreConfig};

/// Version written to `webhook_meta` by this schema.
pub const SCHEMA_VERSION: u32 = 1;
pub use crate::store::NIL_UUID;
/// Channel of `wakeup: "notify"`.
pub const NOTIFY_CHANNEL: &str = "better_webhooks";

/// A UUIDv7 computed in SQL (for rows the database creates: deliveries, lanes, attempts): a
/// random v4 whose first 48 bits become Unix milliseconds and whose version nibble becomes 7,
/// so these ids are time-ordered like the application's and index inserts stay at the edge.
pub const UUID_V7_SQL: &str = "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid";

/// The webhook tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Webhook {}

impl Kind for Webhook {
    const PRODUCT: &'static Product = &Product {
        prefix: "webhook",
        policy: rls::POLICY,
        tool: "better-webhooks",
        partitioned: &partitions::PARTITIONED,
    };
    type Error = WebhooksError;

    fn invalid_name(field: &'static str, reason: String) -> WebhooksError {
        WebhooksError::config(field, reason)
    }
}

/// Validated names; every statement builder hangs off this. The shared layout holds the names
/// (schema, tenancy, partitions); `Store` adds the webhook tables and statements.
pub type Store = Tables<Webhook>;

impl Store {
    /// Every statement of the engine by name, so a binding can hand the whole set to the
    /// TypeScript engine in one call and `check --plans` can `EXPLAIN` the hot ones.
    #[must_use]
    pub fn statements(&self) -> Vec<(&'static str, Statement)> {
        let [purge_messages_default, purge_attempts_default] = self.purge_default_partitions();
        vec![
            (
                "workerTransactionSettings",
                Statement::new(claim::WORKER_TRANSACTION_SETTINGS.to_owned(), &[]),
            ),
            ("schemaProbe", self.schema_probe()),
            ("schemaVersion", self.schema_version()),
            ("notify", self.notify()),
            ("sendOrderingKeys", self.send_ordering_keys()),
            ("sendIdempotencyClaim", self.send_idempotency_claim()),
            ("sendIdempotencyLookup", self.send_idempotency_lookup()),
            ("sendInsertMessages", self.send_insert_messages()),
            ("sendInsertMessage", self.send_insert_message()),
            ("expandLockMessages", self.expand_lock_messages()),
            ("expandLockProgress", self.expand_lock_progress()),
            ("expandInsert", self.expand_insert()),
            ("claimUnordered", self.claim_unordered()),
            ("claimLanes", self.claim_lanes()),
            ("reapExpired", self.reap_expired()),
            ("reapLanes", self.reap_lanes()),
            ("releaseUnstarted", self.release_unstarted()),
            ("lockLanes", self.lock_lanes()),
            ("recordDeliveries", self.record_deliveries()),
            ("insertAttempts", self.insert_attempts()),
            ("updateEndpointHealth", self.update_endpoint_health()),
            ("insertOperationalEvents", self.insert_operational_events()),
            ("heartbeat", self.heartbeat()),
            ("workerStop", self.worker_stop()),
            ("replay", self.replay()),
            ("recover", self.recover()),
            ("cancelDelivery", self.cancel_delivery()),
            ("deleteEndpoint", self.delete_endpoint()),
            ("resolveLaneRetry", self.resolve_lane_retry()),
            ("resolveLaneSkip", self.resolve_lane_skip()),
            ("blockedLanes", self.blocked_lanes()),
            ("lockEndpointLimit", self.lock_endpoint_limit()),
            ("insertEndpoint", self.insert_endpoint()),
            ("getEndpoint", self.get_endpoint()),
            ("listEndpoints", self.list_endpoints()),
            ("updateEndpoint", self.update_endpoint()),
            ("enableEndpoint", self.enable_endpoint()),
            ("disableEndpoint", self.disable_endpoint()),
            ("endpointKeys", self.endpoint_keys()),
            ("endpointKeysPage", self.endpoint_keys_page()),
            ("setEndpointKeys", self.set_endpoint_keys()),
            ("endpointHealth", self.endpoint_health()),
            ("getMessage", self.get_message()),
            ("listMessages", self.list_messages()),
            ("listDeliveries", self.list_deliveries()),
            ("listAttempts", self.list_attempts()),
            ("stats", self.stats()),
            ("purgeDeliveries", self.purge_deliveries()),
            ("purgeIdempotencyKeys", self.purge_idempotency_keys()),
            ("inboxInsert", self.inbox_insert()),
            ("purgeInbox", self.purge_inbox()),
            ("purgeOperationalEvents", self.purge_operational_events()),
            ("purgeAttemptErrors", self.purge_attempt_errors()),
            ("purgeWorkers", self.purge_workers()),
            ("purgeMessagesDefault", purge_messages_default),
            ("purgeAttemptsDefault", purge_attempts_default),
        ]
    }

    /// `SELECT pg_notify(…)`, sent by `send()` with `wakeup: "notify"`.
    #[must_use]
    pub fn notify(&self) -> Statement {
        Statement::new(
            format!("SELECT pg_notify({}, '')", quote_literal(NOTIFY_CHANNEL)),
            &[],
        )
    }
}

/// Judges [`Store::schema_probe`] and [`Store::schema_version`] results.
///
/// # Errors
/// `WEBHOOKS_SCHEMA_MISSING` or `WEBHOOKS_SCHEMA_OUTDATED`, both naming `better-webhooks migrate`.
pub fn schema_status(has_meta: bool, version: Option<&str>) -> Result<()> {
    match schema_state(has_meta, version, SCHEMA_VERSION) {
        SchemaState::Current => Ok(()),
        SchemaState::Missing => Err(WebhooksError::SchemaMissing),
        SchemaState::Outdated(found) => Err(WebhooksError::SchemaOutdated {
            found,
            expected: SCHEMA_VERSION,
        }),
    }
}

/// Keyset condition of a newest-first page: rows before the cursor `(after_at, after_id)`, or
/// every row when `after_at` is NULL.
pub(crate) fn before_cursor(alias: &str, after_at: &str, after_id: &str) -> String {
    format!(
        "({after_at}::timestamptz IS NULL OR ({alias}.created_at, {alias}.id) < ({after_at}, {after_id}::uuid))"
    )
}

/// `created_at` as integer microseconds since the epoch, for the cursor of the row (a client
/// that parses `timestamptz` into a millisecond `Date` would lose the rest).
pub(crate) fn micros_sql(column: &str) -> String {
    format!("(extract(epoch FROM {column}) * 1000000)::bigint")
}

/// `event_type` (a message column) matches filter `event_types` (an endpoint column, NULL = all):
/// an exact entry, or an entry `p.*` with `event_type` under `p.` (names never end in `.`).
pub(crate) fn filter_match_sql(event_types: &str, event_type: &str) -> String {
    format!(
        "({event_types} IS NULL OR {event_type} = ANY({event_types}) OR EXISTS (SELECT 1 FROM unnest({event_types}) AS p(pattern) WHERE right(p.pattern, 2) = '.*' AND starts_with({event_type}, left(p.pattern, -1))))"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_status() {
        let s = Store::new(&StoreConfig {
            schema: Some("we\"ird".into()),
            ..StoreConfig::default()
        })
        .unwrap();
        assert_eq!(s.table("messages"), "\"we\"\"ird\".\"webhook_messages\"");
        assert!(Store::new(&StoreConfig {
            schema: Some("x".repeat(64)),
            ..StoreConfig::default()
        })
        .unwrap_err()
        .to_string()
        .contains("`schema`"));
        assert_eq!(
            schema_status(false, None).unwrap_err().code(),
            "WEBHOOKS_SCHEMA_MISSING"
        );
        assert_eq!(
            schema_status(true, None).unwrap_err().code(),
            "WEBHOOKS_SCHEMA_MISSING"
        );
        assert_eq!(
            schema_status(true, Some("0")).unwrap_err().code(),
            "WEBHOOKS_SCHEMA_OUTDATED"
        );
        assert!(schema_status(true, Some("1")).is_ok());
        let r = Statement::new("SELECT $1".into(), &[("limit", "int")]).render("x");
        assert_eq!(r, "-- x($1 limit int)\nSELECT $1;\n");
    }
}
