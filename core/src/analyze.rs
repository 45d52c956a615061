//! Which tables a piece of SQL writes, and how: what the audit proxy needs to know about
//! `db.execute(sql…)` statements it cannot capture itself, so they are reported instead of
//! silently lost. Data-modifying CTEs, `INSERT … SELECT`, `TRUNCATE`, `MERGE` and `COPY FROM`
//! count; a function called from a `SELECT` cannot be seen and is not claimed.

use sqlparser::ast::{
    CopySource, FromTable, ObjectName, ObjectNamePart, Query, SetExpr, Statement, TableFactor,
    TableObject,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::error::{Error, Result};

/// One table written by a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Write {
    /// Schema when the SQL names one.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub schema: Option<String>,
    pub table: String,
    /// `INSERT`, `UPDATE`, `DELETE`, `TRUNCATE` or `MERGE`.
    pub operation: &'static str,
}

/// The tables `sql` writes, in statement order. SQL the parser does not understand is an
/// error: the caller cannot know what it does.
pub fn writes(sql: &str) -> Result<Vec<Write>> {
    let statements =
        Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| Error::InvalidArgument {
            field: "sql".into(),
            reason: format!("the SQL analyser cannot parse it ({e})"),
        })?;
    let mut out = Vec::new();
    for s in &statements {
        statement(s, &mut out);
    }
    Ok(out)
}

/// PostgreSQL folds unquoted names to lower case.
fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .filter_map(|part| match part {
            ObjectNamePart::Identifier(i) if i.quote_style.is_some() => Some(i.value.clone()),
            ObjectNamePart::Identifier(i) => Some(i.value.to_lowercase()),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

fn push(name: &ObjectName, operation: &'static str, out: &mut Vec<Write>) {
    let mut parts = name_parts(name);
    let Some(table) = parts.pop() else { return };
    let w = Write {
        schema: parts.pop(),
        table,
        operation,
    };
    if !out.contains(&w) {
        out.push(w);
    }
}

fn factor(f: &TableFactor, operation: &'static str, out: &mut Vec<Write>) {
    if let TableFactor::Table { name, .. } = f {
        push(name, operation, out);
    }
}

fn statement(s: &Statement, out: &mut Vec<Write>) {
    match s {
        Statement::Insert(i) => {
            if let Some(q) = &i.source {
                query(q, out);
            }
            if let TableObject::TableName(name) = &i.table {
                push(name, "INSERT", out);
            }
        }
        Statement::Update(u) => factor(&u.table.relation, "UPDATE", out),
        Statement::Delete(d) => {
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
            for t in from {
                factor(&t.relation, "DELETE", out);
            }
        }
        Statement::Truncate(t) => {
            for target in &t.table_names {
                push(&target.name, "TRUNCATE", out);
            }
        }
        Statement::Merge(m) => factor(&m.table, "MERGE", out),
        Statement::Copy {
            source: CopySource::Table { table_name, .. },
            to: false,
            ..
        } => push(table_name, "INSERT", out),
        Statement::Query(q) => query(q, out),
        _ => {}
    }
}

fn query(q: &Query, out: &mut Vec<Write>) {
    if let Some(with) = &q.with {
        for cte in &with.cte_tables {
            query(&cte.query, out);
        }
    }
    set_expr(&q.body, out);
}

fn set_expr(e: &SetExpr, out: &mut Vec<Write>) {
    match e {
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) => {
            statement(s, out)
        }
        SetExpr::Query(q) => query(q, out),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr(left, out);
            set_expr(right, out);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(sql: &str) -> Vec<String> {
        writes(sql)
            .unwrap()
            .iter()
            .map(|w| match &w.schema {
                Some(s) => format!("{} {s}.{}", w.operation, w.table),
                None => format!("{} {}", w.operation, w.table),
            })
            .collect()
    }

    #[test]
    fn statements_and_names() {
        assert_eq!(
            ops("UPDATE Users SET a = 1 WHERE id = $1"),
            ["UPDATE users"]
        );
        assert_eq!(
            ops(r#"delete from app."Orders" o using x where o.id = x.id"#),
            ["DELETE app.Orders"]
        );
        assert_eq!(ops("INSERT INTO logs SELECT * FROM users"), ["INSERT logs"]);
        assert_eq!(ops("TRUNCATE a, b"), ["TRUNCATE a", "TRUNCATE b"]);
        assert_eq!(ops("COPY t FROM STDIN"), ["INSERT t"]);
        assert!(ops("COPY t TO STDOUT").is_empty());
        assert!(ops("SELECT * FROM users; SELECT 1").is_empty());
        assert_eq!(
            ops("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE"),
            ["MERGE t"]
        );
    }

    #[test]
    fn data_modifying_ctes_and_several_statements() {
        assert_eq!(
            ops("WITH gone AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM gone"),
            ["DELETE a", "INSERT b"]
        );
        assert_eq!(
            ops("WITH x AS (UPDATE a SET v = 1 RETURNING id) SELECT count(*) FROM x; update a set v = 2"),
            ["UPDATE a"]
        );
    }

    #[test]
    fn unparsable_sql_is_an_error() {
        let err = writes("UPDATE SET WHERE").unwrap_err();
        assert_eq!(err.code(), "INVALID_ARGUMENT");
        assert!(err.to_string().contains("sql"), "{err}");
    }
}
