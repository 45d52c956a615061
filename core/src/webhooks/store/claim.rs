//! Claiming work, each a single statement in its own short transaction (no transaction stays
//! open while a request is in flight). A claim sets `in_flight`, a lease (`lease_until`, a fresh
//! `lease_token`, the worker) and counts the attempt; it returns everything the dispatcher needs
//! (message body, endpoint URL, keys, headers) so sending takes no further query.
//!
//! Unordered deliveries are claimed in two halves, first attempts and retries, so a retry
//! backlog cannot starve fresh deliveries (Hook0 splits its queue the same way), and at most
//! `per_endpoint` per endpoint per claim, so one busy endpoint cannot take the whole batch.
//! Ordered deliveries are claimed through their lane, one request per lane at a time.

use super::{Statement, Store};

/// Run first in each of the worker's system-context transactions (expand, claim, record).
/// The policies' tenant bounds are InitPlan parameters the planner cannot see, so in system
/// context it takes the whole-range bound for a selective one and may AND a bitmap scan of a
/// tenant-leading index (such as `webhook_messages (tenant_id, event_type, created_at)`) into a
/// query that its partial index answers alone: 141 ms instead of 0.3 ms to lock 100 due
/// messages among 1M. The engine's statements are written for plain index scans of their
/// partial indexes, so the worker turns bitmap scans off for its own transactions only.
pub const WORKER_TRANSACTION_SETTINGS: &str = "SET LOCAL enable_bitmapscan = off";

/// Columns every claim returns.
const RETURNING: &str = "d.id, d.tenant_id, d.message_id, d.message_created_at, d.endpoint_id, d.lane_id, d.lane_seq, d.attempt_count, d.lease_token, d.trigger,
  m.event_type, m.body, m.content_type, e.url, e.keys, e.headers, e.rate_limit_per_second";

impl Store {
    fn lease_set(worker: &str, lease_ms: &str) -> String {
        format!(
            "status = 'in_flight', lease_until = now() + make_interval(secs => {lease_ms}::double precision / 1000),
    lease_token = gen_random_uuid(), lease_owner = {worker}, attempt_count = d.attempt_count + 1"
        )
    }

    fn endpoint_blocked(&self, endpoint_id: &str) -> String {
        format!(
            "EXISTS (SELECT 1 FROM {} e WHERE e.id = {endpoint_id} AND (e.status <> 'enabled' OR e.paused_until > now()))",
            self.table("endpoints")
        )
    }

