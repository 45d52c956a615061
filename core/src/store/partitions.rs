//! Time partitions of a product's partitioned tables (`ensure-partitions`, `purge`).
//!
//! A partition covers one day, ISO week (Monday to Monday) or month in UTC and is named after
//! its first day (`<prefix>_<table>_p20260824`). Each is created in its own block that skips it
//! when it exists, when it would overlap a partition of another width (the width was changed),
//! or when the DEFAULT partition already holds rows of its range (PostgreSQL refuses then);
//! those rows stay in the DEFAULT partition, which retention trims by row instead.

use super::{Layout, PartitionWidth, Statement};
use crate::audit::time::{civil_from_days, days_from_civil};
use crate::sql::{dollar_quoted, literal as quote_literal, quote_ident};

/// Partitions created ahead of time by `migrate` and `ensure-partitions` (default).
pub const DEFAULT_PARTITIONS_AHEAD: u32 = 4;

/// `[start, end)` in days since 1970-01-01 of the partition containing `day`.
#[must_use]
pub fn period(width: PartitionWidth, day: i64) -> (i64, i64) {
    match width {
        PartitionWidth::Day => (day, day + 1),
        PartitionWidth::Week => {
            // 1970-01-01 was a Thursday: Monday is 3 days before.
            let start = day - (day + 3).rem_euclid(7);
            (start, start + 7)
        }
        PartitionWidth::Month => {
            let (y, m, _) = civil_from_days(day);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (days_from_civil(y, m, 1), days_from_civil(ny, nm, 1))
        }
    }
}

pub(crate) fn bound(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02} 00:00:00+00")
}

/// `<prefix>_<table>_pYYYYMMDD`.
#[must_use]
pub fn partition_name(prefix: &str, table: &str, start_day: i64) -> String {
    let (y, m, d) = civil_from_days(start_day);
    format!("{prefix}_{table}_p{y:04}{m:02}{d:02}")
}

impl Layout {
    /// `<prefix>_<table>_pYYYYMMDD` of this product.
    #[must_use]
    pub fn partition_name(&self, table: &str, start_day: i64) -> String {
        partition_name(self.product.prefix, table, start_day)
    }

    /// The partitions of this period and the next, per partitioned table (what `check` wants).
    #[must_use]
    pub fn current_partitions(&self, now_ms: i64) -> Vec<String> {
        let current = period(self.partition, now_ms.div_euclid(86_400_000));
        let next = period(self.partition, current.1);
        self.product
            .partitioned
            .iter()
            .flat_map(|t| {
                [
                    self.partition_name(t, current.0),
                    self.partition_name(t, next.0),
                ]
            })
            .collect()
    }

    /// The current period's partition and `ahead` more, for every partitioned table, with
    /// their policy.
    #[must_use]
    pub fn ensure_partitions_sql(&self, now_ms: i64, ahead: u32) -> String {
        let today = now_ms.div_euclid(86_400_000);
        let mut periods = Vec::new();
        let mut day = today;
        for _ in 0..=ahead {
            let p = period(self.partition, day);
            periods.push(p);
            day = p.1;
        }
        let mut out = String::new();
        for table in self.product.partitioned {
            for (start, end) in &periods {
                out.push_str(&self.partition_sql(table, *start, *end));
            }
        }
        out
    }

    fn partition_sql(&self, table: &str, start: i64, end: i64) -> String {
        let name = self.partition_name(table, start);
        let qualified = format!("{}.{}", quote_ident(&self.schema), quote_ident(&name));
        let policy = if self.rls {
            format!(
                "\n  {}",
                self.rls_table_sql(&qualified).replace('\n', "\n  ")
            )
        } else {
            String::new()
        };
        let body = format!(
            "
BEGIN
  CREATE TABLE {qualified} PARTITION OF {parent} FOR VALUES FROM ({from}) TO ({to});{policy}
EXCEPTION
  WHEN duplicate_table THEN NULL;
  WHEN invalid_object_definition OR check_violation THEN
    RAISE NOTICE '{tool}: partition % not created: %', {name_lit}, SQLERRM;
END
",
            parent = self.table(table),
            from = quote_literal(&bound(start)),
            to = quote_literal(&bound(end)),
            name_lit = quote_literal(&name),
            tool = self.product.tool,
        );
        format!("DO {};\n", dollar_quoted(body.trim_end_matches(' ')))
    }

    /// Partitions of `table` whose whole range is older than `$1` days and that `keep` (SQL
    /// over the bounds `b.lower`, `b.upper`; empty or starting with `\n  AND`) does not hold
    /// back, oldest first (`name`, `lower`, `upper`). The caller checks `table`.
    pub(crate) fn droppable_sql(&self, table: &str, keep: &str) -> Statement {
        Statement::new(
            format!(
                "SELECT c.relname AS name, b.lower, b.upper
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') AS r(m)
CROSS JOIN LATERAL (SELECT r.m[1]::timestamptz AS lower, r.m[2]::timestamptz AS upper) b
WHERE i.inhparent = {parent_lit}::regclass
  AND b.upper <= now() - make_interval(days => $1){keep}
ORDER BY b.lower",
                parent_lit = quote_literal(&self.table(table)),
            ),
            &[("retention_days", "int")],
        )
    }

    /// `DROP TABLE` of dated partitions listed by the droppable statements.
    ///
    /// # Errors
    /// `(field, reason)` naming `names[i]` for a name that is not one of this product's dated
    /// partitions (the DEFAULT partition is never dropped).
    pub(crate) fn drop_dated_sql(&self, names: &[String]) -> Result<String, (String, String)> {
        let prefix = self.product.prefix;
        let mut out = String::new();
        for (i, n) in names.iter().enumerate() {
            let dated = self.product.partitioned.iter().any(|t| {
                n.strip_prefix(&format!("{prefix}_{t}_p"))
                    .is_some_and(|d| d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))
            });
            if !dated {
                return Err((
                    format!("names[{i}]"),
                    format!("{n:?} is not a dated {prefix} partition"),
                ));
            }
            out.push_str(&format!(
                "DROP TABLE IF EXISTS {}.{};\n",
                quote_ident(&self.schema),
                quote_ident(n)
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::time::parse_iso;

    fn day(s: &str) -> i64 {
        parse_iso(&format!("{s}T12:00:00Z")).unwrap() / 86_400_000_000
    }

    #[test]
    fn periods() {
        let d = day("2026-08-27"); // a Thursday
        assert_eq!(period(PartitionWidth::Day, d), (d, d + 1));
        let (s, e) = period(PartitionWidth::Week, d);
        assert_eq!(
            (bound(s), bound(e)),
            (
                "2026-08-24 00:00:00+00".into(),
                "2026-08-31 00:00:00+00".into()
            )
        );
        assert_eq!(period(PartitionWidth::Week, day("2026-08-24")).0, s);
        assert_eq!(period(PartitionWidth::Week, day("2026-08-30")).0, s);
        let (s, e) = period(PartitionWidth::Month, day("2026-12-31"));
        assert_eq!(
            (bound(s), bound(e)),
            (
                "2026-12-01 00:00:00+00".into(),
                "2027-01-01 00:00:00+00".into()
            )
        );
        assert_eq!(
            partition_name("webhook", "messages", s),
            "webhook_messages_p20261201"
        );
    }
}
