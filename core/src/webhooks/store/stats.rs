//! `webhooks.stats({ window })` and `better-webhooks stats` (spec §11): one statement, each
//! figure a scalar subquery on the index that answers it.

use super::{Statement, Store};

impl Store {
    /// Figures of tenant `$1` (every tenant in system context without one) over the window `$2`
    /// (`1 hour`, `24 hours`, `7 days`: [`super::cursor::stats_window`]):
    /// - `backlog`: unfinished deliveries (pending or in flight);
    /// - `oldest_pending_age_ms`: how long the most overdue work has waited since it became due —
    ///   a message not yet fanned out, a claimable pending delivery, a ready lane — 0 when none
    ///   is overdue. Deliveries waiting for a retry, behind their lane's head, or of a disabled
    ///   or paused endpoint are not overdue: no worker could take them now;
    /// - `delivered`, `failed`: deliveries that succeeded / were exhausted in the window, and
    ///   `success_rate` = delivered / (delivered + failed), NULL when both are 0;
    /// - `p50_ms`, `p95_ms`: attempt durations in the window, leaving out attempts cut short by
    ///   the engine (`lease_expired`, `worker_shutdown`);
    /// - `endpoints_failing`: enabled endpoints with a failure clock; `lanes_blocked`;
    /// - `workers_alive`: heartbeats within `$3` seconds (workers serve every tenant).
    #[must_use]
    pub fn stats(&self) -> Statement {
        let scope = |column: &str| Store::read_scope(column, "$1");
        let runnable = |endpoint: &str| {
            format!(
                "EXISTS (SELECT 1 FROM {e} e WHERE e.id = {endpoint} AND e.status = 'enabled' AND (e.paused_until IS NULL OR e.paused_until <= now()))",
                e = self.table("endpoints")
            )
        };
        Statement::new(
            format!(
                "SELECT b.backlog, b.oldest_pending_age_ms, f.delivered, f.failed,
       f.delivered::double precision / nullif(f.delivered + f.failed, 0) AS success_rate,
       p.pct[1] AS p50_ms, p.pct[2] AS p95_ms,
       (SELECT count(*) FROM {e} e WHERE e.status = 'enabled' AND e.failing_since IS NOT NULL AND {scope_e}) AS endpoints_failing,
       (SELECT count(*) FROM {lanes} ln WHERE ln.state = 'blocked' AND {scope_ln}) AS lanes_blocked,
       (SELECT count(*) FROM {w} w WHERE w.last_seen > now() - make_interval(secs => $3)) AS workers_alive
FROM (SELECT
  (SELECT count(*) FROM {d} d WHERE d.status IN ('pending', 'in_flight') AND {scope_d}) AS backlog,
  coalesce((extract(epoch FROM now() - least(
    (SELECT min(m.deliver_after) FROM {m} m WHERE m.expanded_at IS NULL AND m.deliver_after <= now() AND {scope_m}),
    (SELECT min(d.next_attempt_at) FROM {d} d
     WHERE d.status = 'pending' AND d.lane_id IS NULL AND d.next_attempt_at <= now() AND {scope_d} AND {runnable_d}),
    (SELECT min(ln.next_attempt_at) FROM {lanes} ln
     WHERE ln.state = 'ready' AND ln.next_attempt_at <= now() AND {scope_ln} AND {runnable_ln})
  )) * 1000)::bigint, 0) AS oldest_pending_age_ms
) b,
LATERAL (
  SELECT count(*) FILTER (WHERE d.status = 'succeeded') AS delivered,
         count(*) FILTER (WHERE d.status = 'exhausted') AS failed
  FROM {d} d WHERE d.finished_at >= now() - $2::interval AND {scope_d}
) f,
LATERAL (
  SELECT percentile_disc(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY a.duration_ms) AS pct
  FROM {a} a
  WHERE a.created_at >= now() - $2::interval AND a.outcome NOT IN ('lease_expired', 'worker_shutdown') AND {scope_a}
) p",
                e = self.table("endpoints"),
                lanes = self.table("lanes"),
                w = self.table("workers"),
                d = self.table("deliveries"),
                m = self.table("messages"),
                a = self.table("attempts"),
                scope_e = scope("e.tenant_id"),
                scope_ln = scope("ln.tenant_id"),
                scope_d = scope("d.tenant_id"),
                scope_m = scope("m.tenant_id"),
                scope_a = scope("a.tenant_id"),
                runnable_d = runnable("d.endpoint_id"),
                runnable_ln = runnable("ln.endpoint_id"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("window", "interval"),
                ("live_within_secs", "double precision"),
            ],
        )
    }
}
