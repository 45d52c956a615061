//! What a piece of SQL could write: what the audit proxy needs to know about
//! `db.execute(sql…)` statements it cannot capture itself. The analysis is fail-closed:
//! tables a statement names as written are listed (data-modifying CTEs, `INSERT … SELECT`,
//! `TRUNCATE`, `MERGE`, `COPY FROM`, `PREPARE` and `EXPLAIN ANALYZE` of a write, and DDL that
//! renames, drops, alters or puts a view over a table), and a statement that could write
//! tables it does not name (a call to a function not known to be read-only, `DO`, `CALL`,
//! `EXECUTE`, rules and triggers, SQL the parser does not understand) is marked opaque.
//! Names are normalised as PostgreSQL does: unquoted names fold to lower case, `U&"…"` escapes
//! are decoded and names are cut to 63 bytes.

mod alone;
mod builtins;
mod unicode;

pub use alone::{reads_alone, sets_session};

use std::ops::ControlFlow;

use sqlparser::ast::{
    CopySource, Expr, FromTable, ObjectName, ObjectNamePart, ObjectType, Query, Select, Statement,
    TableFactor, TableObject, ValueWithSpan, Visit, Visitor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

use crate::error::{Error, Result};

/// One table written by a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "SqlWrite"))]
pub struct Write {
    /// Schema when the SQL names one.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub schema: Option<String>,
    pub table: String,
    /// `INSERT`, `UPDATE`, `DELETE`, `TRUNCATE` or `MERGE` for row changes; `ALTER TABLE`,
    /// `DROP`, `DROP TRIGGER` or `CREATE VIEW` for DDL that moves the table out of reach.
    #[cfg_attr(
        feature = "ts",
        ts(
            type = r#""INSERT" | "UPDATE" | "DELETE" | "TRUNCATE" | "MERGE" | "ALTER TABLE" | "DROP" | "DROP TRIGGER" | "CREATE VIEW""#
        )
    )]
    pub operation: &'static str,
}

/// What a piece of SQL could write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "SqlEffects"))]
pub struct Effects {
    /// The tables it names as written, in statement order.
    pub writes: Vec<Write>,
    /// Why it could also write tables it does not name; absent when it cannot.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub opaque: Option<String>,
}

/// What `sql` could write. Never fails: SQL the parser does not understand is opaque.
pub fn effects(sql: &str) -> Effects {
    let mut walk = Walk::default();
    match parse(sql) {
        Ok(statements) => {
            for s in statements.iter().filter(|s| !plans_only(s)) {
                let _ = s.visit(&mut walk);
            }
        }
        Err(e) => walk.opaque(format!("the SQL analyser cannot parse it ({e})")),
    }
    walk.effects
}

fn parse(sql: &str) -> std::result::Result<Vec<Statement>, ParserError> {
    Parser::parse_sql(&PostgreSqlDialect {}, sql).or_else(|e| {
        let plain = unicode::plain_names(sql).ok_or(e)?;
        Parser::parse_sql(&PostgreSqlDialect {}, &plain)
    })
}

/// Plain EXPLAIN only plans its statement; nothing in it runs. `EXPLAIN (ANALYZE …)` runs it,
/// whatever the option's value says.
fn plans_only(s: &Statement) -> bool {
    match s {
        Statement::Explain {
            analyze, options, ..
        } => {
            !analyze
                && !options
                    .iter()
                    .flatten()
                    .any(|o| o.name.value.eq_ignore_ascii_case("analyze"))
        }
        _ => false,
    }
}

/// The tables `sql` names as written, in statement order. SQL the parser does not understand
/// is an error: the caller cannot know what it does.
pub fn writes(sql: &str) -> Result<Vec<Write>> {
    parse(sql).map_err(|e| Error::InvalidArgument {
        field: "sql".into(),
        reason: format!("the SQL analyser cannot parse it ({e})"),
    })?;
    Ok(effects(sql).writes)
}

/// PostgreSQL's longest identifier, in bytes; longer ones are cut.
const NAME_MAX: usize = 63;

