//! The tables and indexes (`better-webhooks migrate`). Idempotent: every object is created
//! `IF NOT EXISTS` under a fixed name, and the policies are replaced, so running it twice
//! changes nothing.
//!
//! Choices: messages and attempts are append-mostly and partitioned by `created_at`, so
//! retention drops whole partitions; deliveries are the hot, updated set, unpartitioned with
//! `fillfactor = 70` so status updates stay HOT-eligible; no foreign keys between hot tables (no
//! FK lock traffic on the send path); bodies are `text` (exact bytes, no `jsonb` reordering).
//! The hot tables the worker scans in system context (deliveries, lanes, attempts) have no index
//! leading with `tenant_id`: the policy's bounds are parameters the planner cannot see, so it
//! takes the system context's whole-range bound for a selective one and ANDs a scan of such an
//! index into the claim (measured: 336 ms instead of 10 ms at 1M deliveries). Tenants reach
//! those rows through their endpoint, message or delivery indexes.
//! Uniqueness that involves `tenant_id` folds NULL (operator level) into one value with
//! `coalesce`, which works from PostgreSQL 13 on; and it includes `tenant_id` everywhere (the
//! inbox too), because a unique index sees every tenant's rows: without it one tenant's key
//! would collide with another's invisible row.

use super::{quote_ident, Store, SCHEMA_VERSION};
use crate::policy::context::current_tenant_expr;

/// Tables with `tenant_id` (row-level security applies) and whether they are partitioned.
/// Pending deliveries as `deliveries_waiting_idx` holds them; retention's query states the same
/// condition, so that the index answers it.
pub(super) const WAITING: &str = "status = 'pending' AND attempt_count >= 0";

pub const TENANT_TABLES: [(&str, bool); 11] = [
    ("endpoints", false),
    ("messages", true),
    ("ordering_keys", false),
    ("ordering_progress", false),
    ("idempotency_keys", false),
    ("lanes", false),
    ("deliveries", false),
    ("attempts", true),
    ("attempt_errors", false),
    ("operational_events", false),
    ("inbox", false),
];

/// Every table `migrate` creates (without `webhook_`), partitions aside.
pub const TABLES: [&str; 13] = [
    "endpoints",
    "messages",
    "ordering_keys",
    "ordering_progress",
    "idempotency_keys",
    "lanes",
    "deliveries",
    "attempts",
    "attempt_errors",
    "operational_events",
    "inbox",
    "workers",
    "meta",
];

pub use crate::store::partitions::DEFAULT_PARTITIONS_AHEAD;

