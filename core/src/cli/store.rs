//! What the tools of the products with their own tables (`better-webhooks`, `better-email`)
//! share: `--rls` / `--no-rls`, the partitions ahead, and the lines `migrate`,
//! `ensure-partitions` and `purge` print.

use serde_json::{json, Map, Value};

use super::args::{flag, valued, Opt, DRY_RUN, OUTPUT};
use crate::error::{CliFailure, Result};
use crate::store::partitions::DEFAULT_PARTITIONS_AHEAD;
use crate::store::PartitionWidth;

/// The options of `migrate`, `purge` and `ensure-partitions` (without `--json`, `--config`,
/// `--database-url`, `--help`); `None` for another command.
#[must_use]
pub fn table_options(command: &str) -> Option<Vec<Opt>> {
    Some(match command {
        "migrate" => vec![
            DRY_RUN,
            OUTPUT,
            flag("rls").about("Isolate the tables by tenant (default: with a `tenant` section)"),
            flag("no-rls").about("Leave the tables without row-level security"),
            valued("partitions", "<n>").about("Partitions to create ahead (default: 4)"),
        ],
        "purge" => vec![flag("dry-run").about("List what would be removed, remove nothing")],
        "ensure-partitions" => {
            vec![valued("ahead", "<n>").about("Partitions to create ahead (default: 4)")]
        }
        _ => return None,
    })
}

/// `--rls` / `--no-rls`: `None` when neither is given.
///
/// # Errors
/// `CLI_USAGE` when both are.
pub fn rls_flag(rls: bool, no_rls: bool) -> Result<Option<bool>> {
    match (rls, no_rls) {
        (true, true) => {
            Err(CliFailure::Usage.with("error: --rls and --no-rls contradict each other"))
        }
        (true, false) => Ok(Some(true)),
        (false, true) => Ok(Some(false)),
        (false, false) => Ok(None),
    }
}

/// `--partitions` / `--ahead`: partitions ahead of the current one, 4 unless given.
///
/// # Errors
/// `CLI_USAGE` naming the option for anything but 0 to 520.
pub fn ahead(option: &str, value: Option<&str>) -> Result<u32> {
    value.map_or(Ok(DEFAULT_PARTITIONS_AHEAD), |v| {
        v.parse().ok().filter(|n| *n <= 520).ok_or_else(|| {
            CliFailure::Usage.with(format!(
                "invalid --{option} {v:?}: expected a number of partitions from 0 to 520"
            ))
        })
    })
}

/// `migrate`'s line after applying (`noun`: `webhook`, `email`).
#[must_use]
pub fn migrate_applied(noun: &str, changed: bool, rls: bool, as_json: bool) -> String {
    if as_json {
        return format!(
            "{}\n",
            json!({ "applied": true, "changed": changed, "rls": rls })
        );
    }
    match (changed, rls) {
        (false, _) => format!("{noun} tables are up to date; nothing applied\n"),
        (true, true) => {
            format!("applied: {noun} tables, indexes, partitions and tenant isolation\n")
        }
        (true, false) => {
            format!("applied: {noun} tables, indexes and partitions (no tenant isolation)\n")
        }
    }
}

/// `ensure-partitions`' line.
#[must_use]
pub fn partitions_ready(w: PartitionWidth, ahead: u32, as_json: bool) -> String {
    if as_json {
        return format!("{}\n", json!({ "partition": w.as_str(), "ahead": ahead }));
    }
    format!(
        "partitions ready for this {} and the next {ahead}\n",
        w.as_str()
    )
}

/// What `purge` removed (or, with `dry_run`, would remove): the partitions by name, then the
/// rows deleted per kind.
#[must_use]
pub fn purge_report(
    dry_run: bool,
    days: u32,
    partitions: &[String],
    rows: &[(&str, i64)],
    as_json: bool,
) -> String {
    if as_json {
        let rows: Map<String, Value> = rows
            .iter()
            .map(|(k, n)| ((*k).to_owned(), json!(n)))
            .collect();
        return format!(
            "{}\n",
            json!({ "dryRun": dry_run, "retentionDays": days, "partitions": partitions, "rows": rows })
        );
    }
    let (drop, delete) = if dry_run {
        ("would drop", "would delete")
    } else {
        ("dropped", "deleted")
    };
    let mut out = format!(
        "retention: {days} days{}\n",
        if dry_run { " (dry run)" } else { "" }
    );
    if partitions.is_empty() {
        out.push_str("no partition is wholly older than the retention window\n");
    }
    for p in partitions {
        out.push_str(&format!("{drop} partition {p}\n"));
    }
    for (kind, n) in rows {
        out.push_str(&format!("{delete} {n} {kind}\n"));
    }
    out
}
