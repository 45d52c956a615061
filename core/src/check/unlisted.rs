//! Tables that look tenant-owned but are not protected: a `tenant_id` column, not listed in
//! `tenantTables`, no row-level security. Every tenant reads every tenant's rows there, which is
//! the leak a forgotten `add-table` leaves. A table shared on purpose is listed in
//! `tenant.sharedTables`.

use super::{CheckResult, Index, Report};

/// Tables with their own checks elsewhere: the tenant registry and the audit trail.
const OWN_CHECKS: [&str; 2] = ["tenants", "audit_logs"];

pub(super) fn unlisted_tables(
    ix: &Index<'_>,
    schemas: &[String],
    targets: &[(String, String, String)],
    shared: &[String],
    r: &mut Report,
) {
    let mut found: Vec<(&str, &str)> = ix
        .columns
        .iter()
        .filter(|(_, cols)| cols.iter().any(|c| c.name == "tenant_id"))
        .map(|(key, _)| *key)
        .filter(|(s, t)| schemas.iter().any(|x| x == s) && !OWN_CHECKS.contains(t))
        .filter(|(s, t)| !targets.iter().any(|(ts, tn, _)| ts == s && tn == t))
        .filter(|(s, t)| !shared.iter().any(|x| x == t || *x == format!("{s}.{t}")))
        .filter(|key| {
            ix.tables
                .get(key)
                .is_some_and(|t| !(t.rls_enabled && t.rls_forced))
        })
        .collect();
    found.sort_unstable();
    for (s, t) in found {
        r.results.push(
            CheckResult::fail(
                format!("table {s}.{t} with tenant_id is protected"),
                format!("{s}.{t} has a tenant_id column but is not in tenantTables and has no row-level security: every tenant reads every tenant's rows"),
            )
            .fix(&format!(
                "run `better-tenant add-table {t}` and apply the SQL, then add \"{t}\" to tenant.tenantTables (or list it in tenant.sharedTables if every tenant may read it)"
            )),
        );
    }
}
