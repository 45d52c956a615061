//! The `audit` section of `better.config.*` and the tenancy the audit trail follows.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::policy::MigrationConfig;

/// The `audit` section of a loaded config: `{ auditTables, retention: { days, tables? }, seal? }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditConfig {
    pub tables: Vec<String>,
    pub retention_days: Option<u32>,
    pub retention_tables: Vec<String>,
    /// `seal`, as the adapters take it; `None` when absent or `false`.
    pub seal: Option<SealConfig>,
}

/// `seal: true` or `seal: { key?, unkeyed? }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealConfig {
    pub key: Option<String>,
    pub unkeyed: bool,
}

fn seal_config(v: Option<&Value>) -> Result<Option<SealConfig>> {
    let bad = || {
        Error::rejected(
            "invalid `audit.seal`: expected true, false or { key?: string, unkeyed?: boolean }",
        )
    };
    match v {
        None | Some(Value::Null | Value::Bool(false)) => Ok(None),
        Some(Value::Bool(true)) => Ok(Some(SealConfig::default())),
        Some(Value::Object(o)) => {
            let key = match o.get("key") {
                None | Some(Value::Null) => None,
                Some(Value::String(k)) => Some(k.clone()).filter(|k| !k.is_empty()),
                Some(_) => return Err(bad()),
            };
            let unkeyed = match o.get("unkeyed") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(bad()),
            };
            Ok(Some(SealConfig { key, unkeyed }))
        }
        Some(_) => Err(bad()),
    }
}

fn strings(v: Option<&Value>, field: &str) -> Result<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        Error::rejected(format!(
                            "invalid `{field}`: expected an array of table names"
                        ))
                    })
            })
            .collect(),
        Some(_) => Err(Error::rejected(format!(
            "invalid `{field}`: expected an array of table names"
        ))),
    }
}

/// Reads `config.audit`; a config without it is an empty one.
///
/// # Errors
/// `INVALID_CONFIG` naming the malformed field.
pub fn audit_config(config: Option<&Value>) -> Result<AuditConfig> {
    let Some(audit) = config.and_then(|c| c.get("audit")) else {
        return Ok(AuditConfig::default());
    };
    let mut out = AuditConfig {
        tables: strings(audit.get("auditTables"), "audit.auditTables")?,
        seal: seal_config(audit.get("seal"))?,
        ..AuditConfig::default()
    };
    if let Some(r) = audit.get("retention").filter(|r| !r.is_null()) {
        let days = r.get("days").and_then(Value::as_u64).filter(|d| *d > 0);
        out.retention_days = Some(days.and_then(|d| u32::try_from(d).ok()).ok_or_else(|| {
            Error::rejected("invalid `audit.retention.days`: expected a positive integer")
        })?);
        out.retention_tables = strings(r.get("tables"), "audit.retention.tables")?;
    }
    Ok(out)
}

/// The tenancy the audit trail follows: the `tenant` section of the config, when there is one.
/// With it, `migrate` isolates `audit_logs` by tenant and the commands that read or rewrite
/// entries run in the system scope.
///
/// # Errors
/// `INVALID_CONFIG` naming the malformed field of the `tenant` section.
pub fn tenancy(config: Option<&Value>, cwd: &str) -> Result<Option<MigrationConfig>> {
    match config.and_then(|c| c.get("tenant")) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => super::tenant::tenant_config(config, None, None, cwd, &[]).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audit_section_and_tenancy() {
        let cfg = json!({ "audit": { "auditTables": ["users"], "retention": { "days": 90, "tables": ["users"] } } });
        assert_eq!(
            audit_config(Some(&cfg)).unwrap(),
            AuditConfig {
                tables: vec!["users".into()],
                retention_days: Some(90),
                retention_tables: vec!["users".into()],
                seal: None,
            }
        );
        let sealed =
            |v: Value| audit_config(Some(&json!({ "audit": { "seal": v } }))).map(|c| c.seal);
        assert_eq!(sealed(json!(true)).unwrap(), Some(SealConfig::default()));
        assert_eq!(sealed(json!(false)).unwrap(), None);
        assert_eq!(
            sealed(json!({ "unkeyed": true })).unwrap(),
            Some(SealConfig {
                key: None,
                unkeyed: true
            })
        );
        assert_eq!(
            sealed(json!({ "key": "k" }))
                .unwrap()
                .unwrap()
                .key
                .as_deref(),
            Some("k")
        );
        assert!(sealed(json!("yes"))
            .unwrap_err()
            .to_string()
            .contains("audit.seal"));
        assert!(sealed(json!({ "unkeyed": "no" })).is_err());
        let broken = json!({ "audit": { "retention": { "days": 0 } } });
        let e = audit_config(Some(&broken)).unwrap_err();
        assert_eq!(e.code(), "INVALID_CONFIG");
        assert!(e.to_string().contains("audit.retention.days"));
        assert_eq!(audit_config(None).unwrap(), AuditConfig::default());
        assert_eq!(tenancy(Some(&cfg), "/").unwrap(), None);
        let tenant = json!({ "tenant": { "tenantTables": ["projects"], "hardened": true } });
        let t = tenancy(Some(&tenant), "/").unwrap().unwrap();
        assert!(t.hardened);
        assert_eq!(t.tenant_tables, ["projects"]);
        assert!(tenancy(Some(&json!({ "tenant": { "tenantTables": "x" } })), "/").is_err());
    }
}
