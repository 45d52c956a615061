//! The names the audit packages share with the core's DDL, as data for the TypeScript adapters
//! (which keep no copy): the entries' table, its columns and indexes (read from
//! [`super::storage`]'s DDL, their one source), trigger capture's trigger and settings, and the
//! statements an adapter runs around them: the entry INSERT, the trigger-captured tables, the
//! settings that hand the trigger its context.

use super::storage::{self, CHECKPOINTS, LOGS};
use super::triggers::{ACTOR_SETTING, CAPTURE_FUNCTION, METADATA_SETTING, TENANT_SETTING, TRIGGER};
use crate::error::{Error, Result};
use crate::sql::{literal, Ident};

/// A sealed entry's place in its chain, the table's last columns.
pub const SEAL_COLUMNS: [&str; 3] = ["seq", "prev_hash", "hash"];

/// Prefix of the names under which adapters prepare their capturing statements.
pub const STATEMENT_PREFIX: &str = "usebetter_audit_";

/// One column of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditColumn"))]
pub struct Column {
    pub name: &'static str,
    /// The entry's property (`table_name` → `tableName`).
    pub key: String,
    /// The SQL type, as `migrate` creates it and as statements cast their parameters.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub sql_type: &'static str,
}

/// One index `migrate` creates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditIndex"))]
pub struct Index {
    pub name: &'static str,
    pub columns: Vec<&'static str>,
}