    /// Due unordered deliveries of one half (`$1`: first attempts or retries), at most `$2`,
    /// at most `$3` per endpoint, endpoints enabled and not paused; uses the partial index on
    /// `next_attempt_at`.
    #[must_use]
    pub fn claim_unordered(&self) -> Statement {
        let d = self.table("deliveries");
        Statement::new(
            format!(
                "WITH cand AS (
  SELECT d.id, d.endpoint_id, d.next_attempt_at FROM {d} d
  WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND d.lane_id IS NULL
    AND (d.attempt_count = 0) = $1
    AND NOT {blocked}
  ORDER BY d.next_attempt_at
  LIMIT $2 * 4
), ranked AS (
  SELECT id, next_attempt_at, row_number() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at) AS rn FROM cand
), c AS (
  SELECT d.id FROM {d} d JOIN ranked r ON r.id = d.id
  WHERE r.rn <= $3 AND d.status = 'pending' AND d.next_attempt_at <= now()
  ORDER BY r.next_attempt_at
  LIMIT $2
  FOR UPDATE OF d SKIP LOCKED
)
UPDATE {d} d SET {set}
FROM c, {m} m, {e} e
WHERE d.id = c.id AND m.created_at = d.message_created_at AND m.id = d.message_id AND e.id = d.endpoint_id
RETURNING {RETURNING}",
                blocked = self.endpoint_blocked("d.endpoint_id"),
                set = Store::lease_set("$4", "$5"),
                m = self.table("messages"),
                e = self.table("endpoints"),
            ),
            &[
                ("first_attempts", "boolean"),
                ("limit", "int"),
                ("per_endpoint", "int"),
                ("worker_id", "text"),
                ("lease_ms", "int"),
            ],
        )
    }

    /// Heads of ready lanes (`lane_seq = head_seq`, pending), at most `$1`; the lane becomes
    /// `in_flight` with its delivery.
    #[must_use]
    pub fn claim_lanes(&self) -> Statement {
        let d = self.table("deliveries");
        let lanes = self.table("lanes");
        Statement::new(
            format!(
                "WITH l AS (
  SELECT ln.id FROM {lanes} ln
  WHERE ln.state = 'ready' AND ln.next_attempt_at <= now()
    AND NOT {blocked}
    AND EXISTS (SELECT 1 FROM {d} h WHERE h.lane_id = ln.id AND h.lane_seq = ln.head_seq AND h.status = 'pending')
  ORDER BY ln.next_attempt_at
  LIMIT $1
  FOR UPDATE OF ln SKIP LOCKED
), lu AS (
  UPDATE {lanes} ln SET state = 'in_flight' FROM l WHERE ln.id = l.id RETURNING ln.id, ln.head_seq
)
UPDATE {d} d SET {set}
FROM lu, {m} m, {e} e
WHERE d.lane_id = lu.id AND d.lane_seq = lu.head_seq AND d.status = 'pending'
  AND m.created_at = d.message_created_at AND m.id = d.message_id AND e.id = d.endpoint_id
RETURNING {RETURNING}",
                blocked = self.endpoint_blocked("ln.endpoint_id"),
                set = Store::lease_set("$2", "$3"),
                m = self.table("messages"),
                e = self.table("endpoints"),
            ),
            &[("limit", "int"), ("worker_id", "text"), ("lease_ms", "int")],
        )
    }

    /// The reaper: deliveries whose lease expired get a new lease for `$2` and are returned,
    /// with the previous owner, to be recorded with outcome `lease_expired` through the normal
    /// record path (a request may have been sent: at-least-once).
    #[must_use]
    pub fn reap_expired(&self) -> Statement {
        let d = self.table("deliveries");
        Statement::new(
            format!(
                "WITH c AS (
  SELECT d.id, d.lease_owner AS previous_owner FROM {d} d
  WHERE d.status = 'in_flight' AND d.lease_until < now()
  ORDER BY d.lease_until
  LIMIT $1
  FOR UPDATE SKIP LOCKED
)
UPDATE {d} d SET lease_token = gen_random_uuid(), lease_owner = $2,
    lease_until = now() + make_interval(secs => $3::double precision / 1000)
FROM c WHERE d.id = c.id
RETURNING d.id, d.tenant_id, d.message_id, d.endpoint_id, d.lane_id, d.attempt_count, d.lease_token, d.trigger, c.previous_owner"
            ),
            &[("limit", "int"), ("worker_id", "text"), ("lease_ms", "int")],
        )
    }

    /// Lanes left `in_flight` without an in-flight delivery go back to `ready` (a safety net:
    /// claims and records move both in one statement).
    #[must_use]
    pub fn reap_lanes(&self) -> Statement {
        Statement::new(
            format!(
                "UPDATE {lanes} ln SET state = 'ready', next_attempt_at = now()
WHERE ln.state = 'in_flight'
  AND NOT EXISTS (SELECT 1 FROM {d} d WHERE d.lane_id = ln.id AND d.status = 'in_flight')",
                lanes = self.table("lanes"),
                d = self.table("deliveries"),
            ),
            &[],
        )
    }

    /// Shutdown: claimed deliveries that were never sent go back to `pending` with the attempt
    /// uncounted (fenced by their lease token); their lanes become ready. Returns `released`.
    #[must_use]
    pub fn release_unstarted(&self) -> Statement {
        Statement::new(
            format!(
                "WITH r AS (
  UPDATE {d} d SET status = 'pending', attempt_count = d.attempt_count - 1,
      lease_until = NULL, lease_token = NULL, lease_owner = NULL
  FROM unnest($1::uuid[], $2::uuid[]) AS x(id, lease_token)
  WHERE d.id = x.id AND d.lease_token = x.lease_token AND d.status = 'in_flight'
  RETURNING d.lane_id
), l AS (
  UPDATE {lanes} ln SET state = 'ready' FROM r WHERE ln.id = r.lane_id AND ln.state = 'in_flight'
)
SELECT count(*) AS released FROM r",
                d = self.table("deliveries"),
                lanes = self.table("lanes"),
            ),
            &[("ids", "uuid[]"), ("lease_tokens", "uuid[]")],
        )
    }
}
