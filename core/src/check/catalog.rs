//! The catalog facts `check` judges, and the queries that read them.
//!
//! The core runs no query: a binding executes [`QUERIES`] with the schema list as `$1`
//! (`text[]`) and fills a [`Catalog`] from the rows, column by column in the order selected.

pub use crate::policy::expected::FunctionDef;

/// The connected role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub superuser: bool,
    pub bypass_rls: bool,
}

/// A table or partitioned table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub owner: String,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    /// The connected role holds TRUNCATE on it (granted, or through ownership): TRUNCATE
    /// ignores RLS.
    pub truncatable: bool,
    /// The connected role owns it or is a member of its owner (and so can drop its policies).
    pub owner_reachable: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Column {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub data_type: String,
    pub has_default: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub permissive: bool,
    pub roles: Vec<String>,
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub command: String,
    pub qual: Option<String>,
    pub with_check: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trigger {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub function: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub unique: bool,
    pub primary: bool,
    pub columns: Vec<String>,
}

/// A view or materialized view that reads a table in scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    pub schema: String,
    pub name: String,
    pub materialized: bool,
    pub options: Vec<String>,
    pub base_schema: String,
    pub base_table: String,
}

/// A `SECURITY DEFINER` function outside the system schemas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefinerFunction {
    pub schema: String,
    pub name: String,
    pub source: String,
}

/// A role the connected role is a member of (directly or not) that skips RLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivilegedRole {
    pub name: String,
    pub superuser: bool,
    pub bypass_rls: bool,
}

/// A function of ours (`better_tenant_*`, `set_tenant_id`, or in the private schema) as it is
/// defined in the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextFunction {
    pub definition: FunctionDef,
    /// The connected role owns it or is a member of its owner (and so can replace it).
    pub owner_reachable: bool,
}

/// Everything `check` looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub role: Role,
    pub tables: Vec<Table>,
    pub columns: Vec<Column>,
    pub policies: Vec<Policy>,
    pub triggers: Vec<Trigger>,
    pub indexes: Vec<Index>,
    pub views: Vec<View>,
    pub definer_functions: Vec<DefinerFunction>,
    pub context_functions: Vec<ContextFunction>,
    pub privileged_roles: Vec<PrivilegedRole>,
    /// Whether the role can use the hardened-mode private schema (it must not).
    pub private_schema_usable: Option<bool>,
}

/// Query for [`Role`] (no parameters).
pub const ROLE_QUERY: &str =
    "SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user";

/// Query for [`Catalog::private_schema_usable`] (no parameters); NULL when the schema is absent.
pub const PRIVATE_SCHEMA_QUERY: &str = "SELECT CASE WHEN to_regnamespace('better_tenant_private') IS NULL THEN NULL ELSE has_schema_privilege('better_tenant_private', 'USAGE') END";

/// Query for [`Catalog::privileged_roles`] (no parameters): `pg_has_role` follows
/// memberships transitively, and a member can `SET ROLE` to any of them.
pub const PRIVILEGED_ROLES_QUERY: &str = "SELECT r.rolname::text, r.rolsuper, r.rolbypassrls FROM pg_roles r
 WHERE r.rolname <> current_user AND (r.rolsuper OR r.rolbypassrls) AND pg_has_role(current_user, r.oid, 'MEMBER')
 ORDER BY 1";

/// Queries taking `$1 text[]` (schemas), in the order of the [`Catalog`] fields they fill.
pub const QUERIES: [(&str, &str); 8] = [
    (
        "tables",
        "SELECT n.nspname::text, c.relname::text, pg_get_userbyid(c.relowner)::text, c.relrowsecurity, c.relforcerowsecurity,
                has_table_privilege(c.oid, 'TRUNCATE'), pg_has_role(c.relowner, 'MEMBER')
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1)",
    ),
    (
        "columns",
        "SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.atthasdef
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND n.nspname = ANY($1)",
    ),
    (
        "policies",
        "SELECT schemaname::text, tablename::text, policyname::text, permissive = 'PERMISSIVE', roles::text[], cmd, qual, with_check
         FROM pg_policies WHERE schemaname = ANY($1)",
    ),
    (
        "triggers",
        "SELECT n.nspname::text, c.relname::text, t.tgname::text, p.proname::text
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE NOT t.tgisinternal AND n.nspname = ANY($1)",
    ),
    (
        "indexes",
        "SELECT n.nspname::text, c.relname::text, i.relname::text, x.indisunique, x.indisprimary,
                ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.ord)
         FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY($1)",
    ),
    (
        "views",
        "SELECT DISTINCT vn.nspname::text, v.relname::text, v.relkind = 'm', coalesce(v.reloptions::text[], '{}'), tn.nspname::text, t.relname::text
         FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
         JOIN pg_namespace vn ON vn.oid = v.relnamespace
         JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
         WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
           AND v.relkind IN ('v', 'm') AND t.relkind IN ('r', 'p') AND v.oid <> t.oid AND tn.nspname = ANY($1)",
    ),
    (
        "definer_functions",
        "SELECT n.nspname::text, p.proname::text, coalesce(p.prosrc, '')
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'better_tenant_private')
           AND cardinality($1::text[]) >= 0",
    ),
    (
        "context_functions",
        "SELECT n.nspname::text, p.proname::text, pg_get_function_identity_arguments(p.oid), coalesce(p.prosrc, ''),
                p.prosecdef, coalesce(p.proconfig::text[], '{}'), pg_has_role(p.proowner, 'MEMBER')
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'better_tenant_private'
            OR (n.nspname = ANY($1) AND (p.proname LIKE 'better\\_tenant\\_%' OR p.proname = 'set_tenant_id'))",
    ),
];
