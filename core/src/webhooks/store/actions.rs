//! Manual actions (replay, recover, cancel, lane resolution) and the engine side of deleting an
//! endpoint. Each is one statement that returns what the caller needs to tell "not found" or
//! "wrong state" apart from success, so it can raise `WEBHOOKS_NOT_FOUND`,
//! `WEBHOOKS_ENDPOINT_DISABLED` or `WEBHOOKS_INVALID_STATE`. Each takes the tenant as its last
//! parameter and acts only on that tenant's rows ([`Store::read_scope`]): row-level security
//! confines a tenant scope, and this confines an operator's call for one tenant (`{ tenantId }`
//! in system context, as the portal routes make), where row-level security does not apply.

use super::{filter_match_sql, Statement, Store, UUID_V7_SQL};

impl Store {
    /// Replay `$1` (message id) to every endpoint that has a finished delivery of it, or only to
    /// `$2`, where a delivery is created if there was none (once the message is expanded: before,
    /// fan-out creates it). One
    /// immediate attempt, trigger `manual` (the engine schedules no retry after it). A replayed
    /// delivery leaves its lane, except the head of a blocked lane, which unblocks it.
    /// Returns `message_found`, `endpoint_found` (of `$2`: live and this tenant's),
    /// `endpoint_disabled`, `replayed`.
    #[must_use]
    pub fn replay(&self) -> Statement {
        let d = self.table("deliveries");
        let e = self.table("endpoints");
        let lanes = self.table("lanes");
        Statement::new(
            format!(
                "WITH msg AS (
  SELECT id, created_at, tenant_id, expanded_at FROM {m} WHERE id = $1 AND {scope_m}
), upd AS (
  UPDATE {d} d SET status = 'pending', trigger = 'manual', next_attempt_at = now(), finished_at = NULL,
      lane_id = CASE WHEN b.id IS NULL THEN NULL ELSE d.lane_id END,
      lane_seq = CASE WHEN b.id IS NULL THEN NULL ELSE d.lane_seq END
  FROM {d} d0
  JOIN {e} e ON e.id = d0.endpoint_id AND e.status = 'enabled'
  LEFT JOIN {lanes} b ON b.id = d0.lane_id AND b.head_seq = d0.lane_seq AND b.state = 'blocked'
  WHERE d0.id = d.id AND d.message_id = $1 AND EXISTS (SELECT 1 FROM msg) AND ($2::uuid IS NULL OR d.endpoint_id = $2)
    AND d.status IN ('succeeded', 'exhausted', 'cancelled', 'skipped')
  RETURNING d.id, b.id AS blocked_lane
), unblock AS (
  UPDATE {lanes} ln SET state = 'ready', next_attempt_at = now()
  FROM upd u WHERE ln.id = u.blocked_lane
), ins AS (
  INSERT INTO {d} (id, tenant_id, message_id, message_created_at, endpoint_id, status, next_attempt_at, trigger)
  SELECT {UUID_V7_SQL}, msg.tenant_id, msg.id, msg.created_at, e.id, 'pending', now(), 'manual'
  FROM msg JOIN {e} e ON e.id = $2 AND e.status = 'enabled' AND e.tenant_id IS NOT DISTINCT FROM msg.tenant_id
  WHERE msg.expanded_at IS NOT NULL
  ON CONFLICT (message_id, endpoint_id) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM msg) AS message_found,
       (SELECT count(*) FROM {e} x WHERE x.id = $2 AND x.status <> 'deleted' AND {scope_x}) AS endpoint_found,
       (SELECT count(*) FROM {e} x WHERE x.id = $2 AND x.status = 'disabled' AND {scope_x}) AS endpoint_disabled,
       (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins) AS replayed",
                m = self.table("messages"),
                scope_m = Store::read_scope("tenant_id", "$3"),
                scope_x = Store::read_scope("x.tenant_id", "$3"),
            ),
            &[
                ("message_id", "uuid"),
                ("endpoint_id", "uuid"),
                ("tenant_id", "uuid"),
            ],
        )
    }

    /// Recover endpoint `$1`: its `exhausted` deliveries created in [`$2`, `$3` or now) go back
    /// to `pending` with a fresh schedule (trigger `recover`; a blocked lane head unblocks its
    /// lane); with `$4`, messages of the window that matched the endpoint but never got a
    /// delivery (it was disabled) get one. Returns `endpoint_found` (enabled), `endpoint_disabled`,
    /// `recovered`.
    #[must_use]
    pub fn recover(&self) -> Statement {
        let d = self.table("deliveries");
        Statement::new(
            format!(
                "WITH ep AS (
  SELECT id, tenant_id, event_types, created_at FROM {e} WHERE id = $1 AND status = 'enabled' AND {scope}
), upd AS (
  UPDATE {d} d SET status = 'pending', trigger = 'recover', attempt_count = 0, next_attempt_at = now(), finished_at = NULL
  FROM ep
  WHERE d.endpoint_id = ep.id AND d.status = 'exhausted' AND d.created_at >= $2 AND d.created_at < coalesce($3, now())
  RETURNING d.id, d.lane_id, d.lane_seq
), unblock AS (
  UPDATE {lanes} ln SET state = 'ready', next_attempt_at = now()
  FROM upd u WHERE ln.id = u.lane_id AND ln.head_seq = u.lane_seq AND ln.state = 'blocked'
), ins AS (
  INSERT INTO {d} (id, tenant_id, message_id, message_created_at, endpoint_id, status, next_attempt_at, trigger)
  SELECT {UUID_V7_SQL}, m.tenant_id, m.id, m.created_at, ep.id, 'pending', now(), 'recover'
  FROM ep JOIN {m} m ON m.tenant_id IS NOT DISTINCT FROM ep.tenant_id
  WHERE $4 AND m.created_at >= greatest($2, ep.created_at) AND m.created_at < coalesce($3, now())
    AND m.expanded_at IS NOT NULL
    AND {filter}
    AND (m.target_endpoints IS NULL OR ep.id = ANY(m.target_endpoints))
    AND NOT EXISTS (SELECT 1 FROM {d} x WHERE x.message_id = m.id AND x.endpoint_id = ep.id)
  ON CONFLICT (message_id, endpoint_id) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM ep) AS endpoint_found,
       (SELECT count(*) FROM {e} x WHERE x.id = $1 AND x.status = 'disabled' AND {scope_x}) AS endpoint_disabled,
       (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins) AS recovered",
                e = self.table("endpoints"),
                lanes = self.table("lanes"),
                m = self.table("messages"),
                filter = filter_match_sql("ep.event_types", "m.event_type"),
                scope = Store::read_scope("tenant_id", "$5"),
                scope_x = Store::read_scope("x.tenant_id", "$5"),
            ),
            &[
                ("endpoint_id", "uuid"),
                ("since", "timestamptz"),
                ("until", "timestamptz"),
                ("include_missing", "boolean"),
                ("tenant_id", "uuid"),
            ],
        )
    }

    /// `deliveries.cancel($1)`: a pending delivery becomes `cancelled`; at the head of its lane
    /// the lane moves on. Returns `cancelled` (0: not found or not pending).
    #[must_use]
    pub fn cancel_delivery(&self) -> Statement {
        Statement::new(
            format!(
                "WITH c AS (
  UPDATE {d} d SET status = 'cancelled', finished_at = now()
  WHERE d.id = $1 AND d.status = 'pending' AND {scope}
  RETURNING d.lane_id, d.lane_seq
), advanced AS (
  {advance}
)
SELECT count(*) AS cancelled FROM c",
                d = self.table("deliveries"),
                advance = self
                    .advance_lanes("(SELECT lane_id, lane_seq FROM c WHERE lane_id IS NOT NULL)"),
                scope = Store::read_scope("d.tenant_id", "$2"),
            ),
            &[("delivery_id", "uuid"), ("tenant_id", "uuid")],
        )
    }

    /// `endpoints.delete($1)`: soft delete, and its pending deliveries become `cancelled` in the
    /// same statement (in-flight ones finish). Returns `deleted`, `cancelled`.
    #[must_use]
    pub fn delete_endpoint(&self) -> Statement {
        Statement::new(
            format!(
                "WITH del AS (
  UPDATE {e} SET status = 'deleted', updated_at = now() WHERE id = $1 AND status <> 'deleted' AND {scope} RETURNING id
), c AS (
  UPDATE {d} d SET status = 'cancelled', finished_at = now()
  FROM del WHERE d.endpoint_id = del.id AND d.status = 'pending'
  RETURNING 1
)
SELECT (SELECT count(*) FROM del) AS deleted, (SELECT count(*) FROM c) AS cancelled",
                e = self.table("endpoints"),
                d = self.table("deliveries"),
                scope = Store::read_scope("tenant_id", "$2"),
            ),
            &[("endpoint_id", "uuid"), ("tenant_id", "uuid")],
        )
    }

    /// `lanes.resolve($1, { action: "retry" })`: the blocked head gets a fresh schedule and the
    /// lane is ready. Returns `resolved` (0: not found or not blocked).
    #[must_use]
    pub fn resolve_lane_retry(&self) -> Statement {
        Statement::new(
            format!(
                "WITH l AS (
  SELECT id, head_seq FROM {lanes} WHERE id = $1 AND state = 'blocked' AND {scope} FOR UPDATE
), h AS (
  UPDATE {d} d SET status = 'pending', trigger = 'recover', attempt_count = 0, next_attempt_at = now(), finished_at = NULL
  FROM l WHERE d.lane_id = l.id AND d.lane_seq = l.head_seq AND d.status = 'exhausted'
  RETURNING d.lane_id
)
UPDATE {lanes} ln SET state = 'ready', next_attempt_at = now()
FROM h WHERE ln.id = h.lane_id
RETURNING ln.id AS resolved",
                lanes = self.table("lanes"),
                d = self.table("deliveries"),
                scope = Store::read_scope("tenant_id", "$2"),
            ),
            &[("lane_id", "uuid"), ("tenant_id", "uuid")],
        )
    }

    /// `lanes.resolve($1, { action: "skip" })`: the blocked head becomes `skipped` and the lane
    /// moves on in order. Returns `resolved`.
    #[must_use]
    pub fn resolve_lane_skip(&self) -> Statement {
        Statement::new(
            format!(
                "WITH l AS (
  SELECT id, head_seq FROM {lanes} WHERE id = $1 AND state = 'blocked' AND {scope} FOR UPDATE
), s AS (
  UPDATE {d} d SET status = 'skipped', finished_at = now()
  FROM l WHERE d.lane_id = l.id AND d.lane_seq = l.head_seq AND d.status = 'exhausted'
  RETURNING d.lane_id, d.lane_seq
), advanced AS (
  {advance}
  RETURNING ln.id
)
SELECT id AS resolved FROM advanced",
                lanes = self.table("lanes"),
                d = self.table("deliveries"),
                advance = self.advance_lanes("s"),
                scope = Store::read_scope("tenant_id", "$2"),
            ),
            &[("lane_id", "uuid"), ("tenant_id", "uuid")],
        )
    }

    /// Blocked lanes (of endpoint `$1`, or all when NULL), oldest block first, at most `$2`,
    /// with the head delivery.
    #[must_use]
    pub fn blocked_lanes(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT ln.id, ln.tenant_id, ln.endpoint_id, ln.ordering_key, ln.head_seq, ln.assign_seq,
       d.id AS head_delivery_id, d.message_id AS head_message_id, d.last_outcome, d.last_status, d.finished_at AS blocked_at
FROM {lanes} ln
JOIN {d} d ON d.lane_id = ln.id AND d.lane_seq = ln.head_seq
WHERE ln.state = 'blocked' AND ($1::uuid IS NULL OR ln.endpoint_id = $1) AND {scope}
ORDER BY d.finished_at, ln.id
LIMIT $2",
                lanes = self.table("lanes"),
                d = self.table("deliveries"),
                scope = Store::read_scope("ln.tenant_id", "$3"),
            ),
            &[("endpoint_id", "uuid"), ("limit", "int"), ("tenant_id", "uuid")],
        )
    }
}
