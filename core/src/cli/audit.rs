//! `better-audit` (`@usebetterdev/audit-cli`): its commands and options, and the reading of
//! the `audit` section of `better.config.*`.

use serde_json::Value;

use super::args::{flag, valued, Opt, Program, HELP};
use crate::audit::chain::Mode;
use crate::policy::MigrationConfig;

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
            valued("output", "<path>").short('o'),
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
            valued("key-file", "<path>"),
            flag("unkeyed"),
        ],
        "seal" => vec![valued("key-file", "<path>"), flag("unkeyed")],
        "verify" => vec![
            valued("tenant", "<id>"),
            valued("anchor", "<file>"),
            valued("key-file", "<path>"),
            flag("unkeyed"),
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
    v.push(HELP);
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

/// The tenancy the audit trail follows: the `tenant` section of the config, when there is one.
/// With it, `migrate` isolates `audit_logs` by tenant and the commands that read or rewrite
/// entries run in the system scope.
///
/// # Errors
/// A message naming the malformed field of the `tenant` section.
pub fn tenancy(config: Option<&Value>, cwd: &str) -> Result<Option<MigrationConfig>, String> {
    match config.and_then(|c| c.get("tenant")) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => super::tenant_config(config, None, None, cwd, &[]).map(Some),
    }
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
        let Ok(Parsed::Print(help)) = parse_with(&AUDIT, &["--help".to_owned()], "1") else {
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
        assert_eq!(tenancy(Some(&cfg), "/").unwrap(), None);
        let tenant = json!({ "tenant": { "tenantTables": ["projects"], "hardened": true } });
        let t = tenancy(Some(&tenant), "/").unwrap().unwrap();
        assert!(t.hardened);
        assert_eq!(t.tenant_tables, ["projects"]);
        assert!(tenancy(Some(&json!({ "tenant": { "tenantTables": "x" } })), "/").is_err());
    }
}

/// One chain as `verify` found it.
#[derive(Debug, Clone)]
pub struct ChainReport {
    /// The tenant; `None` for the global chain.
    pub chain: Option<String>,
    pub rows: usize,
    pub unsealed: i64,
    pub mode: Mode,
    pub broken: Option<crate::audit::seal::Break>,
}

/// How a chain is named in output.
#[must_use]
pub fn chain_name(tenant: Option<&str>) -> String {
    tenant.map_or_else(|| "global".to_owned(), |t| format!("tenant {t}"))
}

/// `verify`'s exit code and output (text, or JSON with `--json`): any break or unsealed
/// entry fails.
#[must_use]
pub fn verify_output(reports: &[ChainReport], as_json: bool) -> (i32, String) {
    let failed = reports.iter().any(|c| c.broken.is_some() || c.unsealed > 0);
    if as_json {
        let chains: Vec<Value> = reports
            .iter()
            .map(|c| {
                let broken = c.broken.as_ref().map(|b| {
                    serde_json::json!({ "kind": b.kind.as_str(), "rowId": b.row_id, "seq": b.seq, "message": b.message })
                });
                serde_json::json!({ "chain": c.chain, "mode": c.mode.as_str(), "rows": c.rows, "unsealed": c.unsealed, "break": broken })
            })
            .collect();
        let out = serde_json::json!({ "ok": !failed, "chains": chains });
        return (i32::from(failed), format!("{out}\n"));
    }
    let mut out = String::new();
    for c in reports {
        let name = chain_name(c.chain.as_deref());
        let mode = c.mode.as_str();
        match &c.broken {
            Some(b) => out.push_str(&format!(
                "{name}: BROKEN ({}) at seq {}, row {}: {} [{mode}]\n",
                b.kind.as_str(),
                b.seq,
                b.row_id.as_deref().unwrap_or("-"),
                b.message
            )),
            None => out.push_str(&format!("{name}: {} entries intact [{mode}]\n", c.rows)),
        }
        if c.mode == Mode::Unkeyed && c.broken.is_none() {
            out.push_str(&format!(
                "{name}: warning: sealed without a key, so anyone who can write the table can recompute it; only anchors kept elsewhere protect it\n"
            ));
        }
        if c.unsealed > 0 {
            out.push_str(&format!(
                "{name}: {} entries are not sealed (run `better-audit seal`)\n",
                c.unsealed
            ));
        }
    }
    out.push_str(if failed {
        "verification FAILED\n"
    } else {
        "verification passed\n"
    });
    (i32::from(failed), out)
}

/// What `migrate` prints when its DDL changed nothing.
pub const UP_TO_DATE: &str = "audit_logs is up to date; nothing applied";

