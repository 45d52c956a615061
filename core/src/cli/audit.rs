//! `better-audit` (`@usebetterdev/audit-cli`): its commands and options, what its commands
//! check before they touch the database and the failures they report (the `audit` section of
//! `better.config.*` is read in `audit_config`, the output is written in `audit_output`).

use super::args::{
    flag, valued, whole_number, Opt, Program, CONFIG_PATH, DATABASE_URL, DRY_RUN, HELP, OUTPUT,
};
pub use super::audit_config::{audit_config, tenancy, AuditConfig, SealConfig};
pub use super::audit_output::*;
use super::tenant::KEY_VARIABLE;
use crate::audit::storage::LOGS;
use crate::error::{CliFailure, Error, Result};

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
            DRY_RUN,
            OUTPUT,
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
            valued("watch", "<ms>").about(
                "Keep sealing: a pass every <ms> milliseconds until stopped (reconnects when the database restarts)",
            ),
            valued("max-seconds", "<n>").about("With --watch: stop after this many seconds"),
        ],
        "verify" => vec![
            valued("tenant", "<id>")
                .about("Only this tenant's chain (global: the chain without a tenant)"),
            valued("anchor", "<file>").about("Also check against a file written by `anchor`"),
            KEY_FILE,
            flag("unkeyed").about("Accept chains sealed without a key (and no key)"),
            valued("allow-unsealed", "<seconds>").about(
                "Report entries written in the last <seconds> that are not sealed yet (seal --watch) instead of failing",
            ),
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
            parse_with(&AUDIT, &bad, "1").unwrap_err().to_string(),
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

    #[test]
    fn watch_and_grace_values() {
        assert_eq!(seal_watch(None, None).unwrap(), None);
        assert_eq!(
            seal_watch(Some("200"), Some("30")).unwrap(),
            Some(Watch {
                interval_ms: 200,
                max_seconds: Some(30)
            })
        );
        for (w, m, said) in [
            (
                Some("5"),
                None,
                "invalid --watch \"5\": expected a whole number from 10 to 3600000",
            ),
            (Some("1s"), None, "invalid --watch \"1s\""),
            (Some("100"), Some("0"), "invalid --max-seconds \"0\""),
            (
                None,
                Some("10"),
                "--max-seconds bounds a sealer that keeps running: add --watch <ms>",
            ),
        ] {
            let e = seal_watch(w, m).unwrap_err();
            assert_eq!(e.code(), "CLI_USAGE");
            assert!(e.to_string().starts_with(said), "{e}");
        }
        assert!((allow_unsealed(None).unwrap()).abs() < f64::EPSILON);
        assert!((allow_unsealed(Some("0.5")).unwrap() - 0.5).abs() < f64::EPSILON);
        for bad in ["-1", "x", "NaN", "90000"] {
            let e = allow_unsealed(Some(bad)).unwrap_err();
            assert!(e.to_string().starts_with("invalid --allow-unsealed"), "{e}");
        }
    }
}

/// A command that connects was given no database.
#[must_use]
pub fn no_database() -> Error {
    CliFailure::NoDatabase.with("no database: pass --database-url or set DATABASE_URL")
}

/// The key that signs the system scope: none without hardened tenancy, else `key`.
///
/// # Errors
/// `TENANT_HARDENED_KEY` when tenancy is hardened and the key is not set.
pub fn system_scope_key(hardened: bool, key: Option<&str>) -> Result<Option<&str>> {
    match (hardened, key) {
        (false, _) => Ok(None),
        (true, Some(k)) if !k.is_empty() => Ok(Some(k)),
        (true, _) => Err(CliFailure::HardenedKey.with(format!(
            "tenant.hardened is set: better-audit signs its system scope with the tenant key; set {KEY_VARIABLE}"
        ))),
    }
}

/// `logs` (qualified) does not exist: name the `migrate` that makes it, with `--schema` as
/// given.
#[must_use]
pub fn table_missing(logs: &str, schema: Option<&str>) -> Error {
    let schema = schema.map(|s| format!(" --schema {s}")).unwrap_or_default();
    CliFailure::AuditTableMissing.with(format!(
        "{logs} does not exist: run `better-audit migrate{schema}` to create it"
    ))
}

/// `seal --watch <ms>` and `--max-seconds <n>`: how often a sealer passes and how long it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    pub interval_ms: u64,
    pub max_seconds: Option<u64>,
}

/// `seal`'s watch options: `None` for a single pass.
///
/// # Errors
/// `CLI_USAGE` naming the option: an interval outside 10 ms to one hour, `--max-seconds`
/// outside one second to a year or without `--watch`.
pub fn seal_watch(watch: Option<&str>, max_seconds: Option<&str>) -> Result<Option<Watch>> {
    let max_seconds = max_seconds
        .map(|v| whole_number("max-seconds", v, 1, 31_536_000))
        .transpose()?;
    let Some(watch) = watch else {
        return match max_seconds {
            Some(_) => Err(CliFailure::Usage
                .with("--max-seconds bounds a sealer that keeps running: add --watch <ms>")),
            None => Ok(None),
        };
    };
    Ok(Some(Watch {
        interval_ms: whole_number("watch", watch, 10, 3_600_000)?,
        max_seconds,
    }))
}

