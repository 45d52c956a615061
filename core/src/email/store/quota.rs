//! Sending quotas the claim enforces (spec §12): per-tenant rates (`perMinute`, `perHour`,
//! `perDay`, overridden per tenant by `email_tenant_settings.limits`) and the daily warm-up cap
//! of a sending domain. Both live in `email_rate_buckets`, next to the transports' rates:
//!
//! - a tenant window is a token bucket `tenant:<id>:<seconds>` holding up to the limit and
//!   refilled at the limit per window, so a tenant sends its limit at once and then evenly;
//! - a domain's first send is the row `warmup:<domain>` (its `updated_at`), and each UTC day
//!   `d` since then a bucket `warmup:<domain>:<d>` starts at that day's cap
//!   `min(maxPerDay, ⌊startPerDay × factor^d⌋)`, never refilled.
//!
//! A tenant's bucket is full at its limit and refills at the limit per window, so it can send
//! its limit at once and the limit again over the window: up to twice the limit within one
//! window's length, never more, and the limit per window on average. Overrides apply when the
//! claim enforces quotas at all (a per-tenant rate or a warm-up configured).
//!
//! A message whose tenant or domain has no token left stays queued. The claim that meets such
//! mail reports its tenant (or domain) as `held`; once the claim has committed, the worker moves
//! the tenant's due mail to when its tokens come back (the k-th waiting message k token
//! intervals ahead; a limit of 0 is looked at again an hour later) and a domain's past its cap
//! to the next UTC day, a few hundred messages per statement ([`super::defer`]), so the queue's
//! scan does not walk over it again. Mail that comes due meanwhile is skipped by the scan while
//! the bucket that holds it back was written in the last minute (after that the claim looks
//! again, with the limits then in force). The claim takes at most each tenant's and domain's
//! tokens and spends them in the same statement. Claims that enforce quotas run one at a time
//! ([`Store::email_claim_scope`]): each reads the buckets the previous one wrote. Batch requests
//! being repeated neither wait for nor spend tokens.

use super::defer::{DEFERRING, DEFER_DOMAIN, DEFER_TENANT};
use super::{Statement, Store};
use crate::email::config::Warmup;
use crate::sql::literal;

/// The advisory lock that serialises quota-enforcing claims.
pub const CLAIM_LOCK: &str = "better_email_claim";

/// The windows of a tenant's rate, in seconds, as its settings name them.
pub(super) const WINDOWS: [(u32, &str); 3] =
    [(60, "perMinute"), (3_600, "perHour"), (86_400, "perDay")];

/// What a claim enforces beyond the transport's rate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quotas {
    /// `perMinute`, `perHour`, `perDay` for tenants without an override.
    pub per_tenant: [Option<u32>; 3],
    pub warmup: Vec<Warmup>,
}

/// The SQL pieces [`Store::email_claim`] splices in when quotas apply.
pub(super) struct Parts {
    /// CTEs before the candidates: today's warm-up allowance per configured domain.
    pub before: String,
    /// ` AND` a condition on a queued message `m` (in the candidates' scan): its tenant and
    /// domain have tokens.
    pub open: String,
    /// Columns the candidates carry for the domains' allowance, and `ranked`'s for them.
    pub columns: &'static str,
    /// CTEs between the candidates and the ranking: each tenant's allowance.
    pub allow: String,
    pub rank: &'static str,
    /// The condition a ranked candidate meets: within its tenant's and domain's tokens.
    pub within: &'static str,
    /// CTEs after the claim that spend the tokens and find the mail left waiting.
    pub spend: String,
    /// The statement's last `SELECT`: the claimed rows and what is held (see [`Store::held`]).
    pub result: String,
}

/// How long a bucket without tokens holds mail back in the claim's scan before the claim looks
/// at that mail again (with the limits then in force).
const RECHECK: &str = "interval '60 seconds'";

/// How long the mail of a tenant whose limit is 0 waits before the claim looks at it again.
pub(super) const HOLD_SECS: u32 = 3_600;

/// Tokens a bucket row `q` holds now, at its stored refill rate.
pub(super) const TOKENS: &str =
    "least(q.capacity, q.tokens + extract(epoch FROM now() - q.updated_at) * q.refill_per_sec)";

impl Quotas {
    /// Whether the claim needs the quota parts at all.
    #[must_use]
    pub fn any(&self) -> bool {
        self.per_tenant.iter().any(Option::is_some) || !self.warmup.is_empty()
    }

    /// The warm-up table as SQL rows: domain, start, factor, cap, and the day from which the
    /// cap no longer grows (so `power()` stays far from overflowing on a domain's 5,000th day).
    fn warmup_rows(&self) -> String {
        let rows: Vec<String> = self
            .warmup
            .iter()
            .map(|w| {
                format!(
                    "({}, {}, {}::float8, {}, {})",
                    literal(&w.domain),
                    w.start_per_day,
                    w.factor,
                    w.max_per_day,
                    saturation_day(w)
                )
            })
            .collect();
        rows.join(", ")
    }
}

