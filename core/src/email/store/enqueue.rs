//! `email_enqueue(…)`: the send path's one write ([`Store::enqueue_query`]) as a function, so
//! that the server plans it once per connection. Sent as a statement, it was planned on every
//! send whether the driver prepared it or not: PostgreSQL plans a prepared statement again for
//! each parameter set while a custom plan looks cheaper than the generic one, and the unnest of
//! a one-element array always does. The function runs with the caller's rights (row-level
//! security applies as to the statement it replaces) and the generic plan forced.

use super::send::INSERT_PARAMS;
use super::Store;
use crate::sql::{dollar_quoted, quote_ident};

/// The function's name (in the tables' schema).
pub const ENQUEUE_FUNCTION: &str = "email_enqueue";

/// What `pg_proc.proconfig` lists for it.
pub const ENQUEUE_CONFIG: &str = "plan_cache_mode=force_generic_plan";

impl Store {
    /// `"schema"."email_enqueue"`.
    pub(super) fn enqueue_name(&self) -> String {
        format!(
            "{}.{}",
            quote_ident(self.schema()),
            quote_ident(ENQUEUE_FUNCTION)
        )
    }

    /// The function's body as `pg_proc.prosrc` holds it (what `check` compares). Its output
    /// columns share names with the query's: the query's columns win.
    #[must_use]
    pub fn enqueue_body(&self) -> String {
        format!(
            "
#variable_conflict use_column
BEGIN
  RETURN QUERY
{};
END
",
            self.enqueue_query()
        )
    }

    /// `CREATE OR REPLACE FUNCTION email_enqueue(…)`.
    #[must_use]
    pub fn enqueue_function_sql(&self) -> String {
        format!(
            "-- The send path's write, planned once per connection.
CREATE OR REPLACE FUNCTION {name}({types})
RETURNS TABLE (ord bigint, reason text)
LANGUAGE plpgsql VOLATILE
SET {config}
AS {body};
",
            name = self.enqueue_name(),
            types = argument_types().join(", "),
            config = ENQUEUE_CONFIG.replacen('=', " = ", 1),
            body = dollar_quoted(&self.enqueue_body()),
        )
    }
}

fn argument_types() -> Vec<&'static str> {
    INSERT_PARAMS.iter().map(|(_, t)| *t).collect()
}

/// Reads the function as `check` judges it ([`super::function_query`]).
#[must_use]
pub fn enqueue_function_query() -> String {
    super::function_query(ENQUEUE_FUNCTION, &argument_types().join(", "))
}

#[cfg(test)]
mod tests {
    use super::super::StoreConfig;
    use super::*;

    #[test]
    fn function_and_its_call() {
        let s = Store::new(&StoreConfig {
            rls: true,
            ..StoreConfig::default()
        })
        .unwrap();
        let sql = s.enqueue_function_sql();
        assert!(sql.contains("CREATE OR REPLACE FUNCTION \"public\".\"email_enqueue\"(uuid, uuid[], text[], smallint[]"), "{sql}");
        assert!(
            sql.contains(
                "LANGUAGE plpgsql VOLATILE\nSET plan_cache_mode = force_generic_plan\nAS $fn$"
            ),
            "{sql}"
        );
        assert!(sql.contains(&s.enqueue_query()));
        let call = s.email_insert();
        assert!(call.sql.starts_with("SELECT ord, reason FROM \"public\".\"email_enqueue\"($1::uuid, $2::uuid[], $3::text[]"), "{}", call.sql);
        assert!(call.sql.ends_with("$34::text[])"), "{}", call.sql);
        assert_eq!(call.params.len(), INSERT_PARAMS.len());
        let q = enqueue_function_query();
        assert!(
            q.contains("%I.email_enqueue(uuid, uuid[], text[], smallint[]"),
            "{q}"
        );
    }
}
