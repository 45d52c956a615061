//! The worker's statements, each run in its own short system-context transaction (no
//! transaction stays open while a message is handed off): claim, record, reap.
//!
//! A claim also expires queued messages past `expires_at` (stale mail is not sent) and returns
//! everything the hand-off needs — the message, its recipients with a fresh suppression verdict
//! (the second enforcement, immediately before hand-off) and its attachments — so handing off
//! takes no further query. Recording is fenced by the lease token: a worker whose lease was
//! taken over records nothing.

use super::quota::{Parts, Quotas};
use super::{Statement, Store};
use crate::policy::context::{inline_settings, Limits, Scope};
use crate::sql::literal;

/// Planner settings for the worker's system-context transactions (claim, record, reap, rate).
/// The policies' tenant bounds are InitPlan parameters the planner cannot see, so in system
/// context it estimates them as selective (0.5 % of the rows) and reads every queued message,
/// then sorts: through the tenant index, 15 ms per claim with 20,000 queued, against 2 ms
/// through the partial indexes; by a sequential scan of the partition once fewer are queued,
/// 3.4 ms per claim with 3,000 queued against 0.13 ms. Bitmap and sequential scans off and a
/// random page cost for data in memory make the ordered scans of those partial indexes, which
/// stop at the claim's limit, the cheaper plan, for this transaction only (a table without a
/// usable index is still read sequentially).
const WORKER_PLANNER: [(&str, &str); 3] = [
    ("enable_bitmapscan", "off"),
    ("enable_seqscan", "off"),
    ("random_page_cost", "1.1"),
];

/// What each worker transaction runs first: the system scope and [`WORKER_PLANNER`] in one
/// statement, so the settings cost no round trip of their own.
#[must_use]
pub fn worker_scope() -> String {
    inline_settings(Scope::System, Limits::default(), &WORKER_PLANNER)
}

/// The advisory lock of a batch request being claimed, with its key appended.
pub const BATCH_LOCK_PREFIX: &str = "better_email_batch:";

/// The savepoint the worker's audit entries are written under in a record transaction.
pub const AUDIT_SAVEPOINT: &str = "better_email_audit";

impl Store {
    /// Before the worker's audit entries in a record transaction: a failed audit write is then
    /// undone alone ([`Store::email_audit_undo`]), never the record of messages already handed
    /// over (which a rollback would send again).
    #[must_use]
    pub fn email_audit_mark(&self) -> Statement {
        Statement::new(format!("SAVEPOINT {AUDIT_SAVEPOINT}"), &[])
    }

    /// Undoes a failed audit write, keeping the record before it.
    #[must_use]
    pub fn email_audit_undo(&self) -> Statement {
        Statement::new(format!("ROLLBACK TO SAVEPOINT {AUDIT_SAVEPOINT}"), &[])
    }

