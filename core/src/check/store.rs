//! The checks every product with its own tables shares (`better-webhooks check`,
//! `better-email check`): the tables exist, the schema version is current, the indexes and the
//! partitions of this period and the next exist, every tenant table (and partition) has RLS
//! enabled and forced with the product's tenant policy and no widening policy, and what the
//! role can do around each table. Policies are judged by the tenant check's classifier and
//! role reach by its rules, so every tool agrees with `better-tenant check`.

use super::predicate::classify;
use super::{reach, CheckResult, Index, Report};
use crate::store::Layout;

/// One product's tables as its generators describe them.
pub struct Target<'a> {
    pub layout: &'a Layout,
    /// Every table `migrate` creates (without the prefix).
    pub tables: &'a [&'a str],
    /// Tables with `tenant_id` and whether they are partitioned.
    pub tenant_tables: &'a [(&'a str, bool)],
    /// `(table, index)` of the product's DDL.
    pub indexes: Vec<(String, String)>,
    /// `Err(message)` when the recorded schema version is missing or old.
    pub version: Result<(), String>,
    /// The fix of every failure but the partitions'.
    pub migrate: &'a str,
    /// The fix of missing partitions.
    pub partitions_fix: &'a str,
    pub now_ms: i64,
}

/// Tables, version, indexes, partitions, isolation and reach; `false` when no table exists
/// (the product's other checks have nothing to read then).
pub(crate) fn tables(ix: &Index<'_>, t: &Target<'_>, r: &mut Report) -> bool {
    let schema = t.layout.schema();
    let prefix = t.layout.product.prefix;
    let present = |name: &str| ix.tables.contains_key(&(schema, name));
    let missing: Vec<String> = t
        .tables
        .iter()
        .map(|n| format!("{prefix}_{n}"))
        .filter(|n| !present(n))
        .collect();
    r.results.push(
        CheckResult::when(
            format!("{prefix} tables exist"),
            missing.is_empty(),
            format!("missing in schema {schema}: {}", missing.join(", ")),
        )
        .fix(t.migrate),
    );
    if missing.len() == t.tables.len() {
        return false;
    }
    r.results.push(
        CheckResult::when(
            "schema version recorded",
            t.version.is_ok(),
            t.version.clone().err().unwrap_or_default(),
        )
        .fix(t.migrate),
    );
    let absent: Vec<String> = t
        .indexes
        .iter()
        .filter(|(table, name)| {
            present(table)
                && !ix
                    .indexes
                    .get(&(schema, table.as_str()))
                    .is_some_and(|found| found.iter().any(|i| &i.name == name))
        })
        .map(|(table, name)| format!("{name} on {table}"))
        .collect();
    r.results.push(
        CheckResult::when(
            format!("{prefix} indexes exist"),
            absent.is_empty(),
            format!("missing: {}", absent.join(", ")),
        )
        .fix(t.migrate),
    );
    let absent: Vec<String> = t
        .layout
        .current_partitions(t.now_ms)
        .into_iter()
        .filter(|p| {
            let parent = p.rsplit_once("_p").map_or("", |(table, _)| table);
            present(parent) && !present(p)
        })
        .collect();
    r.results.push(
        CheckResult::when(
            "partitions for this period and the next",
            absent.is_empty(),
            format!(
                "missing: {} (rows go to the DEFAULT partition, which retention cannot drop)",
                absent.join(", ")
            ),
        )
        .fix(t.partitions_fix),
    );
    if t.layout.rls() {
        for (name, partitioned) in t.tenant_tables {
            let table = format!("{prefix}_{name}");
            if !present(&table) {
                continue;
            }
            let mut relations = vec![table.clone()];
            if *partitioned {
                let under = format!("{table}_");
                relations.extend(
                    ix.catalog
                        .tables
                        .iter()
                        .filter(|c| c.schema == schema && c.name.starts_with(&under))
                        .map(|c| c.name.clone()),
                );
            }
            isolation(ix, t, &table, &relations, r);
        }
    } else {
        r.warnings.push(CheckResult::fail(
            "tenant isolation",
            format!("tenancy is \"none\": the {prefix} tables have no row-level security; every tenant's rows are visible to every query"),
        ));
    }
    for name in t.tables {
        let table = format!("{prefix}_{name}");
        reach::table_reach(ix, schema, &table, &table, r);
    }
    true
}

