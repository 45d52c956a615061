//! The query API (spec §11): messages, deliveries and attempts, newest first, one page at a time
//! through a `(created_at, id)` keyset cursor ([`super::cursor`]). Every row carries
//! `created_at_us`, the exact microseconds its cursor needs.
//!
//! Optional filters are nullable parameters (`$n IS NULL OR …`): with the values bound (an
//! unnamed statement, or the first executions of a named one) PostgreSQL folds the unused arms
//! away and plans each form on its own index. The tenant is `$1`, read through
//! [`Store::read_scope`]. Only columns a tenant may see are returned: never an attempt's
//! `operator_error` (socket error text, §10.3) or `worker_id`, a delivery's lease, or a
//! message's body hash.
//!
//! Deliveries and attempts have no index leading with `tenant_id` (see [`super::schema`]): their
//! lists walk the reader's endpoints and take at most one page from each through the
//! `(endpoint_id, created_at)` indexes, so a page costs at most (endpoints × limit) index rows
//! however many rows the tenant has.

use super::{before_cursor, micros_sql, Statement, Store};

const MESSAGE_COLUMNS: &str =
    "m.id, m.tenant_id, m.event_type, m.body, m.content_type, m.ordering_key, m.ordering_seq,
  m.idempotency_key, m.target_endpoints, m.deliver_after, m.expanded_at, m.created_at";

const DELIVERY_COLUMNS: &str = "d.id, d.tenant_id, d.message_id, d.endpoint_id, d.lane_id, d.lane_seq, d.status, d.attempt_count,
    d.next_attempt_at, d.last_outcome, d.last_status, d.trigger, d.created_at, d.finished_at";

const ATTEMPT_COLUMNS: &str = "a.id, a.tenant_id, a.delivery_id, a.message_id, a.endpoint_id, a.attempt_number, a.trigger,
    a.started_at, a.duration_ms, a.outcome, a.http_status, a.response_body, a.request_timestamp, a.created_at";

impl Store {
    /// `messages.get`: the message `$2`, or no row.
    #[must_use]
    pub fn get_message(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT {MESSAGE_COLUMNS}, {us} AS created_at_us FROM {m} m WHERE m.id = $2 AND {scope}",
                us = micros_sql("m.created_at"),
                m = self.table("messages"),
                scope = Store::read_scope("m.tenant_id", "$1"),
            ),
            &[("tenant_id", "uuid"), ("id", "uuid")],
        )
    }

    /// `messages.list`: of event type `$2`, created in [`$3`, `$4`), before the cursor (`$5`,
    /// `$6`), at most `$7`.
    #[must_use]
    pub fn list_messages(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT {MESSAGE_COLUMNS}, {us} AS created_at_us FROM {m} m
WHERE {scope} AND ($2::text IS NULL OR m.event_type = $2)
  AND ($3::timestamptz IS NULL OR m.created_at >= $3) AND ($4::timestamptz IS NULL OR m.created_at < $4)
  AND {after}
ORDER BY m.created_at DESC, m.id DESC
LIMIT $7",
                us = micros_sql("m.created_at"),
                m = self.table("messages"),
                scope = Store::read_scope("m.tenant_id", "$1"),
                after = before_cursor("m", "$5", "$6"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("event_type", "text"),
                ("since", "timestamptz"),
                ("until", "timestamptz"),
                ("after_at", "timestamptz"),
                ("after_id", "uuid"),
                ("limit", "int"),
            ],
        )
    }

    /// `deliveries.list`: of message `$2`, endpoint `$3`, status `$4`, before the cursor (`$5`,
    /// `$6`), at most `$7`.
    #[must_use]
    pub fn list_deliveries(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT d.* FROM {e} e
CROSS JOIN LATERAL (
  SELECT {DELIVERY_COLUMNS}, {us} AS created_at_us
  FROM {d} d
  WHERE d.endpoint_id = e.id AND ($2::uuid IS NULL OR d.message_id = $2) AND ($4::text IS NULL OR d.status = $4)
    AND {after}
  ORDER BY d.created_at DESC, d.id DESC
  LIMIT $7
) d
WHERE ($3::uuid IS NULL OR e.id = $3) AND {scope}
ORDER BY d.created_at DESC, d.id DESC
LIMIT $7",
                us = micros_sql("d.created_at"),
                e = self.table("endpoints"),
                d = self.table("deliveries"),
                scope = Store::read_scope("e.tenant_id", "$1"),
                after = before_cursor("d", "$5", "$6"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("message_id", "uuid"),
                ("endpoint_id", "uuid"),
                ("status", "text"),
                ("after_at", "timestamptz"),
                ("after_id", "uuid"),
                ("limit", "int"),
            ],
        )
    }

    /// `attempts.list`: of delivery `$2` (only its endpoint is walked), endpoint `$3`, outcome
    /// `$4`, created at or after `$5`, before the cursor (`$6`, `$7`), at most `$8`.
    #[must_use]
    pub fn list_attempts(&self) -> Statement {
        let a = self.table("attempts");
        Statement::new(
            format!(
                "SELECT a.* FROM {e} e
CROSS JOIN LATERAL (
  SELECT {ATTEMPT_COLUMNS}, {us} AS created_at_us
  FROM {a} a
  WHERE a.endpoint_id = e.id AND ($2::uuid IS NULL OR a.delivery_id = $2) AND ($4::text IS NULL OR a.outcome = $4)
    AND ($5::timestamptz IS NULL OR a.created_at >= $5) AND {after}
  ORDER BY a.created_at DESC, a.id DESC
  LIMIT $8
) a
WHERE ($3::uuid IS NULL OR e.id = $3)
  AND ($2::uuid IS NULL OR e.id = (SELECT x.endpoint_id FROM {a} x WHERE x.delivery_id = $2 LIMIT 1))
  AND {scope}
ORDER BY a.created_at DESC, a.id DESC
LIMIT $8",
                us = micros_sql("a.created_at"),
                e = self.table("endpoints"),
                scope = Store::read_scope("e.tenant_id", "$1"),
                after = before_cursor("a", "$6", "$7"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("delivery_id", "uuid"),
                ("endpoint_id", "uuid"),
                ("outcome", "text"),
                ("since", "timestamptz"),
                ("after_at", "timestamptz"),
                ("after_id", "uuid"),
                ("limit", "int"),
            ],
        )
    }
}