/// The first day whose cap reaches `maxPerDay`.
fn saturation_day(w: &Warmup) -> u32 {
    if w.factor <= 1.0 || w.max_per_day <= w.start_per_day {
        return 0;
    }
    let days = (f64::from(w.max_per_day) / f64::from(w.start_per_day)).ln() / w.factor.ln();
    // At most a few thousand (factor ≥ 1 + ε is checked); the cast saturates beyond u32.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let d = days.ceil() as u32;
    d.saturating_add(1)
}

impl Store {
    /// What a quota-enforcing claim's transaction runs first instead of `worker_scope` (see
    /// [`Quotas`]): the same settings and the claims' turn, in one round trip. The claim that
    /// follows takes its snapshot once the turn is held.
    #[must_use]
    pub fn email_claim_scope(&self, worker_scope: &str) -> Statement {
        Statement::new(
            format!(
                "{worker_scope}, pg_advisory_xact_lock(hashtextextended({}, 0))",
                literal(CLAIM_LOCK)
            ),
            &[],
        )
    }

    /// The tenants whose tokens ran out in this claim with due mail left, and the domains past
    /// their warm-up cap: what the claim reports (`held`) for [`Store::email_defer_tenant`] and
    /// [`Store::email_defer_domain`] to move after it commits. Moving a held tenant's backlog
    /// here, under the claims' turn, made one claim as long as the backlog (7 s for 200,000
    /// messages), every other worker's claim waiting behind it.
    ///
    /// A tenant or domain whose deferral is under way (its [`DEFERRING`] mark not yet past) is
    /// not reported again: claims meet its mail not yet moved, and a second deferral would
    /// number its turns from the first again (two messages per token).
    fn held(&self, warm: bool) -> (String, String) {
        let b = self.table("rate_buckets");
        let not_deferring = |key: &str| {
            format!("NOT EXISTS (SELECT 1 FROM {b} d WHERE d.key = {key} AND d.updated_at > now())")
        };
        // Mail a domain's cap holds waits for the next day, not for its tenant's tokens: it
        // neither counts as the tenant's waiting mail nor is numbered among it.
        let (mut ctes, open_domain, domains, blocked, marks) = if warm {
            (
                format!(
                    ", wdone AS (
  SELECT wu.domain FROM wu
  CROSS JOIN LATERAL (SELECT count(k.id) AS took, count(*) AS seen
                      FROM cand x LEFT JOIN claimed k ON k.id = x.id WHERE x.domain = wu.domain) t
  WHERE t.seen > t.took AND wu.left_today - t.took < 1
), wblock AS (
  SELECT domain FROM wu WHERE left_today < 1 UNION SELECT domain FROM wdone
), wheld AS (
  SELECT domain FROM wdone w WHERE {}
)",
                    not_deferring(&format!("'{DEFER_DOMAIN}' || w.domain"))
                ),
                " AND c0.domain NOT IN (SELECT domain FROM wblock)",
                " || coalesce((SELECT jsonb_agg(jsonb_build_object('step', 'deferDomain', 'arg', jsonb_build_object('domain', w.domain)::text)) FROM wheld w), '[]')",
                ", 'blocked', (SELECT coalesce(jsonb_agg(b.domain), '[]') FROM wblock b)",
                format!(" UNION ALL SELECT '{DEFER_DOMAIN}' || w.domain FROM wheld w"),
            )
        } else {
            (String::new(), "", "", "", String::new())
        };
        ctes.push_str(&format!(
            ", bound AS (
  SELECT a.*, u.took FROM allow a
  CROSS JOIN LATERAL (SELECT count(*) AS took FROM claimed k JOIN cand x ON x.id = k.id WHERE x.tenant_id = a.tenant_id) u
  WHERE a.n < $2 AND (SELECT count(*) FROM cand c0 WHERE c0.tenant_id = a.tenant_id{open_domain}) > greatest(a.n, 0)
    AND {tenant_free}
), deferring AS (
  INSERT INTO {b} AS b (key, tokens, capacity, refill_per_sec, updated_at)
  SELECT k, 0, 0, 0, now() + {DEFERRING} FROM (SELECT '{DEFER_TENANT}' || g.tenant_id AS k FROM bound g{marks}) m
  ON CONFLICT (key) DO UPDATE SET updated_at = EXCLUDED.updated_at
)",
            tenant_free = not_deferring(&format!("'{DEFER_TENANT}' || a.tenant_id")),
        ));
        // One row whatever was claimed (a claim that met only held mail claims nothing): the
        // claimed rows carry `held` too (NULL when nothing is held), and a row without `id`
        // carries only it.
        let result = format!(
            "SELECT c.*, h.held FROM (SELECT nullif(coalesce((SELECT jsonb_agg(jsonb_build_object('step', 'deferTenant', 'arg', jsonb_build_object(
    'tenant', g.tenant_id, 'limits', jsonb_build_array(g.w0, g.w1, g.w2),
    'left', jsonb_build_array(g.t0 - g.took, g.t1 - g.took, g.t2 - g.took){blocked})::text)) FROM bound g), '[]'){domains}, '[]')::text AS held) h
