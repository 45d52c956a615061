//! `better-audit` (`@usebetterdev/audit-cli`): its commands and options, and the output of
//! `verify` and `export` (the `audit` section of `better.config.*` is read in `audit_config`).

use serde_json::Value;

use super::args::{flag, valued, Opt, Program, CONFIG_PATH, DATABASE_URL, HELP};
pub use super::audit_config::{audit_config, tenancy, AuditConfig, SealConfig};
use crate::audit::chain::Mode;

pub const COMMANDS: [(&str, &str); 9] = [
    (
        "migrate",
        "Generate (or apply) the audit_logs DDL; --partitioned, --triggers",
    ),
    (
        "check",
        "Verify audit_logs, its indexes and partitions, trigger capture, append-only privileges, tenant isolation and the seal key",
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

const SCHEMA: Opt = valued("schema", "<name>").about("Schema of audit_logs (default: public)");

const KEY_FILE: Opt = valued("key-file", "<path>")
    .about("Read the seal key from a file (default: AUDIT_SEAL_KEY env)");
const JSON: Opt = flag("json").about("Print the report as JSON");

fn options(command: &str) -> Option<Vec<Opt>> {
    let mut v = match command {
        "migrate" => vec![
            flag("dry-run").about("Print the SQL instead of applying it"),
            valued("output", "<path>")
                .short('o')
                .about("Write the SQL to a file instead of applying it"),
            flag("partitioned").about("Partition a new audit_logs by month"),
            flag("triggers").about("Also install trigger capture on the audited tables"),
            valued("tables", "<csv>")
                .about("Tables to capture by trigger (default: audit.auditTables)"),
            valued("months", "<n>").about("Monthly partitions to create ahead (default: 3)"),
            CONFIG_PATH,
        ],
        "check" => vec![
            JSON,
            valued("tables", "<csv>").about(
                "Tables trigger capture must cover (default: audit.auditTables, once capture is set up)",
            ),
            KEY_FILE,
            flag("unkeyed").about("Expect chains sealed without a key"),
            CONFIG_PATH,
        ],
        "ensure-partitions" => {
            vec![valued("months", "<n>").about("Months to create ahead of this one (default: 3)")]
        }
        "purge" => vec![
            flag("dry-run").about("Print what would be removed, remove nothing"),
            flag("yes").about("Remove the entries"),
            valued("since", "<duration>")
                .about("Retention window, e.g. 90d (default: audit.retention.days)"),
            valued("table", "<name>").about("Only this table's entries"),
            CONFIG_PATH,
            KEY_FILE,
            flag("unkeyed").about("Seal the purge checkpoints without a key"),
        ],
        "seal" => vec![
            KEY_FILE,
            flag("unkeyed").about("Seal without a key (plain SHA-256)"),
        ],
        "verify" => vec![
            valued("tenant", "<id>")
                .about("Only this tenant's chain (global: the chain without a tenant)"),
            valued("anchor", "<file>").about("Also check against a file written by `anchor`"),
            KEY_FILE,
            flag("unkeyed").about("Accept chains sealed without a key (and no key)"),
            JSON,
        ],
        "anchor" | "stats" => vec![JSON],
        "export" => vec![
            valued("format", "<csv|ndjson>").about("Output format (default: ndjson)"),
            valued("since", "<duration>").about("Only entries newer than this, e.g. 30d"),
        ],
        _ => return None,
    };
    v.extend([DATABASE_URL, SCHEMA]);
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

#[cfg(test)]
mod tests {
    use super::super::args::{parse_with, Parsed};
    use super::*;

    #[test]
    fn commands_and_options() {
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
        for (command, _) in COMMANDS {
            for o in options(command).unwrap() {
                assert!(
                    !o.about.is_empty(),
                    "{command} --{} has no help line",
                    o.long
                );
            }
        }
        let Ok(Parsed::Print(check)) =
            parse_with(&AUDIT, &["check".to_owned(), "--help".to_owned()], "1")
        else {
            panic!()
        };
        assert!(check.starts_with("Usage: better-audit check [options]\n\nVerify audit_logs"));
        assert!(
            check.contains("\n  --json                Print the report as JSON\n"),
            "{check}"
        );
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
