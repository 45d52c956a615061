//! Endpoint management (spec §7): create, read, list, patch, enable, disable, key replacement
//! and health. Every statement takes the tenant as `$1` (NULL: the scope's tenant; a value: system
//! context with `tenantId`) and reads through [`Store::read_scope`], so with or without row-level
//! security an endpoint of another tenant is "not found". Deleted endpoints (soft delete,
//! [`Store::delete_endpoint`]) are invisible except to a list that asks for them and to `rekey`.
//!
//! No statement returns `keys`, the sealed secrets, except the two that exist to read them
//! ([`Store::endpoint_keys`], [`Store::endpoint_keys_page`]); the others give the current key's
//! scheme as `signing`.

use super::{before_cursor, micros_sql, Statement, Store, NIL_UUID};

/// Columns a patch can set (`fields` of [`Store::update_endpoint`]); a field not listed keeps
/// its value, a listed one takes its parameter, NULL included.
pub const ENDPOINT_PATCH_FIELDS: [&str; 8] = [
    "url",
    "description",
    "event_types",
    "ordering",
    "headers",
    "rate_limit_per_second",
    "metadata",
    "enabled",
];

/// Namespace of the per-tenant advisory lock of [`Store::lock_endpoint_limit`].
const LIMIT_LOCK: &str = "better_webhooks.endpoints:";

fn columns() -> String {
    format!(
        "e.id, e.tenant_id, e.url, e.description, e.event_types, e.ordering, e.status, e.disabled_reason,
  e.keys->0->>'kind' AS signing, e.headers, e.rate_limit_per_second, e.metadata,
  e.failing_since, e.last_success_at, e.paused_until, e.created_at, e.updated_at, {} AS created_at_us",
        micros_sql("e.created_at")
    )
}

/// SET clauses that move `status` when `when` holds: to `enabled` when `enable` holds (clearing
/// the reason, and the failure clock and pause when `clear` holds), else to `disabled` with
/// `reason`.
fn status_change(when: &str, enable: &str, reason: &str, clear: &str) -> String {
    format!(
        "status = CASE WHEN {when} THEN CASE WHEN {enable} THEN 'enabled' ELSE 'disabled' END ELSE e.status END,
  disabled_reason = CASE WHEN {when} THEN CASE WHEN {enable} THEN NULL ELSE {reason} END ELSE e.disabled_reason END,
  failing_since = CASE WHEN {clear} THEN NULL ELSE e.failing_since END,
  paused_until = CASE WHEN {clear} THEN NULL ELSE e.paused_until END,
  pause_seconds = CASE WHEN {clear} THEN NULL ELSE e.pause_seconds END,
  updated_at = now()"
    )
}

impl Store {
    /// The live endpoint (not deleted) `$2` of the reader's tenant, locked for this statement's
    /// UPDATE; `old.status` is its status before.
    fn locked_endpoint(&self) -> String {
        format!(
            "(SELECT x.id, x.status FROM {} x WHERE x.id = $2 AND x.status <> 'deleted' AND {} FOR UPDATE) old",
            self.table("endpoints"),
            Store::read_scope("x.tenant_id", "$1")
        )
    }

    /// The live endpoint `$2` of the reader's tenant: `columns`, or no row.
    fn live_endpoint(&self, columns: &str) -> Statement {
        Statement::new(
            format!(
                "SELECT {columns} FROM {e} e WHERE e.id = $2 AND e.status <> 'deleted' AND {scope}",
                e = self.table("endpoints"),
                scope = Store::read_scope("e.tenant_id", "$1"),
            ),
            &[("tenant_id", "uuid"), ("id", "uuid")],
        )
    }

    /// `UPDATE … SET {set}` of the live endpoint `$2`, returning it and `previous_status`.
    fn change_endpoint(&self, set: &str, params: &[(&'static str, &'static str)]) -> Statement {
        Statement::new(
            format!(
                "UPDATE {e} e SET
  {set}
FROM {old}
WHERE e.id = old.id
RETURNING {columns}, old.status AS previous_status",
                e = self.table("endpoints"),
                old = self.locked_endpoint(),
                columns = columns(),
            ),
            params,
        )
    }

