//! Moving held mail out of the queue's way, after the claim that found it held has committed
//! (spec §12; see [`super::quota`]). Each statement moves at most [`PIECE`] messages in its own
//! short transaction, so a tenant's backlog of any size never holds the claims' turn, and a
//! `statement_timeout` shorter than the whole move stops nothing. The worker repeats a statement
//! until it moves nothing, passing how many it has moved (`$2`).

use super::quota::{HOLD_SECS, TOKENS, WINDOWS};
use super::{Statement, Store};
use crate::policy::context::{inline_settings, Limits, Scope};

/// What a deferral's transaction runs first: the system scope, with the planner walking the
/// queue's index in the claim's order. Left to itself it estimates a tenant's due mail as a few
/// rows, reads all of it through the tenant index and sorts it, in every piece: 50–100 ms per
/// piece of a 30,000-message backlog (quadratic in the backlog), against 1 ms walking the
/// queue's index, where the mail already moved is out of the way. Sorting off leaves that walk
/// the only plan without a sort; JIT off because sorting off inflates the estimates past JIT's
/// threshold (2 s of compilation per piece, measured).
#[must_use]
pub fn defer_scope() -> String {
    inline_settings(
        Scope::System,
        Limits::default(),
        &[
            ("enable_bitmapscan", "off"),
            ("enable_sort", "off"),
            ("jit", "off"),
        ],
    )
}

/// Messages one statement moves at most.
pub const PIECE: u32 = 500;

/// How long a deferral's mark holds (a row `defer:…` of `email_rate_buckets`, its time in
/// `updated_at`): written by the claim that reports the tenant or domain held, renewed by each
/// piece, ended by the piece that moves nothing. A worker that dies mid-way leaves the mark to
/// run out, and a later claim reports the mail again. Long enough for the deferrals a claim
/// reported before it to run first (a worker runs them one after another); a mark outliving its
/// worker costs only the scan's walk over mail not moved, which claims still take by its tokens.
pub const DEFERRING: &str = "interval '5 minutes'";

/// The marks' keys, followed by the tenant id or the domain.
pub const DEFER_TENANT: &str = "defer:";
pub const DEFER_DOMAIN: &str = "defer:domain:";

/// Queued mail the claim's scan would take now (batch requests wait on their own schedule).
const DUE: &str = "q.status = 'queued' AND q.next_attempt_at <= now() AND (q.expires_at IS NULL OR q.expires_at > now())
    AND q.batch_id IS NULL";

const PARAMS: [(&str, &str); 2] = [("held", "text"), ("moved", "int")];

