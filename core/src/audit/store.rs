//! The library store's statements beside the query (`query::compile`): one entry by id, the
//! table's columns, the statistics of `getStats`, and the purge behind `purgeLogs` and the
//! console's `DELETE /logs` (the statements of `better-audit purge`, see `purge`).

use super::query::CURSOR_TS;
use super::{purge, seal};
use crate::sql::literal;

/// The statements over `logs` (the table as the caller spells it, e.g. `"audit_logs"`).
/// In the purge statements `$1` is the cut-off instant (text) and `$2` the tables (text[]),
/// null for every table.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StoreSql {
    /// The entry with id `$1` (a UUID), with `cursor_ts`: its exact position for cursors.
    pub by_id: String,
    /// The table's columns (`name`), none when it does not exist: a table made for the
    /// reference lacks `tenant_id` and the seal columns until `better-audit migrate`.
    pub columns: String,
    /// How many of the entries a purge would delete are sealed (`n`).
    pub sealed_in_purge: String,
    /// Deletes the entries older than `$1` and returns how many went (`n`).
    pub purge: String,
    /// The same, sparing sealed entries: one sealed after the check above is never deleted.
    pub purge_unsealed: String,
    /// `getStats`, each over the entries from `$1` (inclusive) to `$2` (exclusive), ISO text,
    /// either null for no bound.
    pub stats: StatsSql,
    /// The columns of type `jsonb`, whose values are written as JSON text.
    pub json_columns: Vec<&'static str>,
}

/// The six statements of `getStats`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StatsSql {
    /// `total` entries and distinct `tables`.
    pub totals: String,
    /// `date` (`YYYY-MM-DD`, session time zone) and `count`, oldest first, at most 365.
    pub days: String,
    /// `actor_id` and `count`, the 10 most active.
    pub actors: String,
    /// `table_name` and `count`, the 10 most audited.
    pub tables: String,
    /// `operation` and `count`.
    pub operations: String,
    /// `severity` and `count`.
    pub severities: String,
}

fn stats_sql(logs: &str) -> StatsSql {
    let range = "($1::text IS NULL OR \"timestamp\" >= $1::text::timestamptz) AND ($2::text IS NULL OR \"timestamp\" < $2::text::timestamptz)";
    let by = |column: &str, extra: &str, tail: &str| {
        format!("SELECT {column}, count(*)::int AS count FROM {logs} WHERE {range}{extra} GROUP BY 1{tail}")
    };
    StatsSql {
        totals: format!("SELECT count(*)::int AS total, count(DISTINCT table_name)::int AS tables FROM {logs} WHERE {range}"),
        days: by("to_char(date_trunc('day', \"timestamp\"), 'YYYY-MM-DD') AS date", "", " ORDER BY 1 LIMIT 365"),
        actors: by("actor_id", " AND actor_id IS NOT NULL", " ORDER BY 2 DESC, 1 LIMIT 10"),
        tables: by("table_name", "", " ORDER BY 2 DESC, 1 LIMIT 10"),
        operations: by("operation", "", ""),
        severities: by("severity", " AND severity IS NOT NULL", ""),
    }
}

#[must_use]
pub fn store_sql(logs: &str) -> StoreSql {
    StoreSql {
        by_id: format!("SELECT *, {CURSOR_TS} AS cursor_ts FROM {logs} WHERE id = $1::uuid LIMIT 1"),
        columns: format!(
            "SELECT attname::text AS name FROM pg_attribute WHERE attrelid = to_regclass({}) AND attnum > 0 AND NOT attisdropped",
            literal(logs)
        ),
        sealed_in_purge: purge::sealed_count(logs),
        purge: purge::delete(logs, false),
        purge_unsealed: purge::delete(logs, true),
        stats: stats_sql(logs),
        json_columns: seal::JSON_COLUMNS.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_the_table_spare_sealed_entries_and_take_optional_bounds() {
        let q = store_sql("\"audit_logs\"");
        let s = &q.stats;
        let range = "WHERE ($1::text IS NULL OR \"timestamp\" >= $1::text::timestamptz) AND ($2::text IS NULL OR \"timestamp\" < $2::text::timestamptz)";
        for (statement, part) in [
            (&q.by_id, "SELECT *, to_char("),
            (&q.by_id, "FROM \"audit_logs\" WHERE id = $1::uuid LIMIT 1"),
            (&q.columns, "to_regclass('\"audit_logs\"')"),
            (&q.sealed_in_purge, "AND seq IS NOT NULL"),
            (
                &q.purge_unsealed,
                "table_name = ANY($2::text[])) AND seq IS NULL RETURNING 1",
            ),
            (&s.totals, range),
            (
                &s.actors,
                "AND actor_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
            ),
            (
                &s.days,
                "'YYYY-MM-DD') AS date, count(*)::int AS count FROM",
            ),
        ] {
            assert!(statement.contains(part), "{statement} lacks {part}");
        }
        assert!(!q.purge.contains("seq"));
        assert!(s.operations.ends_with("GROUP BY 1"));
        assert_eq!(q.json_columns.len(), 6);
    }
}
