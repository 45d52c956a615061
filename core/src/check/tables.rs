//! Per-table judgements: the `tenants` table, each tenant table, views and definer functions.

use super::catalog::Policy;
use super::predicate::{bypass_only, classify, Predicate};
use super::{CheckResult, Index, Report};
use crate::policy::audit::AUDIT_POLICY;
use crate::policy::{TENANT_ID_FUNCTION, TENANT_ID_TRIGGER};

const COMMANDS: [&str; 4] = ["SELECT", "INSERT", "UPDATE", "DELETE"];
pub(super) const MIGRATE: &str = "run `better-tenant migrate` and apply the SQL";
/// `migrate` adds RLS to tables that exist; the tables and columns come from the ORM.
const CREATE_TENANTS: &str = "create the tenants table (id uuid DEFAULT gen_random_uuid(), name, slug, created_at) with your ORM's migration, then run `better-tenant migrate`";

pub(super) fn applies(p: &Policy, role: &str, command: &str) -> bool {
    (p.command == "ALL" || p.command == command)
        && p.roles.iter().any(|r| r == "public" || r == role)
}

/// The expression PostgreSQL checks for `command`: USING for reads, WITH CHECK for new rows
/// (falling back to USING, as PostgreSQL does for ALL and UPDATE policies).
fn expr_for<'p>(p: &'p Policy, command: &str) -> Option<&'p str> {
    match command {
        "INSERT" => p.with_check.as_deref(),
        "UPDATE" => p.with_check.as_deref().or(p.qual.as_deref()),
        _ => p.qual.as_deref(),
    }
}

pub(super) fn tenants_table(ix: &Index<'_>, schema: &str, r: &mut Report) {
    let Some(table) = ix.tables.get(&(schema, "tenants")) else {
        r.results.push(
            CheckResult::fail("tenants table exists", "tenants table not found")
                .fix(CREATE_TENANTS),
        );
        r.warnings.push(no_default_warning());
        return;
    };
    r.results.push(CheckResult::pass("tenants table exists"));
    let cols = ix
        .columns
        .get(&(schema, "tenants"))
        .cloned()
        .unwrap_or_default();
    for c in ["id", "name", "slug", "created_at"] {
        r.results.push(
            CheckResult::when(
                format!("tenants.{c} column"),
                cols.iter().any(|x| x.name == c),
                format!("column {c} not found on tenants"),
            )
            .fix(CREATE_TENANTS),
        );
    }
    if !cols.iter().any(|x| x.name == "id" && x.has_default) {
        r.warnings.push(no_default_warning());
    }
    r.results.push(
        CheckResult::when(
            "tenants table RLS enabled",
            table.rls_enabled,
            "ROW LEVEL SECURITY not enabled on tenants",
        )
        .fix(MIGRATE),
    );
    r.results.push(
        CheckResult::when(
            "tenants table FORCE ROW LEVEL SECURITY",
            table.rls_forced,
            "FORCE ROW LEVEL SECURITY not enabled on tenants",
        )
        .fix(MIGRATE),
    );
    let role = ix.catalog.role.name.as_str();
    let policies = ix
        .policies
        .get(&(schema, "tenants"))
        .cloned()
        .unwrap_or_default();
    let permissive: Vec<&Policy> = policies.iter().copied().filter(|p| p.permissive).collect();
    let readers: Vec<&Policy> = permissive
        .iter()
        .copied()
        .filter(|p| applies(p, role, "SELECT"))
        .collect();
    r.results.push(
        CheckResult::when(
            "tenants table read policy",
            !readers.is_empty(),
            "rls_tenants_read policy not found — SELECT will be denied for non-superusers",
        )
        .fix(MIGRATE),
    );
    if readers
        .iter()
        .any(|p| p.qual.as_deref().is_some_and(|q| q.trim() == "true"))
    {
        r.upgrades.push("tenants is readable by every tenant (USING (true)); a tenant should see only its own row".into());
    }
    let writers: Vec<&Policy> = permissive
        .iter()
        .copied()
        .filter(|p| {
            ["INSERT", "UPDATE", "DELETE"]
                .iter()
                .any(|c| applies(p, role, c))
        })
        .collect();
    r.results.push(
        CheckResult::when(
            "tenants table write policy",
            !writers.is_empty(),
            "rls_tenants_write policy not found — writes will be denied",
        )
        .fix(MIGRATE),
    );
    let gated = !writers.is_empty()
        && writers.iter().all(|p| {
            [p.qual.as_deref(), p.with_check.as_deref()]
                .into_iter()
                .flatten()
                .all(bypass_only)
        });
    r.results.push(
        CheckResult::when(
            "tenants table write policy bypass_rls",
            gated,
            "tenants write policy should allow bypass_rls for runAsSystem (and nothing else)",
        )
        .fix(MIGRATE),
    );
}

fn no_default_warning() -> CheckResult {
    CheckResult::fail(
        "tenants.id has no DB DEFAULT",
        "if using Prisma, use @default(dbgenerated(\"gen_random_uuid()\")) instead of @default(uuid())",
    )
}

