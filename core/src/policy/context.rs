//! The tenant context a scope sets, transaction-locally, and the statements that set it.
//!
//! Every scope sets every setting the policies read, to a known value: a session-level
//! `set_config('app.bypass_rls', 'true', false)` left on a pooled connection must not widen a
//! later tenant scope.
//!
//! In hardened mode a setting counts only with a signature bound to the transaction it was made
//! for: the signed message names the backend pid and the transaction's start time
//! ([`BINDING_EXPR`]), which no other transaction shares (two transactions of one backend
//! cannot start in the same microsecond unless one protocol message starts both, and such a
//! message is the scope's own). A signature read from `pg_stat_activity`, a server log or an
//! earlier transaction of the same pooled connection is useless anywhere else, so no replay
//! state has to be stored. The price is one round trip per hardened scope to learn the binding.

use super::sign::{bypass_signature, tenant_signature};
use crate::error::{Error, Result};
use crate::sql::literal;

/// Names of the statements a tenant scope prepares on its connections start with this, then a
/// random part per process and a counter: no two processes behind one pooler share a name.
pub const PREPARED_PREFIX: &str = "ubt_";

/// The tenant of the scope (a UUID), read by every policy.
pub const CURRENT_TENANT: &str = "app.current_tenant";
/// `'true'` turns on the bypass (system scope).
pub const BYPASS: &str = "app.bypass_rls";
/// Hardened mode: signature of [`CURRENT_TENANT`].
pub const TENANT_SIG: &str = "app.tenant_sig";
/// Hardened mode: signature of [`BYPASS`].
pub const BYPASS_SIG: &str = "app.bypass_sig";

/// The current tenant as a `uuid`, an empty setting counting as none (plain mode): the
/// expression policies compare with and a `tenant_id` column's default.
#[must_use]
pub fn current_tenant_expr() -> String {
    format!(
        "NULLIF(current_setting({}, true), '')::uuid",
        literal(CURRENT_TENANT)
    )
}

/// The context's names as data, for the libraries that use them in their own code (a Drizzle
/// column default, an error message).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "TenantContract"))]
pub struct Contract {
    pub current_tenant: &'static str,
    pub bypass: &'static str,
    pub tenant_sig: &'static str,
    pub bypass_sig: &'static str,
    /// [`current_tenant_expr`].
    pub tenant_id_default: String,
    /// The tenants table and the function that fills `tenant_id` on insert.
    pub tenants_table: &'static str,
    pub tenant_id_function: &'static str,
    /// [`PREPARED_PREFIX`].
    pub prepared_prefix: &'static str,
}

#[must_use]
pub fn contract() -> Contract {
    Contract {
        current_tenant: CURRENT_TENANT,
        bypass: BYPASS,
        tenant_sig: TENANT_SIG,
        bypass_sig: BYPASS_SIG,
        tenant_id_default: current_tenant_expr(),
        tenants_table: super::TENANTS,
        tenant_id_function: super::TENANT_ID_FUNCTION,
        prepared_prefix: PREPARED_PREFIX,
    }
}

/// Names the running transaction: `<backend pid>:<transaction start, UTC, microseconds>`.
/// `now()` is the transaction's start, fixed for its whole life.
pub const BINDING_EXPR: &str =
    "pg_backend_pid()::text || ':' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSUS')";

/// The query a hardened scope runs first (one row, one column `binding`); with `begin`, the
/// `BEGIN` travels in the same simple-protocol message.
#[must_use]
pub fn binding_query(begin: bool) -> String {
    let begin = if begin { "begin; " } else { "" };
    format!("{begin}SELECT {BINDING_EXPR} AS binding")
}

/// Clears every setting the policies read (no context: policies show nothing), in one statement.
#[must_use]
pub fn clear_sql() -> String {
    let calls: Vec<String> = [CURRENT_TENANT, TENANT_SIG, BYPASS, BYPASS_SIG]
        .iter()
        .map(|name| format!("set_config({}, '', true)", literal(name)))
        .collect();
    format!("SELECT {}", calls.join(", "))
}

/// What a scope is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// One tenant (already normalised: a lower-case UUID).
    Tenant(&'a str),
    /// The bypass: every tenant.
    System,
}

/// Hardened-mode signing material: the key and the transaction's binding.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    pub key: &'a [u8],
    pub binding: &'a str,
}

/// Every setting the policies read, in a fixed order. Signatures are empty without signing
/// material, so one left earlier in the transaction never counts for this scope.
#[must_use]
pub fn settings(scope: Scope<'_>, signing: Option<Signing<'_>>) -> Vec<(&'static str, String)> {
    let sign_tenant = |id| signing.map(|s| tenant_signature(s.key, id, s.binding));
    let sign_bypass = || signing.map(|s| bypass_signature(s.key, s.binding));
    let (tenant, tenant_sig, bypass, bypass_sig) = match scope {
        Scope::Tenant(id) => (id.to_owned(), sign_tenant(id), String::new(), None),
        Scope::System => (String::new(), None, "true".to_owned(), sign_bypass()),
    };
    vec![
        (CURRENT_TENANT, tenant),
        (TENANT_SIG, tenant_sig.unwrap_or_default()),
        (BYPASS, bypass),
        (BYPASS_SIG, bypass_sig.unwrap_or_default()),
    ]
}

