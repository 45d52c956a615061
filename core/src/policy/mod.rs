//! RLS migration SQL for tenant tables.
//!
//! The output is idempotent (safe to re-run) and upgrades a database migrated by the reference
//! in place: the policy names are the reference's, so each `DROP POLICY IF EXISTS` removes the
//! old text-comparison policy before the index-friendly one is created. The GUC names
//! `app.current_tenant` and `app.bypass_rls` are unchanged.

pub mod audit;
pub mod context;
pub mod expected;
mod functions;
pub mod names;
mod sign;
pub mod tenants;

use crate::sql::{literal, Ident, QualifiedName};
#[cfg(feature = "webhooks")]
pub(crate) use functions::current_expr;
pub use functions::{bypass_expr, range_predicate, PRIVATE_SCHEMA};
use names::{reference_policy_name, tenant_index_name};
pub use sign::{bypass_signature, tenant_signature};

use std::collections::HashSet;

use crate::error::{Error, Result};

/// The table of tenants (`id`, `name`, `slug`), the reference's name.
pub const TENANTS: &str = "tenants";
/// The function that fills `tenant_id` on insert, and the trigger on every tenant table that
/// calls it (the reference's names).
pub const TENANT_ID_FUNCTION: &str = "set_tenant_id";
pub const TENANT_ID_TRIGGER: &str = "set_tenant_id_trigger";

/// Migration settings (`tenant` section of `better.config.*`, plus our extensions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct MigrationConfig {
    /// Tables with a `tenant_id uuid` column. `"schema.table"` overrides `schema` per table.
    #[cfg_attr(feature = "serde", serde(default))]
    pub tenant_tables: Vec<String>,
    /// Schema of the tables and of the generated functions. Default `public`.
    pub schema: Option<String>,
    /// Signed tenant context (see `functions`). Default false.
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>"))]
    pub hardened: bool,
    /// Also distribute the tables with Citus (`tenant_id` as distribution column). Default false.
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>"))]
    pub citus: bool,
}

/// Validated configuration.
#[derive(Debug, Clone)]
struct Plan {
    schema: Ident,
    tables: Vec<QualifiedName>,
    hardened: bool,
    citus: bool,
}

impl Plan {
    fn new(config: &MigrationConfig) -> Result<Plan> {
        let schema = Ident::new("schema", config.schema.as_deref().unwrap_or("public"))?;
        let mut tables: Vec<QualifiedName> = Vec::with_capacity(config.tenant_tables.len());
        // A set, not `tables.contains`: a scan per entry made 100k tables take minutes.
        let mut seen: HashSet<QualifiedName> = HashSet::with_capacity(config.tenant_tables.len());
        for (i, entry) in config.tenant_tables.iter().enumerate() {
            let t = table_name(&format!("tenantTables[{i}]"), entry, &schema)?;
            if t.name.as_str() == TENANTS && t.schema == schema {
                return Err(Error::config(
                    format!("tenantTables[{i}]"),
                    "a tenant-owned table; `tenants` itself is handled separately",
                ));
            }
            if seen.insert(t.clone()) {
                tables.push(t);
            }
        }
        Ok(Plan {
            schema,
            tables,
            hardened: config.hardened,
            citus: config.citus,
        })
    }
}

fn table_name(field: &str, entry: &str, default_schema: &Ident) -> Result<QualifiedName> {
    let entry = entry.trim();
    match entry.split_once('.') {
        Some((s, t)) => Ok(QualifiedName {
            schema: Ident::new(field, s)?,
            name: Ident::new(field, t)?,
        }),
        None => Ok(QualifiedName {
            schema: default_schema.clone(),
            name: Ident::new(field, entry)?,
        }),
    }
}

const HEADER: &str = "-- Better Tenant: RLS policies and triggers
-- Schema (tenants table, tenant_id columns) is managed by your ORM.
-- Idempotent: safe to re-run. Replaces policies created by @usebetterdev/tenant.
";

/// The full migration: functions, `tenants` policies and one block per tenant table.
///
/// # Errors
/// `InvalidIdentifier` or `InvalidConfig` naming the offending entry.
pub fn migration_sql(config: &MigrationConfig) -> Result<String> {
    let plan = Plan::new(config)?;
    let mut out = String::with_capacity(2048 + plan.tables.len() * 1024);
    out.push_str(HEADER);
    out.push('\n');
    out.push_str(&functions::functions_sql(&plan.schema, plan.hardened));
    out.push('\n');
    out.push_str(&tenants_sql(&plan.schema, plan.hardened));
    for t in &plan.tables {
        out.push('\n');
        out.push_str(&table_sql(&plan.schema, t, plan.hardened));
    }
    if plan.citus {
        out.push('\n');
        out.push_str(&citus_sql(&plan));
    }
    Ok(out)
}

