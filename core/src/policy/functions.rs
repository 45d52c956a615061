//! The SQL functions the policies call.
//!
//! Every policy is `tenant_id BETWEEN (SELECT lower) AND (SELECT upper)`, each bound a `CASE`
//! on the settings, evaluated once per statement (an InitPlan). It is a plain btree range: one
//! tenant when a tenant is set, the whole uuid range under the bypass, nothing (NULL) without
//! context. An `… OR bypass` predicate would be simpler to read but makes PostgreSQL fall back to
//! a sequential scan on every query. The bounds are written inline, not as SQL function calls,
//! because PostgreSQL re-inlines SQL functions on every plan (measured: 0.081 ms vs 0.033 ms to
//! plan a one-table SELECT). Earlier policies called two SQL functions for the bounds,
//! `better_tenant_floor()`/`ceiling()`; they are no longer created. A database migrated before
//! keeps them (nothing drops them) until this migration replaces its policies, and `check`
//! still accepts a policy that calls them (check/predicate.rs).
//!
//! Hardened mode replaces the two base functions (`better_tenant_current`, `better_tenant_bypass`)
//! with `SECURITY DEFINER` versions that accept a setting only with a valid HMAC signature of
//! the setting and the running transaction (`context::BINDING_EXPR`), computed with a key stored
//! in a schema the application role cannot read. Policies are the same in both modes.

use super::context::{BINDING_EXPR, BYPASS, BYPASS_SIG, CURRENT_TENANT, TENANT_SIG};
use crate::sql::{dollar_quoted, literal, Ident};

/// Schema that holds the hardened-mode key. Not configurable: `check` and `doctor` look for it.
pub const PRIVATE_SCHEMA: &str = "better_tenant_private";

const MIN_UUID: &str = "00000000-0000-0000-0000-000000000000";
const MAX_UUID: &str = "ffffffff-ffff-ffff-ffff-ffffffffffff";
const PINNED_PATH: &str = "SET search_path = pg_catalog, pg_temp";

/// `"schema"."better_tenant_<name>"`.
pub(crate) fn fn_name(schema: &Ident, name: &str) -> String {
    format!("{}.\"better_tenant_{name}\"", schema.quoted())
}

/// The bypass test used by policies (`schema`: where the hardened functions live). Plain mode
/// writes it inline: PostgreSQL re-inlines SQL
/// functions every time it plans a query, which costs more than the check itself.
pub fn bypass_expr(schema: &Ident, hardened: bool) -> String {
    if hardened {
        format!("{}()", fn_name(schema, "bypass"))
    } else {
        format!(
            "coalesce(current_setting({}, true) = 'true', false)",
            literal(BYPASS)
        )
    }
}

pub(crate) fn current_expr(schema: &Ident, hardened: bool) -> String {
    if hardened {
        format!("{}()", fn_name(schema, "current"))
    } else {
        super::context::current_tenant_expr()
    }
}

/// The bound expressions used in every tenant-table policy (see the module docs); every product
/// whose tables carry `tenant_id` uses it, so `check` judges them alike.
pub fn range_predicate(schema: &Ident, column: &str, hardened: bool) -> String {
    let (bypass, current) = (
        bypass_expr(schema, hardened),
        current_expr(schema, hardened),
    );
    let bound = |edge: &str| {
        format!(
            "(SELECT CASE WHEN {bypass} THEN {}::uuid ELSE {current} END)",
            literal(edge)
        )
    };
    format!(
        "{column} BETWEEN {} AND {}",
        bound(MIN_UUID),
        bound(MAX_UUID)
    )
}

/// `CREATE OR REPLACE FUNCTION` with a collision-free dollar-quoted body.
fn function(signature: &str, returns: &str, attributes: &str, body: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION {signature}\nRETURNS {returns}\n{attributes}\nAS {};\n",
        dollar_quoted(body)
    )
}

/// `current` and `bypass` for the default (unsigned) mode.
fn plain_base(current: &str, bypass: &str) -> String {
    [
        function(
            &format!("{current}()"),
            "uuid",
            "LANGUAGE sql STABLE PARALLEL SAFE",
            &format!(
                " SELECT NULLIF(current_setting({}, true), '')::uuid ",
                literal(CURRENT_TENANT)
            ),
        ),
        function(
            &format!("{bypass}()"),
            "boolean",
            "LANGUAGE sql STABLE PARALLEL SAFE",
            &format!(
                " SELECT coalesce(current_setting({}, true) = 'true', false) ",
                literal(BYPASS)
            ),
        ),
    ]
    .join("\n")
}