/// `verify` where nothing was ever sealed (no sealed entry, no checkpoint) and no key or
/// `--unkeyed` was given: sealing is off, which is a set-up to finish rather than a broken
/// chain, so it exits 0 and says how to turn it on. With a key the same table fails as
/// unsealed: whoever holds the key expects seals, and seals stripped from every row must not
/// pass.
#[must_use]
pub fn sealing_off_output(entries: i64, as_json: bool) -> (i32, String) {
    if as_json {
        let out =
            serde_json::json!({ "ok": true, "sealing": "off", "entries": entries, "chains": [] });
        return (0, format!("{out}\n"));
    }
    let what = match entries {
        0 => "audit_logs has no entries yet".to_owned(),
        1 => "the 1 entry in audit_logs is not sealed".to_owned(),
        n => format!("none of the {n} entries in audit_logs is sealed"),
    };
    (
        0,
        format!(
            "sealing is off: {what}, so there is no hash chain to verify.\n\
             To turn it on:\n  \
             1. make a key of at least 32 bytes and keep it outside the database: `openssl rand -hex 32`, set as AUDIT_SEAL_KEY\n  \
             2. seal entries as they are written: drizzleAuditAdapter(db, {{ seal: true }}) or prismaAuditAdapter(prisma, {{ seal: true }})\n  \
             3. seal the entries already there (and those trigger capture writes): `better-audit seal`\n\
             Then `better-audit verify` (with AUDIT_SEAL_KEY set) checks every chain.\n"
        ),
    )
}

/// A CSV cell for `export`: JSON values as JSON text, quoted when needed.
#[must_use]
pub fn csv_cell(v: Option<&Value>) -> String {
    let text = match v {
        None | Some(Value::Null) => return String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod output_tests {
    use super::*;
    use crate::audit::seal::{Break, BreakKind};

    #[test]
    fn verify_output_and_csv() {
        let ok = ChainReport {
            chain: None,
            rows: 3,
            unsealed: 0,
            mode: Mode::Keyed,
            broken: None,
        };
        assert_eq!(
            verify_output(std::slice::from_ref(&ok), false),
            (
                0,
                "global: 3 entries intact [keyed]\nverification passed\n".into()
            )
        );
        let weak = ChainReport {
            mode: Mode::Unkeyed,
            ..ok.clone()
        };
        let (code, text) = verify_output(&[weak], false);
        assert_eq!(code, 0);
        assert!(
            text.contains("[unkeyed]\nglobal: warning: sealed without a key"),
            "{text}"
        );
        let bad = ChainReport {
            chain: Some("t1".into()),
            rows: 2,
            unsealed: 1,
            mode: Mode::Keyed,
            broken: Some(Break {
                kind: BreakKind::Edited,
                row_id: Some("r".into()),
                seq: 2,
                message: "m".into(),
            }),
        };
        let (code, text) = verify_output(&[ok.clone(), bad.clone()], false);
        assert_eq!(code, 1);
        assert!(text.contains("tenant t1: BROKEN (edited) at seq 2, row r: m [keyed]\ntenant t1: 1 entries are not sealed"), "{text}");
        let (_, json) = verify_output(&[bad], true);
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["chains"][0]["break"]["kind"], "edited");
        assert_eq!(v["chains"][0]["mode"], "keyed");
        assert_eq!(v["ok"], false);
        assert_eq!(
            csv_cell(Some(&serde_json::json!("a,\"b\""))),
            "\"a,\"\"b\"\"\""
        );
        assert_eq!(
            csv_cell(Some(&serde_json::json!({"k": 1}))),
            "\"{\"\"k\"\":1}\"",
            "JSON holds quotes, so it is quoted"
        );
        assert_eq!(csv_cell(Some(&serde_json::json!(7))), "7");
        assert_eq!(csv_cell(None), "");
    }

    #[test]
    fn sealing_off() {
        let (code, text) = sealing_off_output(3, false);
        assert_eq!(code, 0);
        assert!(text.starts_with("sealing is off: none of the 3 entries in audit_logs is sealed, so there is no hash chain to verify.\nTo turn it on:\n  1. make a key"), "{text}");
        assert!(text.contains("`better-audit seal`"));
        assert!(sealing_off_output(0, false)
            .1
            .contains("has no entries yet"));
        let (_, json) = sealing_off_output(1, true);
        assert_eq!(
            json,
            "{\"ok\":true,\"sealing\":\"off\",\"entries\":1,\"chains\":[]}\n"
        );
    }
}
