//! The email tables and indexes (`better-email migrate`). Idempotent: every object is created
//! `IF NOT EXISTS` under a fixed name, the policies are replaced and the function is
//! `CREATE OR REPLACE`d with the same text, so running it twice changes nothing.
//!
//! Choices (as the webhook tables): messages, recipients, attempts and events are append-mostly
//! and partitioned by week, each with a DEFAULT partition for rows outside the created ones, so
//! retention drops whole partitions; no foreign keys between hot tables; every table with
//! `tenant_id` defaults it to the transaction's tenant. Uniqueness that involves `tenant_id` is
//! `UNIQUE NULLS NOT DISTINCT` (PostgreSQL 15): "no tenant" is one value, and the key includes
//! the tenant because a unique index sees every tenant's rows.

use super::{suppressed, Store, SCHEMA_VERSION};
use crate::policy::context::current_tenant_expr;

/// Tables with `tenant_id` (row-level security applies) and whether they are partitioned.
pub const TENANT_TABLES: [(&str, bool); 10] = [
    ("messages", true),
    ("recipients", true),
    ("attachments", false),
    ("attempts", true),
    ("events", true),
    ("suppressions", false),
    ("senders", false),
    ("templates", false),
    ("idempotency_keys", false),
    ("tenant_settings", false),
];

/// Every table `migrate` creates (without `email_`), partitions aside.
pub const TABLES: [&str; 14] = [
    "messages",
    "recipients",
    "attachments",
    "attempts",
    "events",
    "event_keys",
    "suppressions",
    "senders",
    "templates",
    "idempotency_keys",
    "rate_buckets",
    "tenant_settings",
    "workers",
    "meta",
];

impl Store {
    /// The indexes [`Store::tables_sql`] creates, as `(table, index)` without schema.
    #[must_use]
    pub fn expected_indexes(&self) -> Vec<(String, String)> {
        self.indexes_in(&self.tables_sql(), &TABLES)
    }

    /// `CREATE TABLE … PARTITION BY RANGE (column)` and its DEFAULT partition.
    fn partitioned(&self, name: &str, body: &str, column: &str) -> String {
        format!(
            "
CREATE TABLE IF NOT EXISTS {table} ({body}
) PARTITION BY RANGE ({column});
CREATE TABLE IF NOT EXISTS {default} PARTITION OF {table} DEFAULT;
",
            table = self.table(name),
            default = self.table(&format!("{name}_default")),
        )
    }

    fn plain(&self, name: &str, body: &str) -> String {
        format!(
            "
CREATE TABLE IF NOT EXISTS {} ({body}
);
",
            self.table(name)
        )
    }