/// `verify --allow-unsealed <seconds>`: how recent an unsealed entry may be before it fails
/// (0, the default: every unsealed entry fails).
///
/// # Errors
/// `CLI_USAGE` for anything but a number of seconds from 0 to one day.
pub fn allow_unsealed(v: Option<&str>) -> Result<f64> {
    let Some(v) = v else { return Ok(0.0) };
    v.parse::<f64>()
        .ok()
        .filter(|s| (0.0..=86_400.0).contains(s))
        .ok_or_else(|| {
            CliFailure::Usage.with(format!(
                "invalid --allow-unsealed {v:?}: expected seconds from 0 to 86400, e.g. 5 or 0.5"
            ))
        })
}

/// `--months`: monthly partitions ahead, 3 unless given.
///
/// # Errors
/// `CLI_USAGE` for anything but a number from 0 to 120.
pub fn months(value: Option<&str>) -> Result<u32> {
    value.map_or(Ok(3), |m| {
        m.parse().ok().filter(|n| *n <= 120).ok_or_else(|| {
            CliFailure::Usage.with(format!(
                "invalid --months {m:?}: expected a number of months from 0 to 120"
            ))
        })
    })
}

/// `ensure-partitions` on a plain table.
#[must_use]
pub fn not_partitioned() -> Error {
    CliFailure::NotPartitioned.with(format!(
        "{LOGS} is not partitioned: run `better-audit migrate --partitioned` on a new database"
    ))
}

/// `migrate --partitioned` where a plain table exists.
#[must_use]
pub fn plain_table_exists() -> Error {
    CliFailure::NotPartitioned.with(format!(
        "{LOGS} exists as a plain table; --partitioned cannot convert it in place (create a partitioned table, copy the rows, swap names)"
    ))
}

/// `--triggers` without tables to capture.
#[must_use]
pub fn triggers_need_tables() -> Error {
    CliFailure::Usage.with("--triggers needs the audited tables: set audit.auditTables in better.config.* or pass --tables")
}

/// `--triggers` without a database (writing the SQL to a file still reads the tables' keys).
#[must_use]
pub fn triggers_need_database() -> Error {
    CliFailure::NoDatabase.with("--triggers reads the tables' keys: pass --database-url")
}

/// A table to capture does not exist.
#[must_use]
pub fn capture_table_missing(name: &str) -> Error {
    CliFailure::CaptureTable.with(format!(
        "table \"{name}\" (from auditTables / --tables) does not exist"
    ))
}

/// A table to capture has no primary key.
#[must_use]
pub fn capture_table_keyless(name: &str) -> Error {
    CliFailure::CaptureTable.with(format!(
        "table \"{name}\" has no primary key; trigger capture needs one for record ids"
    ))
}

/// `export --format`: `ndjson` unless given.
///
/// # Errors
/// `CLI_USAGE` for anything but `csv` or `ndjson`.
pub fn export_format(value: Option<&str>) -> Result<&str> {
    match value.unwrap_or("ndjson") {
        f @ ("csv" | "ndjson") => Ok(f),
        f => Err(CliFailure::Usage.with(format!("invalid --format {f:?}: expected csv or ndjson"))),
    }
}

#[cfg(test)]
mod input_tests {
    use super::*;

    #[test]
    fn inputs_and_failures() {
        assert_eq!(months(None).unwrap(), 3);
        assert_eq!(months(Some("120")).unwrap(), 120);
        let e = months(Some("121")).unwrap_err();
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            (
                "CLI_USAGE",
                "invalid --months \"121\": expected a number of months from 0 to 120"
            )
        );
        assert_eq!(export_format(None).unwrap(), "ndjson");
        assert_eq!(
            export_format(Some("xml")).unwrap_err().to_string(),
            "invalid --format \"xml\": expected csv or ndjson"
        );
        assert_eq!(system_scope_key(false, None).unwrap(), None);
        assert_eq!(system_scope_key(true, Some("k")).unwrap(), Some("k"));
        assert_eq!(
            system_scope_key(true, Some("")).unwrap_err().code(),
            "TENANT_HARDENED_KEY"
        );
        let missing = table_missing("\"a\".\"audit_logs\"", Some("a"));
        assert_eq!(missing.code(), "AUDIT_TABLE_MISSING");
        assert_eq!(missing.to_string(), "\"a\".\"audit_logs\" does not exist: run `better-audit migrate --schema a` to create it");
        assert!(not_partitioned()
            .to_string()
            .starts_with("audit_logs is not partitioned"));
        assert_eq!(capture_table_keyless("t").code(), "AUDIT_CAPTURE_TABLE");
    }
}
