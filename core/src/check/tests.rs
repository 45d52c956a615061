//! `check` on hand-made catalogs: the judgements about what the role can do around RLS.

use super::catalog::{Catalog, Column, ContextFunction, Policy, PrivilegedRole, Role, Table};
use super::{check, next_steps, render, CheckConfig, CheckResult, Report};
use crate::policy::expected::hardened_functions;

const SCOPED: &str =
    "(tenant_id = (NULLIF(current_setting('app.current_tenant'::text, true), ''::text))::uuid)";

fn table(name: &str) -> Table {
    Table {
        schema: "public".into(),
        name: name.into(),
        owner: "owner".into(),
        rls_enabled: true,
        rls_forced: true,
        ..Table::default()
    }
}

fn policy(table: &str, name: &str, expr: &str) -> Policy {
    Policy {
        schema: "public".into(),
        table: table.into(),
        name: name.into(),
        permissive: true,
        roles: vec!["public".into()],
        command: "ALL".into(),
        qual: Some(expr.into()),
        with_check: Some(expr.into()),
    }
}

fn catalog() -> Catalog {
    Catalog {
        role: Role {
            name: "app".into(),
            ..Role::default()
        },
        tables: vec![table("tenants"), table("projects")],
        policies: vec![policy("projects", "rls_tenant_projects", SCOPED)],
        ..Catalog::default()
    }
}

fn run(c: &Catalog) -> Report {
    check(
        c,
        &CheckConfig {
            tenant_tables: vec!["projects".into()],
            ..CheckConfig::default()
        },
    )
}

fn failed(r: &Report, name: &str) -> Option<String> {
    let c = r.results.iter().find(|c| c.check == name)?;
    (!c.passed).then(|| c.message.clone().unwrap_or_default())
}

/// Failing results among the checks this module is about (the hand-made catalog has no
/// columns, triggers or indexes, so the other checks fail by design).
fn reach_failures(r: &Report) -> Vec<&str> {
    r.results
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.check.as_str())
        .filter(|n| {
            [
                "TRUNCATE",
                "owner out of reach",
                "extra permissive",
                "cannot become",
                "hardened function",
                "signed context",
            ]
            .iter()
            .any(|k| n.contains(k))
        })
        .collect()
}

fn live(hardened: bool) -> Vec<ContextFunction> {
    if !hardened {
        return Vec::new();
    }
    hardened_functions(None)
        .unwrap()
        .into_iter()
        .map(|definition| ContextFunction {
            definition,
            owner_reachable: false,
        })
        .collect()
}

#[test]
fn truncate_and_ownership() {
    let mut c = catalog();
    assert_eq!(failed(&run(&c), "table projects TRUNCATE denied"), None);
    c.tables[1].truncatable = true;
    let r = run(&c);
    assert!(failed(&r, "table projects TRUNCATE denied")
        .unwrap()
        .contains("(by a grant)"));
    assert_eq!(failed(&r, "table projects owner out of reach"), None);
    c.tables[1].owner_reachable = true;
    let r = run(&c);
    assert!(failed(&r, "table projects owner out of reach")
        .unwrap()
        .contains("is a member of \"owner\", which owns projects"));
    c.tables[0].owner = "app".into();
    c.tables[0].owner_reachable = true;
    let r = run(&c);
    assert!(failed(&r, "table tenants owner out of reach")
        .unwrap()
        .starts_with("role \"app\" owns tenants"));
    assert!(render(&r).contains("      fix: REVOKE TRUNCATE ON \"public\".\"projects\""));
}

#[test]
fn privileged_memberships() {
    let mut c = catalog();
    let name = "connected role cannot become a role that bypasses RLS";
    assert_eq!(failed(&run(&c), name), None);
    c.privileged_roles = vec![PrivilegedRole {
        name: "bypasser".into(),
        bypass_rls: true,
        ..PrivilegedRole::default()
    }];
    assert_eq!(
        failed(&run(&c), name).unwrap(),
        "role \"app\" is a member of \"bypasser\" (BYPASSRLS): SET ROLE skips every policy"
    );
}

#[test]
fn extra_permissive_policies() {
    let mut c = catalog();
    let name = "table projects no extra permissive policy";
    assert_eq!(failed(&run(&c), name), None);
    c.policies.push(policy("projects", "also", SCOPED));
    assert!(failed(&run(&c), name).unwrap().contains("\"also\""));
    // A single hand-written policy under another name is the tenant policy, not an extra one.
    c.policies.remove(0);
    assert_eq!(failed(&run(&c), name), None);
}

