//! Writing suppressions outside the send path: an unsubscribe link, a provider event, an
//! operator. Each runs in system context (the handlers have no tenant scope: the token or the
//! correlated message names the tenant) and is idempotent: the unique key is (tenant, address
//! hash, category, reason), so a repeated POST or a redelivered event adds nothing.

use super::suppressed::FUNCTION;
use super::{Statement, Store};
use crate::policy::context::current_tenant_expr;
use crate::sql::quote_ident;

impl Store {
    /// Adds one suppression: `$1` the tenant (NULL: global), `$2` the address as given,
    /// `$3` its matching key (hashed here), `$4` the category (NULL: all), `$5` the reason,
    /// `$6` its source, `$7` a note, `$8` when it lapses. Returns the row if it is new.
    #[must_use]
    pub fn email_suppression_add(&self) -> Statement {
        Statement::new(
            format!(
                "INSERT INTO {sup} (id, tenant_id, address, address_hash, category, reason, source, note, expires_at)
VALUES (gen_random_uuid(), $1::uuid, $2, sha256(convert_to($3, 'UTF8')), $4, $5, $6, $7, $8::timestamptz)
ON CONFLICT DO NOTHING
RETURNING id",
                sup = self.table("suppressions"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("address", "text"),
                ("address_key", "text"),
                ("category", "text"),
                ("reason", "text"),
                ("source", "text"),
                ("note", "text"),
                ("expires_at", "timestamptz"),
            ],
        )
    }

    /// Adds suppressions in bulk (`better-email suppressions import`), source `import`: the
    /// text arrays `$1` tenants (UUIDs; NULL: global), `$2` addresses, `$3` their keys (hashed
    /// here), `$4` categories, `$5` reasons, `$6` expiry (ISO 8601), `$7` notes. Rows already present (same tenant,
    /// address, category and reason) are left as they are. Returns how many were new (`added`).
    #[must_use]
    pub fn email_suppressions_import(&self) -> Statement {
        Statement::new(
            format!(
                "WITH i AS (
  INSERT INTO {sup} (id, tenant_id, address, address_hash, category, reason, source, note, expires_at)
  SELECT gen_random_uuid(), x.tenant_id::uuid, x.address, sha256(convert_to(x.key, 'UTF8')), x.category, x.reason, 'import', x.note,
         x.expires_at::timestamptz
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
    AS x(tenant_id, address, key, category, reason, expires_at, note)
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT count(*)::int AS added FROM i",
                sup = self.table("suppressions"),
            ),
            &[
                ("tenant_ids", "text[]"),
                ("addresses", "text[]"),
                ("address_keys", "text[]"),
                ("categories", "text[]"),
                ("reasons", "text[]"),
                ("expires_at", "text[]"),
                ("notes", "text[]"),
            ],
        )
    }

    /// Every suppression in the columns of [`crate::email::suppression_file::COLUMNS`] (text),
    /// oldest first: `better-email suppressions export` and `email.suppressions.export()`.
    /// `$1` a tenant (NULL: what the context sees), `$2` only the global entries. Entries whose
    /// address was erased (only its hash kept) cannot be imported anywhere and are left out.
    #[must_use]
    pub fn email_suppressions_export(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT address, reason, category, tenant_id::text, {expires} AS expires_at, note
FROM {sup} s WHERE address IS NOT NULL AND {which} ORDER BY created_at, id",
                expires = iso("expires_at"),
                which = which("$1", "$2"),
                sup = self.table("suppressions"),
            ),
            &[("tenant_id", "uuid"), ("global", "boolean")],
        )
    }

    /// An entry added by an operator (`email.suppressions.add`, `better-email suppressions
    /// add`): `$1` a tenant (NULL: the scope's), `$2` the address, `$3` its key, `$4` category,
    /// `$5` reason, `$6` note, `$7` expiry, `$8` global (no tenant), `$9` source. One row:
    /// `scope`, the tenant it was meant for, `context`, the scope's tenant, and the entry's
    /// columns when it is new. Nothing is written for a tenant's entry without a tenant, nor
    /// for a global one inside a tenant scope (see [`target`]).
    #[must_use]
    pub fn email_suppression_put(&self) -> Statement {
        Statement::new(
            judged("$1", "$8", &format!(
                "  INSERT INTO {sup} (id, tenant_id, address, address_hash, category, reason, source, note, expires_at)
  SELECT gen_random_uuid(), t.tenant_id, $2, sha256(convert_to($3, 'UTF8')), $4, $5, $9, $6, $7::timestamptz
    FROM t WHERE t.allowed
  ON CONFLICT DO NOTHING
  RETURNING {columns}",
                columns = columns(""),
                sup = self.table("suppressions"),
            )),
            &[
                ("tenant_id", "uuid"),
                ("address", "text"),
                ("address_key", "text"),
                ("category", "text"),
                ("reason", "text"),
                ("note", "text"),
                ("expires_at", "timestamptz"),
                ("global", "boolean"),
                ("source", "text"),
            ],
        )
    }

    /// Removes an address's entries in one scope: `$1` a tenant (NULL: the scope's), `$2` the
    /// key, `$3` only this category, `$4` only this reason, `$5` the global entries instead.
    /// Rows: `scope` as [`Store::email_suppression_put`], and each removed entry (none: `id`
    /// NULL).
    #[must_use]
    pub fn email_suppression_remove(&self) -> Statement {
        Statement::new(
            judged(
                "$1",
                "$5",
                &format!(
                    "  DELETE FROM {sup} s USING t
   WHERE t.allowed AND s.tenant_id IS NOT DISTINCT FROM t.tenant_id
     AND s.address_hash = sha256(convert_to($2, 'UTF8'))
     AND ($3::text IS NULL OR s.category = $3) AND ($4::text IS NULL OR s.reason = $4)
  RETURNING {columns}",
                    columns = columns("s."),
                    sup = self.table("suppressions"),
                ),
            ),
            &[
                ("tenant_id", "uuid"),
                ("address_key", "text"),
                ("category", "text"),
                ("reason", "text"),
                ("global", "boolean"),
            ],
        )
    }

    /// A page of entries, oldest first: `$1` a tenant (NULL: what the context sees), `$2` only
    /// the global ones, `$3` reason, `$4` created since, `$5`/`$6` after this (created_at, id),
    /// at most `$7`.
    #[must_use]
    pub fn email_suppressions_list(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT {columns} FROM {sup} s
WHERE {which}
  AND ($3::text IS NULL OR s.reason = $3) AND ($4::timestamptz IS NULL OR s.created_at >= $4)
  AND ($5::timestamptz IS NULL OR (s.created_at, s.id) > ($5, $6::uuid))
ORDER BY s.created_at, s.id LIMIT $7",
                columns = columns("s."),
                which = which("$1", "$2"),
                sup = self.table("suppressions"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("global", "boolean"),
                ("reason", "text"),
                ("since", "timestamptz"),
                ("after_created_at", "timestamptz"),
                ("after_id", "uuid"),
                ("limit", "int"),
            ],
        )
    }

    /// Whether address key `$1` is suppressed for category `$2` in the context's tenant (the
    /// global entries included), through the lookup function the send path uses.
    #[must_use]
    pub fn email_suppression_check(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT s.suppressed, s.reason FROM {schema}.{function}(ARRAY[sha256(convert_to($1, 'UTF8'))], $2) s",
                schema = quote_ident(self.schema()),
                function = quote_ident(FUNCTION),
            ),
            &[("address_key", "text"), ("category", "text")],
        )
    }

    /// Erases address key `$1` everywhere (GDPR): its recipient rows and events deleted; the
    /// messages it received lose their subject, bodies, headers, props, attachments and
    /// attempt details (a queued one is cancelled: there is nothing left to send); its
    /// suppressions keep only the hash, so they still block. Run in system context: the
    /// person is erased for every tenant. One row of counts.
    #[must_use]
    pub fn email_erase(&self) -> Statement {
        Statement::new(
            format!(
                "WITH r AS (
  DELETE FROM {rcpt} WHERE address_key = $1 RETURNING message_id, created_at
), m AS (
  UPDATE {msg} m SET subject = NULL, html = NULL, text_body = NULL, headers = NULL, props = NULL,
         status = CASE WHEN m.status = 'queued' THEN 'cancelled' ELSE m.status END,
         finished_at = CASE WHEN m.status = 'queued' THEN now() ELSE m.finished_at END
    FROM (SELECT DISTINCT message_id, created_at FROM r) x
   WHERE m.id = x.message_id AND m.created_at = x.created_at
  RETURNING m.id
), a AS (
  DELETE FROM {att} WHERE message_id IN (SELECT message_id FROM r) RETURNING 1
), p AS (
  UPDATE {tries} SET detail = NULL WHERE message_id IN (SELECT message_id FROM r) AND detail IS NOT NULL RETURNING 1
), e AS (
  DELETE FROM {ev} WHERE address_key = $1 RETURNING 1
), s AS (
  UPDATE {sup} SET address = NULL WHERE address_hash = sha256(convert_to($1, 'UTF8')) AND address IS NOT NULL RETURNING 1
)
SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex') AS address_hash, (SELECT count(*) FROM m)::int AS messages, (SELECT count(*) FROM r)::int AS recipients,
       (SELECT count(*) FROM a)::int AS attachments, (SELECT count(*) FROM p)::int AS attempts,
       (SELECT count(*) FROM e)::int AS events, (SELECT count(*) FROM s)::int AS suppressions",
                rcpt = self.table("recipients"),
                msg = self.table("messages"),
                att = self.table("attachments"),
                tries = self.table("attempts"),
                ev = self.table("events"),
                sup = self.table("suppressions"),
            ),
            &[("address_key", "text")],
        )
    }
}

