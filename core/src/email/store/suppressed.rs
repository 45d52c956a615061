//! `email_suppressed(address_hashes bytea[], category text)`: the send path's suppression
//! lookup. Global suppressions (`tenant_id IS NULL`) are visible only in system context, yet
//! they must block a tenant's sends; so the lookup runs as one `SECURITY DEFINER` function that
//! answers, per hash and in input order, only whether it is blocked and why — a tenant scope
//! learns about the addresses it already knows and cannot list global entries.
//!
//! The owner is the migrating role, which FORCE ROW LEVEL SECURITY still confines: the function
//! enters system context for its own query and restores the caller's setting before it returns
//! (an error aborts the transaction, which undoes the setting too). A `SET` clause on the
//! function would say this more simply, but PostgreSQL 15 lets only superusers attach a custom
//! setting to a function. In hardened mode
//! a bare setting does not count, so the function also signs the bypass for the running
//! transaction with the tenant package's key, which its owner can read and the application
//! role cannot. It then keeps the rows of the caller's tenant and the global ones. The
//! `search_path` is pinned and every name qualified, so a caller's objects cannot stand in for
//! ours. EXECUTE stays granted to PUBLIC (the default): the application role calls it without a
//! grant of its own, and the answer is only about hashes the caller passes.

use super::Store;
use crate::policy::context::{BINDING_EXPR, BYPASS, BYPASS_SIG};
use crate::policy::{bypass_expr, current_expr, PRIVATE_SCHEMA};
use crate::sql::{dollar_quoted, literal, quote_ident};

/// The function's name (in the tables' schema).
pub const FUNCTION: &str = "email_suppressed";
/// Its argument list, and their types alone (how the catalog query names the function).
pub const ARGUMENTS: &str = "address_hashes bytea[], category text";
const ARGUMENT_TYPES: &str = "bytea[], text";
/// The `search_path` it pins, as `pg_proc.proconfig` lists it.
pub const SEARCH_PATH: &str = "search_path=pg_catalog, pg_temp";

/// Its query planned once per session: with the default mode PostgreSQL plans it again on every
/// call (a custom plan per argument set), which was most of a send's cost; the plan is the same
/// index lookup whatever the arguments.
const GENERIC_PLAN: &str = "plan_cache_mode = force_generic_plan";

/// Which suppression answers first when several match: the ones a resend would hurt most, and
/// `unsubscribe` last: categories without unsubscribe ignore it, so it must not hide another
/// reason that does block them.
const REASON_ORDER: &str =
    "ARRAY['complaint', 'hard_bounce', 'manual', 'soft_bounce', 'unsubscribe']";

impl Store {
    /// `"schema"."email_suppressed"`.
    fn suppressed_name(&self) -> String {
        format!("{}.{}", quote_ident(self.schema()), quote_ident(FUNCTION))
    }

    /// The function's body as `pg_proc.prosrc` holds it (what `check` compares).
    #[must_use]
    pub fn suppressed_body(&self) -> String {
        let (bypass, sig) = (literal(BYPASS), literal(BYPASS_SIG));
        let mut declare = String::new();
        let mut enter = String::new();
        let mut leave = String::new();
        if self.rls {
            declare.push_str(&format!(
                "  prior_bypass text := current_setting({bypass}, true);\n"
            ));
            enter.push_str(&format!("  PERFORM set_config({bypass}, 'true', true);\n"));
            leave.push_str(&format!(
                "  PERFORM set_config({bypass}, coalesce(prior_bypass, ''), true);\n"
            ));
        }
        if self.rls && self.hardened {
            let private = quote_ident(PRIVATE_SCHEMA);
            declare.push_str(&format!(
                "  prior_sig text := current_setting({sig}, true);\n"
            ));
            enter.push_str(&format!(
                "  PERFORM set_config({sig}, encode({private}.hmac_sha256(k.key, convert_to('bypass:' || {BINDING_EXPR}, 'UTF8')), 'hex'), true)
     FROM {private}.context_key k;
  IF NOT {check} THEN
    RAISE EXCEPTION 'email_suppressed: the hardened context key is missing; store it as the tenant migration says';
  END IF;
",
                check = bypass_expr(&self.tenant_schema, true),
            ));
            leave.push_str(&format!(
                "  PERFORM set_config({sig}, coalesce(prior_sig, ''), true);\n"
            ));
        }
        format!(
            "
DECLARE
  scope uuid := {scope};
{declare}BEGIN
{enter}  RETURN QUERY
    SELECT h.ord::int, s.reason IS NOT NULL, s.reason
      FROM unnest(address_hashes) WITH ORDINALITY AS h(hash, ord)
      LEFT JOIN LATERAL (
        SELECT x.reason
          FROM {table} x
         WHERE x.address_hash = h.hash
           AND (x.tenant_id IS NULL OR x.tenant_id = scope)
           AND (x.category IS NULL OR x.category = email_suppressed.category)
           AND (x.expires_at IS NULL OR x.expires_at > now())
         ORDER BY array_position({REASON_ORDER}, x.reason), x.tenant_id NULLS FIRST
         LIMIT 1
      ) s ON true
     ORDER BY h.ord;
{leave}END
",
            scope = current_expr(&self.tenant_schema, self.hardened),
            table = self.table("suppressions"),
        )
    }

    /// `CREATE OR REPLACE FUNCTION email_suppressed(…)`.
    #[must_use]
    pub fn suppressed_function_sql(&self) -> String {
        function_sql(self)
    }
}

/// The function (VOLATILE: it sets and restores the context settings).
pub(crate) fn function_sql(store: &Store) -> String {
    format!(
        "-- Suppression lookup: whether each address hash is blocked (and why), never the entries.
CREATE OR REPLACE FUNCTION {name}({ARGUMENTS})
RETURNS TABLE (ord int, suppressed boolean, reason text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET {path}
SET {GENERIC_PLAN}
AS {body};
",
        name = store.suppressed_name(),
        path = SEARCH_PATH.replacen('=', " = ", 1),
        body = dollar_quoted(&store.suppressed_body()),
    )
}

/// Reads the function as `check` judges it ([`super::function_query`]).
#[must_use]
pub fn function_query() -> String {
    super::function_query(FUNCTION, ARGUMENT_TYPES)
}

#[cfg(test)]
mod tests {
    use super::super::StoreConfig;
    use super::*;

    #[test]
    fn plain_and_hardened() {
        let plain = Store::new(&StoreConfig {
            rls: true,
            ..StoreConfig::default()
        })
        .unwrap();
        let sql = plain.suppressed_function_sql();
        assert!(
            sql.contains("SECURITY DEFINER\nSET search_path = pg_catalog, pg_temp\nSET plan_cache_mode = force_generic_plan\nAS"),
            "{sql}"
        );
        assert!(sql.contains("PERFORM set_config('app.bypass_rls', 'true', true);"));
        assert!(sql.contains(&plain.suppressed_body()));
        assert!(function_query().contains("%I.email_suppressed(bytea[], text)"));
        let hardened = Store::new(&StoreConfig {
            rls: true,
            hardened: true,
            ..StoreConfig::default()
        })
        .unwrap();
        let body = hardened.suppressed_body();
        assert!(
            body.contains("\"better_tenant_private\".hmac_sha256"),
            "{body}"
        );
        assert!(
            body.contains("scope uuid := \"public\".\"better_tenant_current\"()"),
            "{body}"
        );
        assert!(body.contains("prior_sig text := current_setting('app.bypass_sig', true);"));
        let none = Store::new(&StoreConfig::default()).unwrap();
        assert!(!none.suppressed_function_sql().contains("bypass"));
    }
}