/// Transaction-local waits a scope bounds (`None`: the server's setting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub statement_ms: Option<u32>,
    pub lock_ms: Option<u32>,
}

impl Limits {
    fn settings(self) -> impl Iterator<Item = (&'static str, String)> {
        [
            ("statement_timeout", self.statement_ms),
            ("lock_timeout", self.lock_ms),
        ]
        .into_iter()
        .filter_map(|(name, ms)| ms.map(|ms| (name, format!("{ms}ms"))))
    }
}

/// A statement with its parameters (values never travel in the query text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "SqlStatement"))]
pub struct Statement {
    pub sql: String,
    pub params: Vec<String>,
}

/// `SELECT set_config('<name>', $1, true), …` for the scope.
#[must_use]
pub fn set_statement(scope: Scope<'_>, signing: Option<Signing<'_>>, limits: Limits) -> Statement {
    settings_statement(scope, signing, limits, false)
}

/// [`set_statement`], with `read_only` also `transaction_read_only` (last): the set-up of a
/// statement that [`crate::analyze::reads_alone`] lets run in a transaction of its own, sent in
/// the extended protocol ahead of that statement with one Sync after both. PostgreSQL runs the
/// two in one implicit transaction that ends at the Sync (no BEGIN, no COMMIT, one answer), and
/// `transaction_read_only` keeps it from writing anything. One text serves every scope with the
/// same limits, so a driver can prepare it once per connection and only bind the values after.
fn settings_statement(
    scope: Scope<'_>,
    signing: Option<Signing<'_>>,
    limits: Limits,
    read_only: bool,
) -> Statement {
    let mut pairs = settings(scope, signing);
    pairs.extend(limits.settings());
    if read_only {
        pairs.push(("transaction_read_only", "on".to_owned()));
    }
    let calls: Vec<String> = pairs
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("set_config({}, ${}, true)", literal(name), i + 1))
        .collect();
    Statement {
        sql: format!("SELECT {}", calls.join(", ")),
        params: pairs.into_iter().map(|(_, v)| v).collect(),
    }
}

/// `begin; select set_config('<name>', '<value>', true), …` as one simple-protocol message,
/// saving a round trip. Plain mode only: the values are not secret there, and a hardened
/// scope cannot be signed before its transaction exists.
///
/// # Errors
/// `InvalidArgument` when asked for a hardened scope.
pub fn begin_inline(scope: Scope<'_>, hardened: bool, limits: Limits) -> Result<String> {
    if hardened {
        return Err(Error::InvalidArgument {
            field: "key".to_owned(),
            reason: "a hardened scope is signed after its transaction starts; use the binding query and the parameterised statement".to_owned(),
        });
    }
    Ok(format!("begin; {}", inline_settings(scope, limits, &[])))
}

/// Whether the connection's default isolation level is READ COMMITTED (one row, boolean column
/// `read_committed`). Statements of a scope run in transactions of their own only there, where
/// each statement takes its own snapshot anyway.
pub const ISOLATION_SQL: &str =
    "select current_setting('default_transaction_isolation') = 'read committed' as read_committed";

/// `select set_config('<name>', '<value>', true), …` for an unsigned scope, its limits and
/// `extra` transaction-local settings, values inline: one statement without parameters.
#[must_use]
pub fn inline_settings(scope: Scope<'_>, limits: Limits, extra: &[(&str, &str)]) -> String {
    let calls: Vec<String> = settings(scope, None)
        .into_iter()
        .chain(limits.settings())
        .map(|(name, value)| format!("set_config({}, {}, true)", literal(name), literal(&value)))
        .chain(extra.iter().map(|(name, value)| {
            format!("set_config({}, {}, true)", literal(name), literal(value))
        }))
        .collect();
    format!("select {}", calls.join(", "))
}

