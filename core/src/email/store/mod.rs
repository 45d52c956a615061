//! The SQL of `@usebetterdev/email`, as data: the schema (tables, indexes, weekly partitions,
//! row-level security, the suppression lookup and enqueue functions) and the retention statements, built on
//! the shared [`Layout`] so that the email tables are named, isolated, versioned and
//! partitioned exactly as the webhook tables are. The CLI and the package execute them; neither
//! builds SQL text itself.

pub mod defer;
pub mod engine;
pub mod enqueue;
pub mod events;
pub mod operator;
pub mod quota;
pub mod retention;
pub mod schema;
pub mod send;
pub mod senders;
pub mod stats;
pub mod suppressed;
pub mod suppressions;
pub mod templates;

use super::error::{EmailError, Result};
use crate::store::{schema_state, Kind, Product, SchemaState, Tables};
pub use crate::store::{Param, PartitionWidth, Statement, StoreConfig};

/// Reads function `name` of schema `$1` taking `types` as `check` judges it: one row
/// (`security_definer`, `config`, `source`) when it exists, none when it does not.
#[must_use]
pub fn function_query(name: &str, types: &str) -> String {
    format!(
        "SELECT p.prosecdef, coalesce(p.proconfig::text[], '{{}}'), coalesce(p.prosrc, '')
  FROM pg_proc p
 WHERE p.oid = to_regprocedure(format('%I.{name}({types})', $1::text))"
    )
}

/// Version written to `email_meta` by this schema.
pub const SCHEMA_VERSION: u32 = 2;

/// The policy's name on every tenant table and partition.
pub const POLICY: &str = "email_tenant_isolation";

/// Tables partitioned by time (messages, recipients and attempts by `created_at`, events by
/// `received_at`), so that retention drops whole partitions.
pub const PARTITIONED: [&str; 4] = ["messages", "recipients", "attempts", "events"];

/// The email tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Email {}

impl Kind for Email {
    const PRODUCT: &'static Product = &Product {
        prefix: "email",
        policy: POLICY,
        tool: "better-email",
        partitioned: &PARTITIONED,
    };
    type Error = EmailError;

    fn invalid_name(field: &'static str, reason: String) -> EmailError {
        EmailError::config(field, reason)
    }
}

/// Validated names; every statement builder hangs off this (the shared layout holds the
/// schema, tenancy and partition width).
pub type Store = Tables<Email>;

/// Judges `schema_probe` and `schema_version` results.
///
/// # Errors
/// `EMAIL_SCHEMA_MISSING` or `EMAIL_SCHEMA_OUTDATED`, both naming `better-email migrate`.
pub fn schema_status(has_meta: bool, version: Option<&str>) -> Result<()> {
    match schema_state(has_meta, version, SCHEMA_VERSION) {
        SchemaState::Current => Ok(()),
        SchemaState::Missing => Err(EmailError::SchemaMissing),
        SchemaState::Outdated(found) => Err(EmailError::SchemaOutdated {
            found,
            expected: SCHEMA_VERSION,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_status() {
        let s = Store::new(&StoreConfig::default()).unwrap();
        assert_eq!(s.table("messages"), "\"public\".\"email_messages\"");
        let e = Store::new(&StoreConfig {
            tenant_schema: Some(String::new()),
            ..StoreConfig::default()
        })
        .unwrap_err();
        assert_eq!(e.code(), "EMAIL_INVALID_CONFIG");
        assert!(e.to_string().contains("`tenantSchema`"), "{e}");
        assert_eq!(
            schema_status(false, None).unwrap_err().code(),
            "EMAIL_SCHEMA_MISSING"
        );
        // Version 1 had no `email_enqueue`.
        let old = schema_status(true, Some("1")).unwrap_err();
        assert_eq!(old.code(), "EMAIL_SCHEMA_OUTDATED");
        assert!(old.to_string().contains("better-email migrate"));
        assert!(schema_status(true, Some("2")).is_ok());
    }
}