#[test]
fn plain_mode_is_a_warning() {
    let r = run(&catalog());
    assert!(reach_failures(&r).is_empty());
    let w = r
        .warnings
        .iter()
        .find(|w| w.check.starts_with("plain mode"))
        .unwrap();
    assert!(w
        .remediation
        .as_deref()
        .unwrap()
        .contains("better-tenant migrate --hardened"));
    assert!(render(&r).contains("⚠ plain mode"));
    // A config that asks for hardened mode makes a plain database a failure.
    let r = check(
        &catalog(),
        &CheckConfig {
            tenant_tables: vec!["projects".into()],
            hardened: true,
            ..CheckConfig::default()
        },
    );
    assert!(r
        .warnings
        .iter()
        .all(|w| !w.check.starts_with("plain mode")));
    assert!(
        failed(&r, "hardened mode applied (the config sets hardened: true)")
            .unwrap()
            .contains("set_config('app.bypass_rls', 'true', …)")
    );
}

#[test]
fn hardened_functions_follow_the_generator() {
    let mut c = catalog();
    c.private_schema_usable = Some(false);
    c.policies = vec![policy(
        "projects",
        "rls_tenant_projects",
        "((tenant_id >= ( SELECT CASE WHEN better_tenant_bypass() THEN '00000000-0000-0000-0000-000000000000'::uuid ELSE better_tenant_current() END AS \"case\")) AND (tenant_id <= ( SELECT CASE WHEN better_tenant_bypass() THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid ELSE better_tenant_current() END AS \"case\")))",
    )];
    c.context_functions = live(true);
    let r = run(&c);
    assert!(reach_failures(&r).is_empty(), "{}", render(&r));
    assert!(r
        .warnings
        .iter()
        .all(|w| !w.check.starts_with("plain mode")));
    let name = "hardened function public.better_tenant_bypass unchanged";
    let i = c
        .context_functions
        .iter()
        .position(|f| f.definition.name == "better_tenant_bypass")
        .unwrap();
    c.context_functions[i].definition.source =
        " SELECT current_setting('app.bypass_rls', true) = 'true' ".into();
    assert!(failed(&run(&c), name).unwrap().contains("differs"));
    c.context_functions = live(true);
    c.context_functions[i].owner_reachable = true;
    assert!(failed(&run(&c), name).unwrap().contains("can replace it"));
    c.context_functions.remove(i);
    assert_eq!(failed(&run(&c), name).unwrap(), "not found");
    c.context_functions = live(true);
    c.policies = vec![policy("projects", "rls_tenant_projects", SCOPED)];
    assert!(
        failed(&run(&c), "table projects policy uses the signed context")
            .unwrap()
            .contains("\"rls_tenant_projects\"")
    );
}

#[test]
fn policies_calling_another_schemas_functions() {
    let mut c = catalog();
    let name = "table projects policy calls the context functions of \"public\"";
    c.policies = vec![policy(
        "projects",
        "rls_tenant_projects",
        "((tenant_id = public.better_tenant_current()) OR better_tenant_bypass())",
    )];
    assert!(run(&c).results.iter().all(|r| r.check != name));
    c.policies[0].qual = Some(
        "((tenant_id = evil.better_tenant_current()) OR \"public\".\"better_tenant_bypass\"())"
            .into(),
    );
    let r = run(&c);
    let found = r.results.iter().find(|r| r.check == name).unwrap();
    assert!(found.message.as_deref().unwrap().contains("\"evil\""));
    assert!(!found.message.as_deref().unwrap().contains("\"public\""));
}