/// The tenant an operator's entry is for (none when `global`, else `tenant` or the scope's),
/// the scope's tenant, and whether the call may write: a tenant's entry needs a tenant, and a
/// global entry is the system context's (a tenant scope cannot see it, let alone change it).
pub(super) fn target(tenant: &str, global: &str) -> String {
    let context = current_tenant_expr();
    format!(
        "SELECT CASE WHEN {global} THEN NULL ELSE {value} END AS tenant_id, {context} AS context,
         CASE WHEN {global} THEN {context} IS NULL ELSE {value} IS NOT NULL END AS allowed",
        value = Store::tenant_value(tenant)
    )
}

/// `change` (a data-modifying statement over CTE `t`, [`target`]) with one row per changed entry,
/// each with the target's `scope` and `context`; one row of NULL entry columns when nothing
/// changed, so the verdict always sees the target.
fn judged(tenant: &str, global: &str, change: &str) -> String {
    format!(
        "WITH t AS ({}),
c AS (
{change}
)
SELECT t.tenant_id::text AS scope, t.context::text AS context, c.* FROM t LEFT JOIN c ON true",
        target(tenant, global)
    )
}

/// Which entries a read takes: the global ones, or those [`Store::read_scope`] sees.
pub(super) fn which(tenant: &str, global: &str) -> String {
    format!(
        "CASE WHEN {global} THEN s.tenant_id IS NULL ELSE {} END",
        Store::read_scope("s.tenant_id", tenant)
    )
}

/// A timestamp as ISO 8601 text in UTC with microseconds (a cursor needs them all).
pub(super) fn iso(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
}

/// An entry as the API returns it.
fn columns(prefix: &str) -> String {
    format!(
        "{prefix}id::text AS id, {prefix}tenant_id::text AS tenant_id, {prefix}address, encode({prefix}address_hash, 'hex') AS address_hash, {prefix}category, {prefix}reason, {prefix}source, {prefix}note, {expires} AS expires_at, {created} AS created_at",
        expires = iso(&format!("{prefix}expires_at")),
        created = iso(&format!("{prefix}created_at")),
    )
}
