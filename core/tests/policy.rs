//! Generated RLS SQL: snapshots, sqlparser round-trips, and name safety under arbitrary input.

use proptest::prelude::*;
use sqlparser::ast::{ObjectName, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use usebetter_core::policy::{add_table_sql, migration_sql, MigrationConfig};

fn config(tables: &[&str]) -> MigrationConfig {
    MigrationConfig {
        tenant_tables: tables.iter().map(|t| (*t).to_owned()).collect(),
        ..MigrationConfig::default()
    }
}

fn parse(sql: &str) -> Vec<Statement> {
    Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap_or_else(|e| panic!("{e}\n{sql}"))
}

/// Table names every statement of the output refers to, as (schema, table) pairs.
fn tables_referenced(stmts: &[Statement]) -> Vec<Vec<String>> {
    let parts = |n: &ObjectName| -> Vec<String> {
        n.0.iter()
            .map(|p| p.as_ident().expect("plain identifier").value.clone())
            .collect()
    };
    stmts
        .iter()
        .filter_map(|s| match s {
            Statement::AlterTable(a) => Some(parts(&a.name)),
            Statement::CreatePolicy(p) => Some(parts(&p.table_name)),
            Statement::DropPolicy(p) => Some(parts(&p.table_name)),
            Statement::CreateIndex(i) => Some(parts(&i.table_name)),
            Statement::CreateTrigger(t) => Some(parts(&t.table_name)),
            Statement::DropTrigger(t) => t.table_name.as_ref().map(parts),
            _ => None,
        })
        .collect()
}

#[test]
fn migration_snapshot() {
    let sql = migration_sql(&config(&["projects", "tasks"])).unwrap();
    insta::assert_snapshot!("migration_projects_tasks", sql);
}

#[test]
fn hardened_snapshot() {
    let mut c = config(&["projects"]);
    c.hardened = true;
    insta::assert_snapshot!("migration_hardened", migration_sql(&c).unwrap());
}

#[test]
fn add_table_snapshot() {
    let mut c = config(&[]);
    c.schema = Some("app".into());
    insta::assert_snapshot!(
        "add_table_app_invoices",
        add_table_sql("invoices", &c).unwrap()
    );
}

#[test]
fn citus_distributes_after_the_policies() {
    let mut c = config(&["projects", "billing.invoices"]);
    c.citus = true;
    let sql = migration_sql(&c).unwrap();
    let policy = sql.rfind("CREATE POLICY").unwrap();
    let dist = sql
        .find("create_distributed_table('\"public\".\"projects\"', 'tenant_id')")
        .unwrap();
    assert!(dist > policy);
    assert!(sql.contains("create_distributed_table('\"billing\".\"invoices\"', 'tenant_id')"));
    assert!(sql.contains("create_reference_table('\"public\".\"tenants\"')"));
    let stmts = parse(&sql);
    assert_eq!(
        stmts
            .iter()
            .filter(|s| s.to_string().contains("pg_dist_partition"))
            .count(),
        3
    );
}

#[test]
fn every_statement_parses() {
    for hardened in [false, true] {
        let mut c = config(&["projects", "tasks", "billing.invoices"]);
        c.hardened = hardened;
        let stmts = parse(&migration_sql(&c).unwrap());
        assert!(stmts.len() > 20, "only {} statements", stmts.len());
        let tables = tables_referenced(&stmts);
        assert!(tables.contains(&vec!["billing".into(), "invoices".into()]));
        assert!(tables.contains(&vec!["public".into(), "tenants".into()]));
    }
}

#[test]
fn statements_per_table_block() {
    let stmts = parse(&add_table_sql("projects", &config(&[])).unwrap());
    let kinds: Vec<&str> = stmts
        .iter()
        .map(|s| match s {
            Statement::AlterTable(_) => "alter",
            Statement::DropPolicy(_) => "drop-policy",
            Statement::CreatePolicy(_) => "policy",
            Statement::CreateIndex(_) => "index",
            Statement::DropTrigger(_) => "drop-trigger",
            Statement::CreateTrigger(_) => "trigger",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "alter",
            "alter",
            "drop-policy",
            "policy",
            "index",
            "drop-trigger",
            "trigger"
        ]
    );
}

#[test]
fn reference_policy_is_replaced_not_duplicated() {
    let sql = add_table_sql("projects", &config(&[])).unwrap();
    assert!(
        sql.contains("DROP POLICY IF EXISTS \"rls_tenant_projects\" ON \"public\".\"projects\";")
    );
    assert!(sql.contains("CREATE POLICY \"rls_tenant_projects\" ON \"public\".\"projects\""));
    assert!(!sql.contains("::text"), "no text comparison of tenant_id");
}

#[test]
fn config_errors() {
    let err = migration_sql(&config(&["ok", ""])).unwrap_err();
    assert_eq!(err.code(), "INVALID_IDENTIFIER");
    assert!(err.to_string().contains("tenantTables[1]"), "{err}");
    let long = "x".repeat(64);
    assert_eq!(
        migration_sql(&config(&[&long])).unwrap_err().code(),
        "INVALID_IDENTIFIER"
    );
    assert_eq!(
        migration_sql(&config(&["tenants"])).unwrap_err().code(),
        "INVALID_CONFIG"
    );
    let mut bad_schema = config(&["t"]);
    bad_schema.schema = Some(String::new());
    assert_eq!(
        migration_sql(&bad_schema).unwrap_err().code(),
        "INVALID_IDENTIFIER"
    );
}

#[test]
fn duplicates_are_emitted_once() {
    let sql = migration_sql(&config(&["projects", "projects", "public.projects"])).unwrap();
    assert_eq!(
        sql.matches("CREATE POLICY \"rls_tenant_projects\"").count(),
        1
    );
}

/// Seconds for the fastest of `runs` migrations of `n` distinct tables (the minimum filters out
/// pauses caused by other work on the machine).
fn fastest_migration(n: usize, runs: usize) -> f64 {
    let tables: Vec<String> = (0..n).map(|i| format!("table_{i}")).collect();
    let c = MigrationConfig {
        tenant_tables: tables,
        ..MigrationConfig::default()
    };
    (0..runs)
        .map(|_| {
            let start = std::time::Instant::now();
            let sql = migration_sql(&c).unwrap();
            assert!(sql.contains(&format!("table_{}", n - 1)));
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn migration_time_grows_linearly_with_tables() {
    // Ten times the tables may cost up to twenty times as long: linear work passes with a wide
    // margin, a per-table scan of the earlier tables (a hundred times as long) does not.
    let small = fastest_migration(10_000, 3);
    let large = fastest_migration(100_000, 2);
    eprintln!("10k tables: {small:.3} s, 100k tables: {large:.3} s");
    assert!(
        large < 20.0 * small.max(0.005),
        "100k tables took {large:.3} s, 10k took {small:.3} s"
    );
    assert!(large < 60.0, "100k tables took {large:.3} s");
}

fn name_strategy() -> impl Strategy<Value = String> {
    let reserved = prop::sample::select(vec![
        "select",
        "table",
        "user",
        "order",
        "Group",
        "tenants_x",
    ]);
    let tricky = "[\"'; \\-\\\\$ \n\t()*/a-zA-Z0-9_éß中😀]{1,40}";
    prop_oneof![
        reserved.prop_map(str::to_owned),
        tricky.prop_filter("no dots", |s| !s.contains('.')),
        // Up to the 63-byte limit with multi-byte characters.
        "[é中]{10,21}",
    ]
    .prop_filter("fits 63 bytes", |s| {
        !s.is_empty() && s.len() <= 63 && s.trim() == s
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_names_parse_to_the_intended_tables(schema in name_strategy(), table in name_strategy()) {
        let c = MigrationConfig {
            tenant_tables: vec![table.clone()],
            schema: Some(schema.clone()),
            hardened: false,
            citus: false,
        };
        if table == "tenants" { return Ok(()); }
        let stmts = parse(&migration_sql(&c).unwrap());
        let tables = tables_referenced(&stmts);
        let expected_tables = [vec![schema.clone(), "tenants".to_owned()], vec![schema.clone(), table.clone()]];
        for t in &tables {
            prop_assert!(expected_tables.contains(t), "unexpected table {:?}", t);
        }
        prop_assert_eq!(tables.iter().filter(|t| **t == expected_tables[1]).count(), 7);
    }

    #[test]
    fn over_long_names_are_rejected(table in "[a-z]{64,100}") {
        prop_assert_eq!(add_table_sql(&table, &config(&[])).unwrap_err().code(), "INVALID_IDENTIFIER");
    }
}
