//! What `send()` / `sendMany()` write, all in the caller's transaction: idempotency keys, the
//! suppression lookup, then messages, recipients and attachments in one statement.
//!
//! Every statement takes the tenant as `$1` (NULL: the scope's tenant, as the column default;
//! a value: system context with `tenantId`), as the webhook send statements do. Keys are
//! claimed in sorted order, so two `sendMany` calls with the same keys cannot deadlock.

use super::{suppressed::FUNCTION, Statement, Store};
use crate::sql::quote_ident;

impl Store {
    /// Claims each idempotency key for the new message, or takes over an expired one; returns
    /// the keys claimed. A key not returned is held by another message: run
    /// [`Store::email_idempotency_lookup`] next (in a new statement, so a key committed by a
    /// concurrent transaction meanwhile is visible). `keys` must be distinct.
    #[must_use]
    pub fn email_idempotency_claim(&self) -> Statement {
        Statement::new(
            format!(
                "INSERT INTO {idem} AS i (tenant_id, key, message_id, request_sha256, expires_at)
SELECT {tenant}, x.key, x.message_id, x.request_sha256, now() + make_interval(secs => $5)
FROM unnest($2::text[], $3::uuid[], $4::bytea[]) AS x(key, message_id, request_sha256)
ORDER BY x.key
ON CONFLICT (tenant_id, key) DO UPDATE
  SET message_id = EXCLUDED.message_id, request_sha256 = EXCLUDED.request_sha256, expires_at = EXCLUDED.expires_at
  WHERE i.expires_at <= now()
RETURNING i.key",
                idem = self.table("idempotency_keys"),
                tenant = Store::tenant_value("$1"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("keys", "text[]"),
                ("message_ids", "uuid[]"),
                ("request_sha256s", "bytea[]"),
                ("window_secs", "double precision"),
            ],
        )
    }

    /// How many messages the tenant `$1` has queued (`n`, counted up to `$2`, the limit: a
    /// tenant far over it costs no more than one at it), and how many of the keys `$3` are
    /// held (`known`: those sends answer `duplicate` or a conflict, and add nothing).
    #[must_use]
    pub fn email_queued_count(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT (SELECT count(*)::int FROM (
  SELECT 1 FROM {m} WHERE tenant_id IS NOT DISTINCT FROM {tenant} AND status = 'queued' LIMIT $2) q) AS n,
  (SELECT count(*)::int FROM {idem}
   WHERE tenant_id IS NOT DISTINCT FROM {tenant} AND key = ANY($3::text[]) AND expires_at > now()) AS known",
                m = self.table("messages"),
                idem = self.table("idempotency_keys"),
                tenant = Store::tenant_value("$1"),
            ),
            &[("tenant_id", "uuid"), ("limit", "int"), ("keys", "text[]")],
        )
    }

    /// The messages that hold `keys`: the same request hash makes a send a `duplicate`, another
    /// is `EMAIL_IDEMPOTENCY_CONFLICT`.
    #[must_use]
    pub fn email_idempotency_lookup(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT key, message_id, request_sha256 FROM {idem}
WHERE tenant_id IS NOT DISTINCT FROM {tenant} AND key = ANY($2::text[]) AND expires_at > now()",
                idem = self.table("idempotency_keys"),
                tenant = Store::tenant_value("$1"),
            ),
            &[("tenant_id", "uuid"), ("keys", "text[]")],
        )
    }

    /// Whether each recipient (address hash, message category) is suppressed: one call of the
    /// `SECURITY DEFINER` lookup per category, answers `ord` (1-based input position),
    /// `suppressed`, `reason`. The tenant is the caller's scope (the function reads it).
    #[must_use]
    pub fn email_suppressed_lookup(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT g.ords[s.ord] AS ord, s.suppressed, s.reason
FROM (SELECT x.category, array_agg(x.hash ORDER BY x.ord) AS hashes, array_agg(x.ord ORDER BY x.ord) AS ords
        FROM unnest($1::bytea[], $2::text[]) WITH ORDINALITY AS x(hash, category, ord)
       GROUP BY x.category) g
CROSS JOIN LATERAL {schema}.{function}(g.hashes, g.category) s",
                schema = quote_ident(self.schema()),
                function = quote_ident(FUNCTION),
            ),
            &[("address_hashes", "bytea[]"), ("categories", "text[]")],
        )
    }

    /// Messages, their recipients and attachments in one statement (so a failure writes none of
    /// them); recipients share the message's `created_at` (both `now()`, one transaction).
    /// `reply_to` entries are array literals, `headers` JSON text.
    #[must_use]
    pub fn email_insert(&self) -> Statement {
        let tenant = Store::tenant_value("$1");
        Statement::new(
            format!(
                "WITH m AS (
  INSERT INTO {messages} (id, tenant_id, category, priority, status, from_addr, reply_to, subject, html, text_body, headers,
    template, locale, rendered, message_id_header, date_header, tags, idempotency_key, send_at, next_attempt_at, expires_at, created_at)
  SELECT x.id, {tenant}, x.category, x.priority, x.status, x.from_addr, x.reply_to::text[], x.subject, x.html, x.text_body, x.headers::jsonb,
    x.template, x.locale, true, x.message_id_header, x.date_header, x.tags::jsonb, x.idempotency_key,
    coalesce(x.send_at, now()), coalesce(x.send_at, now()), x.expires_at, now()
  FROM unnest($2::uuid[], $3::text[], $4::smallint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
              $12::text[], $13::text[], $14::text[], $15::timestamptz[], $16::text[], $17::text[], $18::timestamptz[], $19::timestamptz[])
    AS x(id, category, priority, status, from_addr, reply_to, subject, html, text_body, headers,
         template, locale, message_id_header, date_header, tags, idempotency_key, send_at, expires_at)
  RETURNING id, created_at
), r AS (
  INSERT INTO {recipients} (message_id, tenant_id, kind, address, address_key, name, status, suppression_reason, created_at)
  SELECT y.message_id, {tenant}, y.kind, y.address, y.address_key, y.name, y.status, y.reason, now()
  FROM unnest($20::uuid[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[])
    AS y(message_id, kind, address, address_key, name, status, reason)
), a AS (
  INSERT INTO {attachments} (message_id, tenant_id, idx, filename, content_type, content_id, content)
  SELECT z.message_id, {tenant}, z.idx, z.filename, z.content_type, z.content_id, z.content
  FROM unnest($27::uuid[], $28::smallint[], $29::text[], $30::text[], $31::text[], $32::bytea[])
    AS z(message_id, idx, filename, content_type, content_id, content)
)
SELECT id, created_at FROM m",
                messages = self.table("messages"),
                recipients = self.table("recipients"),
                attachments = self.table("attachments"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("ids", "uuid[]"),
                ("categories", "text[]"),
                ("priorities", "smallint[]"),
                ("statuses", "text[]"),
                ("from_addrs", "text[]"),
                ("reply_tos", "text[]"),
                ("subjects", "text[]"),
                ("htmls", "text[]"),
                ("text_bodies", "text[]"),
                ("headers", "text[]"),
                ("templates", "text[]"),
                ("locales", "text[]"),
                ("message_id_headers", "text[]"),
                ("date_headers", "timestamptz[]"),
                ("tags", "text[]"),
                ("idempotency_keys", "text[]"),
                ("send_ats", "timestamptz[]"),
                ("expires_ats", "timestamptz[]"),
                ("recipient_message_ids", "uuid[]"),
                ("recipient_kinds", "text[]"),
                ("recipient_addresses", "text[]"),
                ("recipient_keys", "text[]"),
                ("recipient_names", "text[]"),
                ("recipient_statuses", "text[]"),
                ("recipient_reasons", "text[]"),
                ("attachment_message_ids", "uuid[]"),
                ("attachment_indexes", "smallint[]"),
                ("attachment_filenames", "text[]"),
                ("attachment_content_types", "text[]"),
                ("attachment_content_ids", "text[]"),
                ("attachment_contents", "bytea[]"),
            ],
        )
    }
}
