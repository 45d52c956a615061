//! What `better-webhooks check` reads besides the catalog: the state of the secrets, the
//! workers' heartbeats, the delivery backlog and blocked lanes, and the plans of the hot
//! statements (`--plans`). The CLI runs these in system context; `check::webhooks` judges them.

use super::{quote_ident, Statement, Store};

/// Endpoints whose keys `check` tries to open with `BETTER_WEBHOOKS_KEY`.
pub const SECRET_SAMPLE: u32 = 5;

/// The statements `check --plans` explains: each must reach `webhook_deliveries` (or the
/// messages) through an index.
pub const HOT_STATEMENTS: [&str; 3] = ["claimUnordered", "reapExpired", "expandLockMessages"];

/// Name of the prepared statement `check --plans` explains.
const EXPLAINED: &str = "better_webhooks_explained";

impl Store {
    /// One row: endpoints holding a key in clear (`clear_secrets`), endpoints with sealed keys
    /// (`sealed_secrets`), seconds since the newest worker heartbeat (`heartbeat_age`, NULL
    /// without workers), seconds the oldest due pending delivery has waited (`pending_age`, NULL
    /// when none is due) and the number of blocked lanes (`blocked_lanes`).
    #[must_use]
    pub fn health_facts(&self) -> Statement {
        let e = self.table("endpoints");
        let keyed = |field: &str| {
            format!(
                "(SELECT count(*) FROM {e} e WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(e.keys) k WHERE k ? '{field}'))"
            )
        };
        Statement::new(
            format!(
                "SELECT {clear} AS clear_secrets, {sealed} AS sealed_secrets,
  (SELECT extract(epoch FROM now() - max(last_seen))::float8 FROM {workers}) AS heartbeat_age,
  (SELECT extract(epoch FROM now() - min(next_attempt_at))::float8 FROM {d} WHERE status = 'pending' AND next_attempt_at <= now()) AS pending_age,
  (SELECT count(*) FROM {lanes} WHERE state = 'blocked') AS blocked_lanes",
                clear = keyed("secret"),
                sealed = keyed("sealed"),
                workers = self.table("workers"),
                d = self.table("deliveries"),
                lanes = self.table("lanes"),
            ),
            &[],
        )
    }

    /// The newest endpoints with sealed keys (`id`, `keys`), at most [`SECRET_SAMPLE`].
    #[must_use]
    pub fn secret_sample(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT e.id::text, e.keys FROM {} e
WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(e.keys) k WHERE k ? 'sealed')
ORDER BY e.updated_at DESC LIMIT {SECRET_SAMPLE}",
                self.table("endpoints")
            ),
            &[],
        )
    }

    /// `check --plans` for one statement: the statements to run in a transaction that is rolled
    /// back — the generic plan (its parameters stay unknown, as for the engine's prepared
    /// statements) with sequential scans priced out, so a Seq Scan left in the plan means no
    /// index serves the statement whatever the table's size — and the `EXPLAIN` whose JSON
    /// [`crate::check::webhooks`] judges. Nothing is executed.
    #[must_use]
    pub fn explain_sql(statement: &Statement) -> (String, String) {
        let types: Vec<&str> = statement.params.iter().map(|p| p.pg_type).collect();
        let name = quote_ident(EXPLAINED);
        let setup = format!(
            "SET LOCAL plan_cache_mode = force_generic_plan;\nSET LOCAL enable_seqscan = off;\nPREPARE {name}{} AS {};",
            if types.is_empty() {
                String::new()
            } else {
                format!("({})", types.join(", "))
            },
            statement.sql.trim_end()
        );
        let args = vec!["NULL"; types.len()].join(", ");
        let explain = format!(
            "EXPLAIN (FORMAT JSON) EXECUTE {name}{}",
            if args.is_empty() {
                String::new()
            } else {
                format!("({args})")
            }
        );
        (setup, explain)
    }
}

#[cfg(test)]
mod tests {
    use super::super::StoreConfig;
    use super::*;

    #[test]
    fn explain_wraps_the_statement() {
        let s = Statement::new("SELECT $1::int + $2".into(), &[("a", "int"), ("b", "int")]);
        let (setup, explain) = Store::explain_sql(&s);
        assert!(setup
            .ends_with("PREPARE \"better_webhooks_explained\"(int, int) AS SELECT $1::int + $2;"));
        assert_eq!(
            explain,
            "EXPLAIN (FORMAT JSON) EXECUTE \"better_webhooks_explained\"(NULL, NULL)"
        );
        let store = Store::new(&StoreConfig::default()).unwrap();
        let names: Vec<&str> = store.statements().iter().map(|(n, _)| *n).collect();
        for hot in HOT_STATEMENTS {
            assert!(names.contains(&hot), "{hot}");
        }
        assert!(store.health_facts().sql.contains("\"webhook_workers\""));
    }
}