/// `current` and `bypass` for hardened mode: settings count only with a valid signature.
fn hardened_base(current: &str, bypass: &str) -> String {
    let private = Ident::fixed(PRIVATE_SCHEMA).quoted();
    let hmac = function(
        &format!("{private}.hmac_sha256(key bytea, msg bytea)"),
        "bytea",
        &format!("LANGUAGE plpgsql IMMUTABLE STRICT\n{PINNED_PATH}"),
        "
DECLARE
  k bytea := key;
  ipad bytea;
  opad bytea;
BEGIN
  IF length(k) > 64 THEN
    k := sha256(k);
  END IF;
  k := k || decode(repeat('00', 64 - length(k)), 'hex');
  ipad := k;
  opad := k;
  FOR i IN 0..63 LOOP
    ipad := set_byte(ipad, i, get_byte(k, i) # 54);
    opad := set_byte(opad, i, get_byte(k, i) # 92);
  END LOOP;
  RETURN sha256(opad || sha256(ipad || msg));
END;
",
    );
    let signed = function(
        &format!("{private}.signed(msg text, sig text)"),
        "boolean",
        &format!("LANGUAGE sql STABLE\n{PINNED_PATH}"),
        &format!(
            "
  SELECT coalesce(
    (SELECT encode({private}.hmac_sha256(key, convert_to(msg, 'UTF8')), 'hex') = lower(sig)
       FROM {private}.context_key),
    false)
"
        ),
    );
    let current_fn = function(
        &format!("{current}()"),
        "uuid",
        &format!("LANGUAGE plpgsql STABLE SECURITY DEFINER\n{PINNED_PATH}"),
        &format!(
            "
DECLARE
  t text := NULLIF(current_setting({current_name}, true), '');
BEGIN
  IF t IS NULL OR NOT {private}.signed('tenant:' || lower(t) || ':' || {BINDING_EXPR}, current_setting({tenant_sig}, true)) THEN
    RETURN NULL;
  END IF;
  RETURN t::uuid;
END;
",
            current_name = literal(CURRENT_TENANT),
            tenant_sig = literal(TENANT_SIG),
        ),
    );
    let bypass_fn = function(
        &format!("{bypass}()"),
        "boolean",
        &format!("LANGUAGE sql STABLE SECURITY DEFINER\n{PINNED_PATH}"),
        &format!(
            "
  SELECT current_setting({bypass_name}, true) = 'true'
     AND {private}.signed('bypass:' || {BINDING_EXPR}, current_setting({bypass_sig}, true))
",
            bypass_name = literal(BYPASS),
            bypass_sig = literal(BYPASS_SIG),
        ),
    );
    format!(
        "-- Hardened context: the key lives where the application role cannot read it.
-- Run this migration as a role other than the application role, then store the key:
--   INSERT INTO {private}.context_key (key) VALUES (convert_to('<your key>', 'UTF8'));
CREATE SCHEMA IF NOT EXISTS {private};
REVOKE ALL ON SCHEMA {private} FROM PUBLIC;
CREATE TABLE IF NOT EXISTS {private}.context_key (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  key bytea NOT NULL CHECK (length(key) >= 32)
);
REVOKE ALL ON {private}.context_key FROM PUBLIC;

{hmac}REVOKE ALL ON FUNCTION {private}.hmac_sha256(bytea, bytea) FROM PUBLIC;

{signed}REVOKE ALL ON FUNCTION {private}.signed(text, text) FROM PUBLIC;

{current_fn}
{bypass_fn}"
    )
}

/// All functions: the base pair for the mode and the `tenant_id` trigger.
pub(crate) fn functions_sql(schema: &Ident, hardened: bool) -> String {
    let current = fn_name(schema, "current");
    let bypass = fn_name(schema, "bypass");
    let base = if hardened {
        hardened_base(&current, &bypass)
    } else {
        plain_base(&current, &bypass)
    };
    let trigger = function(
        &format!(
            "{}.{}()",
            schema.quoted(),
            crate::sql::quote_ident(super::TENANT_ID_FUNCTION)
        ),
        "trigger",
        "LANGUAGE plpgsql",
        &format!(
            "
BEGIN
  IF NEW.tenant_id IS NULL THEN
    NEW.tenant_id := {current}();
  END IF;
  RETURN NEW;
END;
"
        ),
    );
    format!(
        "-- Tenant scope: one tenant, everything under the bypass, nothing without context
{base}
-- Fills tenant_id on insert; an empty or unsigned setting leaves it NULL, so the insert fails
-- on NOT NULL or the policy instead of on a uuid cast error.
{trigger}",
    )
}