pub(super) fn tenant_table(ix: &Index<'_>, schema: &str, name: &str, label: &str, r: &mut Report) {
    let key = (schema, name);
    let Some(table) = ix.tables.get(&key) else {
        r.results.push(
            CheckResult::fail(
                format!("table {label} exists"),
                format!("table {label} not found"),
            )
            .fix("create it with your ORM's migration, or remove it from tenantTables"),
        );
        return;
    };
    let role = ix.catalog.role.name.as_str();
    let t = |s: &str| format!("table {label} {s}");
    r.results.push(CheckResult::pass(t("exists")));
    let cols = ix.columns.get(&key).cloned().unwrap_or_default();
    r.results.push(
        CheckResult::when(
            format!("table {label}.tenant_id"),
            cols.iter().any(|c| c.name == "tenant_id"),
            "tenant_id column not found",
        )
        .fix("add a tenant_id uuid column (references tenants.id) with your ORM's migration"),
    );
    r.results.push(
        CheckResult::when(
            t("RLS enabled"),
            table.rls_enabled,
            "ROW LEVEL SECURITY not enabled",
        )
        .fix(MIGRATE),
    );
    let force_msg = if table.owner == role {
        format!("FORCE ROW LEVEL SECURITY not enabled — \"{role}\" owns {label} and bypasses its policies")
    } else {
        "FORCE ROW LEVEL SECURITY not enabled".to_owned()
    };
    r.results.push(
        CheckResult::when(t("FORCE ROW LEVEL SECURITY"), table.rls_forced, force_msg).fix(MIGRATE),
    );

    let policies = ix.policies.get(&key).cloned().unwrap_or_default();
    let mine: Vec<&Policy> = policies.iter().copied().filter(|p| p.permissive).collect();
    let judged = |command: &str| -> Vec<(&Policy, Predicate)> {
        mine.iter()
            .filter(|p| applies(p, role, command))
            .map(|p| {
                (
                    *p,
                    expr_for(p, command)
                        .map(|e| classify(e, "tenant_id"))
                        .unwrap_or_default(),
                )
            })
            .collect()
    };
    let per_command: Vec<(&str, Vec<(&Policy, Predicate)>)> =
        COMMANDS.iter().map(|c| (*c, judged(c))).collect();
    let uncovered: Vec<&str> = per_command
        .iter()
        .filter(|(_, ps)| !ps.iter().any(|(_, p)| p.tenant_scoped))
        .map(|(c, _)| *c)
        .collect();
    let exists_msg = if mine.is_empty() {
        "no RLS policy found".to_owned()
    } else {
        format!("no tenant-scoped policy for {}", uncovered.join(", "))
    };
    r.results
        .push(CheckResult::when(t("policy exists"), uncovered.is_empty(), exists_msg).fix(MIGRATE));
    let scoped = |cmds: &[&str]| {
        per_command
            .iter()
            .filter(|(c, _)| cmds.contains(c))
            .all(|(_, ps)| ps.iter().any(|(_, p)| p.tenant_scoped))
    };
    r.results.push(
        CheckResult::when(
            t("policy USING clause"),
            scoped(&["SELECT", "UPDATE", "DELETE"]),
            "policy missing USING expression",
        )
        .fix(MIGRATE),
    );
    r.results.push(
        CheckResult::when(
            t("policy WITH CHECK clause"),
            scoped(&["INSERT", "UPDATE"]),
            "policy missing WITH CHECK expression",
        )
        .fix(MIGRATE),
    );
    let bypass = per_command
        .iter()
        .all(|(_, ps)| ps.iter().any(|(_, p)| p.tenant_scoped && p.bypass));
    r.results.push(
        CheckResult::when(
            t("bypass_rls in policy"),
            bypass,
            "policy should allow bypass_rls for runAsSystem",
        )
        .fix(MIGRATE),
    );
    let mut wideners: Vec<&str> = per_command
        .iter()
        .flat_map(|(_, ps)| {
            ps.iter()
                .filter(|(_, p)| !p.tenant_scoped)
                .map(|(pol, _)| pol.name.as_str())
        })
        .collect();
    wideners.sort_unstable();
    wideners.dedup();
    r.results.push(
        CheckResult::when(
            t("no policy widens access"),
            wideners.is_empty(),
            format!(
                "permissive {} {} not tenant-scoped and OR-ed with the tenant policy: other tenants' rows are reachable",
                if wideners.len() == 1 { "policy" } else { "policies" },
                wideners.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ")
            ),
        )
        .fix("drop the policy, or make it AS RESTRICTIVE"),
    );
    let reference_policy = per_command
        .iter()
        .any(|(_, ps)| ps.iter().any(|(_, p)| p.text_comparison));
    if reference_policy {
        r.upgrades.push(format!("{label}: policy compares tenant_id as text (no index use); replace with the range predicate"));
    }
    let triggers = ix.triggers.get(&key).cloned().unwrap_or_default();
    r.results.push(
        CheckResult::when(
            t(&format!("{TENANT_ID_FUNCTION} trigger")),
            triggers.iter().any(|x| x.function == TENANT_ID_FUNCTION),
            format!("trigger {TENANT_ID_TRIGGER} not found"),
        )
        .fix(MIGRATE),
    );
    let indexes = ix.indexes.get(&key).cloned().unwrap_or_default();
    let indexed = indexes
        .iter()
        .any(|i| i.columns.first().is_some_and(|c| c == "tenant_id"));
    if !indexed && reference_policy {
        // The reference's migration never made one: a slow table, not a broken setup.
        r.upgrades.push(format!(
            "{label}: no index starts with tenant_id (every tenant query scans the whole table); migrate creates it"
        ));
    } else {
        r.results.push(
            CheckResult::when(
                t("tenant_id index"),
                indexed,
                "no index starts with tenant_id — every tenant query scans the whole table",
            )
            .fix(MIGRATE),
        );
    }
    for i in indexes
        .iter()
        .filter(|i| i.unique && !i.primary && !i.columns.iter().any(|c| c == "tenant_id"))
    {
        r.warnings.push(CheckResult::fail(
            format!("unique index {} on {label} omits tenant_id", i.name),
            "uniqueness is global across tenants: it leaks existence of other tenants' values; include tenant_id",
        ));
    }
}

