//! `better-email stats`: per tenant, the queue (how many wait, the oldest's age), what the
//! window handed off or gave up, and over the last seven days the complaint and hard-bounce
//! counts against the recipients handed off, which mailbox providers judge a sender by.

use super::{Statement, Store};

impl Store {
    /// `$1` one tenant (NULL: every tenant, the tenant-less messages as `tenant_id` NULL),
    /// `$2` the window (`interval`), `$3` the window of the rates (`interval`). One row per
    /// tenant with `queued`, `oldest_queued_seconds`, `sent`, `failed` (failed or expired),
    /// `handed` (recipients handed off within `$3`), `hard_bounces`, `complaints`.
    #[must_use]
    pub fn email_stats(&self) -> Statement {
        Statement::new(
            format!(
                "WITH q AS (
  SELECT tenant_id, count(*) AS queued, extract(epoch FROM now() - min(created_at))::bigint AS oldest
    FROM {m} WHERE status = 'queued' AND ($1::uuid IS NULL OR tenant_id = $1) GROUP BY tenant_id
), w AS (
  SELECT tenant_id, count(*) FILTER (WHERE status = 'sent') AS sent,
         count(*) FILTER (WHERE status IN ('failed', 'expired')) AS failed
    FROM {m} WHERE created_at >= now() - $2::interval AND ($1::uuid IS NULL OR tenant_id = $1) GROUP BY tenant_id
), r AS (
  SELECT tenant_id, count(*) AS handed
    FROM {rcpt} WHERE created_at >= now() - $3::interval AND status IN ('sent', 'delivered', 'deferred', 'bounced', 'complained')
     AND ($1::uuid IS NULL OR tenant_id = $1) GROUP BY tenant_id
), e AS (
  SELECT tenant_id, count(*) FILTER (WHERE type = 'bounced' AND bounce = 'hard') AS hard_bounces,
         count(*) FILTER (WHERE type = 'complained') AS complaints
    FROM {ev} WHERE occurred_at >= now() - $3::interval AND ($1::uuid IS NULL OR tenant_id = $1) GROUP BY tenant_id
), t AS (
  SELECT tenant_id FROM q UNION SELECT tenant_id FROM w UNION SELECT tenant_id FROM r UNION SELECT tenant_id FROM e
)
SELECT t.tenant_id, coalesce(q.queued, 0)::bigint AS queued, q.oldest AS oldest_queued_seconds,
       coalesce(w.sent, 0)::bigint AS sent, coalesce(w.failed, 0)::bigint AS failed, coalesce(r.handed, 0)::bigint AS handed,
       coalesce(e.hard_bounces, 0)::bigint AS hard_bounces, coalesce(e.complaints, 0)::bigint AS complaints
  FROM t
  LEFT JOIN q ON q.tenant_id IS NOT DISTINCT FROM t.tenant_id
  LEFT JOIN w ON w.tenant_id IS NOT DISTINCT FROM t.tenant_id
  LEFT JOIN r ON r.tenant_id IS NOT DISTINCT FROM t.tenant_id
  LEFT JOIN e ON e.tenant_id IS NOT DISTINCT FROM t.tenant_id
 ORDER BY t.tenant_id NULLS FIRST",
                m = self.table("messages"),
                rcpt = self.table("recipients"),
                ev = self.table("events"),
            ),
            &[("tenant_id", "uuid"), ("window", "interval"), ("rates_window", "interval")],
        )
    }
}
