//! `better-audit check`: judges catalog facts about the audit trail's set-up — the table, its
//! columns and indexes, monthly partitions, trigger capture, append-only privileges, tenant
//! isolation and the seal key — each failure with the command or statement that fixes it.
//!
//! The expectations are read from the generators (`audit::storage`, `audit::triggers`,
//! `policy::audit`), not copied, so the check moves with what `migrate` writes. The report has
//! the shape and text layout of `better-tenant check`, plus the next step of a failed run.

mod access;
pub mod catalog;
mod table;
#[cfg(test)]
mod tests;

use catalog::AuditCatalog;

use super::{CheckResult, Report};
use crate::audit::storage::{Table, CHECKPOINTS};

/// The fix of most findings about the table.
const MIGRATE: &str = "run `better-audit migrate`";

/// What the seal check expects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealSetting {
    /// Sealing is in use: `audit.seal` in the config, a key given, or `--unkeyed`.
    pub expected: bool,
    /// Chains are sealed without a key, as opted into.
    pub unkeyed: bool,
    /// `AUDIT_SEAL_KEY`, `--key-file` or `audit.seal.key`.
    pub key: Option<Vec<u8>>,
}

/// What to check.
#[derive(Debug, Clone)]
pub struct AuditCheckConfig {
    /// Where `audit_logs` lives.
    pub table: Table,
    /// The config has a `tenant` section: entries must be isolated by tenant.
    pub tenancy: bool,
    pub seal: SealSetting,
    /// The current time (UTC microseconds), for partition coverage.
    pub now_micros: i64,
}

/// The tables trigger capture must cover: `--tables` when given; else, once capture is set up
/// (the capture function or any capture trigger exists), the configured `auditTables`.
#[must_use]
pub fn capture_targets(
    catalog: &AuditCatalog,
    audit_tables: &[String],
    flag: Option<Vec<String>>,
) -> Vec<String> {
    if let Some(tables) = flag {
        return tables;
    }
    if catalog.capture_function.is_some() || !catalog.triggers.is_empty() {
        audit_tables.to_vec()
    } else {
        Vec::new()
    }
}

/// Judges `catalog` against `config`. `next` is the fix of the first failure: the results come
/// in the order the set-up is built (table, then what depends on it), so it is the step that
/// unblocks the others.
#[must_use]
pub fn check(catalog: &AuditCatalog, config: &AuditCheckConfig) -> Report {
    let mut r = Report::default();
    let schema = config.table.schema.as_str();
    let logs = catalog
        .relations
        .iter()
        .find(|x| x.name == "audit_logs" && !x.partition);
    match logs {
        None => r.results.push(
            CheckResult::fail(
                "audit_logs table exists",
                format!("audit_logs not found in schema {schema}: nothing can be recorded"),
            )
            .fix(MIGRATE),
        ),
        Some(t) if t.kind != "r" && t.kind != "p" => r.results.push(
            CheckResult::fail(
                "audit_logs table exists",
                format!("{schema}.audit_logs is not a table (relkind {})", t.kind),
            )
            .fix("rename it, then run `better-audit migrate`"),
        ),
        Some(t) => {
            r.results.push(CheckResult::pass("audit_logs table exists"));
            table::shape(catalog, &config.table, &mut r);
            let checkpoints = catalog
                .relations
                .iter()
                .any(|x| x.name == CHECKPOINTS && !x.partition);
            r.results.push(
                CheckResult::when(
                    format!("{CHECKPOINTS} table exists"),
                    checkpoints,
                    format!("{CHECKPOINTS} not found: purges cannot record where they cut the hash chains"),
                )
                .fix(MIGRATE),
            );
            if t.kind == "p" {
                table::partitions(catalog, config.now_micros, &mut r);
            }
            access::capture(catalog, &config.table, &mut r);
            access::append_only(catalog, &config.table, &mut r);
            if config.tenancy {
                access::tenant_isolation(catalog, &mut r);
            }
            access::seal(catalog, &config.seal, &mut r);
        }
    }
    r.finish();
    r
}
