//! Tenant isolation of the webhook tables: ENABLE + FORCE row-level security and one policy per
//! table (and per partition: a query naming a partition skips its parent's policies), with the
//! shared predicate (`crate::store::Layout::rls_predicate`): the tenant package's range form,
//! widened by operator-level rows (`tenant_id IS NULL`) in system context only.

/// The policy's name on every table and partition.
pub const POLICY: &str = "webhook_tenant_isolation";

#[cfg(test)]
mod tests {
    use super::super::{Store, StoreConfig};

    #[test]
    fn plain_and_hardened_predicates() {
        let plain = Store::new(&StoreConfig {
            rls: true,
            ..StoreConfig::default()
        })
        .unwrap();
        let p = plain.rls_predicate();
        assert!(p.starts_with("tenant_id BETWEEN (SELECT CASE WHEN coalesce(current_setting('app.bypass_rls', true) = 'true', false) THEN '00000000-0000-0000-0000-000000000000'::uuid ELSE NULLIF(current_setting('app.current_tenant', true), '')::uuid END)"), "{p}");
        assert!(p.ends_with("OR (tenant_id IS NULL AND (SELECT coalesce(current_setting('app.bypass_rls', true) = 'true', false)))"), "{p}");
        let hardened = Store::new(&StoreConfig {
            rls: true,
            hardened: true,
            tenant_schema: Some("app".into()),
            ..StoreConfig::default()
        })
        .unwrap();
        let h = hardened.rls_predicate();
        assert!(h.contains("\"app\".\"better_tenant_bypass\"()"));
        assert!(h.contains("ELSE \"app\".\"better_tenant_current\"() END"));
        assert!(!h.contains("current_setting"), "{h}");
    }
}
