//! What `send()` / `sendMany()` write, all in the caller's transaction: idempotency keys, then
//! messages, recipients (with their suppression lookup) and attachments in one statement.
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

    /// Messages, their recipients and attachments in one statement (so a failure writes none of
    /// them), with the recipients' suppression lookup inside it: each recipient (address hash
    /// `$24`, the message's category `$25`) is looked up through the `SECURITY DEFINER`
    /// function, one call per category; an `unsubscribe` entry counts only for the categories
    /// in `$32` (the unsubscribable ones), as the claim reads it. A suppressed recipient is
    /// stored `suppressed` with its reason, a message whose every recipient is suppressed is
    /// stored `suppressed` (never sent); the rows answered are the suppressed recipients,
    /// `ord` counting all recipients in parameter order. Recipients share the message's
    /// `created_at` (both `now()`, one transaction). `reply_to` entries are array literals,
    /// `headers` JSON text; `$33`/`$34` say per message whether it is rendered and its props
    /// (JSON text, for the worker to render with or kept by `retention.storeProps`).
    ///
    /// The query runs inside `email_enqueue` ([`Store::enqueue_query`]), whose plan the server
    /// keeps per connection: sent as it is, the server planned it on every send, prepared or not
    /// (a custom plan per parameter set), which was most of a send's time.
    #[must_use]
    pub fn email_insert(&self) -> Statement {
        let args: Vec<String> = INSERT_PARAMS
            .iter()
            .enumerate()
            .map(|(i, (_, t))| format!("${}::{t}", i + 1))
            .collect();
        Statement::new(
            format!(
                "SELECT ord, reason FROM {}({})",
                self.enqueue_name(),
                args.join(", ")
            ),
            &INSERT_PARAMS,
        )
    }

    /// The query of [`Store::email_insert`], as `email_enqueue` runs it (`$n`: its arguments,
    /// in [`INSERT_PARAMS`] order).
    #[must_use]
    pub fn enqueue_query(&self) -> String {
        let tenant = Store::tenant_value("$1");
        format!(
            "WITH y AS (
  SELECT y.*, CASE WHEN s.reason = 'unsubscribe' AND NOT (y.category = ANY($32::text[])) THEN NULL ELSE s.reason END AS reason
  FROM unnest($19::uuid[], $20::text[], $21::text[], $22::text[], $23::text[], $24::bytea[], $25::text[]) WITH ORDINALITY
    AS y(message_id, kind, address, address_key, name, hash, category, ord)
  LEFT JOIN (
    SELECT g.ords[l.ord] AS ord, l.reason
    FROM (SELECT z.category, array_agg(z.hash ORDER BY z.ord) AS hashes, array_agg(z.ord ORDER BY z.ord) AS ords
            FROM unnest($24::bytea[], $25::text[]) WITH ORDINALITY AS z(hash, category, ord)
           GROUP BY z.category) g
    CROSS JOIN LATERAL {schema}.{function}(g.hashes, g.category) l
  ) s ON s.ord = y.ord
), blocked AS (
  SELECT message_id, bool_and(reason IS NOT NULL) AS every FROM y GROUP BY message_id
), m AS (
  INSERT INTO {messages} (id, tenant_id, category, priority, status, from_addr, reply_to, subject, html, text_body, headers,
    template, locale, rendered, props, message_id_header, date_header, tags, idempotency_key, send_at, next_attempt_at, expires_at, created_at)
  SELECT x.id, {tenant}, x.category, x.priority, CASE WHEN b.every THEN 'suppressed' ELSE 'queued' END, x.from_addr, x.reply_to::text[],
    x.subject, x.html, x.text_body, x.headers::jsonb,
    x.template, x.locale, x.rendered, x.props::jsonb, x.message_id_header, x.date_header, x.tags::jsonb, x.idempotency_key,
    coalesce(x.send_at, now()), coalesce(x.send_at, now()), x.expires_at, now()
  FROM unnest($2::uuid[], $3::text[], $4::smallint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
              $11::text[], $12::text[], $13::text[], $14::timestamptz[], $15::text[], $16::text[], $17::timestamptz[], $18::timestamptz[],
              $33::boolean[], $34::text[])
    AS x(id, category, priority, from_addr, reply_to, subject, html, text_body, headers,
         template, locale, message_id_header, date_header, tags, idempotency_key, send_at, expires_at, rendered, props)
  LEFT JOIN blocked b ON b.message_id = x.id
  RETURNING id
), r AS (
  INSERT INTO {recipients} (message_id, tenant_id, kind, address, address_key, name, status, suppression_reason, created_at)
  SELECT y.message_id, {tenant}, y.kind, y.address, y.address_key, y.name,
    CASE WHEN y.reason IS NULL THEN 'pending' ELSE 'suppressed' END, y.reason, now()
  FROM y
), a AS (
  INSERT INTO {attachments} (message_id, tenant_id, idx, filename, content_type, content_id, content)
  SELECT z.message_id, {tenant}, z.idx, z.filename, z.content_type, z.content_id, z.content
  FROM unnest($26::uuid[], $27::smallint[], $28::text[], $29::text[], $30::text[], $31::bytea[])
    AS z(message_id, idx, filename, content_type, content_id, content)
)
SELECT y.ord, y.reason FROM y WHERE y.reason IS NOT NULL",
            messages = self.table("messages"),
            recipients = self.table("recipients"),
            attachments = self.table("attachments"),
            schema = quote_ident(self.schema()),
            function = quote_ident(FUNCTION),
        )
    }
}

/// The parameters of [`Store::email_insert`], in order: also `email_enqueue`'s argument types.
pub const INSERT_PARAMS: [(&str, &str); 34] = [
    ("tenant_id", "uuid"),
    ("ids", "uuid[]"),
    ("categories", "text[]"),
    ("priorities", "smallint[]"),
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
    ("recipient_address_hashes", "bytea[]"),
    ("recipient_categories", "text[]"),
    ("attachment_message_ids", "uuid[]"),
    ("attachment_indexes", "smallint[]"),
    ("attachment_filenames", "text[]"),
    ("attachment_content_types", "text[]"),
    ("attachment_content_ids", "text[]"),
    ("attachment_contents", "bytea[]"),
    ("unsubscribable", "text[]"),
    ("rendered", "boolean[]"),
    ("props", "text[]"),
];