/// ENABLE + FORCE and the tenant policy on `table` and its partitions (`relations`).
fn isolation(ix: &Index<'_>, t: &Target<'_>, table: &str, relations: &[String], r: &mut Report) {
    let schema = t.layout.schema();
    let policy = t.layout.product.policy;
    let mut off = Vec::new();
    let mut unforced = Vec::new();
    let mut unscoped = Vec::new();
    for rel in relations {
        let Some(found) = ix.tables.get(&(schema, rel.as_str())) else {
            continue;
        };
        if !found.rls_enabled {
            off.push(rel.as_str());
        }
        if !found.rls_forced {
            unforced.push(rel.as_str());
        }
        let policies = ix
            .policies
            .get(&(schema, rel.as_str()))
            .cloned()
            .unwrap_or_default();
        let scoped = |e: &Option<String>| {
            e.as_deref()
                .is_some_and(|x| classify(x, "tenant_id").tenant_scoped)
        };
        let ours = policies.iter().any(|p| {
            p.name == policy
                && p.permissive
                && p.command == "ALL"
                && scoped(&p.qual)
                && scoped(&p.with_check)
        });
        let wideners: Vec<&str> = policies
            .iter()
            .filter(|p| p.permissive && p.name != policy)
            .filter(|p| {
                !(p.qual.is_none() || scoped(&p.qual))
                    || !(p.with_check.is_none() || scoped(&p.with_check))
            })
            .map(|p| p.name.as_str())
            .collect();
        if !ours {
            unscoped.push(format!("{rel}: no tenant policy {policy}"));
        }
        unscoped.extend(
            wideners
                .iter()
                .map(|w| format!("{rel}: permissive policy \"{w}\" is not tenant-scoped")),
        );
    }
    let list = |v: &[&str]| v.join(", ");
    r.results.push(
        CheckResult::when(
            format!("table {table} RLS enabled"),
            off.is_empty(),
            format!("ROW LEVEL SECURITY not enabled on {}", list(&off)),
        )
        .fix(t.migrate),
    );
    r.results.push(
        CheckResult::when(
            format!("table {table} FORCE ROW LEVEL SECURITY"),
            unforced.is_empty(),
            format!(
                "FORCE ROW LEVEL SECURITY not enabled on {}",
                list(&unforced)
            ),
        )
        .fix(t.migrate),
    );
    r.results.push(
        CheckResult::when(
            format!("table {table} tenant policy"),
            unscoped.is_empty(),
            unscoped.join("; "),
        )
        .fix(t.migrate),
    );
}

/// A catalog as `migrate` leaves `layout`'s tables (`tables`: every table and partition, with
/// the prefix; `indexes` as the product expects them), read by a role that owns nothing.
#[cfg(test)]
pub(crate) fn migrated_catalog(
    layout: &Layout,
    tables: Vec<String>,
    indexes: Vec<(String, String)>,
) -> super::catalog::Catalog {
    use super::catalog::{Catalog, Index as Idx, Policy, Role, Table};
    let mut catalog = Catalog {
        role: Role {
            name: "app".into(),
            ..Role::default()
        },
        ..Catalog::default()
    };
    for name in tables {
        catalog.tables.push(Table {
            schema: layout.schema().into(),
            name: name.clone(),
            owner: "owner".into(),
            rls_enabled: true,
            rls_forced: true,
            ..Table::default()
        });
        catalog.policies.push(Policy {
            schema: layout.schema().into(),
            table: name,
            name: layout.product.policy.into(),
            permissive: true,
            roles: vec!["public".into()],
            command: "ALL".into(),
            qual: Some(layout.rls_predicate()),
            with_check: Some(layout.rls_predicate()),
        });
    }
    for (table, name) in indexes {
        catalog.indexes.push(Idx {
            schema: layout.schema().into(),
            table,
            name,
            ..Idx::default()
        });
    }
    catalog
}
