//! Recording results, in batches of up to 100 in one transaction, in this order:
//! [`Store::lock_lanes`] (when the batch has ordered deliveries), [`Store::record_deliveries`]
//! (one UPDATE fenced by `lease_token`, with the lanes), [`Store::insert_attempts`] (one multi-row INSERT; stale results are still logged), then
//! [`Store::update_endpoint_health`] (only endpoints whose state changes are written; the
//! auto-disable count sees the attempts just inserted). Plus operational events and the
//! worker heartbeat.

use super::super::outcome::{PAUSE_MAX_SECS, PAUSE_MIN_SECS};
use super::{Statement, Store, UUID_V7_SQL};

impl Store {
    /// `UPDATE lanes` from a row source `s(lane_id, lane_seq)` whose delivery at the head is
    /// done: the head moves to the next unfinished delivery (`idle` when there is none yet).
    ///
    /// Fan-out may commit new deliveries of the lane while this statement waits for the lane's
    /// row: the update then sees the lane's new `assign_seq` (`ln`, re-read after the wait) but
    /// not those deliveries (the statement's snapshot, as the lane joined again as `l0` still
    /// shows). Going idle past them would strand them, so when `ln` has assigned more than `l0`
    /// and nothing visible is left, the head is the first of the new ones, `l0.assign_seq + 1`.
    pub(crate) fn advance_lanes(&self, source: &str) -> String {
        format!(
            "UPDATE {lanes} ln SET
    head_seq = CASE WHEN nx.seq IS NOT NULL THEN nx.seq
                    WHEN ln.assign_seq > l0.assign_seq THEN l0.assign_seq + 1
                    ELSE ln.assign_seq + 1 END,
    state = CASE WHEN nx.seq IS NULL AND ln.assign_seq = l0.assign_seq THEN 'idle' ELSE 'ready' END,
    next_attempt_at = CASE WHEN nx.seq IS NOT NULL THEN nx.next_at
                           WHEN ln.assign_seq > l0.assign_seq THEN now() END
  FROM {source} s
  JOIN {lanes} l0 ON l0.id = s.lane_id
  LEFT JOIN LATERAL (
    SELECT n.lane_seq AS seq, n.next_attempt_at AS next_at FROM {d} n
    WHERE n.lane_id = s.lane_id AND n.lane_seq > s.lane_seq AND n.status IN ('pending', 'in_flight')
    ORDER BY n.lane_seq LIMIT 1
  ) nx ON true
  WHERE ln.id = s.lane_id AND ln.head_seq = s.lane_seq",
            lanes = self.table("lanes"),
            d = self.table("deliveries"),
        )
    }

