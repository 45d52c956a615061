//! One purge protocol, for the library's `purgeLogs` (and the console's `DELETE /logs`) and
//! for `better-audit purge`: the same statements over the entries older than a cut-off, and the
//! same rule for sealed entries. Deleting a sealed entry cuts its hash chain, which only a
//! recorded checkpoint (sealed with the chain's key, see `chain`) makes verifiable again, so:
//! - a purge of some tables only never deletes sealed entries (their chains run through the
//!   other tables' entries too) and refuses with `AUDIT_SEALED_PURGE`;
//! - `better-audit purge` of every table records each chain's checkpoint first, then deletes.
//!
//! The library cannot record checkpoints: it runs as the application's role, which `migrate`
//! leaves without write access to the checkpoint table (and an adapter that does not seal has
//! no key). So `purgeLogs` refuses sealed entries even when it purges every table, and names
//! the command that can. The plan for a partitioned table drops whole months and trims the rest.

use super::time;
use crate::error::{CliFailure, Result};

/// The partitions of `$1` (the parent, as text), by name: `relname`, the bound as
/// `pg_get_expr` prints it.
pub const PARTITIONS: &str = "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1) ORDER BY 1";

/// A partition from its catalog row: `FOR VALUES FROM ('2026-03-01 00:00:00+00') TO
/// ('2026-04-01 00:00:00+00')` gives ISO bounds, `DEFAULT` none.
#[must_use]
pub fn partition(name: String, bound: &str) -> Partition {
    let quoted: Vec<String> = bound
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(|s| s.replacen(' ', "T", 1))
        .collect();
    let iso = |s: Option<&String>| {
        s.map(|v| {
            if v.ends_with("+00") {
                format!("{v}:00")
            } else {
                v.clone()
            }
        })
    };
    Partition {
        name,
        from: iso(quoted.first()),
        to: iso(quoted.get(1)),
    }
}

/// One partition as the catalog describes it; bounds are ISO instants, `None` for the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What a purge does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeStep {
    /// The whole partition is older than the cutoff.
    Drop { partition: String },
    /// Rows older than the cutoff are deleted from this table or partition.
    Delete { relation: String },
}

/// The steps that remove every row older than `cutoff_micros` (and, with `table_name`, only
/// that table's rows: then nothing is dropped whole). Partitions entirely before the cutoff
/// are dropped; a partition the cutoff falls into, and the default one, are trimmed.
#[must_use]
pub fn purge_plan(
    partitions: &[Partition],
    cutoff_micros: i64,
    whole_partitions: bool,
) -> Vec<PurgeStep> {
    if partitions.is_empty() {
        return vec![PurgeStep::Delete {
            relation: super::storage::LOGS.into(),
        }];
    }
    partitions
        .iter()
        .filter_map(|p| {
            let from = p.from.as_deref().and_then(time::parse_iso);
            let to = p.to.as_deref().and_then(time::parse_iso);
            match (from, to) {
                (Some(f), _) if f >= cutoff_micros => None,
                (_, Some(end)) if end <= cutoff_micros && whole_partitions => {
                    Some(PurgeStep::Drop {
                        partition: p.name.clone(),
                    })
                }
                _ => Some(PurgeStep::Delete {
                    relation: p.name.clone(),
                }),
            }
        })
        .collect()
}

/// The entries a purge removes: older than `$1` (ISO instant, text) and, unless `$2` (text[])
/// is null, of the tables it lists.
const DOOMED: &str = "\"timestamp\" < $1::text::timestamptz AND ($2::text[] IS NULL OR table_name = ANY($2::text[]))";

/// How many of the entries the purge would remove from `relation` are sealed (`n`).
#[must_use]
pub fn sealed_count(relation: &str) -> String {
    format!("SELECT count(*) AS n FROM {relation} WHERE {DOOMED} AND seq IS NOT NULL")
}

/// How many entries the purge would remove from `relation` (`n`).
#[must_use]
pub fn doomed_count(relation: &str) -> String {
    format!("SELECT count(*) AS n FROM {relation} WHERE {DOOMED}")
}

/// Deletes the entries and returns how many went (`n`); `spare_sealed` keeps sealed ones,
/// so an entry sealed after [`sealed_count`] ran is never deleted.
#[must_use]
pub fn delete(relation: &str, spare_sealed: bool) -> String {
    let spare = if spare_sealed { " AND seq IS NULL" } else { "" };
    format!("WITH gone AS (DELETE FROM {relation} WHERE {DOOMED}{spare} RETURNING 1) SELECT count(*) AS n FROM gone")
}

/// A whole partition's entries (`n`), before it is dropped.
#[must_use]
pub fn whole_count(partition: &str) -> String {
    format!("SELECT count(*) AS n FROM {partition}")
}

/// Drops a partition that lies entirely before the cut-off.
#[must_use]
pub fn drop_partition(partition: &str) -> String {
    format!("DROP TABLE {partition}")
}

/// `better-audit purge` deletes only when told: `--dry-run` shows, `--yes` deletes.
///
/// # Errors
/// `CLI_USAGE` naming both.
pub fn confirm(dry_run: bool, yes: bool) -> Result<()> {
    if dry_run || yes {
        return Ok(());
    }
    Err(CliFailure::Usage.with(
        "purge deletes audit entries: pass --dry-run to see what would go, or --yes to delete",
    ))
}

/// The retention window: `--since`, else `audit.retention.days`.
///
/// # Errors
/// `CLI_USAGE` naming both when neither is given.
pub fn window(since: Option<&str>, retention_days: Option<u32>) -> Result<String> {
    match (since, retention_days) {
        (Some(s), _) => Ok(s.to_owned()),
        (None, Some(days)) => Ok(format!("{days}d")),
        (None, None) => Err(CliFailure::Usage.with(
            "no retention window: pass --since <duration> (e.g. 90d) or set audit.retention.days",
        )),
    }
}