pub(super) fn views_and_functions(
    ix: &Index<'_>,
    targets: &[(String, String, String)],
    r: &mut Report,
) {
    let is_target = |s: &str, t: &str| targets.iter().any(|(ts, tt, _)| ts == s && tt == t);
    let mut views: Vec<_> = ix
        .catalog
        .views
        .iter()
        .filter(|v| is_target(&v.base_schema, &v.base_table))
        .collect();
    views.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    views.dedup_by(|a, b| a.schema == b.schema && a.name == b.name);
    for v in views {
        let invoker = v.options.iter().any(|o| {
            o.split_once('=').is_some_and(|(k, val)| {
                k == "security_invoker"
                    && matches!(
                        val.to_ascii_lowercase().as_str(),
                        "true" | "on" | "1" | "yes"
                    )
            })
        });
        let name = format!("{}.{}", v.schema, v.name);
        let result = if v.materialized {
            CheckResult::fail(
                format!("view {name} respects RLS"),
                format!(
                    "materialized view over {} stores every tenant's rows",
                    v.base_table
                ),
            )
            .fix("drop it, or keep it out of the application role's reach")
        } else {
            CheckResult::when(
                format!("view {name} respects RLS"),
                invoker,
                format!(
                    "view over {} runs with its owner's rights (security_invoker is off)",
                    v.base_table
                ),
            )
            .fix(&format!("ALTER VIEW {name} SET (security_invoker = true);"))
        };
        r.results.push(result);
    }
    for f in &ix.catalog.definer_functions {
        if f.name.starts_with("better_tenant_") {
            continue;
        }
        let src = f.source.to_ascii_lowercase();
        let touched: Vec<&str> = targets
            .iter()
            .filter(|(_, t, _)| mentions_word(&src, &t.to_ascii_lowercase()))
            .map(|(_, _, l)| l.as_str())
            .collect();
        if !touched.is_empty() {
            r.results.push(
                CheckResult::fail(
                    format!("function {}.{} respects RLS", f.schema, f.name),
                    format!("SECURITY DEFINER function reads {} with its owner's rights", touched.join(", ")),
                )
                .fix("make it SECURITY INVOKER, or own it by a role subject to FORCE ROW LEVEL SECURITY"),
            );
        }
    }
}

fn mentions_word(haystack: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// `audit_logs` holds before/after images of tenant rows: without the tenant policy every scope
/// reads every tenant's entries. Skipped when it is configured as a tenant table itself.
pub(super) fn audit_logs(
    ix: &Index<'_>,
    schemas: &[String],
    targets: &[(String, String, String)],
    r: &mut Report,
) {
    for s in schemas {
        let Some(t) = ix.tables.get(&(s.as_str(), "audit_logs")) else {
            continue;
        };
        if targets
            .iter()
            .any(|(ts, tn, _)| ts == s && tn == "audit_logs")
        {
            continue;
        }
        let policy = ix
            .policies
            .get(&(s.as_str(), "audit_logs"))
            .is_some_and(|ps| ps.iter().any(|p| p.name == AUDIT_POLICY));
        let finding = CheckResult::when(
            format!("{s}.audit_logs isolated by tenant"),
            t.rls_enabled && t.rls_forced && policy,
            format!("audit_logs lacks ENABLE + FORCE ROW LEVEL SECURITY with policy {AUDIT_POLICY}: every tenant scope reads every tenant's audit entries"),
        )
        .fix("run `better-audit migrate` with the tenant section in better.config.*");
        // A table made for the reference (no tenant_id) cannot be isolated until it is
        // upgraded: a warning with the upgrade, as for its other gaps; ours must be isolated.
        let upgraded = ix
            .columns
            .get(&(s.as_str(), "audit_logs"))
            .is_some_and(|cs| cs.iter().any(|c| c.name == "tenant_id"));
        if upgraded || finding.passed {
            r.results.push(finding);
        } else {
            r.warnings.push(finding);
        }
    }
}