    /// Locks the lanes `$1` of a batch about to be recorded, in the order fan-out locks lanes
    /// (`endpoint_id`, `ordering_key`; see [`Store::expand_insert`]). The record statement
    /// updates a batch's lanes in no particular order, so without this a batch and a fan-out
    /// sharing two lanes could deadlock, and the batch's results would wait for its leases to
    /// expire.
    #[must_use]
    pub fn lock_lanes(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT ln.id FROM {} ln WHERE ln.id = ANY($1::uuid[])
ORDER BY ln.endpoint_id, ln.ordering_key
FOR UPDATE",
                self.table("lanes")
            ),
            &[("lane_ids", "uuid[]")],
        )
    }

    /// The deliveries' new state: `status` is `pending` (retry at `next_attempt_at`),
    /// `succeeded` or `exhausted`. Only rows still holding their `lease_token` change, so a
    /// worker that lost its lease cannot overwrite the new owner's state. Laned deliveries move
    /// their lane: success advances it, a retry makes it ready at the retry time, exhaustion
    /// blocks it. Returns `id`, `status`, `lane_id` of the rows changed; a missing id was stale.
    #[must_use]
    pub fn record_deliveries(&self) -> Statement {
        Statement::new(
            format!(
                "WITH v AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::smallint[])
    AS v(id, lease_token, status, next_attempt_at, outcome, http_status)
), upd AS (
  UPDATE {d} d SET
    status = v.status,
    next_attempt_at = coalesce(v.next_attempt_at, d.next_attempt_at),
    lease_until = NULL, lease_token = NULL, lease_owner = NULL,
    last_outcome = v.outcome, last_status = v.http_status,
    finished_at = CASE WHEN v.status = 'pending' THEN NULL ELSE now() END
  FROM v
  WHERE d.id = v.id AND d.lease_token = v.lease_token AND d.status = 'in_flight'
  RETURNING d.id, d.status, d.lane_id, d.lane_seq, d.next_attempt_at
), advanced AS (
  {advance}
), held AS (
  UPDATE {lanes} ln SET
    state = CASE WHEN u.status = 'pending' THEN 'ready' ELSE 'blocked' END,
    next_attempt_at = CASE WHEN u.status = 'pending' THEN u.next_attempt_at ELSE ln.next_attempt_at END
  FROM upd u
  WHERE u.status <> 'succeeded' AND ln.id = u.lane_id AND ln.head_seq = u.lane_seq
)
SELECT id, status, lane_id FROM upd",
                d = self.table("deliveries"),
                lanes = self.table("lanes"),
                advance = self.advance_lanes("(SELECT lane_id, lane_seq FROM upd WHERE status = 'succeeded' AND lane_id IS NOT NULL)"),
            ),
            &[
                ("ids", "uuid[]"),
                ("lease_tokens", "uuid[]"),
                ("statuses", "text[]"),
                ("next_attempt_ats", "timestamptz[]"),
                ("outcomes", "text[]"),
                ("http_statuses", "smallint[]"),
            ],
        )
    }

    /// One row per attempt (ids made in SQL). `response_body` holds what `storeResponseBody`
    /// keeps of an allowed destination's answer. `operator_error` (the socket error text, which
    /// tenants never see) goes to `webhook_attempt_errors` as an operator-level row; the CTE is
    /// materialised so both inserts see the same attempt ids.
    #[must_use]
    pub fn insert_attempts(&self) -> Statement {
        Statement::new(
            format!(
                "WITH x AS MATERIALIZED (
  SELECT {uuid} AS id, x.*
  FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int[], $6::text[], $7::timestamptz[], $8::int[], $9::text[], $10::smallint[], $11::text[], $12::text[], $13::bigint[], $14::text[])
    AS x(tenant_id, delivery_id, message_id, endpoint_id, attempt_number, trigger, started_at, duration_ms, outcome, http_status, response_body, operator_error, request_timestamp, worker_id)
), a AS (
  INSERT INTO {a} (id, tenant_id, delivery_id, message_id, endpoint_id, attempt_number, trigger, started_at, duration_ms, outcome, http_status, response_body, request_timestamp, worker_id)
  SELECT id, tenant_id, delivery_id, message_id, endpoint_id, attempt_number, trigger, started_at, duration_ms, outcome, http_status, response_body, request_timestamp, worker_id FROM x
)
INSERT INTO {e} (attempt_id, delivery_id, endpoint_id, error)
SELECT id, delivery_id, endpoint_id, operator_error FROM x WHERE operator_error IS NOT NULL",
                a = self.table("attempts"),
                e = self.table("attempt_errors"),
                uuid = UUID_V7_SQL,
            ),
            &[
                ("tenant_ids", "uuid[]"),
                ("delivery_ids", "uuid[]"),
                ("message_ids", "uuid[]"),
                ("endpoint_ids", "uuid[]"),
                ("attempt_numbers", "int[]"),
                ("triggers", "text[]"),
                ("started_ats", "timestamptz[]"),
                ("durations_ms", "int[]"),
                ("outcomes", "text[]"),
                ("http_statuses", "smallint[]"),
                ("response_bodies", "text[]"),
                ("operator_errors", "text[]"),
                ("request_timestamps", "bigint[]"),
                ("worker_ids", "text[]"),
            ],
        )
    }

    /// Endpoint health from one signal per endpoint (`outcome::endpoint_signals`): `gone`
    /// disables now; an exhausted delivery disables when the endpoint has failed for at least
    /// `$6` seconds with at least `$7` failed attempts since; a success clears `failing_since`
    /// and the pause; the first failure sets `failing_since`; an overload pauses the endpoint
    /// 30 s, doubling to 5 min. Rows whose state would not change are not written. Returns
    /// `id`, `tenant_id`, `disabled_reason` (set when this statement disabled the endpoint).
    #[must_use]
    pub fn update_endpoint_health(&self) -> Statement {
        let pause = format!(
            "least({PAUSE_MAX_SECS}, greatest({PAUSE_MIN_SECS}, coalesce(e.pause_seconds * 2, {PAUSE_MIN_SECS})))"
        );
        Statement::new(
            format!(
                "UPDATE {e} e SET
  status = CASE WHEN x.disable IS NOT NULL THEN 'disabled' ELSE e.status END,
  disabled_reason = coalesce(x.disable, e.disabled_reason),
  failing_since = CASE WHEN v.ok THEN NULL ELSE coalesce(e.failing_since, now()) END,
  last_success_at = CASE WHEN v.ok THEN now() ELSE e.last_success_at END,
  pause_seconds = CASE WHEN v.ok THEN NULL WHEN v.overloaded THEN {pause} ELSE e.pause_seconds END,
  paused_until = CASE WHEN v.ok THEN NULL WHEN v.overloaded THEN now() + make_interval(secs => {pause}) ELSE e.paused_until END,
  updated_at = CASE WHEN x.disable IS NOT NULL THEN now() ELSE e.updated_at END
FROM unnest($1::uuid[], $2::boolean[], $3::boolean[], $4::boolean[], $5::boolean[]) AS v(id, ok, overloaded, gone, exhausted)
JOIN {e} o ON o.id = v.id
CROSS JOIN LATERAL (SELECT CASE
    WHEN o.status <> 'enabled' THEN NULL
    WHEN v.gone THEN 'gone'
    WHEN v.exhausted AND NOT v.ok AND o.failing_since <= now() - make_interval(secs => $6)
      AND (SELECT count(*) FROM (
             SELECT 1 FROM {a} a
             WHERE a.endpoint_id = o.id AND a.created_at >= o.failing_since
               AND a.outcome NOT IN ('ok', 'lease_expired', 'worker_shutdown')
             LIMIT $7) f) >= $7
      THEN 'failing'
  END AS disable) x
WHERE e.id = v.id
  AND (x.disable IS NOT NULL OR v.overloaded
       OR (v.ok AND (e.failing_since IS NOT NULL OR e.pause_seconds IS NOT NULL))
       OR (NOT v.ok AND e.failing_since IS NULL))
RETURNING e.id, e.tenant_id, x.disable AS disabled_reason",
                e = self.table("endpoints"),
                a = self.table("attempts"),
            ),
            &[
                ("endpoint_ids", "uuid[]"),
                ("ok", "boolean[]"),
                ("overloaded", "boolean[]"),
                ("gone", "boolean[]"),
                ("exhausted", "boolean[]"),
                ("disable_after_secs", "double precision"),
                ("min_failed_attempts", "int"),
            ],
        )
    }

    /// Operational events (`message.attempt.failing`, `endpoint.disabled`, …).
    #[must_use]
    pub fn insert_operational_events(&self) -> Statement {
        Statement::new(
            format!(
                "INSERT INTO {} (id, tenant_id, type, data)
SELECT {UUID_V7_SQL}, x.tenant_id, x.type, x.data
FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS x(tenant_id, type, data)",
                self.table("operational_events")
            ),
            &[
                ("tenant_ids", "uuid[]"),
                ("types", "text[]"),
                ("data", "jsonb[]"),
            ],
        )
    }

    /// The worker's heartbeat; returns `live_workers` (seen within `$4` seconds, itself
    /// included), which divides per-endpoint rate limits between workers.
    #[must_use]
    pub fn heartbeat(&self) -> Statement {
        let w = self.table("workers");
        Statement::new(
            format!(
                "WITH hb AS (
  INSERT INTO {w} (id, last_seen, in_flight, version) VALUES ($1, now(), $2, $3)
  ON CONFLICT (id) DO UPDATE SET last_seen = now(), in_flight = EXCLUDED.in_flight, version = EXCLUDED.version
)
SELECT 1 + (SELECT count(*) FROM {w} WHERE id <> $1 AND last_seen > now() - make_interval(secs => $4))::int AS live_workers"
            ),
            &[
                ("worker_id", "text"),
                ("in_flight", "int"),
                ("version", "text"),
                ("live_within_secs", "double precision"),
            ],
        )
    }

    /// A stopping worker removes its heartbeat.
    #[must_use]
    pub fn worker_stop(&self) -> Statement {
        Statement::new(
            format!("DELETE FROM {} WHERE id = $1", self.table("workers")),
            &[("worker_id", "text")],
        )
    }
}
