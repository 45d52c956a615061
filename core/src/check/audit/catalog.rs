//! The catalog facts `better-audit check` judges, and the queries that read them.
//!
//! The core runs no query: a binding executes each query with the parameters its doc names and
//! fills an [`AuditCatalog`] column by column, in the order selected. The partitions, the key
//! columns of captured tables and the newest sealed entry come from the statements the other
//! `better-audit` commands already run.

pub use crate::audit::purge::Partition;
pub use crate::audit::seal::SealedRow;
use crate::audit::storage::Table;
use crate::audit::triggers;
pub use crate::audit::triggers::TriggerTable;
pub use crate::check::catalog::{Role, ROLE_QUERY};
pub use crate::policy::expected::FunctionDef;

/// `audit_logs`, one of its partitions, or `audit_chain_checkpoints`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    /// `relkind`: `r` a table, `p` a partitioned table, anything else is not a table.
    pub kind: String,
    /// A partition of `audit_logs`.
    pub partition: bool,
    pub owner: String,
    /// The connected role owns it or is a member of its owner.
    pub owner_reachable: bool,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    /// The names of its policies.
    pub policies: Vec<String>,
    /// What the connected role may do: granted to it, to PUBLIC, to a role it belongs to, or
    /// as the owner. `update` counts a grant on any column.
    pub select: bool,
    pub insert: bool,
    pub update: bool,
    pub delete: bool,
    pub truncate: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// As `format_type` prints it (`timestamp with time zone`).
    pub data_type: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
}

/// A trigger named `usebetter_audit`, wherever it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureTrigger {
    pub schema: String,
    pub table: String,
    /// `pg_trigger.tgtype`.
    pub trigger_type: i16,
    pub enabled: bool,
    /// The function it calls, `schema.name`.
    pub function: String,
    pub args: Vec<String>,
}

/// A table trigger capture should cover, as the catalog describes it, or why it cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// As configured (`auditTables` or `--tables`).
    pub name: String,
    pub table: Result<TriggerTable, crate::Error>,
}

/// Everything `better-audit check` looks at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditCatalog {
    pub role: Role,
    pub relations: Vec<Relation>,
    pub columns: Vec<Column>,
    pub indexes: Vec<Index>,
    pub partitions: Vec<Partition>,
    pub capture_function: Option<FunctionDef>,
    pub triggers: Vec<CaptureTrigger>,
    pub captured: Vec<Captured>,
    /// The newest sealed entry (the head of the chain written last), or why it could not be
    /// read; `None` when nothing is sealed.
    pub newest_sealed: Option<Result<SealedRow, crate::Error>>,
}

/// [`Relation`]s; `$1` is `audit_logs` and `$2` the checkpoints table, both qualified.
pub const RELATIONS: &str =
    "SELECT c.relname::text, c.relkind::text, c.relispartition, pg_get_userbyid(c.relowner)::text,
        pg_has_role(c.relowner, 'MEMBER'), c.relrowsecurity, c.relforcerowsecurity,
        ARRAY(SELECT p.polname::text FROM pg_policy p WHERE p.polrelid = c.oid ORDER BY 1),
        has_table_privilege(c.oid, 'SELECT'), has_table_privilege(c.oid, 'INSERT'),
        has_any_column_privilege(c.oid, 'UPDATE'), has_table_privilege(c.oid, 'DELETE'),
        has_table_privilege(c.oid, 'TRUNCATE')
 FROM pg_class c
 WHERE c.oid IN (to_regclass($1), to_regclass($2))
    OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = to_regclass($1))
 ORDER BY c.relispartition, 1";

/// [`Column`]s of `$1` (qualified `audit_logs`).
pub const COLUMNS: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
 FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum";

/// [`Index`]es of `$1` (qualified `audit_logs`), with their key columns in order.
pub const INDEXES: &str = "SELECT i.relname::text,
        ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.ord)
 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
 WHERE x.indrelid = to_regclass($1)";

/// The capture function as [`FunctionDef`]; `$1` is its qualified name with `()`.
pub const CAPTURE_FUNCTION: &str =
    "SELECT n.nspname::text, p.proname::text, pg_get_function_identity_arguments(p.oid),
        coalesce(p.prosrc, ''), p.prosecdef, coalesce(p.proconfig::text[], '{}')
 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.oid = to_regprocedure($1)";

/// [`CaptureTrigger`]s; `$1` is the trigger name. The arguments come as `bytea`
/// (see [`trigger_args`]). Clones on partitions are left out: their parent's trigger is judged.
pub const TRIGGERS: &str = "SELECT n.nspname::text, c.relname::text, t.tgtype, t.tgenabled <> 'D',
        fn.nspname::text || '.' || p.proname::text, t.tgargs
 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace fn ON fn.oid = p.pronamespace
 WHERE t.tgname = $1 AND NOT t.tgisinternal AND t.tgparentid = 0
 ORDER BY 1, 2";

/// `pg_trigger.tgargs`: each argument followed by a NUL byte.
#[must_use]
pub fn trigger_args(bytes: &[u8]) -> Vec<String> {
    let mut parts: Vec<String> = bytes
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    parts.pop();
    parts
}

/// The chain (tenant id as text, NULL for the global one) of the newest sealed entry of `logs`
/// (qualified); no row when nothing is sealed.
#[must_use]
pub fn newest_sealed_chain(logs: &str) -> String {
    format!("SELECT tenant_id::text FROM {logs} WHERE seq IS NOT NULL ORDER BY \"timestamp\" DESC LIMIT 1")
}

/// `"schema"."usebetter_audit_capture"()` for [`CAPTURE_FUNCTION`]'s `$1`.
#[must_use]
pub fn capture_function_name(t: &Table) -> String {
    format!("{}()", t.qualified(triggers::CAPTURE_FUNCTION))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_arguments_split_at_nul() {
        assert_eq!(trigger_args(b"id\0amount,total\0"), ["id", "amount,total"]);
        assert_eq!(trigger_args(b"a,b\0\0"), ["a,b", ""]);
        assert!(trigger_args(b"").is_empty());
    }
}
