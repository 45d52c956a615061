//! The tenants table's statements, for the adapters that run SQL text (Prisma's raw queries).
//! Drizzle's repository builds the same queries from its table object instead.

use super::TENANTS;
use crate::error::{Error, Result};
use crate::sql::quote_ident;

/// One statement per repository call; `$n` placeholders, values bound by the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TenantsSql {
    /// `$1` id (uuid), `$2` name, `$3` slug; returns the row.
    pub create: String,
    /// `$1` id (uuid).
    pub by_id: String,
    /// `$1` slug.
    pub by_slug: String,
    /// `$1` id, `$2` name or null (kept), `$3` slug or null (kept); returns the row.
    pub update: String,
    /// `$1` limit, `$2` offset; oldest first, then by id, so pages neither skip nor repeat.
    pub list: String,
    /// `$1` id.
    pub delete: String,
    /// One row, `count` (int).
    pub count: String,
}

/// The statements for `table` (default `tenants`), a plain unqualified name as the reference
/// accepts it.
///
/// # Errors
/// `Rejected` (`INVALID_CONFIG`) with the reference's wording for any other name.
pub fn tenants_sql(table: Option<&str>) -> Result<TenantsSql> {
    let name = table.unwrap_or(TENANTS);
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Error::Rejected {
            message: format!(
                "better-tenant: invalid table name \"{name}\" — must be [a-zA-Z_][a-zA-Z0-9_]*"
            ),
        });
    }
    // The reference writes the name unquoted, which PostgreSQL folds to lower case.
    let t = quote_ident(&name.to_ascii_lowercase());
    Ok(TenantsSql {
        create: format!("INSERT INTO {t} (id, name, slug) VALUES ($1::uuid, $2, $3) RETURNING *"),
        by_id: format!("SELECT * FROM {t} WHERE id = $1::uuid LIMIT 1"),
        by_slug: format!("SELECT * FROM {t} WHERE slug = $1 LIMIT 1"),
        update: format!(
            "UPDATE {t} SET name = coalesce($2, name), slug = coalesce($3, slug) WHERE id = $1::uuid RETURNING *"
        ),
        list: format!("SELECT * FROM {t} ORDER BY created_at ASC, id ASC LIMIT $1 OFFSET $2"),
        delete: format!("DELETE FROM {t} WHERE id = $1::uuid"),
        count: format!("SELECT count(*)::int AS count FROM {t}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_quoted() {
        let sql = tenants_sql(None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            sql.by_slug,
            "SELECT * FROM \"tenants\" WHERE slug = $1 LIMIT 1"
        );
        let custom = tenants_sql(Some("Org_units")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            custom.count,
            "SELECT count(*)::int AS count FROM \"org_units\""
        );
        for bad in ["", "1tenants", "tenants;drop", "public.tenants", "tenant s"] {
            let err = tenants_sql(Some(bad))
                .err()
                .map(|e| (e.code(), e.to_string()));
            assert_eq!(
                err,
                Some((
                    "INVALID_CONFIG",
                    format!("better-tenant: invalid table name \"{bad}\" — must be [a-zA-Z_][a-zA-Z0-9_]*")
                )),
            );
        }
    }
}
