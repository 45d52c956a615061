//! Tenant-editable templates (spec §7.3): `email_templates` rows are versions; saving one makes
//! it the active version of (tenant, name, locale) and retires the one before, so a send finds
//! at most one active row per locale. Every statement takes the tenant as `$1` (NULL: the
//! scope's) and touches only that tenant's rows: an override belongs to one tenant, and a
//! context without a tenant (system context, no `tenantId`) saves nothing and finds nothing.

use super::{Statement, Store};

/// The advisory lock of one (tenant, name, locale) being saved, with those appended.
pub const TEMPLATE_LOCK_PREFIX: &str = "better_email_template:";

impl Store {
    /// Waits for other saves of `$2` (name) for locale `$3` by the same tenant to end (a
    /// transaction lock, released at commit). Run before [`Store::email_template_save`] in the
    /// same transaction: that statement's snapshot then includes a concurrent save that
    /// committed first, so the two number their versions 1 and 2 instead of both choosing 1.
    #[must_use]
    pub fn email_template_lock(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT pg_advisory_xact_lock(hashtextextended('{TEMPLATE_LOCK_PREFIX}' || coalesce(({tenant})::text, '') || ':' || $2 || ':' || $3, 0))",
                tenant = Store::tenant_value("$1"),
            ),
            &[("tenant_id", "uuid"), ("name", "text"), ("locale", "text")],
        )
    }

    /// Saves a new version of `$2` (name) for locale `$3` with subject `$4`, html `$5` and text
    /// `$6`; the previous active version is retired in the same statement.
    /// Returns the new row, or none when the context has no tenant.
    #[must_use]
    pub fn email_template_save(&self) -> Statement {
        Statement::new(
            format!(
                "WITH t AS (SELECT {tenant} AS tenant_id),
retired AS (
  UPDATE {tpl} p SET active = false FROM t
  WHERE t.tenant_id IS NOT NULL AND p.tenant_id = t.tenant_id AND p.name = $2 AND p.locale = $3 AND p.active
  RETURNING p.version)
INSERT INTO {tpl} (id, tenant_id, name, locale, version, subject, html, text_body)
SELECT gen_random_uuid(), t.tenant_id, $2, $3,
  coalesce((SELECT max(v.version) FROM {tpl} v WHERE v.tenant_id = t.tenant_id AND v.name = $2 AND v.locale = $3), 0) + 1,
  $4, $5, $6
FROM t WHERE t.tenant_id IS NOT NULL
RETURNING id, tenant_id, name, locale, version, created_at",
                tpl = self.table("templates"),
                tenant = Store::tenant_value("$1"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("name", "text"),
                ("locale", "text"),
                ("subject", "text"),
                ("html", "text"),
                ("text_body", "text"),
            ],
        )
    }

    /// Retires the active versions of `$2` (name) for locale `$3` (NULL: every locale).
    #[must_use]
    pub fn email_template_remove(&self) -> Statement {
        Statement::new(
            format!(
                "UPDATE {tpl} SET active = false
WHERE tenant_id = {tenant} AND name = $2 AND ($3::text IS NULL OR locale = $3) AND active
RETURNING name, locale, version",
                tpl = self.table("templates"),
                tenant = Store::tenant_value("$1"),
            ),
            &[("tenant_id", "uuid"), ("name", "text"), ("locale", "text")],
        )
    }

    /// The tenant's active templates, by name and locale.
    #[must_use]
    pub fn email_templates_list(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT id, tenant_id, name, locale, version, subject, html, text_body, created_at FROM {tpl}
WHERE tenant_id = {tenant} AND active ORDER BY name, locale",
                tpl = self.table("templates"),
                tenant = Store::tenant_value("$1"),
            ),
            &[("tenant_id", "uuid")],
        )
    }

    /// Per input `ord` (1-based), the tenant's active override that fits best: candidates
    /// `(name, locale, rank)` in `$2…$5`, the lowest rank that exists wins (`de-CH`, then `de`,
    /// then the default locale `''`). A send's lookup and `templates.preview`.
    #[must_use]
    pub fn email_template_find(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT DISTINCT ON (x.ord) x.ord, t.name, t.locale, t.version, t.subject, t.html, t.text_body
FROM unnest($2::text[], $3::text[], $4::int[], $5::int[]) AS x(name, locale, rank, ord)
JOIN {tpl} t ON t.tenant_id = {tenant} AND t.name = x.name AND t.locale = x.locale AND t.active
ORDER BY x.ord, x.rank",
                tpl = self.table("templates"),
                tenant = Store::tenant_value("$1"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("names", "text[]"),
                ("locales", "text[]"),
                ("ranks", "int[]"),
                ("ords", "int[]"),
            ],
        )
    }

    /// `render: "worker"`: stores what the worker rendered for claimed messages (`$8`: rendered
    /// in this claim) and marks them rendered, before their first hand-off, so that every
    /// attempt sends the same content; the props stay only with `retention.storeProps`
    /// (`keep_props`). Every message of the claim (fenced by `$1` ids, `$2` lease tokens, `$3`
    /// partition keys) gets its lease again for `$9` ms, which rendering used up. A message
    /// erased since the claim (headers gone) is not written back. Returns the messages kept.
    #[must_use]
    pub fn email_render_freeze(&self, keep_props: bool) -> Statement {
        Statement::new(
            format!(
                "UPDATE {m} m SET lease_until = now() + make_interval(secs => $9::double precision / 1000),
  subject = CASE WHEN x.fresh THEN x.subject ELSE m.subject END,
  html = CASE WHEN x.fresh THEN x.html ELSE m.html END,
  text_body = CASE WHEN x.fresh THEN x.text_body ELSE m.text_body END,
  template_version = CASE WHEN x.fresh THEN x.version ELSE m.template_version END,
  props = CASE WHEN x.fresh THEN {props} ELSE m.props END,
  rendered = m.rendered OR x.fresh
FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[])
  AS x(id, lease_token, created_at, subject, html, text_body, version, fresh)
WHERE m.created_at = x.created_at AND m.id = x.id AND m.status = 'in_flight' AND m.lease_token = x.lease_token
  AND (NOT x.fresh OR (NOT m.rendered AND m.headers IS NOT NULL))
RETURNING m.id",
                m = self.table("messages"),
                props = if keep_props { "m.props" } else { "NULL" },
            ),
            &[
                ("ids", "uuid[]"),
                ("lease_tokens", "uuid[]"),
                ("created_at", "timestamptz[]"),
                ("subjects", "text[]"),
                ("htmls", "text[]"),
                ("text_bodies", "text[]"),
                ("versions", "text[]"),
                ("fresh", "boolean[]"),
                ("lease_ms", "double precision"),
            ],
        )
    }
}