    /// Run before [`Store::insert_endpoint`], in the same transaction: a transaction-level
    /// advisory lock per tenant, so two creates of one tenant count one after the other.
    /// It has to be a statement of its own: under READ COMMITTED a statement's snapshot is taken
    /// when it starts, so a count in the statement that waited for the lock would still miss
    /// the endpoint the other transaction committed meanwhile; the next statement sees it. (There
    /// is no per-tenant row to lock with FOR UPDATE, and the first endpoint has none to lock.)
    #[must_use]
    pub fn lock_endpoint_limit(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT pg_advisory_xact_lock(hashtextextended({lock} || coalesce({tenant}, '{NIL_UUID}'::uuid)::text, 0))",
                lock = super::quote_literal(LIMIT_LOCK),
                tenant = Store::tenant_value("$1"),
            ),
            &[("tenant_id", "uuid")],
        )
    }

    /// `endpoints.create`: inserts the endpoint unless its tenant already has `$12` live
    /// (enabled or disabled) endpoints; no row returned means `WEBHOOKS_LIMIT_REACHED`. `keys` is
    /// the stored form (sealed by the caller), `ordering` NULL is `none`, `enabled` NULL is
    /// true; an endpoint created disabled has reason `manual`. Returns the endpoint.
    #[must_use]
    pub fn insert_endpoint(&self) -> Statement {
        let e = self.table("endpoints");
        Statement::new(
            format!(
                "INSERT INTO {e} AS e (id, tenant_id, url, description, event_types, ordering, status, disabled_reason, keys, headers, rate_limit_per_second, metadata)
SELECT $2, t.tenant_id, $3, $4, $5::text[], coalesce($6, 'none'),
       CASE WHEN coalesce($7::boolean, true) THEN 'enabled' ELSE 'disabled' END,
       CASE WHEN coalesce($7::boolean, true) THEN NULL ELSE 'manual' END,
       $8::jsonb, $9::jsonb, $10::int, $11::jsonb
FROM (SELECT {tenant} AS tenant_id) t
WHERE (SELECT count(*) FROM {e} c
       WHERE (c.tenant_id = t.tenant_id OR (c.tenant_id IS NULL AND t.tenant_id IS NULL)) AND c.status <> 'deleted') < $12
RETURNING {columns}",
                tenant = Store::tenant_value("$1"),
                columns = columns(),
            ),
            &[
                ("tenant_id", "uuid"),
                ("id", "uuid"),
                ("url", "text"),
                ("description", "text"),
                ("event_types", "text[]"),
                ("ordering", "text"),
                ("enabled", "boolean"),
                ("keys", "jsonb"),
                ("headers", "jsonb"),
                ("rate_limit_per_second", "int"),
                ("metadata", "jsonb"),
                ("max_endpoints", "int"),
            ],
        )
    }

    /// `endpoints.get`: the live endpoint `$2`, or no row.
    #[must_use]
    pub fn get_endpoint(&self) -> Statement {
        self.live_endpoint(&columns())
    }

    /// `endpoints.list`: newest first, at most `$5` rows, after the cursor (`$3`, `$4`); status
    /// `$2`, or every live one when NULL.
    #[must_use]
    pub fn list_endpoints(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT {columns} FROM {e} e
WHERE {scope} AND (($2::text IS NULL AND e.status <> 'deleted') OR e.status = $2) AND {after}
ORDER BY e.created_at DESC, e.id DESC
LIMIT $5",
                columns = columns(),
                e = self.table("endpoints"),
                scope = Store::read_scope("e.tenant_id", "$1"),
                after = before_cursor("e", "$3", "$4"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("status", "text"),
                ("after_at", "timestamptz"),
                ("after_id", "uuid"),
                ("limit", "int"),
            ],
        )
    }

    /// `endpoints.update`: sets the columns named in `$3` (see [`ENDPOINT_PATCH_FIELDS`]) to
    /// their parameters. `enabled` moves the status; enabling a disabled endpoint also clears
    /// its failure clock and pause, as [`Store::enable_endpoint`] does. Returns the endpoint and
    /// `previous_status` (an operational event is due when it changed), or no row.
    #[must_use]
    pub fn update_endpoint(&self) -> Statement {
        let patch: Vec<String> = [
            ("url", "$4"),
            ("description", "$5"),
            ("event_types", "$6::text[]"),
            ("ordering", "$7"),
            ("headers", "$8::jsonb"),
            ("rate_limit_per_second", "$9::int"),
            ("metadata", "$10::jsonb"),
        ]
        .iter()
        .map(|(field, param)| {
            format!("{field} = CASE WHEN '{field}' = ANY($3) THEN {param} ELSE e.{field} END,\n  ")
        })
        .collect();
        self.change_endpoint(
            &(patch.concat()
                + &status_change(
                    "'enabled' = ANY($3)",
                    "$11::boolean",
                    "'manual'",
                    "'enabled' = ANY($3) AND $11 AND e.status <> 'enabled'",
                )),
            &[
                ("tenant_id", "uuid"),
                ("id", "uuid"),
                ("fields", "text[]"),
                ("url", "text"),
                ("description", "text"),
                ("event_types", "text[]"),
                ("ordering", "text"),
                ("headers", "jsonb"),
                ("rate_limit_per_second", "int"),
                ("metadata", "jsonb"),
                ("enabled", "boolean"),
            ],
        )
    }

    /// `endpoints.enable`: enabled, with the reason, the failure clock (`failing_since`) and
    /// the pause cleared, so auto-disable starts counting afresh. Its pending deliveries are
    /// claimed again from now on. Returns the endpoint and `previous_status`, or no row.
    #[must_use]
    pub fn enable_endpoint(&self) -> Statement {
        self.change_endpoint(
            &status_change("true", "true", "NULL", "true"),
            &[("tenant_id", "uuid"), ("id", "uuid")],
        )
    }

    /// `endpoints.disable`: disabled with reason `$3`; pending deliveries stay pending (they are
    /// not claimed until `enable`). Returns the endpoint and `previous_status`, or no row.
    #[must_use]
    pub fn disable_endpoint(&self) -> Statement {
        self.change_endpoint(
            &status_change("true", "false", "$3", "false"),
            &[("tenant_id", "uuid"), ("id", "uuid"), ("reason", "text")],
        )
    }

    /// The stored keys of the live endpoint `$2` (for `rotateSecret` and `revealSecret`), with
    /// `updated_at`; pass `keys` back as the `expected` of [`Store::set_endpoint_keys`].
    #[must_use]
    pub fn endpoint_keys(&self) -> Statement {
        self.live_endpoint("e.id, e.keys, e.updated_at")
    }

    /// `rekey`, in system context: every endpoint's keys (deleted ones too: their secrets are
    /// sealed as well), by id after `$1`, at most `$2`.
    #[must_use]
    pub fn endpoint_keys_page(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT e.id, e.keys FROM {e} e WHERE ($1::uuid IS NULL OR e.id > $1) ORDER BY e.id LIMIT $2",
                e = self.table("endpoints"),
            ),
            &[("after_id", "uuid"), ("limit", "int")],
        )
    }

    /// Replaces keys (rotation, `rekey`), one row per endpoint: `keys` is written only where the
    /// stored value still equals `expected` (jsonb equality), so of two concurrent rotations the
    /// second changes nothing instead of dropping the first one's key. Returns the ids written;
    /// a missing id lost the race (read again and retry) or is gone.
    #[must_use]
    pub fn set_endpoint_keys(&self) -> Statement {
        Statement::new(
            format!(
                "UPDATE {e} e SET keys = x.keys, updated_at = now()
FROM unnest($2::uuid[], $3::jsonb[], $4::jsonb[]) AS x(id, expected, keys)
WHERE e.id = x.id AND e.keys = x.expected AND {scope}
RETURNING e.id",
                e = self.table("endpoints"),
                scope = Store::read_scope("e.tenant_id", "$1"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("ids", "uuid[]"),
                ("expected", "jsonb[]"),
                ("keys", "jsonb[]"),
            ],
        )
    }

    /// `endpoints.health`: the failure clock, the last success (the endpoint row records it only
    /// when a failure streak ends, so a steady stream of successes writes nothing to it; the
    /// last 24 hours' attempts give the latest), and over the last 24 hours the
    /// share of attempts that succeeded and the 95th percentile duration (NULL without
    /// attempts), plus the number of blocked lanes. Attempts cut short by the engine
    /// (`lease_expired`, `worker_shutdown`) say nothing about the endpoint and are left out, as
    /// in auto-disable. No row: not found.
    #[must_use]
    pub fn endpoint_health(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT e.id, e.status, e.disabled_reason, e.failing_since,
       greatest(e.last_success_at, a.last_ok) AS last_success_at, e.paused_until,
       a.success_rate_24h, a.p95_ms_24h, l.blocked_lanes
FROM {e} e
CROSS JOIN LATERAL (
  SELECT (count(*) FILTER (WHERE x.outcome = 'ok'))::double precision / nullif(count(*), 0) AS success_rate_24h,
         percentile_disc(0.95) WITHIN GROUP (ORDER BY x.duration_ms) AS p95_ms_24h,
         max(x.created_at) FILTER (WHERE x.outcome = 'ok') AS last_ok
  FROM {a} x
  WHERE x.endpoint_id = e.id AND x.created_at >= now() - interval '24 hours'
    AND x.outcome NOT IN ('lease_expired', 'worker_shutdown')
) a
CROSS JOIN LATERAL (
  SELECT count(*) AS blocked_lanes FROM {lanes} ln WHERE ln.endpoint_id = e.id AND ln.state = 'blocked'
) l
WHERE e.id = $2 AND e.status <> 'deleted' AND {scope}",
                e = self.table("endpoints"),
                a = self.table("attempts"),
                lanes = self.table("lanes"),
                scope = Store::read_scope("e.tenant_id", "$1"),
            ),
            &[("tenant_id", "uuid"), ("id", "uuid")],
        )
    }
}