/// A purge of some tables only finds `sealed` sealed entries among those it would delete.
///
/// # Errors
/// `AUDIT_SEALED_PURGE` when there are any.
pub fn refuse_sealed(sealed: i64) -> Result<()> {
    if sealed <= 0 {
        return Ok(());
    }
    Err(CliFailure::SealedPurge.with(format!(
        "{sealed} of these entries are sealed into hash chains shared with other tables; purging only some tables would break the chains: purge without --table"
    )))
}

/// `better-audit purge`'s output: per step its relation and count, then the total.
#[must_use]
pub fn report(
    dry_run: bool,
    cutoff_iso: &str,
    tables: &[String],
    removed: &[(PurgeStep, i64)],
) -> String {
    let mut out = format!(
        "{} entries older than {cutoff_iso}{}:\n",
        if dry_run { "would remove" } else { "removed" },
        if tables.is_empty() {
            String::new()
        } else {
            format!(" of {}", tables.join(", "))
        }
    );
    for (step, count) in removed {
        let (relation, what) = match step {
            PurgeStep::Drop { partition } => (partition, "(whole partition dropped)"),
            PurgeStep::Delete { relation } => (relation, "rows"),
        };
        out.push_str(&format!("  {relation}: {count} {what}\n"));
    }
    let total: i64 = removed.iter().map(|(_, n)| n).sum();
    out.push_str(&format!("total: {total}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_drops_old_months_and_trims_the_boundary() {
        let part = |name: &str, from: Option<&str>, to: Option<&str>| Partition {
            name: name.into(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
        };
        let parts = [
            part(
                "audit_logs_p2026_01",
                Some("2026-01-01T00:00:00Z"),
                Some("2026-02-01T00:00:00Z"),
            ),
            part(
                "audit_logs_p2026_02",
                Some("2026-02-01T00:00:00Z"),
                Some("2026-03-01T00:00:00Z"),
            ),
            part(
                "audit_logs_p2026_03",
                Some("2026-03-01T00:00:00Z"),
                Some("2026-04-01T00:00:00Z"),
            ),
            part("audit_logs_default", None, None),
        ];
        let cutoff = time::parse_iso("2026-03-01T00:00:00Z").unwrap();
        let plan = purge_plan(&parts, cutoff, true);
        assert_eq!(
            plan,
            [
                PurgeStep::Drop {
                    partition: "audit_logs_p2026_01".into()
                },
                PurgeStep::Drop {
                    partition: "audit_logs_p2026_02".into()
                },
                PurgeStep::Delete {
                    relation: "audit_logs_default".into()
                },
            ]
        );
        let mid = time::parse_iso("2026-02-10T00:00:00Z").unwrap();
        let only_table = purge_plan(&parts, mid, false);
        assert_eq!(only_table.len(), 3, "{only_table:?}");
        assert!(only_table
            .iter()
            .all(|s| matches!(s, PurgeStep::Delete { .. })));
        assert_eq!(
            purge_plan(&[], mid, true),
            [PurgeStep::Delete {
                relation: super::super::storage::LOGS.into()
            }]
        );
    }

    #[test]
    fn bounds_are_read_as_iso_instants() {
        let p = partition(
            "audit_logs_p2026_03".into(),
            "FOR VALUES FROM ('2026-03-01 00:00:00+00') TO ('2026-04-01 00:00:00+00')",
        );
        assert_eq!(p.from.as_deref(), Some("2026-03-01T00:00:00+00:00"));
        assert_eq!(p.to.as_deref(), Some("2026-04-01T00:00:00+00:00"));
        assert!(time::parse_iso(p.from.as_deref().unwrap()).is_some());
        let d = partition("audit_logs_default".into(), "DEFAULT");
        assert_eq!((d.from, d.to), (None, None));
    }

    #[test]
    fn sealed_entries_stop_partial_purges_and_need_a_confirmation() {
        assert!(refuse_sealed(0).is_ok());
        let e = refuse_sealed(3).unwrap_err();
        assert_eq!(e.code(), "AUDIT_SEALED_PURGE");
        assert!(e.to_string().starts_with("3 of these entries are sealed"));
        assert_eq!(confirm(false, false).unwrap_err().code(), "CLI_USAGE");
        assert!(confirm(true, false).is_ok() && confirm(false, true).is_ok());
        assert_eq!(window(None, Some(30)).unwrap(), "30d");
        assert_eq!(window(Some("1y"), Some(30)).unwrap(), "1y");
        assert!(window(None, None)
            .unwrap_err()
            .to_string()
            .starts_with("no retention window"));
        let d = delete("\"audit_logs\"", true);
        assert!(
            d.contains("table_name = ANY($2::text[])) AND seq IS NULL RETURNING 1"),
            "{d}"
        );
        assert!(!delete("x", false).contains("seq"));
        assert!(sealed_count("x").ends_with("AND seq IS NOT NULL"));
    }

    #[test]
    fn the_report_lists_each_step() {
        let steps = [
            (
                PurgeStep::Drop {
                    partition: "p1".into(),
                },
                4,
            ),
            (
                PurgeStep::Delete {
                    relation: "p2".into(),
                },
                1,
            ),
        ];
        assert_eq!(
            report(true, "2026-01-01T00:00:00.000000Z", &["users".into()], &steps),
            "would remove entries older than 2026-01-01T00:00:00.000000Z of users:\n  p1: 4 (whole partition dropped)\n  p2: 1 rows\ntotal: 5\n"
        );
    }
}
