//! The library store's statements beside the query (`query::compile`): one entry by id, and
//! the purge behind `purgeLogs` and the console's `DELETE /logs`. That purge never deletes a
//! sealed entry: only `better-audit purge` records where it cuts a chain (a checkpoint sealed
//! with the chain's key), so sealed entries deleted anywhere else would leave chains that
//! `verify` reports as broken.

use super::query::CURSOR_TS;
use crate::sql::literal;

/// The statements over `logs` (the table as the caller spells it, e.g. `"audit_logs"`).
/// In the purge statements `$1` is the cut-off instant (text) and `$2` the table name, null
/// for every table.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
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
}

#[must_use]
pub fn store_sql(logs: &str) -> StoreSql {
    let doomed =
        "\"timestamp\" < $1::text::timestamptz AND ($2::text IS NULL OR table_name = $2::text)";
    let delete = |extra: &str| {
        format!("WITH gone AS (DELETE FROM {logs} WHERE {doomed}{extra} RETURNING 1) SELECT count(*)::int AS n FROM gone")
    };
    StoreSql {
        by_id: format!("SELECT *, {CURSOR_TS} AS cursor_ts FROM {logs} WHERE id = $1::uuid LIMIT 1"),
        columns: format!(
            "SELECT attname::text AS name FROM pg_attribute WHERE attrelid = to_regclass({}) AND attnum > 0 AND NOT attisdropped",
            literal(logs)
        ),
        sealed_in_purge: format!("SELECT count(*)::int AS n FROM {logs} WHERE {doomed} AND seq IS NOT NULL"),
        purge: delete(""),
        purge_unsealed: delete(" AND seq IS NULL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_the_table_and_spare_sealed_entries() {
        let q = store_sql("\"audit_logs\"");
        assert!(q.by_id.starts_with("SELECT *, to_char("));
        assert!(q
            .by_id
            .ends_with("FROM \"audit_logs\" WHERE id = $1::uuid LIMIT 1"));
        assert!(q.columns.contains("to_regclass('\"audit_logs\"')"));
        assert!(q.sealed_in_purge.ends_with("AND seq IS NOT NULL"));
        assert!(!q.purge.contains("seq"));
        assert!(q
            .purge_unsealed
            .contains("table_name = $2::text) AND seq IS NULL RETURNING 1"));
    }
}