impl Store {
    /// Renews the deferral's mark `key` while a piece moves mail, ends it when one moves none.
    fn defer_mark(&self, key: &str) -> String {
        format!(
            ", mark AS (
  UPDATE {b} k SET updated_at = CASE WHEN EXISTS (SELECT 1 FROM moved) THEN now() + {DEFERRING} ELSE now() END
  WHERE k.key = {key}
)",
            b = self.table("rate_buckets")
        )
    }

    /// One piece of a held tenant's due mail (`$1`: the claim's `held` argument — the tenant,
    /// its limit and tokens left per window, the domains whose cap holds their mail) moved to
    /// when its tokens come: the k-th waiting message k token intervals ahead of its scarcest
    /// window, counting the `$2` moved before; an hour for a limit of 0, then looked at again.
    /// The first messages its tokens still cover stay due. A message that expires before its
    /// turn is moved only to its expiry, when the claim expires it.
    #[must_use]
    pub fn email_defer_tenant(&self) -> Statement {
        let m = self.table("messages");
        // Each window's value of a list in `$1`, as columns `{alias}0`…`{alias}2`.
        let per = |key: &str, alias: &str| -> String {
            (0..3)
                .map(|i| format!("($1::jsonb -> '{key}' ->> {i})::float8 AS {alias}{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // Tokens left per window: the bucket's now (a claim since the report may have spent
        // them: the mail it leaves due must be what tokens still cover), else the report's.
        let b = self.table("rate_buckets");
        let left: Vec<String> = WINDOWS
            .iter()
            .enumerate()
            .map(|(i, (secs, _))| {
                format!(
                    "CASE WHEN $1::jsonb -> 'limits' ->> {i} IS NOT NULL THEN
      coalesce((SELECT floor({TOKENS}) FROM {b} q WHERE q.key = 'tenant:' || ($1::jsonb ->> 'tenant') || ':{secs}'),
        ($1::jsonb -> 'left' ->> {i})::float8) END AS l{i}"
                )
            })
            .collect();
        let waits: Vec<String> = WINDOWS
            .iter()
            .enumerate()
            .map(|(i, (secs, _))| format!("(x.k - g.l{i}) * {secs}.0 / g.w{i}"))
            .collect();
        Statement::new(
            format!(
                "WITH g AS (
  SELECT v.*, CASE WHEN least(v.w0, v.w1, v.w2) = 0 THEN 0 ELSE greatest(0, floor(least(v.l0, v.l1, v.l2)))::int END AS skip
  FROM (SELECT ($1::jsonb ->> 'tenant')::uuid AS tenant_id, {limits}, {left},
    ARRAY(SELECT jsonb_array_elements_text(coalesce($1::jsonb -> 'blocked', '[]'))) AS blocked) v
), x AS (
  SELECT y.created_at, y.id, y.expires_at, (SELECT skip FROM g) + $2 + row_number() OVER (ORDER BY y.priority, y.next_attempt_at) AS k
  FROM (SELECT q.created_at, q.id, q.expires_at, q.priority, q.next_attempt_at FROM {m} q
        WHERE q.tenant_id = (SELECT tenant_id FROM g) AND {DUE}
          AND NOT EXISTS (SELECT 1 FROM g WHERE lower(split_part(q.from_addr, '@', 2)) = ANY (g.blocked))
        ORDER BY q.priority, q.next_attempt_at
        OFFSET (SELECT skip FROM g) LIMIT {PIECE}
        FOR UPDATE OF q SKIP LOCKED) y
), moved AS (
  UPDATE {m} d SET next_attempt_at = least(now() + make_interval(secs => h.delay), coalesce(h.expires_at, 'infinity'))
  FROM (SELECT x.created_at, x.id, x.expires_at,
          CASE WHEN least(g.w0, g.w1, g.w2) = 0 THEN {HOLD_SECS} ELSE least(86400, greatest(0, {waits})) END AS delay
        FROM x CROSS JOIN g) h
  WHERE d.created_at = h.created_at AND d.id = h.id
  RETURNING d.id
){mark}
SELECT id FROM moved",
                mark = self.defer_mark(&format!("'{DEFER_TENANT}' || (SELECT tenant_id FROM g)")),
                limits = per("limits", "w"),
                left = left.join(", "),
                waits = waits.join(", "),
            ),
            &PARAMS,
        )
    }

    /// One piece of the due mail of a domain past its warm-up cap (`$1`: `{"domain": …}`)
    /// moved to the next UTC day. `$2` (moved so far) changes nothing: every such message goes
    /// to the same time; it is there so that both deferrals are run alike.
    #[must_use]
    pub fn email_defer_domain(&self) -> Statement {
        let m = self.table("messages");
        Statement::new(
            format!(
                "WITH moved AS (
  UPDATE {m} d SET next_attempt_at = least(
      (date_trunc('day', timezone('UTC', now())) + interval '1 day') AT TIME ZONE 'UTC', coalesce(h.expires_at, 'infinity'))
  FROM (SELECT q.created_at, q.id, q.expires_at FROM {m} q
        WHERE lower(split_part(q.from_addr, '@', 2)) = $1::jsonb ->> 'domain' AND {DUE} AND $2::int >= 0
        ORDER BY q.priority, q.next_attempt_at
        LIMIT {PIECE}
        FOR UPDATE OF q SKIP LOCKED) h
  WHERE d.created_at = h.created_at AND d.id = h.id
  RETURNING d.id
){mark}
SELECT id FROM moved",
                mark = self.defer_mark(&format!("'{DEFER_DOMAIN}' || ($1::jsonb ->> 'domain')")),
            ),
            &PARAMS,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    #[test]
    fn pieces() {
        let s = Store::new(&StoreConfig::default()).unwrap();
        for st in [s.email_defer_tenant(), s.email_defer_domain()] {
            assert!(st.sql.contains(&format!("LIMIT {PIECE}")), "{}", st.sql);
            assert!(st.sql.contains("SKIP LOCKED") && st.sql.contains("$2"));
            assert_eq!(st.params.len(), 2);
        }
        let t = s.email_defer_tenant().sql;
        // The k-th message after those the tokens cover waits k intervals of each window.
        assert!(t.contains("(x.k - g.l1) * 3600.0 / g.w1"), "{t}");
        assert!(t.contains("THEN 3600 ELSE"));
    }
}
