//! The table itself: its columns (a reference-shaped table gets the upgrade hint), their
//! types, its indexes, and monthly partitions ahead of time.

use super::catalog::AuditCatalog;
use super::MIGRATE;
use crate::audit::storage::{self, Table};
use crate::audit::time;
use crate::check::{CheckResult, Report};

const REFERENCE_SHAPED: &str = "audit_logs was created for @usebetterdev/audit 0.8.1: run `better-audit migrate` to add tenant_id, seq, prev_hash, hash and the chain index (in place, no data loss)";

/// `format_type`'s spelling of the types the DDL abbreviates.
fn canonical_type(t: &str) -> &str {
    match t {
        "timestamptz" => "timestamp with time zone",
        "int8" => "bigint",
        "bool" => "boolean",
        other => other,
    }
}

/// Columns, their types and the indexes, against what `migrate` creates.
pub(super) fn shape(catalog: &AuditCatalog, t: &Table, r: &mut Report) {
    let expected = storage::expected_columns();
    let live = |name: &str| catalog.columns.iter().find(|c| c.name == name);
    let missing: Vec<&str> = expected
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| live(c).is_none())
        .collect();
    let mut added = storage::added_columns();
    added.sort_unstable();
    let mut sorted = missing.clone();
    sorted.sort_unstable();
    let message = if sorted == added {
        REFERENCE_SHAPED.to_owned()
    } else {
        format!(
            "missing column{} {}: entries cannot be written as the library writes them",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )
    };
    r.results
        .push(CheckResult::when("audit_logs columns", missing.is_empty(), message).fix(MIGRATE));
    let logs = t.qualified("audit_logs");
    let wrong: Vec<(&str, &str, &str)> = expected
        .iter()
        .filter_map(|(c, ty)| {
            let found = live(c)?;
            (canonical_type(&found.data_type) != canonical_type(ty)).then_some((
                *c,
                found.data_type.as_str(),
                canonical_type(ty),
            ))
        })
        .collect();
    let fix = wrong
        .iter()
        .map(|(c, _, ty)| {
            format!("ALTER TABLE {logs} ALTER COLUMN \"{c}\" TYPE {ty} USING \"{c}\"::{ty};")
        })
        .collect::<Vec<_>>()
        .join(" ");
    r.results.push(
        CheckResult::when(
            "audit_logs column types",
            wrong.is_empty(),
            wrong
                .iter()
                .map(|(c, found, ty)| format!("{c} is {found}, expected {ty}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .fix(&fix),
    );
    let absent: Vec<String> = storage::expected_indexes()
        .into_iter()
        .filter(|(_, columns)| {
            !catalog.indexes.iter().any(|i| {
                i.columns
                    .iter()
                    .map(String::as_str)
                    .eq(columns.iter().copied())
            })
        })
        .map(|(name, columns)| format!("{name} ({})", columns.join(", ")))
        .collect();
    r.results.push(
        CheckResult::when(
            "audit_logs indexes",
            absent.is_empty(),
            format!(
                "missing {}: {} (queries, cursors and the hash chains scan the whole table)",
                if absent.len() == 1 {
                    "index"
                } else {
                    "indexes"
                },
                absent.join(", ")
            ),
        )
        .fix(MIGRATE),
    );
}

/// `2026-12` for the month starting at `micros`.
fn month_label(micros: i64) -> String {
    time::format_iso(micros)[..7].to_owned()
}

/// A partitioned table needs a partition for this month and the next, made ahead of time:
/// without one, entries go to the default partition (or fail when there is none), and a
/// month's partition cannot be created once the default partition holds rows of that month.
pub(super) fn partitions(catalog: &AuditCatalog, now: i64, r: &mut Report) {
    let mut ranges: Vec<(i64, i64)> = catalog
        .partitions
        .iter()
        .filter_map(|p| {
            Some((
                time::parse_iso(p.from.as_deref()?)?,
                time::parse_iso(p.to.as_deref()?)?,
            ))
        })
        .collect();
    ranges.sort_unstable();
    // How far the partitions reach, contiguously, from the start of this month.
    let mut reach = storage::month_start(now, 0);
    for (from, to) in &ranges {
        if *from <= reach && reach < *to {
            reach = *to;
        }
    }
    let uncovered: Vec<String> = (0..2)
        .filter(|k| storage::month_start(now, k + 1) > reach)
        .map(|k| month_label(storage::month_start(now, k)))
        .collect();
    let default = catalog.partitions.iter().any(|p| p.from.is_none());
    let consequence = if default {
        "its entries go to the default partition, which then blocks creating the month's partition"
    } else {
        "there is no default partition either, so writing its entries fails"
    };
    r.results.push(
        CheckResult::when(
            "audit_logs partitions cover this month and the next",
            uncovered.is_empty(),
            format!("no partition for {}: {consequence}", uncovered.join(", ")),
        )
        .fix("run `better-audit ensure-partitions` (monthly, e.g. from cron)"),
    );
}