/// The block for one table, for `add-table`: it relies on the functions of a full migration.
///
/// # Errors
/// `InvalidIdentifier` or `InvalidConfig`.
pub fn add_table_sql(table: &str, config: &MigrationConfig) -> Result<String> {
    let plan = Plan::new(&MigrationConfig {
        tenant_tables: vec![table.to_owned()],
        ..config.clone()
    })?;
    let t = plan
        .tables
        .first()
        .ok_or_else(|| Error::config("table", "a table name"))?;
    Ok(table_sql(&plan.schema, t, plan.hardened))
}

/// Citus: `tenants` becomes a reference table (so foreign keys to it keep working) and every
/// tenant table is distributed by `tenant_id`. Guarded so that re-running is a no-op.
fn citus_sql(plan: &Plan) -> String {
    let distribute = |table: &str, call: &str| {
        format!(
            "SELECT {call} WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = {}::regclass);\n",
            literal(table)
        )
    };
    let tenants = QualifiedName {
        schema: plan.schema.clone(),
        name: Ident::fixed(TENANTS),
    }
    .quoted();
    let mut out = String::from(
        "-- Citus: tenants is replicated to every node, tenant tables are sharded by tenant_id\n",
    );
    out.push_str(&distribute(
        &tenants,
        &format!("create_reference_table({})", literal(&tenants)),
    ));
    for t in &plan.tables {
        let q = t.quoted();
        out.push_str(&distribute(
            &q,
            &format!("create_distributed_table({}, 'tenant_id')", literal(&q)),
        ));
    }
    out
}

fn tenants_sql(schema: &Ident, hardened: bool) -> String {
    let tenants = QualifiedName {
        schema: schema.clone(),
        name: Ident::fixed(TENANTS),
    }
    .quoted();
    let own_row = functions::range_predicate(schema, "id", hardened);
    let bypass = format!("(SELECT {})", functions::bypass_expr(schema, hardened));
    format!(
        "-- Better Tenant: RLS for tenants lookup table
ALTER TABLE {tenants} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {tenants} FORCE ROW LEVEL SECURITY;

-- A tenant sees its own row; system operations (bypass) see all
DROP POLICY IF EXISTS \"rls_tenants_read\" ON {tenants};
CREATE POLICY \"rls_tenants_read\" ON {tenants}
  FOR SELECT
  USING ({own_row});

-- Only system operations (bypass) can modify tenants
DROP POLICY IF EXISTS \"rls_tenants_write\" ON {tenants};
CREATE POLICY \"rls_tenants_write\" ON {tenants}
  FOR ALL
  USING ({bypass})
  WITH CHECK ({bypass});
"
    )
}

fn table_sql(schema: &Ident, t: &QualifiedName, hardened: bool) -> String {
    let table = t.quoted();
    let policy = reference_policy_name(&t.name).quoted();
    let index = tenant_index_name(&t.name).quoted();
    let predicate = functions::range_predicate(schema, "tenant_id", hardened);
    format!(
        "-- Better Tenant: RLS for {comment}
{isolation}
CREATE INDEX IF NOT EXISTS {index} ON {table} (tenant_id);

DROP TRIGGER IF EXISTS {trigger} ON {table};
CREATE TRIGGER {trigger}
  BEFORE INSERT ON {table}
  FOR EACH ROW
  EXECUTE FUNCTION {schema}.{function}();
",
        trigger = TENANT_ID_TRIGGER,
        function = crate::sql::quote_ident(TENANT_ID_FUNCTION),
        comment = t.for_comment(),
        isolation = isolation_sql(&table, &policy, &predicate),
        schema = schema.quoted(),
    )
}

/// ENABLE + FORCE row-level security and one policy (`table` and `policy` already quoted),
/// replacing an older policy of that name.
#[must_use]
pub fn isolation_sql(table: &str, policy: &str, predicate: &str) -> String {
    format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS {policy} ON {table};
CREATE POLICY {policy} ON {table}
  FOR ALL
  USING ({predicate})
  WITH CHECK ({predicate});
"
    )
}

/// The same for a partitioned table (`table`: its name as SQL text) and every partition it has
/// now: a query naming a partition skips its parent's policies. Run again after creating
/// partitions. `policy` is the raw policy name.
#[must_use]
pub fn partitioned_isolation_sql(table: &str, policy: &str, predicate: &str) -> String {
    let body = format!(
        "
DECLARE r regclass;
BEGIN
  FOR r IN SELECT {t}::regclass UNION ALL
           SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = {t}::regclass
  LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', r);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', r);
    EXECUTE format('DROP POLICY IF EXISTS %I ON %s', {policy}, r);
    EXECUTE format('CREATE POLICY %I ON %s FOR ALL USING (%s) WITH CHECK (%s)', {policy}, r, {pred}, {pred});
  END LOOP;
END
",
        t = crate::sql::literal(table),
        policy = crate::sql::literal(policy),
        pred = crate::sql::literal(predicate),
    );
    format!("DO {};\n", crate::sql::dollar_quoted(&body))
}
