//! Whether a statement can run in a transaction of its own, unnoticed. A tenant scope sends a
//! statement that can behind its read-only set-up with one Sync (one implicit transaction, one
//! round trip, no BEGIN or COMMIT) instead of leaving its transaction open for the next
//! statement. In READ COMMITTED every
//! statement already takes its own snapshot, so a read that writes nothing, locks nothing and
//! asks nothing of the transaction (its start time, id, local settings, advisory locks,
//! sequences) answers the same either way. The check is fail-closed: SQL the parser does not
//! understand, several statements, and any function not known to be such a read all say no.
//! PostgreSQL still enforces the rest (`transaction_read_only` refuses writes made through
//! views, rules or policies), and the caller runs a refused statement again in an ordinary transaction.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, Statement, TableFactor, ValueWithSpan, Visit};

use super::{builtins, name_parts, parse, Walk};

/// Whether `sql` is one plain query that gives the same rows in a transaction of its own.
#[must_use]
pub fn reads_alone(sql: &str) -> bool {
    let Ok(statements) = parse(sql) else {
        return false;
    };
    let [statement @ Statement::Query(_)] = statements.as_slice() else {
        return false;
    };
    let mut walk = Walk {
        alone: Some(0),
        ..Walk::default()
    };
    statement.visit(&mut walk).is_continue()
}

/// Whether `sql` may change the session's defaults (`SET`, `RESET`, `DISCARD`), after which a
/// connection's default isolation must be asked again before a scope splits reads off. Text the
/// parser cannot read says yes when it starts with one of those words: asking again is cheap,
/// splitting on a stale answer is not.
#[must_use]
pub fn sets_session(sql: &str) -> bool {
    match parse(sql) {
        Ok(statements) => statements.iter().any(|s| {
            matches!(
                s,
                Statement::Set(_) | Statement::Reset(_) | Statement::Discard { .. }
            )
        }),
        Err(_) => sql.split_whitespace().next().is_some_and(|w| {
            ["set", "reset", "discard"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k))
        }),
    }
}

pub(super) fn verdict(ok: bool) -> ControlFlow<()> {
    if ok {
        ControlFlow::Continue(())
    } else {
        ControlFlow::Break(())
    }
}

/// No `FOR UPDATE` / `FOR SHARE` (row locks last until the transaction ends). The rest of a
/// query is judged where the walk reaches it: `SELECT … INTO` at its select, a data-modifying
/// `WITH` as a second statement.
pub(super) fn query(q: &Query) -> ControlFlow<()> {
    verdict(q.locks.is_empty() && q.for_clause.is_none())
}

pub(super) fn expr(e: &Expr) -> ControlFlow<()> {
    match e {
        Expr::Function(f) => verdict(builtins::statement_bound(&name_parts(&f.name))),
        _ => ControlFlow::Continue(()),
    }
}

pub(super) fn table_factor(t: &TableFactor) -> ControlFlow<()> {
    match t {
        TableFactor::Table {
            name,
            args: Some(_),
            ..
        }
        | TableFactor::Function { name, .. } => {
            verdict(builtins::statement_bound(&name_parts(name)))
        }
        _ => ControlFlow::Continue(()),
    }
}

/// `'now'`, `'today'` and friends read as the transaction's start when cast to a time, also
/// inside a longer text (`'tomorrow 09:00'`): any literal holding one of them says no.
pub(super) fn value(v: &ValueWithSpan) -> ControlFlow<()> {
    let Some(text) = v.value.clone().into_string() else {
        return ControlFlow::Continue(());
    };
    let text = text.to_ascii_lowercase();
    verdict(
        !["now", "today", "tomorrow", "yesterday"]
            .iter()
            .any(|w| text.contains(w)),
    )
}

#[cfg(test)]
mod tests {
    use super::{reads_alone, sets_session};

    #[test]
    fn session_settings_are_told_apart() {
        for sql in [
            "SET default_transaction_isolation = 'repeatable read'",
            "set session characteristics as transaction isolation level serializable",
            "RESET ALL",
            "DISCARD ALL",
            "  set\tsearch_path to x",
            "SELECT 1; SET x = 1",
            "SET something the parser cannot read (",
        ] {
            assert!(sets_session(sql), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "UPDATE t SET a = 1",
            "SELECT 'set x = 1'",
            "settings",
            "not sql at all",
            "",
        ] {
            assert!(!sets_session(sql), "{sql}");
        }
    }

    #[test]
    fn plain_reads_run_alone() {
        for sql in [
            "select \"id\", \"name\" from \"projects\" where \"projects\".\"tenant_id\" = $1 limit $2",
            "SELECT count(*)::int AS n FROM users WHERE lower(email) = $1",
            "select coalesce(json_agg(json_build_array(\"p\".\"id\")), '[]'::json) from (select * from p) \"p\"",
            "SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY 1",
            "WITH x AS (SELECT id FROM t) SELECT * FROM x JOIN generate_series(1, 3) g ON true",
            "VALUES (1), (2)",
            "SELECT pg_catalog.lower('A'), 'a word' AS text",
        ] {
            assert!(reads_alone(sql), "{sql}");
        }
    }

    #[test]
    fn anything_that_needs_its_transaction_does_not() {
        for sql in [
            "UPDATE t SET a = 1",
            "INSERT INTO t VALUES (1)",
            "WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone",
            "SELECT * FROM t FOR UPDATE",
            "SELECT * FROM (SELECT * FROM t FOR SHARE) s",
            "SELECT * INTO copy FROM t",
            "SELECT 1; SELECT 2",
            "SELECT my_function()",
            "SELECT * FROM my_function()",
            "SELECT public.lower('a')",
            "SELECT now()",
            "SELECT CURRENT_TIMESTAMP",
            "SELECT * FROM t WHERE created_at > 'now'::timestamptz - interval '1 day'",
            "SELECT * FROM t WHERE due < N'now' OR due < 'tomorrow 09:00'",
            "SELECT current_setting('transaction_isolation')",
            "SELECT nextval('s')",
            "SELECT set_config('app.current_tenant', 'b', true)",
            "SELECT pg_advisory_xact_lock(1)",
            "SELECT age(created_at) FROM t",
            "SAVEPOINT a",
            "SET LOCAL statement_timeout = 5",
            "BEGIN",
            "COMMIT",
            "EXPLAIN ANALYZE SELECT 1",
            "not sql at all",
            "",
        ] {
            assert!(!reads_alone(sql), "{sql}");
        }
    }
}
