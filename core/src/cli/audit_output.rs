//! What `better-audit`'s commands print: `verify`'s report, the sealing-off explanation,
//! `seal`'s and `stats`' lines, `migrate`'s summary, `export`'s CSV cells.

use serde_json::Value;

use crate::audit::chain::Mode;
use crate::audit::storage::LOGS;

/// One chain as `verify` found it.
#[derive(Debug, Clone)]
pub struct ChainReport {
    /// The tenant; `None` for the global chain.
    pub chain: Option<String>,
    pub rows: usize,
    pub unsealed: i64,
    /// Of the unsealed entries, those older than `verify --allow-unsealed` (all of them
    /// without it): these fail.
    pub overdue: i64,
    pub mode: Mode,
    pub broken: Option<crate::audit::seal::Break>,
}

/// How a chain is named in output.
#[must_use]
pub fn chain_name(tenant: Option<&str>) -> String {
    tenant.map_or_else(|| "global".to_owned(), |t| format!("tenant {t}"))
}

/// `verify`'s exit code and output (text, or JSON with `--json`): any break or overdue
/// unsealed entry fails; entries within `--allow-unsealed` are reported as pending.
#[must_use]
pub fn verify_output(reports: &[ChainReport], as_json: bool) -> (i32, String) {
    let failed = reports.iter().any(|c| c.broken.is_some() || c.overdue > 0);
    if as_json {
        let chains: Vec<Value> = reports
            .iter()
            .map(|c| {
                let broken = c.broken.as_ref().map(|b| {
                    serde_json::json!({ "kind": b.kind.as_str(), "rowId": b.row_id, "seq": b.seq, "message": b.message })
                });
                let mut chain = serde_json::json!({ "chain": c.chain, "mode": c.mode.as_str(), "rows": c.rows, "unsealed": c.unsealed, "break": broken });
                if c.unsealed > c.overdue {
                    chain["pending"] = (c.unsealed - c.overdue).into();
                }
                chain
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
        if c.overdue > 0 {
            out.push_str(&format!(
                "{name}: {} entries are not sealed (run `better-audit seal`)\n",
                c.overdue
            ));
        }
        if c.unsealed > c.overdue {
            out.push_str(&format!(
                "{name}: {} entries written within --allow-unsealed are not sealed yet\n",
                c.unsealed - c.overdue
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

/// What `migrate` did: `audit_logs table` or `… partitioned by month`, and the tables it put
/// trigger capture on.
#[must_use]
pub fn migrate_summary(partitioned: bool, captured: &[String]) -> String {
    let mut s = format!(
        "{LOGS} {}",
        if partitioned {
            "partitioned by month"
        } else {
            "table"
        }
    );
    if !captured.is_empty() {
        s.push_str(&format!(", trigger capture on {}", captured.join(", ")));
    }
    s
}

/// `migrate`'s line after applying: what it applied, or that nothing changed.
#[must_use]
pub fn migrate_applied(summary: &str, changed: bool) -> String {
    if changed {
        format!("applied: {summary}\n")
    } else {
        format!("{UP_TO_DATE}\n")
    }
}

/// `ensure-partitions`' line.
#[must_use]
pub fn partitions_ready(months: u32) -> String {
    format!("partitions ready for this month and the next {months}\n")
}

/// `seal`'s line for one chain: how many entries it sealed, from seq `first` to `last`.
#[must_use]
pub fn sealed_chain_line(tenant: Option<&str>, count: usize, first: i64, last: i64) -> String {
    format!(
        "{}: sealed {count} entries (seq {first}..{last})\n",
        chain_name(tenant)
    )
}

/// `seal`'s last line.
#[must_use]
pub fn sealed_total_line(total: usize, keyed: bool) -> String {
    format!(
        "sealed {total} entries ({})\n",
        if keyed { "keyed" } else { "unkeyed" }
    )
}

/// `seal --watch`'s periodic line: what it sealed since the last one.
#[must_use]
pub fn watch_line(sealed: usize, seconds: u64) -> String {
    format!("sealed {sealed} entries in the last {seconds} s\n")
}

/// `seal --watch`'s line on stderr when the database went away: it keeps trying.
#[must_use]
pub fn watch_retry_line(why: &str, retry_ms: u64) -> String {
    let why = why.strip_suffix(super::RUN_AGAIN).unwrap_or(why);
    format!("sealing paused: {why}; connecting again in {retry_ms} ms\n")
}

/// One line of `stats`: entries of a table and operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsCount {
    pub table_name: String,
    pub operation: String,
    pub count: i64,
    pub unsealed: i64,
}

/// `stats`' output: the counts, then each chain's mode (`None`: nothing sealed yet).
#[must_use]
pub fn stats_output(
    counts: &[StatsCount],
    chains: &[(Option<String>, Option<Mode>)],
    as_json: bool,
) -> String {
    if as_json {
        let counts: Vec<Value> = counts.iter().map(|c| serde_json::json!({ "tableName": c.table_name, "operation": c.operation, "count": c.count, "unsealed": c.unsealed })).collect();
        let modes: Vec<Value> = chains.iter().map(|(chain, mode)| serde_json::json!({ "chain": chain, "mode": mode.map(Mode::as_str) })).collect();
        return format!(
            "{}\n",
            serde_json::json!({ "counts": counts, "chains": modes.len(), "chainModes": modes })
        );
    }
    let mut out = String::new();
    for c in counts {
        out.push_str(&format!(
            "{:<30} {:<7} {}  ({} unsealed)\n",
            c.table_name, c.operation, c.count, c.unsealed
        ));
    }
    for (chain, mode) in chains {
        out.push_str(&format!(
            "{}: {}\n",
            chain_name(chain.as_deref()),
            mode.map_or("not sealed", Mode::as_str)
        ));
    }
    let total: i64 = counts.iter().map(|c| c.count).sum();
    out.push_str(&format!(
        "total {total} entries in {} chain(s)\n",
        chains.len()
    ));
    out
}

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
mod tests {
    use super::*;
    use crate::audit::seal::{Break, BreakKind};

    #[test]
    fn a_watcher_does_not_tell_the_user_to_run_it_again() {
        let why = format!(
            "the database connection was closed: gone (57P01){}",
            super::super::RUN_AGAIN
        );
        assert_eq!(
            watch_retry_line(&why, 500),
            "sealing paused: the database connection was closed: gone (57P01); connecting again in 500 ms\n"
        );
        assert_eq!(
            watch_retry_line("refused", 1),
            "sealing paused: refused; connecting again in 1 ms\n"
        );
    }

    #[test]
    fn verify_output_and_csv() {
        let ok = ChainReport {
            chain: None,
            rows: 3,
            unsealed: 0,
            overdue: 0,
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
            overdue: 1,
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
        // Within --allow-unsealed: reported, not failed; older ones still fail.
        let pending = ChainReport {
            unsealed: 5,
            overdue: 0,
            ..ok.clone()
        };
        let (code, text) = verify_output(std::slice::from_ref(&pending), false);
        assert_eq!(code, 0);
        assert!(text.ends_with("global: 5 entries written within --allow-unsealed are not sealed yet\nverification passed\n"), "{text}");
        let (_, json) = verify_output(std::slice::from_ref(&pending), true);
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (
                v["ok"].as_bool(),
                v["chains"][0]["unsealed"].as_i64(),
                v["chains"][0]["pending"].as_i64()
            ),
            (Some(true), Some(5), Some(5))
        );
        let late = ChainReport {
            overdue: 2,
            ..pending
        };
        let (code, text) = verify_output(&[late], false);
        assert_eq!(code, 1);
        assert!(text.contains("global: 2 entries are not sealed (run `better-audit seal`)\nglobal: 3 entries written within"), "{text}");
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

    #[test]
    fn command_lines() {
        assert_eq!(
            migrate_summary(true, &["users".into(), "orders".into()]),
            "audit_logs partitioned by month, trigger capture on users, orders"
        );
        assert_eq!(
            migrate_applied("audit_logs table", true),
            "applied: audit_logs table\n"
        );
        assert_eq!(
            migrate_applied("x", false),
            "audit_logs is up to date; nothing applied\n"
        );
        assert_eq!(
            sealed_chain_line(Some("t"), 2, 3, 4),
            "tenant t: sealed 2 entries (seq 3..4)\n"
        );
        let counts = [StatsCount {
            table_name: "users".into(),
            operation: "INSERT".into(),
            count: 3,
            unsealed: 1,
        }];
        let chains = [(None, Some(Mode::Keyed)), (Some("t".to_owned()), None)];
        let text = stats_output(&counts, &chains, false);
        assert!(
            text.starts_with(&format!(
                "users{} INSERT  3  (1 unsealed)\n",
                " ".repeat(25)
            )),
            "{text}"
        );
        assert!(text.ends_with("  (1 unsealed)\nglobal: keyed\ntenant t: not sealed\ntotal 3 entries in 2 chain(s)\n"), "{text}");
        let json: Value = serde_json::from_str(&stats_output(&counts, &chains, true)).unwrap();
        assert_eq!(
            json["chainModes"][1],
            serde_json::json!({ "chain": "t", "mode": null })
        );
        assert_eq!(json["counts"][0]["tableName"], "users");
    }
}