/// One name part as PostgreSQL reads it.
fn identifier(value: &str, quote: Option<char>) -> String {
    // Only ASCII letters fold in a UTF-8 database.
    let mut name = match quote {
        Some(_) => value.to_owned(),
        None => value.to_ascii_lowercase(),
    };
    if name.len() > NAME_MAX {
        let mut end = NAME_MAX;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .filter_map(|part| match part {
            ObjectNamePart::Identifier(i) => Some(identifier(&i.value, i.quote_style)),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

#[derive(Default)]
struct Walk {
    effects: Effects,
    /// The query of the CREATE VIEW being visited, and whether the walk is inside it: the
    /// tables it reads are written through the view. One visitor does both (a second visitor
    /// type would compile the whole syntax tree's walk again).
    view: Option<*const Query>,
    in_view: bool,
    /// Set when the walk judges whether a statement reads alone ([`alone`]): the statements
    /// seen so far. The same visitor again, so the walk is compiled once.
    alone: Option<usize>,
}

impl Walk {
    fn opaque(&mut self, reason: String) {
        self.effects.opaque.get_or_insert(reason);
    }

    fn push(&mut self, name: &ObjectName, operation: &'static str) {
        let mut parts = name_parts(name);
        let Some(table) = parts.pop() else { return };
        let w = Write {
            schema: parts.pop(),
            table,
            operation,
        };
        if !self.effects.writes.contains(&w) {
            self.effects.writes.push(w);
        }
    }

    fn factor(&mut self, f: &TableFactor, operation: &'static str) {
        match f {
            TableFactor::Table { name, .. } => self.push(name, operation),
            other => self.opaque(format!("{operation} of `{other}`")),
        }
    }

    fn call(&mut self, name: &ObjectName) {
        if !builtins::read_only(&name_parts(name)) {
            self.opaque(format!("it calls `{name}`, which could write any table"));
        }
    }

    /// The statement's own effect; the visitor reaches the statements, queries and
    /// expressions nested in it.
    fn statement(&mut self, s: &Statement) {
        match s {
            Statement::Insert(i) => match &i.table {
                TableObject::TableName(name) => self.push(name, "INSERT"),
                TableObject::TableFunction(f) => self.call(&f.name),
                TableObject::TableQuery(q) => self.opaque(format!("INSERT into `({q})`")),
            },
            Statement::Update(u) => self.factor(&u.table.relation, "UPDATE"),
            Statement::Delete(d) => {
                let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
                for t in from {
                    self.factor(&t.relation, "DELETE");
                }
            }
            Statement::Truncate(t) => {
                for target in &t.table_names {
                    self.push(&target.name, "TRUNCATE");
                }
            }
            Statement::Merge(m) => self.factor(&m.table, "MERGE"),
            Statement::Copy { source, to, .. } => {
                if let (CopySource::Table { table_name, .. }, false) = (source, to) {
                    self.push(table_name, "INSERT");
                }
            }
            // A view over a table can be written through, outside the table's name.
            Statement::CreateView(v) => self.view = Some(std::ptr::from_ref(&*v.query)),
            Statement::AlterTable(a) => self.push(&a.name, "ALTER TABLE"),
            Statement::DropTrigger(d) => match &d.table_name {
                Some(t) => self.push(t, "DROP TRIGGER"),
                None => self.opaque("DROP TRIGGER without its table".into()),
            },
            Statement::Drop {
                object_type, names, ..
            } => match object_type {
                ObjectType::Table
                | ObjectType::View
                | ObjectType::MaterializedView
                | ObjectType::ForeignTable => {
                    for n in names {
                        self.push(n, "DROP");
                    }
                }
                ObjectType::Schema | ObjectType::Database => {
                    self.opaque(format!("DROP {object_type} drops the tables in it"));
                }
                _ => {}
            },
            // Rows of a child table or partition are rows of its parent.
            Statement::CreateTable(t) => {
                for parent in t.inherits.iter().flatten().chain(&t.partition_of) {
                    self.push(parent, "ALTER TABLE");
                }
            }
            // Reads, session and transaction control, and DDL that writes no rows; any
            // expression inside is still checked.
            Statement::Query { .. }
            | Statement::Explain { .. }
            | Statement::ExplainTable { .. }
            | Statement::Prepare { .. }
            | Statement::Deallocate { .. }
            | Statement::Declare { .. }
            | Statement::Fetch { .. }
            | Statement::Close { .. }
            | Statement::Set { .. }
            | Statement::Reset { .. }
            | Statement::ShowVariable { .. }
            | Statement::ShowVariables { .. }
            | Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
            | Statement::LISTEN { .. }
            | Statement::UNLISTEN { .. }
            | Statement::NOTIFY { .. }
            | Statement::Discard { .. }
            | Statement::Lock { .. }
            | Statement::Comment { .. }
            | Statement::Analyze { .. }
            | Statement::Vacuum { .. }
            | Statement::Grant { .. }
            | Statement::Revoke { .. }
            | Statement::CreateIndex { .. }
            | Statement::CreateSchema { .. }
            | Statement::CreateSequence { .. }
            | Statement::CreateType { .. }
            | Statement::CreateDomain { .. }
            | Statement::CreatePolicy { .. }
            | Statement::CreateFunction { .. } => {}
            // DO, CALL, EXECUTE, CREATE RULE / TRIGGER / EXTENSION and the rest: the code they
            // run (now or on later writes) is out of sight.
            other => {
                let text = other.to_string();
                let kind: Vec<&str> = text.split_whitespace().take(2).collect();
                self.opaque(format!("`{}` statements are not analysed", kind.join(" ")));
            }
        }
    }
}

impl Visitor for Walk {
    type Break = ();

    fn pre_visit_statement(&mut self, s: &Statement) -> ControlFlow<()> {
        if let Some(seen) = self.alone.as_mut() {
            *seen += 1;
            return alone::verdict(*seen == 1);
        }
        self.statement(s);
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if self.alone.is_some() {
            return alone::query(q);
        }
        if self.view == Some(std::ptr::from_ref(q)) {
            self.in_view = true;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if self.view == Some(std::ptr::from_ref(q)) {
            self.in_view = false;
            self.view = None;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, r: &ObjectName) -> ControlFlow<()> {
        if self.in_view {
            self.push(r, "CREATE VIEW");
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<()> {
        match self.alone {
            Some(_) => alone::verdict(s.into.is_none()),
            None => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_value(&mut self, v: &ValueWithSpan) -> ControlFlow<()> {
        match self.alone {
            Some(_) => alone::value(v),
            None => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if self.alone.is_some() {
            return alone::expr(e);
        }
        if let Expr::Function(f) = e {
            self.call(&f.name);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
        if self.alone.is_some() {
            return alone::table_factor(t);
        }
        match t {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => self.call(name),
            _ => {}
        }
        ControlFlow::Continue(())
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

    fn opaque(sql: &str) -> String {
        effects(sql)
            .opaque
            .unwrap_or_else(|| panic!("{sql} should be opaque"))
    }

    #[test]
    fn reads_are_neither_writes_nor_opaque() {
        for sql in [
            "SELECT count(*)::int AS n FROM users WHERE lower(email) = $1",
            "SELECT * FROM generate_series(1, 3) g, pg_catalog.now()",
            "EXPLAIN SELECT * FROM users",
            "EXPLAIN UPDATE users SET role = 'x'",
            "SHOW search_path; SET search_path = public; RESET search_path",
            "select set_config('app.current_tenant', $1, true), pg_backend_pid()",
            "BEGIN; SAVEPOINT a; RELEASE SAVEPOINT a; COMMIT",
            "CREATE TEMP TABLE scratch (x int); INSERT INTO scratch VALUES (1)",
        ] {
            let e = effects(sql);
            assert!(
                e.opaque.is_none(),
                "{sql}: {}",
                e.opaque.unwrap_or_default()
            );
            assert!(
                e.writes.iter().all(|w| w.table == "scratch"),
                "{sql}: {:?}",
                e.writes
            );
        }
    }

    #[test]
    fn statements_that_run_a_hidden_write() {
        assert_eq!(
            ops("EXPLAIN ANALYZE UPDATE users SET role = 'x'"),
            ["UPDATE users"]
        );
        assert_eq!(
            ops("PREPARE p AS UPDATE users SET role = $1"),
            ["UPDATE users"]
        );
        assert!(opaque("EXECUTE p('x')").contains("EXECUTE"));
        assert!(opaque("DO $$ BEGIN UPDATE users SET role = 'x'; END $$").contains("parse"));
        assert!(opaque("CALL bump()").contains("CALL"));
        assert!(opaque("SELECT pg_temp.bump()").contains("pg_temp.bump"));
        assert!(opaque("SELECT 1 FROM users WHERE touch(id)").contains("touch"));
        assert!(opaque("SELECT * FROM public.bump_all()").contains("bump_all"));
        assert!(
            opaque("SELECT query_to_xml('update users set role = 1', true, true, '')")
                .contains("query_to_xml")
        );
        assert!(opaque("INSERT INTO scratch VALUES (bump())").contains("bump"));
        assert!(
            opaque("CREATE TRIGGER t AFTER INSERT ON scratch EXECUTE FUNCTION f()")
                .contains("CREATE TRIGGER")
        );
        assert!(opaque("DROP SCHEMA public CASCADE").contains("DROP SCHEMA"));
    }

    #[test]
    fn ddl_that_moves_a_table_out_of_reach() {
        assert_eq!(
            ops("CREATE TEMP VIEW v AS SELECT * FROM users; UPDATE v SET role = 'x'"),
            ["CREATE VIEW users", "UPDATE v"]
        );
        assert_eq!(
            ops("ALTER TABLE users RENAME TO u2; UPDATE u2 SET role = 'x'"),
            ["ALTER TABLE users", "UPDATE u2"]
        );
        assert_eq!(ops("DROP TABLE users, x"), ["DROP users", "DROP x"]);
        assert_eq!(
            ops("DROP TRIGGER usebetter_audit ON users"),
            ["DROP TRIGGER users"]
        );
        assert_eq!(
            ops("CREATE TABLE kid () INHERITS (users)"),
            ["ALTER TABLE users"]
        );
    }

    #[test]
    fn names_are_read_as_postgresql_reads_them() {
        assert_eq!(
            ops(r#"UPDATE U&"\0075sers" SET role = 'x'"#),
            ["UPDATE users"]
        );
        assert_eq!(
            ops(r#"update u&"\+000075se""rs" set a = 1; DELETE FROM "U&""x""""#),
            [r#"UPDATE use"rs"#, r#"DELETE U&"x""#]
        );
        assert_eq!(ops("SELECT 'U&\"x\"'; TRUNCATE t"), ["TRUNCATE t"]);
        assert_eq!(
            ops("SELECT 'é';\n  /* ü */ UPDATE U&\"\\0075sers\" SET a = 1"),
            ["UPDATE users"]
        );
        assert!(opaque(r#"UPDATE U&"!0075sers" UESCAPE '!' SET a = 1"#).contains("parse"));
        assert_eq!(
            ops(r#"UPDATE pg_temp."users" SET a = 1"#),
            ["UPDATE pg_temp.users"]
        );
        assert_eq!(ops(r#"UPDATE "USERS" SET a = 1"#), ["UPDATE USERS"]);
        let long = format!("UPDATE {}tail SET a = 1", "u".repeat(63));
        assert_eq!(ops(&long), [format!("UPDATE {}", "u".repeat(63))]);
    }

    #[test]
    fn unparsable_sql_is_opaque() {
        assert!(opaque("UPDATE SET WHERE").contains("cannot parse"));
    }

    #[test]
    fn unparsable_sql_is_an_error() {
        let err = writes("UPDATE SET WHERE").unwrap_err();
        assert_eq!(err.code(), "INVALID_ARGUMENT");
        assert!(err.to_string().contains("sql"), "{err}");
    }
}
