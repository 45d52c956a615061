//! Time partitions of `webhook_messages` and `webhook_attempts` (`ensure-partitions`, `purge`).
//!
//! A partition covers one day, ISO week (Monday to Monday) or month in UTC and is named after
//! its first day (`webhook_messages_p20260824`). Each is created in its own block that skips it
//! when it exists, when it would overlap a partition of another width (the width was changed),
//! or when the DEFAULT partition already holds rows of its range (PostgreSQL refuses then);
//! those rows stay in the DEFAULT partition, which retention trims by row instead.

use super::super::error::{Result, WebhooksError};
use super::PartitionWidth;
use super::{dollar_quote, quote_ident, quote_literal, Statement, Store};
use crate::audit::time::{civil_from_days, days_from_civil};

/// The partitioned tables.
pub const PARTITIONED: [&str; 2] = ["messages", "attempts"];

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

fn date(day: i64) -> (i64, u32, u32) {
    civil_from_days(day)
}

fn bound(day: i64) -> String {
    let (y, m, d) = date(day);
    format!("{y:04}-{m:02}-{d:02} 00:00:00+00")
}

/// `webhook_<table>_pYYYYMMDD`.
#[must_use]
pub fn partition_name(table: &str, start_day: i64) -> String {
    let (y, m, d) = date(start_day);
    format!("webhook_{table}_p{y:04}{m:02}{d:02}")
}

impl Store {
    /// The current period's partition and `ahead` more, for both tables, with their policy.
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
        for table in PARTITIONED {
            for (start, end) in &periods {
                out.push_str(&self.partition_sql(table, *start, *end));
            }
        }
        out
    }

    fn partition_sql(&self, table: &str, start: i64, end: i64) -> String {
        let name = partition_name(table, start);
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
    RAISE NOTICE 'better-webhooks: partition % not created: %', {name_lit}, SQLERRM;
END
",
            parent = self.table(table),
            from = quote_literal(&bound(start)),
            to = quote_literal(&bound(end)),
            name_lit = quote_literal(&name),
        );
        format!("DO {};\n", dollar_quote(body.trim_end_matches(' ')))
    }

    /// Partitions of `table` (`messages` or `attempts`) whose whole range is older than
    /// `$1` days, oldest first (`name`, `lower`, `upper`). A messages partition is kept while it
    /// holds an unexpanded message or one with an unfinished delivery.
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_ARGUMENT` naming `table` for another table.
    pub fn droppable_partitions(&self, table: &str) -> Result<Statement> {
        if !PARTITIONED.contains(&table) {
            return Err(WebhooksError::argument(
                "table",
                format!("{table:?} is not partitioned; expected messages or attempts"),
            ));
        }
        let parent = self.table(table);
        let keep = if table == "messages" {
            format!(
                "
  AND b.upper <= (SELECT coalesce(min(d.message_created_at), 'infinity') FROM {deliveries} d WHERE d.finished_at IS NULL)
  AND NOT EXISTS (SELECT 1 FROM {parent} m WHERE m.expanded_at IS NULL AND m.created_at >= b.lower AND m.created_at < b.upper)",
                deliveries = self.table("deliveries"),
            )
        } else {
            String::new()
        };
        Ok(Statement::new(
            format!(
                "SELECT c.relname AS name, b.lower, b.upper
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') AS r(m)
CROSS JOIN LATERAL (SELECT r.m[1]::timestamptz AS lower, r.m[2]::timestamptz AS upper) b
WHERE i.inhparent = {parent_lit}::regclass
  AND b.upper <= now() - make_interval(days => $1){keep}
ORDER BY b.lower",
                parent_lit = quote_literal(&parent),
            ),
            &[("retention_days", "int")],
        ))
    }

    /// `DROP TABLE` of partitions listed by [`Store::droppable_partitions`].
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_ARGUMENT` naming `names[i]` for a name that is not one of our
    /// dated partitions (the DEFAULT partition is never dropped).
    pub fn drop_partitions_sql(&self, names: &[String]) -> Result<String> {
        let mut out = String::new();
        for (i, n) in names.iter().enumerate() {
            let dated = PARTITIONED.iter().any(|t| {
                n.strip_prefix(&format!("webhook_{t}_p"))
                    .is_some_and(|d| d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))
            });
            if !dated {
                return Err(WebhooksError::argument(
                    format!("names[{i}]"),
                    format!("{n:?} is not a dated webhook partition"),
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
        assert_eq!(partition_name("messages", s), "webhook_messages_p20261201");
    }

    #[test]
    fn drop_only_dated_partitions() {
        let s = Store::new(&super::super::StoreConfig::default()).unwrap();
        assert_eq!(
            s.drop_partitions_sql(&["webhook_attempts_p20260824".into()])
                .unwrap(),
            "DROP TABLE IF EXISTS \"public\".\"webhook_attempts_p20260824\";\n"
        );
        for bad in [
            "webhook_messages_default",
            "webhook_endpoints",
            "webhook_messages_p2026",
        ] {
            assert!(s.drop_partitions_sql(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(s.droppable_partitions("deliveries").is_err());
    }
}