/// The statement that opens a scope, as the bindings expose it: `tenant` (none: system scope),
/// the hardened-mode `key` with the transaction's `binding`, and `inline` for
/// [`begin_inline`] (plain mode only). `read_only` (plain mode only, parameterised): the set-up
/// of a statement alone (`settings_statement`).
///
/// # Errors
/// `InvalidArgument` for a key without a binding, a hardened scope inline or read-only, a
/// read-only scope inline, or an empty tenant.
pub fn scope_sql(
    tenant: Option<&str>,
    key: Option<&str>,
    binding: Option<&str>,
    inline: bool,
    limits: Limits,
    read_only: bool,
) -> Result<Statement> {
    let scope = match tenant {
        Some("") => {
            return Err(Error::InvalidArgument {
                field: "tenantId".to_owned(),
                reason: "must not be empty".to_owned(),
            })
        }
        Some(id) => Scope::Tenant(id),
        None => Scope::System,
    };
    if read_only {
        let reason = if key.is_some() {
            "a hardened scope is signed in its own transaction; a statement alone has none to sign"
        } else if inline {
            "a statement alone's set-up carries its values as parameters: pass inline false"
        } else {
            return Ok(settings_statement(scope, None, limits, true));
        };
        return Err(Error::InvalidArgument {
            field: "readOnly".to_owned(),
            reason: reason.to_owned(),
        });
    }
    if inline {
        return Ok(Statement {
            sql: begin_inline(scope, key.is_some(), limits)?,
            params: Vec::new(),
        });
    }
    let signing =
        match (key, binding) {
            (Some(key), Some(binding)) => Some(Signing {
                key: key.as_bytes(),
                binding,
            }),
            (Some(_), None) => return Err(Error::InvalidArgument {
                field: "binding".to_owned(),
                reason:
                    "a hardened scope needs the transaction's binding (run the binding query first)"
                        .to_owned(),
            }),
            (None, _) => None,
        };
    Ok(set_statement(scope, signing, limits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_sets_every_setting() {
        let t = set_statement(Scope::Tenant("ab"), None, Limits::default());
        assert_eq!(
            t.sql,
            "SELECT set_config('app.current_tenant', $1, true), set_config('app.tenant_sig', $2, true), \
             set_config('app.bypass_rls', $3, true), set_config('app.bypass_sig', $4, true)"
        );
        assert_eq!(t.params, ["ab", "", "", ""]);
        assert_eq!(
            set_statement(Scope::System, None, Limits::default()).params,
            ["", "", "true", ""]
        );
        let signing = Signing {
            key: b"k",
            binding: "42:20260101000000000001",
        };
        let h = set_statement(Scope::Tenant("ab"), Some(signing), Limits::default());
        assert_eq!(h.params.len(), 4);
        assert_eq!(h.params[1], tenant_signature(b"k", "ab", signing.binding));
        assert_eq!(h.params[3], "");
        let s = set_statement(Scope::System, Some(signing), Limits::default());
        assert_eq!(s.params[1], "");
        assert_eq!(s.params[3], bypass_signature(b"k", signing.binding));
    }

    #[test]
    fn limits_are_set_with_the_scope() {
        let limits = Limits {
            statement_ms: Some(5000),
            lock_ms: Some(250),
        };
        let s = set_statement(Scope::System, None, limits);
        assert!(s.sql.ends_with(
            "set_config('statement_timeout', $5, true), set_config('lock_timeout', $6, true)"
        ));
        assert_eq!(&s.params[4..], ["5000ms", "250ms"]);
        let inline = begin_inline(Scope::Tenant("a"), false, limits).unwrap();
        assert!(inline.ends_with("set_config('lock_timeout', '250ms', true)"));
    }

    #[test]
    fn inline_quotes_values_and_refuses_hardened() {
        assert_eq!(
            begin_inline(Scope::Tenant("a'b"), false, Limits::default()).unwrap(),
            "begin; select set_config('app.current_tenant', 'a''b', true), set_config('app.tenant_sig', '', true), \
             set_config('app.bypass_rls', '', true), set_config('app.bypass_sig', '', true)"
        );
        assert_eq!(
            begin_inline(Scope::System, true, Limits::default())
                .unwrap_err()
                .code(),
            "INVALID_ARGUMENT"
        );
    }

    #[test]
    fn a_statement_alone_opens_a_read_only_transaction() {
        // Parameterised only: one text for every tenant and the system scope, the values apart.
        let inline = scope_sql(Some("a"), None, None, true, Limits::default(), true);
        assert_eq!(inline.unwrap_err().code(), "INVALID_ARGUMENT");
        let limits = Limits {
            statement_ms: Some(250),
            lock_ms: None,
        };
        let a = scope_sql(Some("a"), None, None, false, limits, true).unwrap();
        let system = scope_sql(None, None, None, false, limits, true).unwrap();
        assert_eq!(a.sql, system.sql);
        assert_eq!(
            a.sql,
            "SELECT set_config('app.current_tenant', $1, true), set_config('app.tenant_sig', $2, true), \
             set_config('app.bypass_rls', $3, true), set_config('app.bypass_sig', $4, true), \
             set_config('statement_timeout', $5, true), set_config('transaction_read_only', $6, true)"
        );
        assert!(!a.sql.contains(';'), "one statement: {}", a.sql);
        assert_eq!(a.params, ["a", "", "", "", "250ms", "on"]);
        assert_eq!(system.params, ["", "", "true", "", "250ms", "on"]);
        let hardened = scope_sql(Some("a"), Some("k"), Some("b"), false, limits, true);
        assert_eq!(hardened.unwrap_err().code(), "INVALID_ARGUMENT");
    }
}
