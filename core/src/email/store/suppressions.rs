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
}