#[test]
fn audit_logs_without_tenant_rls_fails_once_it_has_tenant_id() {
    let name = "public.audit_logs isolated by tenant";
    let mut c = catalog();
    assert_eq!(
        run(&c).results.iter().filter(|r| r.check == name).count(),
        0
    );
    c.tables.push(Table {
        rls_enabled: false,
        rls_forced: false,
        ..table("audit_logs")
    });
    // A table made for the reference has no tenant_id: a warning naming the upgrade.
    let reference = run(&c);
    assert_eq!(failed(&reference, name), None);
    let warned = reference.warnings.iter().find(|w| w.check == name).unwrap();
    assert!(warned
        .remediation
        .as_deref()
        .unwrap()
        .contains("better-audit migrate"));
    c.columns.push(Column {
        schema: "public".into(),
        table: "audit_logs".into(),
        name: "tenant_id".into(),
        data_type: "uuid".into(),
        has_default: false,
    });
    assert!(failed(&run(&c), name)
        .unwrap()
        .contains("FORCE ROW LEVEL SECURITY"));
    c.tables.last_mut().unwrap().rls_enabled = true;
    c.tables.last_mut().unwrap().rls_forced = true;
    assert!(failed(&run(&c), name).is_some(), "no policy");
    c.policies.push(policy(
        "audit_logs",
        crate::policy::audit::AUDIT_POLICY,
        SCOPED,
    ));
    assert_eq!(failed(&run(&c), name), None);
    assert!(run(&c).results.iter().any(|r| r.check == name));
}

#[test]
fn next_steps_name_each_fix_once_with_its_count() {
    let mut c = catalog();
    c.tables[1].truncatable = true;
    let steps = next_steps(
        &run(&c),
        "better-tenant migrate --schema app",
        "better-tenant check",
    );
    let lines: Vec<&str> = steps.lines().collect();
    assert_eq!(
        lines[0],
        "Next steps, then run `better-tenant check` again:"
    );
    assert!(
        lines[1].starts_with("  1. create the tenants table"),
        "{steps}"
    );
    assert!(steps.contains("run `better-tenant migrate --schema app -o db/rls.sql` and apply db/rls.sql as the tables' owner (not the application role) ("), "{steps}");
    assert!(
        steps.contains(
            ". REVOKE TRUNCATE ON \"public\".\"projects\" FROM \"app\", PUBLIC; (1 check)\n"
        ),
        "{steps}"
    );
    let migrate_only = Report {
        passed: false,
        results: vec![
            CheckResult::fail("a", "x").fix(super::tables::MIGRATE),
            CheckResult::fail("b", "y").fix(super::reach::HARDEN),
            CheckResult::fail("c", "z").fix(super::tables::MIGRATE),
            CheckResult::pass("d"),
        ],
        ..Report::default()
    };
    assert_eq!(
        next_steps(&migrate_only, "better-tenant migrate", "better-tenant doctor"),
        "Next steps, then run `better-tenant doctor` again:\n  1. run `better-tenant migrate -o db/rls.sql` and apply db/rls.sql as the tables' owner (not the application role) (2 checks)\n  2. run `better-tenant migrate --hardened -o db/rls.sql` and apply db/rls.sql as the tables' owner (not the application role) (1 check)\n"
    );
    let one = Report {
        results: migrate_only.results[..1].to_vec(),
        ..Report::default()
    };
    assert_eq!(
        next_steps(&one, "better-tenant migrate", "better-tenant check"),
        "Next step: run `better-tenant migrate -o db/rls.sql` and apply db/rls.sql as the tables' owner (not the application role) (fixes 1 check), then run `better-tenant check` again.\n"
    );
    assert_eq!(next_steps(&Report::default(), "m", "r"), "");
}

#[test]
fn tables_with_tenant_id_outside_tenant_tables_fail_unless_shared() {
    let name = "table public.invoices with tenant_id is protected";
    let mut c = catalog();
    c.tables.push(Table {
        rls_enabled: false,
        rls_forced: false,
        ..table("invoices")
    });
    c.columns.push(Column {
        schema: "public".into(),
        table: "invoices".into(),
        name: "tenant_id".into(),
        data_type: "uuid".into(),
        has_default: false,
    });
    let r = run(&c);
    assert!(failed(&r, name)
        .unwrap()
        .contains("every tenant reads every tenant's rows"));
    let fix = r.results.iter().find(|x| x.check == name).unwrap();
    assert!(fix
        .remediation
        .as_deref()
        .unwrap()
        .contains("better-tenant add-table invoices"));
    let shared = check(
        &c,
        &CheckConfig {
            tenant_tables: vec!["projects".into()],
            shared_tables: vec!["invoices".into()],
            ..CheckConfig::default()
        },
    );
    assert!(
        !shared.results.iter().any(|x| x.check == name),
        "listed as shared"
    );
    // Under row-level security of its own (ENABLE + FORCE) it is not reported either.
    c.tables.last_mut().unwrap().rls_enabled = true;
    c.tables.last_mut().unwrap().rls_forced = true;
    assert!(!run(&c).results.iter().any(|x| x.check == name));
}