/// The trigger's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditSettings"))]
pub struct Settings {
    pub actor: &'static str,
    pub tenant: &'static str,
    pub metadata: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditContract"))]
pub struct Contract {
    /// The table's name, and as statements spell it (`"audit_logs"`: the search path's).
    pub table: &'static str,
    #[cfg_attr(feature = "serde", serde(rename = "ref"))]
    pub table_ref: String,
    pub checkpoints: &'static str,
    pub checkpoints_ref: String,
    /// The entry columns in table order (the seal columns follow them).
    pub columns: Vec<Column>,
    pub seal_columns: [&'static str; 3],
    pub indexes: Vec<Index>,
    pub trigger: &'static str,
    pub capture_function: &'static str,
    pub settings: Settings,
    pub statement_prefix: &'static str,
    /// The tables under trigger capture (`name`), which adapters leave to the trigger.
    pub triggered_tables: String,
    /// Hands the trigger the actor (`$1`), the tenant (`$2`) and the metadata (`$3`) for the
    /// rest of the transaction.
    pub context_settings: String,
}

fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn quoted(name: &'static str) -> String {
    Ident::fixed(name).quoted()
}

/// The entry columns (every column but the seal columns), in table order.
#[must_use]
pub fn entry_columns() -> Vec<Column> {
    storage::expected_columns()
        .into_iter()
        .filter(|(name, _)| !SEAL_COLUMNS.contains(name))
        .map(|(name, sql_type)| Column {
            name,
            key: camel(name),
            sql_type,
        })
        .collect()
}

#[must_use]
pub fn contract() -> Contract {
    let set =
        |name: &str, param: usize| format!("set_config({}, ${param}::text, true)", literal(name));
    Contract {
        table: LOGS,
        table_ref: quoted(LOGS),
        checkpoints: CHECKPOINTS,
        checkpoints_ref: quoted(CHECKPOINTS),
        columns: entry_columns(),
        seal_columns: SEAL_COLUMNS,
        indexes: storage::expected_indexes()
            .into_iter()
            .map(|(name, columns)| Index { name, columns })
            .collect(),
        trigger: TRIGGER,
        capture_function: CAPTURE_FUNCTION,
        settings: Settings {
            actor: ACTOR_SETTING,
            tenant: TENANT_SETTING,
            metadata: METADATA_SETTING,
        },
        statement_prefix: STATEMENT_PREFIX,
        triggered_tables: format!(
            "SELECT c.relname::text AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = {} AND NOT t.tgisinternal",
            literal(TRIGGER)
        ),
        context_settings: format!(
            "SELECT {}, {}, {}",
            set(ACTOR_SETTING, 1),
            set(TENANT_SETTING, 2),
            set(METADATA_SETTING, 3)
        ),
    }
}

/// One multi-row INSERT of entries. `columns` are the statement's entry columns (those the
/// table has), `rows` the columns each row has a value for; the others take the column's
/// default. Parameters: row by row, its values in `columns` order, then with `sealed` its
/// `seq`, `prev_hash` and `hash`.
///
/// # Errors
/// `InvalidArgument` for a column that is not an entry column, or a row value for a column the
/// statement lacks.
pub fn insert_sql(columns: &[String], rows: &[Vec<String>], sealed: bool) -> Result<String> {
    let known = entry_columns();
    let typed = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            known
                .iter()
                .find(|k| k.name == c)
                .map(|k| (k.name, k.sql_type))
                .ok_or_else(|| Error::InvalidArgument {
                    field: format!("columns[{i}]"),
                    reason: format!("{c:?} is not a column of {LOGS}"),
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut names: Vec<String> = typed.iter().map(|(n, _)| quoted(n)).collect();
    if sealed {
        names.extend(SEAL_COLUMNS.iter().map(|c| quoted(c)));
    }
    let mut n = 0;
    let mut param = |ty: &str| {
        n += 1;
        format!("${n}::{ty}")
    };
    let mut tuples = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        if let Some((j, c)) = row.iter().enumerate().find(|(_, c)| !columns.contains(c)) {
            return Err(Error::InvalidArgument {
                field: format!("rows[{r}][{j}]"),
                reason: format!("{c:?} is not one of the statement's columns"),
            });
        }
        let mut cells: Vec<String> = typed
            .iter()
            .map(|(name, ty)| {
                if row.iter().any(|c| c == name) {
                    param(ty)
                } else {
                    "DEFAULT".to_owned()
                }
            })
            .collect();
        if sealed {
            cells.extend(["bigint", "text", "text"].map(&mut param));
        }
        tuples.push(format!("({})", cells.join(", ")));
    }
    Ok(format!(
        "INSERT INTO {} ({}) VALUES {}",
        quoted(LOGS),
        names.join(", "),
        tuples.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_ddl() {
        let c = contract();
        assert_eq!(c.table_ref, "\"audit_logs\"");
        assert_eq!(c.columns.len(), 18);
        assert_eq!(
            c.columns[2],
            Column {
                name: "table_name",
                key: "tableName".into(),
                sql_type: "text"
            }
        );
        assert_eq!(c.columns[17].key, "tenantId");
        assert_eq!(c.indexes.len(), 8);
        assert_eq!(c.indexes[7].columns, ["tenant_id", "seq"]);
        assert!(c.triggered_tables.contains("t.tgname = 'usebetter_audit'"));
        assert_eq!(
            c.context_settings,
            "SELECT set_config('usebetter.audit_actor', $1::text, true), set_config('usebetter.audit_tenant', $2::text, true), set_config('usebetter.audit_metadata', $3::text, true)"
        );
    }

    #[test]
    fn inserts_take_defaults_for_absent_values_and_seal_last() {
        let cols = |c: &[&str]| c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let sql = insert_sql(
            &cols(&["id", "timestamp", "diff", "notify"]),
            &[cols(&["id", "diff"]), cols(&["timestamp", "notify"])],
            true,
        )
        .unwrap();
        assert_eq!(
            sql,
            "INSERT INTO \"audit_logs\" (\"id\", \"timestamp\", \"diff\", \"notify\", \"seq\", \"prev_hash\", \"hash\") VALUES \
             ($1::uuid, DEFAULT, $2::jsonb, DEFAULT, $3::bigint, $4::text, $5::text), \
             (DEFAULT, $6::timestamptz, DEFAULT, $7::boolean, $8::bigint, $9::text, $10::text)"
        );
        let bad = insert_sql(&cols(&["id", "seq"]), &[], false).unwrap_err();
        assert_eq!(bad.code(), "INVALID_ARGUMENT");
        assert!(bad.to_string().contains("columns[1]"), "{bad}");
        let stray = insert_sql(&cols(&["id"]), &[cols(&["label"])], false).unwrap_err();
        assert!(stray.to_string().contains("rows[0][0]"), "{stray}");
    }
}