impl Store {
    fn unique_tenant_key(&self, name: &str, table: &str, rest: &str) -> String {
        format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (({}), {rest});\n",
            quote_ident(&format!("webhook_{name}")),
            self.table(table),
            Store::tenant_key("tenant_id")
        )
    }

    /// The indexes [`Store::tables_sql`] creates, as `(table, index)` without schema, read
    /// from its text so that `check` expects exactly what `migrate` makes.
    #[must_use]
    pub fn expected_indexes(&self) -> Vec<(String, String)> {
        self.indexes_in(&self.tables_sql(), &TABLES)
    }

    /// `CREATE TABLE` statements and indexes, without RLS and partitions.
    #[must_use]
    pub fn tables_sql(&self) -> String {
        let t = |n: &str| self.table(n);
        let tenant = format!("tenant_id uuid DEFAULT {}", current_tenant_expr());
        let mut out = self.create_schema_sql();
        out.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {endpoints} (
  id uuid PRIMARY KEY,
  {tenant},
  url text NOT NULL,
  description text,
  event_types text[],
  ordering text NOT NULL DEFAULT 'none' CHECK (ordering IN ('none', 'key')),
  status text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled', 'deleted')),
  disabled_reason text,
  keys jsonb NOT NULL,
  headers jsonb,
  rate_limit_per_second int CHECK (rate_limit_per_second BETWEEN 1 AND 10000),
  metadata jsonb,
  failing_since timestamptz,
  last_success_at timestamptz,
  paused_until timestamptz,
  pause_seconds int,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
",
            endpoints = t("endpoints"),
        ));
        out.push_str(&self.index(
            "endpoints_fanout_idx",
            "endpoints",
            "(tenant_id, created_at) WHERE status = 'enabled'",
        ));
        out.push_str(&self.index("endpoints_tenant_idx", "endpoints", "(tenant_id)"));
        out.push_str(&format!(
            "
CREATE TABLE IF NOT EXISTS {messages} (
  id uuid NOT NULL,
  {tenant},
  event_type text NOT NULL,
  body text,
  body_sha256 bytea NOT NULL,
  content_type text NOT NULL DEFAULT 'application/json',
  ordering_key text,
  ordering_seq bigint,
  idempotency_key text,
  target_endpoints uuid[],
  deliver_after timestamptz NOT NULL DEFAULT now(),
  expanded_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (created_at, id)
) PARTITION BY RANGE (created_at);
CREATE TABLE IF NOT EXISTS {messages_default} PARTITION OF {messages} DEFAULT;
",
            messages = t("messages"),
            messages_default = t("messages_default"),
        ));
        out.push_str(&self.index(
            "messages_unexpanded_idx",
            "messages",
            "(created_at) WHERE expanded_at IS NULL",
        ));
        out.push_str(&self.index("messages_id_idx", "messages", "(id)"));
        out.push_str(&self.index(
            "messages_tenant_type_idx",
            "messages",
            "(tenant_id, event_type, created_at DESC)",
        ));
        out.push_str(&format!(
            "
CREATE TABLE IF NOT EXISTS {ordering_keys} (
  {tenant},
  key text NOT NULL,
  last_seq bigint NOT NULL
);
",
            ordering_keys = t("ordering_keys")
        ));
        out.push_str(&self.unique_tenant_key("ordering_keys_key_idx", "ordering_keys", "key"));
        out.push_str(&format!(
            "
CREATE TABLE IF NOT EXISTS {progress} (
  {tenant},
  key text NOT NULL,
  expanded_seq bigint NOT NULL DEFAULT 0
);
",
            progress = t("ordering_progress")
        ));
        out.push_str(&self.unique_tenant_key(
            "ordering_progress_key_idx",
            "ordering_progress",
            "key",
        ));
        out.push_str(&format!(
            "
CREATE TABLE IF NOT EXISTS {idempotency} (
  {tenant},
  key text NOT NULL,
  message_id uuid NOT NULL,
  message_created_at timestamptz NOT NULL,
  body_sha256 bytea NOT NULL,
  expires_at timestamptz NOT NULL
);
",
            idempotency = t("idempotency_keys")
        ));
        out.push_str(&self.unique_tenant_key(
            "idempotency_keys_key_idx",
            "idempotency_keys",
            "key",
        ));
        out.push_str(&self.index(
            "idempotency_keys_expiry_idx",
            "idempotency_keys",
            "(expires_at)",
        ));
        out.push_str(&format!(
            "
CREATE TABLE IF NOT EXISTS {lanes} (
  id uuid PRIMARY KEY,
  {tenant},
  endpoint_id uuid NOT NULL,
  ordering_key text NOT NULL,
  assign_seq bigint NOT NULL DEFAULT 0,
  head_seq bigint NOT NULL DEFAULT 1,
  state text NOT NULL CHECK (state IN ('idle', 'ready', 'in_flight', 'blocked')),
  next_attempt_at timestamptz,
  UNIQUE (endpoint_id, ordering_key)
);
",
            lanes = t("lanes")
        ));
        out.push_str(&self.index(
            "lanes_ready_idx",
            "lanes",
            "(next_attempt_at) WHERE state = 'ready'",
        ));
        out.push_str(&format!(
            "
CREATE TABLE IF NOT EXISTS {deliveries} (
  id uuid PRIMARY KEY,
  {tenant},
  message_id uuid NOT NULL,
  message_created_at timestamptz NOT NULL,
  endpoint_id uuid NOT NULL,
  lane_id uuid,
  lane_seq bigint,
  status text NOT NULL CHECK (status IN ('pending', 'in_flight', 'succeeded', 'exhausted', 'cancelled', 'skipped')),
  attempt_count int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  lease_until timestamptz,
  lease_token uuid,
  lease_owner text,
  last_outcome text,
  last_status smallint,
  trigger text NOT NULL DEFAULT 'scheduled',
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (message_id, endpoint_id)
) WITH (fillfactor = 70);
",
            deliveries = t("deliveries")
        ));
        let waiting = format!("(message_created_at) WHERE {WAITING}");
        for (name, def) in [
            (
                "deliveries_due_idx",
                "(next_attempt_at) WHERE status = 'pending' AND lane_id IS NULL",
            ),
            (
                "deliveries_lease_idx",
                "(lease_until) WHERE status = 'in_flight'",
            ),
            (
                "deliveries_lane_idx",
                "(lane_id, lane_seq) WHERE lane_id IS NOT NULL",
            ),
            ("deliveries_endpoint_idx", "(endpoint_id, created_at DESC)"),
            (
                "deliveries_finished_idx",
                "(finished_at) WHERE finished_at IS NOT NULL",
            ),
            // Oldest message still needed: retention keeps its partition (in-flight ones are
            // few, found through the lease index). Pending only, so that a claim, which makes a
            // delivery in flight, adds no entry here (one index fewer to write per claimed row).
            // `attempt_count >= 0` always holds; the claim's conditions do not imply it, which
            // keeps its planner on the due index (an unconditioned walk of this one also
            // satisfies `status = 'pending'`).
            ("deliveries_waiting_idx", waiting.as_str()),
        ] {
            out.push_str(&self.index(name, "deliveries", def));
        }
        // Replaced by `deliveries_waiting_idx` (schema of 2026-12).
        out.push_str(&format!(
            "DROP INDEX IF EXISTS {};\n",
            self.table("deliveries_unfinished_idx")
        ));
        out.push_str(&format!(
            "
CREATE TABLE IF NOT EXISTS {attempts} (
  id uuid NOT NULL,
  {tenant},
  delivery_id uuid NOT NULL,
  message_id uuid NOT NULL,
  endpoint_id uuid NOT NULL,
  attempt_number int NOT NULL,
  trigger text NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms int,
  outcome text NOT NULL,
  http_status smallint,
  response_body text,
  request_timestamp bigint NOT NULL,
  worker_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (created_at, id)
) PARTITION BY RANGE (created_at);
CREATE TABLE IF NOT EXISTS {attempts_default} PARTITION OF {attempts} DEFAULT;
ALTER TABLE {attempts} DROP COLUMN IF EXISTS operator_error;
",
            attempts = t("attempts"),
            attempts_default = t("attempts_default"),
        ));
        out.push_str(&self.index("attempts_delivery_idx", "attempts", "(delivery_id)"));
        out.push_str(&self.index(
            "attempts_endpoint_idx",
            "attempts",
            "(endpoint_id, created_at DESC) INCLUDE (outcome, http_status)",
        ));
        // The socket error text of an attempt, for operators only (spec §10.3): its rows are
        // operator-level (`tenant_id` stays NULL), so the tenant policy shows them in system
        // context only, whatever a tenant's query selects. A column of the attempts table would
        // share its row's visibility.
        out.push_str(&format!(
            "
CREATE TABLE IF NOT EXISTS {errors} (
  attempt_id uuid NOT NULL,
  tenant_id uuid,
  delivery_id uuid NOT NULL,
  endpoint_id uuid NOT NULL,
  error text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (attempt_id)
);
",
            errors = t("attempt_errors"),
        ));
        for (name, def) in [
            ("attempt_errors_delivery_idx", "(delivery_id)"),
            // Retention deletes by age.
            ("attempt_errors_created_idx", "(created_at)"),
        ] {
            out.push_str(&self.index(name, "attempt_errors", def));
        }
        out.push_str(&format!(
            "
CREATE TABLE IF NOT EXISTS {workers} (
  id text PRIMARY KEY,
  last_seen timestamptz NOT NULL,
  in_flight int,
  version text
);

CREATE TABLE IF NOT EXISTS {events} (
  id uuid PRIMARY KEY,
  {tenant},
  type text NOT NULL,
  data jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
",
            workers = t("workers"),
            events = t("operational_events"),
        ));
        out.push_str(&self.index(
            "operational_events_tenant_idx",
            "operational_events",
            "(tenant_id, created_at)",
        ));
        out.push_str(&self.index(
            "operational_events_created_idx",
            "operational_events",
            "(created_at)",
        ));
        out.push_str(&format!(
            "
CREATE TABLE IF NOT EXISTS {inbox} (
  source text NOT NULL,
  webhook_id text NOT NULL,
  {tenant},
  received_at timestamptz NOT NULL DEFAULT now()
);
",
            inbox = t("inbox")
        ));
        out.push_str(&self.unique_tenant_key("inbox_key_idx", "inbox", "source, webhook_id"));
        out.push_str(&self.index("inbox_received_idx", "inbox", "(received_at)"));
        out.push_str(&format!(
            "
CREATE TABLE IF NOT EXISTS {meta} (
  key text PRIMARY KEY,
  value text
);
",
            meta = t("meta")
        ));
        out
    }

    /// The whole migration at `now_ms`: tables, partitions for the current period and
    /// `ahead` more, row-level security (with `rls`), and the schema version last, so a
    /// migration that stopped half-way is not taken for a complete one.
    #[must_use]
    pub fn migration_sql(&self, now_ms: i64, ahead: u32) -> String {
        let mut out = String::from(
            "-- Better Webhooks: tables, indexes, partitions and tenant isolation.\n-- Idempotent: safe to re-run.\n\n",
        );
        out.push_str(&self.tables_sql());
        out.push('\n');
        out.push_str(&self.ensure_partitions_sql(now_ms, ahead));
        if self.rls {
            out.push_str(&self.rls_sql(&TENANT_TABLES));
        }
        out.push_str(&self.record_version_sql(SCHEMA_VERSION));
        out
    }
}
