//! Tenant isolation of the audit trail: `audit_logs` (every partition too) and the chain
//! checkpoints under the tenant tables' row-level security.
//!
//! The predicate is the tenant tables' one ([`functions::range_predicate`]), so plain and
//! hardened mode behave as they do there, widened for one kind of row: an entry written where no
//! tenant is set (`tenant_id IS NULL`, the global chain) stays readable and writable where no
//! tenant is set — the system scope, and connections without tenant context, where the library
//! and trigger capture write such entries. A tenant scope sees and writes only its own entries.

use super::functions;
use super::{isolation_sql, partitioned_isolation_sql, MigrationConfig, Plan};
use crate::error::Result;
use crate::sql::Ident;

/// The policy on `audit_logs` and on each of its partitions.
pub const AUDIT_POLICY: &str = "audit_logs_tenant_isolation";
/// The policy on `audit_chain_checkpoints` (its `chain` is `''` or a tenant id).
pub const CHECKPOINT_POLICY: &str = "audit_chain_checkpoints_tenant_isolation";

/// `column` (a uuid expression) is the scope's tenant, or NULL where no tenant is set.
fn predicate(schema: &Ident, hardened: bool, column: &str, global: &str) -> String {
    let own = functions::range_predicate(schema, column, hardened);
    let current = functions::current_expr(schema, hardened);
    format!("{own} OR ({global} AND (SELECT {current}) IS NULL)")
}

/// ENABLE + FORCE row-level security and the tenant policy on `logs` (a qualified name),
/// every partition it has now, and `checkpoints`. Idempotent; rows are untouched. Partitions
/// get the policy too because a query naming a partition skips the parent's policies; run it
/// again after creating partitions.
///
/// # Errors
/// `InvalidIdentifier` or `InvalidConfig` from the tenant config.
pub fn audit_rls_sql(config: &MigrationConfig, logs: &str, checkpoints: &str) -> Result<String> {
    let plan = Plan::new(config)?;
    let logs_pred = predicate(
        &plan.schema,
        plan.hardened,
        "tenant_id",
        "tenant_id IS NULL",
    );
    let cp_pred = predicate(
        &plan.schema,
        plan.hardened,
        "NULLIF(chain, '')::uuid",
        "chain = ''",
    );
    let cp_policy = Ident::fixed(CHECKPOINT_POLICY).quoted();
    Ok(format!(
        "-- Better Audit: a tenant scope reads and writes only its own audit entries\n{}{}",
        partitioned_isolation_sql(logs, AUDIT_POLICY, &logs_pred),
        isolation_sql(checkpoints, &cp_policy, &cp_pred)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::literal;

    #[test]
    fn audit_rls_reuses_the_tenant_predicate() {
        let cfg = |hardened| MigrationConfig {
            tenant_tables: vec!["projects".into()],
            schema: Some("app".into()),
            hardened,
            ..MigrationConfig::default()
        };
        let plain = audit_rls_sql(
            &cfg(false),
            "\"public\".\"audit_logs\"",
            "\"public\".\"cp\"",
        )
        .unwrap();
        let own = functions::range_predicate(&Ident::fixed("app"), "tenant_id", false);
        let quoted = literal(&own);
        assert!(plain.contains(&quoted[1..quoted.len() - 1]), "{plain}");
        assert!(plain.contains("tenant_id IS NULL AND (SELECT NULLIF(current_setting(''app.current_tenant'', true), '''')::uuid) IS NULL"), "{plain}");
        assert!(plain.contains("ALTER TABLE \"public\".\"cp\" FORCE ROW LEVEL SECURITY;"));
        assert!(plain.contains("chain = '' AND"), "{plain}");
        let hardened =
            audit_rls_sql(&cfg(true), "\"public\".\"audit_logs\"", "\"public\".\"cp\"").unwrap();
        assert!(
            hardened.contains("\"app\".\"better_tenant_bypass\"()"),
            "{hardened}"
        );
        assert!(hardened.contains("(SELECT \"app\".\"better_tenant_current\"()) IS NULL"));
        assert!(!hardened.contains("current_setting"), "{hardened}");
    }
}