    /// Claims up to `$1` due messages, high priority first, at most `$2` per tenant (one
    /// tenant's bulk send cannot delay another's password resets), leased for `$3` ms to worker
    /// `$4`. An `unsubscribe` suppression blocks only the `unsubscribable` categories, as at send.
    /// With a rate bucket `$5` (see [`Store::email_rate_take`]) it takes messages only when the
    /// bucket's grant has come (the worker then asks for one request's worth), and moves the
    /// grant on by `$6` ms.
    ///
    /// A message once left ambiguous stays `pinned` to the transport that may have taken it, for
    /// every later attempt (another provider would deliver a second copy); any other attempt
    /// starts with no transport, so that the reaper judges a crash by the transport in use.
    ///
    /// Members of a batch request waiting to be repeated (`batch_id`, see
    /// [`Store::email_batch_mark`]) come first and all together or not at all: one such batch per
    /// claim, under an advisory lock so that two claims cannot split it, and only while every
    /// member (as many as its `batch_id` says) is queued and unexpired. The worker rebuilds the
    /// identical request from them. They do not expire one by one (the reaper holds a batch with an expired member).
    #[must_use]
    pub fn email_claim(&self, unsubscribable: &[String], quotas: &Quotas) -> Statement {
        let m = self.table("messages");
        let q = quotas.any().then(|| self.quota_parts(quotas));
        let part = |f: fn(&Parts) -> &str| q.as_ref().map_or("", f);
        let list: Vec<String> = unsubscribable.iter().map(|c| literal(c)).collect();
        let categories = format!("ARRAY[{}]::text[]", list.join(", "));
        Statement::new(
            format!(
                "WITH {before}expired AS (
  UPDATE {m} e SET status = 'expired', last_outcome = 'expired', finished_at = now()
  WHERE (e.created_at, e.id) IN (
    SELECT created_at, id FROM {m} WHERE status = 'queued' AND next_attempt_at <= now() AND expires_at <= now()
      AND batch_id IS NULL
    LIMIT $1 FOR UPDATE SKIP LOCKED)
  RETURNING e.id
), gl AS (
  SELECT g.batch_id FROM (
    SELECT b.batch_id, min(b.priority) AS priority, min(b.next_attempt_at) AS due FROM {m} b
    WHERE b.status = 'queued' AND b.batch_id IS NOT NULL
    GROUP BY b.batch_id HAVING min(b.next_attempt_at) <= now()
    ORDER BY 2, 3 LIMIT 8) g
  WHERE NOT EXISTS (SELECT 1 FROM {m} o WHERE o.batch_id = g.batch_id AND (o.status <> 'queued' OR o.expires_at <= now()))
    AND pg_try_advisory_xact_lock(hashtextextended({lock} || g.batch_id, 0))
  LIMIT 1
), grp AS (
  SELECT created_at, id, priority, next_attempt_at FROM {m}
  WHERE batch_id = (SELECT batch_id FROM gl) AND status = 'queued'
  FOR UPDATE
), whole AS (
  SELECT * FROM grp WHERE (SELECT count(*) FROM grp) = (SELECT CASE WHEN g.batch_id ~ '^[^/]+/[0-9]{{1,3}}$'
    THEN split_part(g.batch_id, '/', 2)::int END FROM gl g)
), cand AS (
  SELECT m.created_at, m.id, m.tenant_id, m.priority, m.next_attempt_at{columns} FROM {m} m
  WHERE m.status = 'queued' AND m.next_attempt_at <= now() AND (m.expires_at IS NULL OR m.expires_at > now()) AND m.batch_id IS NULL{open}{renderable}
  ORDER BY m.priority, m.next_attempt_at
  LIMIT $1 * 4
  FOR UPDATE SKIP LOCKED
), {allow}ranked AS (
  SELECT created_at, id, tenant_id, priority, next_attempt_at,
         row_number() OVER (PARTITION BY tenant_id ORDER BY priority, next_attempt_at) AS rn{rank}
  FROM cand
), c AS (
  SELECT created_at, id FROM (
    SELECT created_at, id, 0 AS g, priority, next_attempt_at FROM whole
    UNION ALL
    SELECT created_at, id, 1, priority, next_attempt_at FROM ranked WHERE rn <= $2{within}
  ) u ORDER BY g, priority, next_attempt_at
  LIMIT CASE WHEN $5::text IS NULL OR (SELECT b.updated_at <= now() FROM {buckets} b WHERE b.key = $5)
             THEN greatest($1, (SELECT count(*) FROM whole)) ELSE 0 END
), claimed AS (
UPDATE {m} m SET status = 'in_flight', lease_until = now() + make_interval(secs => $3::double precision / 1000),
  lease_token = gen_random_uuid(), lease_owner = $4, attempt_count = m.attempt_count + 1,
  transport = (SELECT t.transport FROM {attempts} t WHERE t.message_id = m.id AND t.outcome = 'ambiguous'
               ORDER BY t.attempt_number DESC LIMIT 1)
FROM c WHERE m.created_at = c.created_at AND m.id = c.id
RETURNING m.id, m.tenant_id, m.created_at::text AS created_at, m.category, m.subject, m.html, m.text_body, m.headers,
  m.message_id_header, m.date_header, m.tags, m.attempt_count, m.lease_token, m.expires_at, m.transport AS pinned, m.batch_id,
  m.rendered, m.template, m.locale, CASE WHEN NOT m.rendered THEN m.props::text END AS props,
  CASE WHEN NOT m.rendered THEN (SELECT json_agg(json_build_object('locale', t.locale, 'version', t.version,
     'subject', t.subject, 'html', t.html, 'text_body', t.text_body))
   FROM {tpl} t WHERE t.tenant_id = m.tenant_id AND t.name = m.template AND t.active) END AS overrides,
  (SELECT coalesce(json_agg(json_build_object('kind', r.kind, 'address', r.address, 'key', r.address_key, 'status', r.status,
     'blocked', (SELECT s.reason FROM {sup} s
        WHERE s.address_hash = sha256(convert_to(r.address_key, 'UTF8'))
          AND (s.tenant_id IS NULL OR s.tenant_id = m.tenant_id)
          AND (s.category IS NULL OR s.category = m.category)
          AND (s.expires_at IS NULL OR s.expires_at > now())
          AND (s.reason <> 'unsubscribe' OR m.category = ANY({categories}))
        LIMIT 1)) ORDER BY array_position(ARRAY['to', 'cc', 'bcc'], r.kind), r.address_key), '[]')
   FROM {rcpt} r WHERE r.created_at = m.created_at AND r.message_id = m.id) AS recipients,
  (SELECT coalesce(json_agg(json_build_object('filename', a.filename, 'contentType', a.content_type,
     'contentId', a.content_id, 'base64', encode(a.content, 'base64')) ORDER BY a.idx), '[]')
   FROM {att} a WHERE a.message_id = m.id) AS attachments
), took AS (
  UPDATE {buckets} b SET updated_at = greatest(b.updated_at, now()) + make_interval(secs => $6::double precision / 1000)
  WHERE b.key = $5 AND EXISTS (SELECT 1 FROM claimed)
){spend}
{result}",
                before = part(|p| &p.before),
                open = part(|p| &p.open),
                columns = part(|p| p.columns),
                allow = part(|p| &p.allow),
                rank = part(|p| p.rank),
                within = part(|p| p.within),
                spend = part(|p| &p.spend),
                result = q.as_ref().map_or("SELECT * FROM claimed", |p| p.result.as_str()),
                sup = self.table("suppressions"),
                rcpt = self.table("recipients"),
                att = self.table("attachments"),
                tpl = self.table("templates"),
                // Without the template engine (the edge modules), mail waiting to be rendered
                // with a tenant's override (of its locale, or one it falls back to: `de` and
                // the default for `de-CH`) is left to a worker that has it.
                renderable = if cfg!(feature = "templates") {
                    String::new()
                } else {
                    format!(" AND (m.rendered OR NOT EXISTS (SELECT 1 FROM {} t WHERE t.tenant_id = m.tenant_id AND t.name = m.template AND t.active
    AND (t.locale = '' OR t.locale = m.locale OR m.locale LIKE t.locale || '-%')))", self.table("templates"))
                },
                attempts = self.table("attempts"),
                buckets = self.table("rate_buckets"),
                categories = categories,
                lock = literal(BATCH_LOCK_PREFIX),
            ),
            &[
                ("limit", "int"),
                ("per_tenant", "int"),
                ("lease_ms", "double precision"),
                ("worker_id", "text"),
                ("rate_key", "text"),
                ("rate_spacing_ms", "double precision"),
            ],
        )
    }

    /// A transport's rate (`maxPerSecond`), run first in the claim's transaction: creates the
    /// bucket `$1` if new and locks it, so that concurrent claims of every worker take its
    /// grants one after another. A bucket is the time of its next grant (`updated_at`): the
    /// claim takes one message when it has come and moves it on by `$2` ms, so grants are at
    /// least that far apart. Returns how long until the next grant (`wait_ms`) and whether any
    /// message is due (`due`), for the loop to wait for its grant rather than poll.
    #[must_use]
    pub fn email_rate_take(&self) -> Statement {
        Statement::new(
            format!(
                "INSERT INTO {b} AS b (key, tokens, capacity, refill_per_sec, updated_at)
VALUES ($1, 0, 1, 1000 / $2::double precision, 'epoch')
ON CONFLICT (key) DO UPDATE SET refill_per_sec = EXCLUDED.refill_per_sec
RETURNING greatest(0, ceil(extract(epoch FROM b.updated_at - now()) * 1000))::int AS wait_ms,
  EXISTS (SELECT 1 FROM {m} WHERE status = 'queued' AND next_attempt_at <= now()) AS due",
                b = self.table("rate_buckets"),
                m = self.table("messages"),
            ),
            &[("rate_key", "text"), ("spacing_ms", "double precision")],
        )
    }

    /// Records a batch of hand-offs: each message's new state (fenced by its lease token; its
    /// batch kept only where `$31` says so, see the report's `rebatch`), an
    /// attempt row where a transport was called (and one per transport a failover tried before
    /// it), recipient states, and suppressions learnt from the answers (an SMTP `550 5.1.1` at
    /// RCPT). Returns the messages recorded: id, tenant, attempt count and category.
    #[must_use]
    pub fn email_record(&self) -> Statement {
        Statement::new(
            format!(
                "WITH x AS (
  SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::timestamptz[], $11::int[], $12::int[], $31::boolean[])
    AS x(id, created_at, lease_token, status, next_attempt_at, outcome, error, provider_message_id, transport, started_at, duration_ms, provider_status, keep_batch)
), u AS (
  UPDATE {m} m SET status = x.status, next_attempt_at = coalesce(x.next_attempt_at, m.next_attempt_at),
    batch_id = CASE WHEN x.keep_batch THEN m.batch_id END,
    lease_until = NULL, lease_token = NULL, lease_owner = NULL, last_outcome = x.outcome, last_error = x.error,
    provider_message_id = coalesce(x.provider_message_id, m.provider_message_id), transport = coalesce(x.transport, m.transport),
    finished_at = CASE WHEN x.status IN ('sent', 'failed', 'expired', 'cancelled', 'suppressed') THEN now() END
  FROM x WHERE m.created_at = x.created_at AND m.id = x.id AND m.status = 'in_flight' AND m.lease_token = x.lease_token
  RETURNING m.id, m.tenant_id, m.created_at, m.attempt_count, m.category
), a AS (
  INSERT INTO {att} (id, tenant_id, message_id, attempt_number, transport, started_at, duration_ms, outcome, provider_status, provider_message_id, detail, worker_id)
  SELECT gen_random_uuid(), u.tenant_id, u.id, u.attempt_count, x.transport, x.started_at, x.duration_ms, x.outcome, x.provider_status,
         x.provider_message_id, x.error, $13
  FROM u JOIN x ON x.id = u.id WHERE x.transport IS NOT NULL
), rc AS (
  UPDATE {rcpt} r SET status = y.status, suppression_reason = coalesce(y.reason, r.suppression_reason), updated_at = now()
  FROM unnest($14::uuid[], $15::text[], $16::text[], $17::text[]) AS y(message_id, key, status, reason)
  JOIN u ON u.id = y.message_id
  WHERE r.created_at = u.created_at AND r.message_id = y.message_id AND r.address_key = y.key
), sp AS (
  INSERT INTO {sup} (id, tenant_id, address, address_hash, category, reason, source)
  SELECT gen_random_uuid(), CASE WHEN z.tenant_scoped THEN u.tenant_id END, z.address,
         sha256(convert_to(z.key, 'UTF8')), NULL, z.reason, z.source
  FROM unnest($18::uuid[], $19::text[], $20::text[], $21::text[], $22::boolean[], $23::text[])
    AS z(message_id, address, key, reason, tenant_scoped, source)
  JOIN u ON u.id = z.message_id
  ON CONFLICT DO NOTHING
), pa AS (
  INSERT INTO {att} (id, tenant_id, message_id, attempt_number, transport, started_at, duration_ms, outcome, provider_status, detail, worker_id)
  SELECT gen_random_uuid(), u.tenant_id, u.id, u.attempt_count, p.transport, p.started_at, p.duration_ms, p.outcome, p.provider_status, p.detail, $13
  FROM unnest($24::uuid[], $25::text[], $26::timestamptz[], $27::int[], $28::text[], $29::int[], $30::text[])
    AS p(message_id, transport, started_at, duration_ms, outcome, provider_status, detail)
  JOIN u ON u.id = p.message_id
)
SELECT id, tenant_id, attempt_count, category FROM u",
                m = self.table("messages"),
                att = self.table("attempts"),
                rcpt = self.table("recipients"),
                sup = self.table("suppressions"),
            ),
            &[
                ("ids", "uuid[]"),
                ("created_ats", "timestamptz[]"),
                ("lease_tokens", "uuid[]"),
                ("statuses", "text[]"),
                ("next_attempt_ats", "timestamptz[]"),
                ("outcomes", "text[]"),
                ("errors", "text[]"),
                ("provider_message_ids", "text[]"),
                ("transports", "text[]"),
                ("started_ats", "timestamptz[]"),
                ("durations_ms", "int[]"),
                ("provider_statuses", "int[]"),
                ("worker_id", "text"),
                ("recipient_message_ids", "uuid[]"),
                ("recipient_keys", "text[]"),
                ("recipient_statuses", "text[]"),
                ("recipient_reasons", "text[]"),
                ("suppression_message_ids", "uuid[]"),
                ("suppression_addresses", "text[]"),
                ("suppression_keys", "text[]"),
                ("suppression_reasons", "text[]"),
                ("suppression_tenant_scoped", "boolean[]"),
                ("suppression_sources", "text[]"),
                ("tried_message_ids", "uuid[]"),
                ("tried_transports", "text[]"),
                ("tried_started_ats", "timestamptz[]"),
                ("tried_durations_ms", "int[]"),
                ("tried_outcomes", "text[]"),
                ("tried_provider_statuses", "int[]"),
                ("tried_details", "text[]"),
                ("keep_batches", "boolean[]"),
            ],
        )
    }

    /// `UPDATE … SET {set}` of claimed messages still held under their claim: the last three
    /// parameters are their ids, lease tokens and `created_at` (`params` come first).
    fn fenced_update(&self, set: &str, params: &[(&'static str, &'static str)]) -> Statement {
        let m = self.table("messages");
        let n = params.len();
        let mut all = params.to_vec();
        all.extend([
            ("ids", "uuid[]"),
            ("lease_tokens", "uuid[]"),
            ("created_at", "timestamptz[]"),
        ]);
        Statement::new(
            format!(
                "UPDATE {m} m SET {set}
FROM unnest(${}::uuid[], ${}::uuid[], ${}::timestamptz[]) AS b(id, lease_token, created_at)
WHERE m.created_at = b.created_at AND m.id = b.id AND m.status = 'in_flight' AND m.lease_token = b.lease_token
RETURNING m.id",
                n + 1,
                n + 2,
                n + 3
            ),
            &all,
        )
    }

    /// Marks claimed messages as members of the batch request with idempotency key `$1` and `$2`
    /// messages (stored as `{key}/{members}`, which the claim and the reaper read back), before
    /// the request goes out: if
    /// the worker dies during it, the reaper holds them, since only the identical request (same
    /// members, same key) could safely be repeated. Returns the ids marked (a lease another
    /// worker took over is not).
    #[must_use]
    pub fn email_batch_mark(&self) -> Statement {
        self.fenced_update(
            "batch_id = $1 || '/' || $2::int",
            &[("batch_key", "text"), ("members", "int")],
        )
    }

    /// Gives claimed messages back without an attempt: queued as before the claim, due again
    /// `$1` ms from now at the earliest. For a claim that took more than the worker's free
    /// hand-off slots could send (0 ms), or messages routed to a transport paused after it
    /// refused our credentials (the rest of the pause).
    #[must_use]
    pub fn email_release(&self) -> Statement {
        self.fenced_update(
            "status = 'queued', lease_until = NULL, lease_token = NULL, lease_owner = NULL, attempt_count = m.attempt_count - 1,
  next_attempt_at = greatest(m.next_attempt_at, now() + make_interval(secs => $1::double precision / 1000))",
            &[("delay_ms", "double precision")],
        )
    }

    /// Messages whose lease ran out while `in_flight` (a worker died mid hand-off): the request
    /// may have reached the provider, so they are `ambiguous`. Members of a batch request (see
    /// [`Store::email_batch_mark`]) are queued again as they are, to be claimed together and
    /// sent as the identical request, which the provider answers from its idempotency record
    /// (Resend keeps keys 24 h, so not for messages older than 23 h: those are held). Otherwise,
    /// with `$1` (`onAmbiguous: "hold"`) they stay so for an operator, except on transports in
    /// `$2` (idempotent: a retry cannot send twice) or, for an attempt that had not answered yet,
    /// when `$3` (every route ends at one idempotent transport); otherwise they are queued again
    /// at once.
    ///
    /// It also holds the queued members of a batch request that can no longer be repeated as it
    /// was: another member expired, was cancelled, or ended otherwise (an operator's decision).
    /// Returns each one reaped or held (`id`, `tenant_id`, `transport`, the `status` it was left
    /// in, `last_error`).
    #[must_use]
    pub fn email_reap(&self) -> Statement {
        let m = self.table("messages");
        Statement::new(
            format!(
                "WITH c AS (
  SELECT created_at, id FROM {m} WHERE status = 'in_flight' AND lease_until < now()
  ORDER BY lease_until LIMIT 500 FOR UPDATE SKIP LOCKED
), u AS (
  UPDATE {m} m SET
    status = CASE WHEN m.batch_id IS NOT NULL THEN CASE WHEN m.created_at > now() - interval '23 hours' THEN 'queued' ELSE 'ambiguous' END
                  WHEN $1 AND NOT coalesce(m.transport = ANY($2::text[]), $3) THEN 'ambiguous' ELSE 'queued' END,
    next_attempt_at = now(), lease_until = NULL, lease_token = NULL, lease_owner = NULL, last_outcome = 'ambiguous',
    last_error = 'the worker stopped during the hand-off (lease expired)'
  FROM c WHERE m.created_at = c.created_at AND m.id = c.id
  RETURNING m.id, m.tenant_id, m.attempt_count, m.transport, m.status, m.last_error
), a AS (
  INSERT INTO {att} (id, tenant_id, message_id, attempt_number, transport, started_at, outcome, detail)
  SELECT gen_random_uuid(), u.tenant_id, u.id, u.attempt_count, coalesce(u.transport, 'unknown'), now(), 'ambiguous', 'lease expired'
  FROM u
), broken AS (
  SELECT created_at, id FROM {m} q
  WHERE q.status = 'queued' AND q.batch_id IS NOT NULL
    AND (q.created_at <= now() - interval '23 hours' OR EXISTS (SELECT 1 FROM {m} o WHERE o.batch_id = q.batch_id
         AND (o.status NOT IN ('queued', 'in_flight') OR (o.status = 'queued' AND o.expires_at <= now())))
      OR CASE WHEN q.batch_id ~ '^[^/]+/[0-9]{{1,3}}$'
         THEN (SELECT count(*) FROM {m} o WHERE o.batch_id = q.batch_id) < split_part(q.batch_id, '/', 2)::int ELSE true END)
  LIMIT 500 FOR UPDATE SKIP LOCKED
), held AS (
  UPDATE {m} m SET status = 'ambiguous', last_outcome = 'ambiguous',
    last_error = 'its batch request, whose outcome is unknown, can no longer be repeated as it was (a member expired or ended, or the provider''s 24 h idempotency window passed)'
  FROM broken WHERE m.created_at = broken.created_at AND m.id = broken.id
  RETURNING m.id, m.tenant_id, m.transport, m.status, m.last_error
)
SELECT id, tenant_id, transport, status, last_error FROM u
UNION ALL SELECT id, tenant_id, transport, status, last_error FROM held",
                att = self.table("attempts"),
            ),
            &[
                ("hold", "boolean"),
                ("idempotent_transports", "text[]"),
                ("all_idempotent", "boolean"),
            ],
        )
    }
}