LEFT JOIN claimed c ON true"
        );
        (ctes, result)
    }

    pub(super) fn quota_parts(&self, q: &Quotas) -> Parts {
        let b = self.table("rate_buckets");
        let settings = self.table("tenant_settings");
        let num = |v: Option<u32>| v.map_or_else(|| "NULL::int".to_owned(), |n| n.to_string());
        let keys: Vec<String> = WINDOWS
            .iter()
            .map(|(secs, _)| format!("'tenant:' || m.tenant_id || ':{secs}'"))
            .collect();
        let warm = !q.warmup.is_empty();
        let before = if warm {
            format!(
                "wu AS (
  SELECT v.domain, v.day, k.updated_at AS touched,
    coalesce(k.tokens, least(v.cap, floor(v.start * power(v.factor, least(v.day, v.sat))))) AS left_today,
    least(v.cap, floor(v.start * power(v.factor, least(v.day, v.sat)))) AS cap_today
  FROM (SELECT w.*, coalesce((SELECT timezone('UTC', now())::date - timezone('UTC', o.updated_at)::date
                              FROM {b} o WHERE o.key = 'warmup:' || w.domain), 0) AS day
        FROM (VALUES {rows}) w(domain, start, factor, cap, sat)) v
  LEFT JOIN {b} k ON k.key = 'warmup:' || v.domain || ':' || v.day
), ",
                rows = q.warmup_rows()
            )
        } else {
            String::new()
        };
        // Only buckets written in the last minute hold mail back in the scan: a changed limit
        // (an override of 0 lifted) takes effect within a minute, and the claim that then
        // meets a held tenant's or domain's mail defers it (`later`).
        let mut open = format!(
            " AND NOT EXISTS (SELECT 1 FROM {b} q WHERE q.key IN ({keys}) AND q.updated_at > now() - {RECHECK} AND {TOKENS} < 1)",
            keys = keys.join(", ")
        );
        if warm {
            open.push_str(&format!(
                " AND NOT EXISTS (SELECT 1 FROM wu WHERE wu.domain = lower(split_part(m.from_addr, '@', 2)) AND wu.left_today < 1 AND wu.touched > now() - {RECHECK})",
            ));
        }
        let limits: Vec<String> = WINDOWS
            .iter()
            .zip(q.per_tenant)
            .map(|((_, name), v)| {
                format!(
                    "coalesce(CASE WHEN jsonb_typeof(s.limits -> '{name}') = 'number' THEN least(greatest(0, (s.limits ->> '{name}')::numeric), 2147483647)::int END, {d})",
                    d = num(v)
                )
            })
            .collect();
        let left: Vec<String> = WINDOWS
            .iter()
            .enumerate()
            .map(|(i, (secs, _))| {
                format!(
                    "CASE WHEN l.w{i} IS NOT NULL THEN floor(coalesce((SELECT least(l.w{i}, q.tokens + extract(epoch FROM now() - q.updated_at) * l.w{i} / {secs}.0)
     FROM {b} q WHERE q.key = 'tenant:' || l.tenant_id || ':{secs}'), l.w{i})) END"
                )
            })
            .collect();
        let allow = format!(
            "lim AS (
  SELECT t.tenant_id, {limits}
  FROM (SELECT DISTINCT tenant_id FROM cand WHERE tenant_id IS NOT NULL) t
  LEFT JOIN {settings} s ON s.tenant_id = t.tenant_id
), allow AS (
  SELECT l.*, least(l.t0, l.t1, l.t2) AS n FROM (SELECT l.*, {left} FROM lim l) l
), ",
            limits = limits
                .iter()
                .enumerate()
                .map(|(i, l)| format!("{l} AS w{i}"))
                .collect::<Vec<_>>()
                .join(", "),
            left = left
                .iter()
                .enumerate()
                .map(|(i, l)| format!("{l} AS t{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut spend = format!(
            ", spent AS (
  INSERT INTO {b} AS b (key, tokens, capacity, refill_per_sec, updated_at)
  SELECT 'tenant:' || a.tenant_id || ':' || w.secs, w.cap - u.n, w.cap, w.cap / w.secs::float8, now()
  FROM allow a
  CROSS JOIN LATERAL (SELECT count(*) AS n FROM claimed k JOIN cand x ON x.id = k.id WHERE x.tenant_id = a.tenant_id) u
  CROSS JOIN LATERAL (VALUES (60, a.w0), (3600, a.w1), (86400, a.w2)) w(secs, cap)
  WHERE w.cap IS NOT NULL AND (u.n > 0 OR a.n < 1)
  ON CONFLICT (key) DO UPDATE SET updated_at = now(), capacity = EXCLUDED.capacity, refill_per_sec = EXCLUDED.refill_per_sec,
    tokens = least(EXCLUDED.capacity, b.tokens + extract(epoch FROM now() - b.updated_at) * EXCLUDED.refill_per_sec)
      - (EXCLUDED.capacity - EXCLUDED.tokens)
)"
        );
        let (held, result) = self.held(warm);
        spend.push_str(&held);
        if warm {
            spend.push_str(&format!(
                ", warmed AS (
  INSERT INTO {b} AS b (key, tokens, capacity, refill_per_sec, updated_at)
  SELECT 'warmup:' || wu.domain || ':' || wu.day, wu.cap_today - u.n, wu.cap_today, 0, now()
  FROM (SELECT c.domain, count(*) AS n FROM claimed k JOIN cand c ON c.id = k.id GROUP BY c.domain) u
  JOIN wu ON wu.domain = u.domain
  ON CONFLICT (key) DO UPDATE SET tokens = b.tokens - (EXCLUDED.capacity - EXCLUDED.tokens), updated_at = now()
), first_send AS (
  INSERT INTO {b} (key, tokens, capacity, refill_per_sec, updated_at)
  SELECT DISTINCT 'warmup:' || c.domain, 0, 0, 0, now() FROM claimed k JOIN cand c ON c.id = k.id
  WHERE c.domain IN (SELECT domain FROM wu)
  ON CONFLICT (key) DO NOTHING
)"
            ));
        }
        Parts {
            before,
            open,
            columns: if warm {
                ", lower(split_part(m.from_addr, '@', 2)) AS domain"
            } else {
                ""
            },
            allow,
            rank: if warm {
                ", domain, row_number() OVER (PARTITION BY domain ORDER BY priority, next_attempt_at) AS rd"
            } else {
                ""
            },
            within: if warm {
                " AND rn <= coalesce((SELECT a.n FROM allow a WHERE a.tenant_id = ranked.tenant_id), rn)
    AND rd <= coalesce((SELECT wu.left_today FROM wu WHERE wu.domain = ranked.domain), rd)"
            } else {
                " AND rn <= coalesce((SELECT a.n FROM allow a WHERE a.tenant_id = ranked.tenant_id), rn)"
            },
            spend,
            result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    #[test]
    fn saturation_and_parts() {
        let w = |start, factor, max| Warmup {
            domain: "m.example".into(),
            start_per_day: start,
            factor,
            max_per_day: max,
        };
        // 50 × 1.5^d reaches 1,000 on day 8 (50 × 1.5^7 ≈ 854, 50 × 1.5^8 ≈ 1,281).
        assert_eq!(saturation_day(&w(50, 1.5, 1000)), 9);
        assert_eq!(saturation_day(&w(50, 1.0, 1000)), 0);
        assert_eq!(saturation_day(&w(50, 2.0, 50)), 0);
        let s = Store::new(&StoreConfig::default()).unwrap();
        let none = Quotas::default();
        assert!(!none.any());
        let q = Quotas {
            per_tenant: [Some(10), None, Some(500)],
            warmup: vec![w(50, 1.5, 1000)],
        };
        assert!(q.any());
        let p = s.quota_parts(&q);
        assert!(p.before.contains("('m.example', 50, 1.5::float8, 1000, 9)"));
        assert!(p.allow.contains("'perMinute') = 'number'"));
        assert!(p.allow.contains(", 10) AS w0"), "{}", p.allow);
        assert!(p.allow.contains(", NULL::int) AS w1"));
        assert!(p.spend.contains("first_send"));
        // The claim moves no held mail itself: it reports it.
        assert!(!p.spend.contains("next_attempt_at"), "{}", p.spend);
        assert!(p.result.contains("'deferTenant'") && p.result.contains("'deferDomain'"));
        let tenants_only = s.quota_parts(&Quotas {
            per_tenant: [Some(10), None, None],
            warmup: vec![],
        });
        assert!(tenants_only.before.is_empty());
        assert!(!tenants_only.open.contains("wu"));
        assert!(!tenants_only.spend.contains("warmed"));
        assert!(!tenants_only.result.contains("deferDomain"));
    }
}