    /// `CREATE TABLE` statements and indexes, without RLS, partitions and the function.
    #[must_use]
    pub fn tables_sql(&self) -> String {
        let tenant = format!("tenant_id uuid DEFAULT {}", current_tenant_expr());
        let mut out = self.create_schema_sql();
        out.push_str(&self.partitioned(
            "messages",
            &format!(
                "
  id uuid NOT NULL,
  {tenant},
  category text NOT NULL,
  priority smallint NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'in_flight', 'sent', 'failed', 'expired', 'cancelled', 'suppressed', 'ambiguous')),
  from_addr text NOT NULL,
  reply_to text[],
  subject text,
  html text,
  text_body text,
  headers jsonb,
  template text,
  template_version text,
  locale text,
  props jsonb,
  rendered boolean NOT NULL,
  message_id_header text NOT NULL,
  date_header timestamptz NOT NULL,
  tags jsonb,
  idempotency_key text,
  transport text,
  route_key text,
  batch_id text,
  provider_message_id text,
  attempt_count int NOT NULL DEFAULT 0,
  send_at timestamptz NOT NULL DEFAULT now(),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  lease_until timestamptz,
  lease_token uuid,
  lease_owner text,
  last_outcome text,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (created_at, id)"
            ),
            "created_at",
        ));
        for (name, def) in [
            (
                "messages_queued_idx",
                "(priority, next_attempt_at) WHERE status = 'queued'",
            ),
            (
                "messages_lease_idx",
                "(lease_until) WHERE status = 'in_flight'",
            ),
            // The claim's expiry step: queued mail past `expires_at`, without reading the queue.
            (
                "messages_expiry_idx",
                "(expires_at) WHERE status = 'queued' AND expires_at IS NOT NULL",
            ),
            ("messages_id_idx", "(id)"),
            // A batch request's members, by its key (the claim takes them together).
            (
                "messages_batch_idx",
                "(batch_id) WHERE batch_id IS NOT NULL",
            ),
            // Batch requests waiting to be repeated: few, and found without reading the queue.
            (
                "messages_rebatch_idx",
                "(next_attempt_at) WHERE status = 'queued' AND batch_id IS NOT NULL",
            ),
            (
                "messages_provider_idx",
                "(provider_message_id) WHERE provider_message_id IS NOT NULL",
            ),
            ("messages_tenant_idx", "(tenant_id, created_at DESC)"),
        ] {
            out.push_str(&self.index(name, "messages", def));
        }
        out.push_str(&self.partitioned(
            "recipients",
            &format!(
                "
  message_id uuid NOT NULL,
  {tenant},
  kind text NOT NULL CHECK (kind IN ('to', 'cc', 'bcc')),
  address text,
  address_key text NOT NULL,
  name text,
  status text NOT NULL CHECK (status IN ('pending', 'suppressed', 'sent', 'delivered', 'deferred', 'bounced', 'complained', 'rejected')),
  suppression_reason text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL,
  PRIMARY KEY (created_at, message_id, address_key)"
            ),
            "created_at",
        ));
        out.push_str(&self.index(
            "recipients_address_idx",
            "recipients",
            "(address_key, created_at DESC)",
        ));
        out.push_str(&self.plain(
            "attachments",
            &format!(
                "
  message_id uuid NOT NULL,
  {tenant},
  idx smallint NOT NULL,
  filename text NOT NULL,
  content_type text NOT NULL,
  content_id text,
  content bytea NOT NULL,
  PRIMARY KEY (message_id, idx)"
            ),
        ));
        out.push_str(&self.partitioned(
            "attempts",
            &format!(
                "
  id uuid NOT NULL,
  {tenant},
  message_id uuid NOT NULL,
  attempt_number int NOT NULL,
  transport text NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms int,
  outcome text NOT NULL,
  provider_status int,
  provider_message_id text,
  detail text,
  worker_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (created_at, id)"
            ),
            "created_at",
        ));
        out.push_str(&self.index("attempts_message_idx", "attempts", "(message_id)"));
        out.push_str(&self.partitioned(
            "events",
            &format!(
                "
  id uuid NOT NULL,
  {tenant},
  provider text NOT NULL,
  provider_event_id text NOT NULL,
  message_id uuid,
  type text NOT NULL,
  bounce text,
  address_key text NOT NULL,
  occurred_at timestamptz NOT NULL,
  detail jsonb,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (received_at, id)"
            ),
            "received_at",
        ));
        // The soft-bounce rule counts an address's recent soft bounces.
        out.push_str(&self.index(
            "events_address_idx",
            "events",
            "(address_key, occurred_at DESC)",
        ));
        // Deduplication across partitions: a unique key on `email_events` would have to
        // include `received_at`.
        out.push_str(&self.plain(
            "event_keys",
            "
  provider text,
  provider_event_id text,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (provider, provider_event_id)",
        ));
        out.push_str(&self.index("event_keys_expiry_idx", "event_keys", "(expires_at)"));
        out.push_str(&self.plain(
            "suppressions",
            &format!(
                "
  id uuid PRIMARY KEY,
  {tenant},
  address text,
  address_hash bytea NOT NULL,
  category text,
  reason text NOT NULL CHECK (reason IN ('hard_bounce', 'complaint', 'soft_bounce', 'unsubscribe', 'manual')),
  source text,
  note text,
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (tenant_id, address_hash, category, reason)"
            ),
        ));
        out.push_str(&self.index("suppressions_hash_idx", "suppressions", "(address_hash)"));
        out.push_str(&self.plain(
            "senders",
            &format!(
                "
  id uuid PRIMARY KEY,
  {tenant},
  domain text NOT NULL,
  address text,
  display_name text,
  transport text,
  transport_identity text,
  transport_credentials jsonb,
  verified_at timestamptz,
  dns_report jsonb,
  is_default boolean NOT NULL DEFAULT false,
  first_send_on date,
  created_at timestamptz NOT NULL DEFAULT now()"
            ),
        ));
        // The send path's lookups: a `from`'s domain, and a tenant's verified default.
        out.push_str(&self.index("senders_domain_idx", "senders", "(domain)"));
        out.push_str(&self.index(
            "senders_default_idx",
            "senders",
            "(tenant_id, created_at) WHERE is_default AND verified_at IS NOT NULL",
        ));
        out.push_str(&self.plain(
            "templates",
            &format!(
                "
  id uuid PRIMARY KEY,
  {tenant},
  name text NOT NULL,
  locale text NOT NULL DEFAULT '',
  version int NOT NULL,
  subject text NOT NULL,
  html text,
  text_body text,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (tenant_id, name, locale, version)"
            ),
        ));
        out.push_str(&self.plain(
            "idempotency_keys",
            &format!(
                "
  {tenant},
  key text NOT NULL,
  message_id uuid NOT NULL,
  request_sha256 bytea NOT NULL,
  expires_at timestamptz NOT NULL,
  UNIQUE NULLS NOT DISTINCT (tenant_id, key)"
            ),
        ));
        out.push_str(&self.index(
            "idempotency_keys_expiry_idx",
            "idempotency_keys",
            "(expires_at)",
        ));
        out.push_str(&self.plain(
            "rate_buckets",
            "
  key text PRIMARY KEY,
  tokens double precision NOT NULL,
  capacity double precision NOT NULL,
  refill_per_sec double precision NOT NULL,
  updated_at timestamptz NOT NULL",
        ));
        out.push_str(&self.plain(
            "tenant_settings",
            &format!(
                "
  {tenant} PRIMARY KEY,
  limits jsonb,
  transport text,
  paused boolean NOT NULL DEFAULT false"
            ),
        ));
        out.push_str(&self.plain(
            "workers",
            "
  id text PRIMARY KEY,
  last_seen timestamptz NOT NULL,
  in_flight int,
  version text",
        ));
        out.push_str(&self.plain(
            "meta",
            "
  key text PRIMARY KEY,
  value text",
        ));
        out
    }

    /// The whole migration at `now_ms`: tables, partitions for the current period and `ahead`
    /// more, row-level security (with `rls`), the suppression lookup and enqueue functions, and the schema
    /// version last, so a migration that stopped half-way is not taken for a complete one.
    #[must_use]
    pub fn migration_sql(&self, now_ms: i64, ahead: u32) -> String {
        let mut out = String::from(
            "-- Better Email: tables, indexes, partitions, tenant isolation, the suppression lookup and the enqueue function.\n-- Idempotent: safe to re-run.\n\n",
        );
        out.push_str(&self.tables_sql());
        out.push('\n');
        out.push_str(&self.ensure_partitions_sql(now_ms, ahead));
        if self.rls {
            out.push_str(&self.rls_sql(&TENANT_TABLES));
        }
        out.push('\n');
        out.push_str(&suppressed::function_sql(self));
        out.push_str(&self.enqueue_function_sql());
        out.push_str(&self.record_version_sql(SCHEMA_VERSION));
        out
    }
}
