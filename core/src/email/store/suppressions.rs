//! Writing suppressions outside the send path: an unsubscribe link, a provider event, an
//! operator. Each runs in system context (the handlers have no tenant scope: the token or the
//! correlated message names the tenant) and is idempotent: the unique key is (tenant, address
//! hash, category, reason), so a repeated POST or a redelivered event adds nothing.

use super::{Statement, Store};

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
    /// oldest first: `better-email suppressions export`. Entries whose address was erased
    /// (only its hash kept) cannot be imported anywhere and are left out.
    #[must_use]
    pub fn email_suppressions_export(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT address, reason, category, tenant_id::text, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS expires_at, note
FROM {sup} WHERE address IS NOT NULL ORDER BY created_at, id",
                sup = self.table("suppressions"),
            ),
            &[],
        )
    }
}
