//! `better-audit` (`@usebetterdev/audit-cli`): its commands and options, and the reading of
//! the `audit` section of `better.config.*`.

use serde_json::Value;

use super::args::{flag, valued, Opt, Program};

pub const COMMANDS: [(&str, &str); 8] = [
    (
        "migrate",
        "Generate (or apply) the audit_logs DDL; --partitioned, --triggers",
    ),
    (
        "ensure-partitions",
        "Create the monthly partitions for the coming months",
    ),
    ("purge", "Delete entries older than the retention window"),
    (
        "seal",
        "Seal entries written without a seal (trigger capture) into their chains",
    ),
    ("verify", "Walk the hash chains and report the first break"),
    (
        "anchor",
        "Print the current chain heads, to store elsewhere",
    ),
    ("stats", "Entries per table, operation and chain"),
    ("export", "Stream entries to stdout as CSV or NDJSON"),
];

const DB: Opt = valued("database-url", "<url>");
const SCHEMA: Opt = valued("schema", "<name>");

fn options(command: &str) -> Option<Vec<Opt>> {
    let mut v = match command {
        "migrate" => vec![
            flag("dry-run"),
            Opt {
                long: "output",
                short: Some('o'),
                value: Some("<path>"),
            },
            flag("partitioned"),
            flag("triggers"),
            valued("tables", "<csv>"),
            valued("months", "<n>"),
            valued("config", "<path>"),
        ],
        "ensure-partitions" => vec![valued("months", "<n>")],
        "purge" => vec![
            flag("dry-run"),
            flag("yes"),
            valued("since", "<duration>"),
            valued("table", "<name>"),
            valued("config", "<path>"),
        ],
        "seal" => vec![valued("key-file", "<path>")],
        "verify" => vec![
            valued("tenant", "<id>"),
            valued("anchor", "<file>"),
            valued("key-file", "<path>"),
            flag("json"),
        ],
        "anchor" | "stats" => vec![flag("json")],
        "export" => vec![
            valued("format", "<csv|ndjson>"),
            valued("since", "<duration>"),
        ],
        _ => return None,
    };
    v.extend([DB, SCHEMA]);
    v.push(Opt {
        long: "help",
        short: Some('h'),
        value: None,
    });
    Some(v)
}

pub const AUDIT: Program = Program {
    name: "better-audit",
    about: "Audit trail storage for PostgreSQL: migrations, retention, hash-chain verification",
    commands: &COMMANDS,
    options,
    positional: |_| None,
    required: |_| None,
};

/// The `audit` section of a loaded config: `{ auditTables, retention: { days, tables? } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditConfig {
    pub tables: Vec<String>,
    pub retention_days: Option<u32>,
    pub retention_tables: Vec<String>,
}

fn strings(v: Option<&Value>, field: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| format!("invalid `{field}`: expected an array of table names"))
            })
            .collect(),
        Some(_) => Err(format!(
            "invalid `{field}`: expected an array of table names"
        )),
    }
}

/// Reads `config.audit`; a config without it is an empty one.
///
/// # Errors
/// A message naming the malformed field.
pub fn audit_config(config: Option<&Value>) -> Result<AuditConfig, String> {
    let Some(audit) = config.and_then(|c| c.get("audit")) else {
        return Ok(AuditConfig::default());
    };
    let mut out = AuditConfig {
        tables: strings(audit.get("auditTables"), "audit.auditTables")?,
        ..AuditConfig::default()
    };
    if let Some(r) = audit.get("retention").filter(|r| !r.is_null()) {
        let days = r.get("days").and_then(Value::as_u64).filter(|d| *d > 0);
        out.retention_days = Some(
            days.and_then(|d| u32::try_from(d).ok())
                .ok_or("invalid `audit.retention.days`: expected a positive integer")?,
        );
        out.retention_tables = strings(r.get("tables"), "audit.retention.tables")?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::args::{parse_with, Parsed};
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_options_and_config() {
        let args: Vec<String> = ["purge", "--since", "90d", "--yes"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let Ok(Parsed::Run(inv)) = parse_with(&AUDIT, &args, "1") else {
            panic!()
        };
        assert_eq!(inv.value("since"), Some("90d"));
        assert!(inv.has("yes"));
        let bad: Vec<String> = vec!["verify".into(), "--bogus".into()];
        assert_eq!(
            parse_with(&AUDIT, &bad, "1").unwrap_err().0,
            "error: unknown option '--bogus'"
        );
        let Ok(Parsed::Print(help)) = parse_with(&AUDIT, &[], "1") else {
            panic!()
        };
        assert!(help.starts_with("Usage: better-audit [options] [command]"));
        let cfg = json!({ "audit": { "auditTables": ["users"], "retention": { "days": 90, "tables": ["users"] } } });
        assert_eq!(
            audit_config(Some(&cfg)).unwrap(),
            AuditConfig {
                tables: vec!["users".into()],
                retention_days: Some(90),
                retention_tables: vec!["users".into()]
            }
        );
        let broken = json!({ "audit": { "retention": { "days": 0 } } });
        assert!(audit_config(Some(&broken))
            .unwrap_err()
            .contains("audit.retention.days"));
        assert_eq!(audit_config(None).unwrap(), AuditConfig::default());
    }
}
