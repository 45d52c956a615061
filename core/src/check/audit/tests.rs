//! `better-audit check` on hand-made catalogs.

use serde_json::json;

use super::catalog::{
    AuditCatalog, CaptureTrigger, Captured, Column, FunctionDef, Index, Partition, Relation, Role,
    SealedRow, TriggerTable,
};
use super::{capture_targets, check, AuditCheckConfig, SealSetting};
use crate::audit::seal::{seal, GENESIS};
use crate::audit::storage::{self, Table};
use crate::audit::time::parse_iso;
use crate::audit::triggers::{triggers_sql, TRIGGER_TYPE};
use crate::check::{render, Report};
use crate::policy::audit::{AUDIT_POLICY, CHECKPOINT_POLICY};
use crate::policy::expected::parse_functions;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn relation(name: &str, policy: &str) -> Relation {
    Relation {
        name: name.into(),
        kind: "r".into(),
        owner: "owner".into(),
        rls_enabled: true,
        rls_forced: true,
        policies: vec![policy.into()],
        select: true,
        insert: name == "audit_logs",
        ..Relation::default()
    }
}

/// What `migrate` makes, read by a role that may only read and append.
fn migrated() -> AuditCatalog {
    AuditCatalog {
        role: Role {
            name: "app".into(),
            ..Role::default()
        },
        relations: vec![
            relation("audit_logs", AUDIT_POLICY),
            relation(storage::CHECKPOINTS, CHECKPOINT_POLICY),
        ],
        columns: storage::expected_columns()
            .into_iter()
            .map(|(name, ty)| Column {
                name: name.into(),
                data_type: ty.replace("timestamptz", "timestamp with time zone"),
            })
            .collect(),
        indexes: storage::expected_indexes()
            .into_iter()
            .map(|(name, columns)| Index {
                name: name.into(),
                columns: columns.into_iter().map(str::to_owned).collect(),
            })
            .collect(),
        ..AuditCatalog::default()
    }
}

fn config() -> AuditCheckConfig {
    AuditCheckConfig {
        table: Table::new("public").unwrap(),
        tenancy: true,
        seal: SealSetting::default(),
        now_micros: parse_iso("2026-03-15T00:00:00Z").unwrap(),
    }
}

fn failure(r: &Report, prefix: &str) -> String {
    let c = r
        .results
        .iter()
        .find(|c| c.check.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}: {}", render(r)));
    assert!(!c.passed, "{prefix} passed: {}", render(r));
    format!(
        "{} | {}",
        c.message.as_deref().unwrap_or(""),
        c.remediation.as_deref().unwrap_or("")
    )
}

#[test]
fn a_migrated_database_passes_and_a_missing_table_names_migrate() {
    let r = check(&migrated(), &config());
    assert!(r.passed, "{}", render(&r));
    assert!(r.next.is_none());
    let r = check(&AuditCatalog::default(), &config());
    assert_eq!(r.results.len(), 1);
    assert_eq!(r.next.as_deref(), Some("run `better-audit migrate`"));
    assert!(
        render(&r).ends_with("✗ 1 check failed, 0 passed\nNext: run `better-audit migrate`\n\n")
    );
}

#[test]
fn reference_shaped_tables_get_the_upgrade_hint() {
    let mut c = migrated();
    let added = storage::added_columns();
    c.columns.retain(|x| !added.contains(&x.name.as_str()));
    c.indexes.retain(|i| !i.columns.iter().any(|x| x == "seq"));
    c.relations.retain(|x| x.name == "audit_logs");
    let r = check(&c, &config());
    assert!(failure(&r, "audit_logs columns").starts_with(
        "audit_logs was created for @usebetterdev/audit 0.8.1: run `better-audit migrate` to add tenant_id, seq"
    ));
    assert!(failure(&r, "audit_logs indexes").contains("audit_logs_chain_seq_idx (tenant_id, seq)"));
    assert!(failure(&r, "audit_chain_checkpoints table exists").contains("better-audit migrate"));
    // One column missing is not the reference's shape; a wrong type names its ALTER.
    let mut c = migrated();
    c.columns.retain(|x| x.name != "hash");
    c.columns[7].data_type = "json".into();
    let r = check(&c, &config());
    assert!(failure(&r, "audit_logs columns").starts_with("missing column hash:"));
    assert!(failure(&r, "audit_logs column types").contains(
        "after_data is json, expected jsonb | ALTER TABLE \"public\".\"audit_logs\" ALTER COLUMN \"after_data\" TYPE jsonb"
    ));
}

#[test]
fn partitions_must_cover_this_month_and_the_next() {
    let part = |from: &str, to: &str| Partition {
        name: format!("audit_logs_p{from}"),
        from: Some(format!("{from}-01T00:00:00+00:00")),
        to: Some(format!("{to}-01T00:00:00+00:00")),
    };
    let mut c = migrated();
    c.relations[0].kind = "p".into();
    c.partitions = vec![part("2026-03", "2026-04"), part("2026-04", "2026-05")];
    assert!(check(&c, &config()).passed);
    c.partitions.pop();
    let r = check(&c, &config());
    assert!(failure(&r, "audit_logs partitions")
        .contains("no partition for 2026-04: there is no default partition either"));
    assert_eq!(
        r.next.as_deref(),
        Some("run `better-audit ensure-partitions` (monthly, e.g. from cron)")
    );
    c.partitions = vec![Partition {
        name: "audit_logs_default".into(),
        from: None,
        to: None,
    }];
    assert!(failure(&check(&c, &config()), "audit_logs partitions")
        .contains("no partition for 2026-03, 2026-04: its entries go to the default partition"));
}

fn users() -> TriggerTable {
    TriggerTable {
        schema: "public".into(),
        name: "users".into(),
        key: vec!["id".into()],
        precise: vec!["balance".into()],
    }
}

fn captured() -> AuditCatalog {
    let t = Table::new("public").unwrap();
    let function = parse_functions(&triggers_sql(&t, &[]).unwrap()).remove(0);
    AuditCatalog {
        capture_function: Some(function),
        triggers: vec![CaptureTrigger {
            schema: "public".into(),
            table: "users".into(),
            trigger_type: TRIGGER_TYPE,
            enabled: true,
            function: "public.usebetter_audit_capture".into(),
            args: users().trigger_args().to_vec(),
        }],
        captured: vec![Captured {
            name: "users".into(),
            table: Ok(users()),
        }],
        ..migrated()
    }
}

#[test]
fn trigger_capture_is_present_and_current() {
    assert!(capture_targets(&migrated(), &["users".into()], None).is_empty());
    assert_eq!(
        capture_targets(&captured(), &["users".into()], None),
        ["users"]
    );
    assert_eq!(
        capture_targets(&migrated(), &[], Some(vec!["a".into()])),
        ["a"]
    );
    let c = captured();
    assert!(
        check(&c, &config()).passed,
        "{}",
        render(&check(&c, &config()))
    );
    let judged = |edit: &dyn Fn(&mut AuditCatalog)| {
        let mut c = captured();
        edit(&mut c);
        failure(&check(&c, &config()), "trigger usebetter_audit on users")
    };
    assert!(judged(&|c| c.triggers.clear()).starts_with("not found"));
    assert!(judged(&|c| c.triggers[0].enabled = false).starts_with("disabled"));
    assert!(judged(&|c| c.triggers[0].trigger_type = TRIGGER_TYPE | 2)
        .contains("AFTER INSERT OR UPDATE OR DELETE"));
    assert!(
        judged(&|c| c.triggers[0].args[0] = "email".into()).contains("passes key columns (email)")
    );
    let missing = judged(&|c| {
        c.captured[0].table =
            Err(crate::CliFailure::CaptureTable.with("table \"users\" does not exist"));
    });
    assert!(missing.contains("does not exist | create the table"));
    let mut c = captured();
    c.capture_function = Some(FunctionDef {
        source: "BEGIN RETURN NULL; END".into(),
        ..c.capture_function.clone().unwrap()
    });
    let r = check(&c, &config());
    assert!(failure(&r, "trigger capture function current")
        .ends_with("search_path) | run `better-audit migrate --triggers`"));
    // A trigger the config does not name is a warning, not a failure.
    let mut c = captured();
    c.captured.clear();
    let r = check(&c, &config());
    assert!(r.passed);
    assert_eq!(
        r.warnings[0].check,
        "trigger usebetter_audit on public.users is not configured"
    );
}

#[test]
fn the_application_role_can_only_append() {
    let mut c = migrated();
    c.relations[0].update = true;
    c.relations[0].delete = true;
    c.relations.push(Relation {
        partition: true,
        truncate: true,
        ..relation("audit_logs_p2026_03", AUDIT_POLICY)
    });
    let r = check(&c, &config());
    assert_eq!(
        failure(&r, "connected role cannot UPDATE"),
        "\"app\" can change or remove entries (granted to it, to PUBLIC or to a role it is a member of): audit_logs (UPDATE, DELETE), audit_logs_p2026_03 (TRUNCATE) | REVOKE UPDATE, DELETE, TRUNCATE ON \"public\".\"audit_logs\", \"public\".\"audit_logs_p2026_03\" FROM \"app\", PUBLIC;"
    );
    let mut c = migrated();
    for x in &mut c.relations {
        x.owner_reachable = true;
        x.owner = "app".into();
    }
    let r = check(&c, &config());
    assert!(failure(&r, "connected role cannot UPDATE").starts_with("\"app\" owns audit_logs"));
    assert!(failure(&r, "connected role cannot write").contains("as its owner"));
    let mut c = migrated();
    c.role.superuser = true;
    assert!(failure(&check(&c, &config()), "connected role").contains("superuser"));
    let mut c = migrated();
    c.relations[1].insert = true;
    assert!(failure(
        &check(&c, &config()),
        "connected role cannot write audit_chain_checkpoints"
    )
    .contains("by a grant"));
    let mut c = migrated();
    c.relations[0].insert = false;
    let r = check(&c, &config());
    assert!(r.passed);
    assert!(r.warnings[0]
        .remediation
        .as_deref()
        .unwrap()
        .starts_with("GRANT SELECT, INSERT ON \"public\".\"audit_logs\" TO \"app\""));
}

#[test]
fn tenancy_needs_the_tenant_policy_everywhere() {
    let mut c = migrated();
    c.relations.push(Relation {
        partition: true,
        rls_forced: false,
        ..relation("audit_logs_p2026_03", AUDIT_POLICY)
    });
    c.relations[1].policies.clear();
    let r = check(&c, &config());
    assert!(failure(&r, "audit_logs isolated by tenant")
        .starts_with("audit_chain_checkpoints, audit_logs_p2026_03 lack ENABLE + FORCE"));
    let plain = AuditCheckConfig {
        tenancy: false,
        ..config()
    };
    assert!(check(&c, &plain).passed);
}

fn sealed(key: Option<&[u8]>) -> SealedRow {
    let content = json!({ "id": "r1", "timestamp": "2026-03-15T00:00:00.000000Z" });
    SealedRow {
        id: "r1".into(),
        seq: 7,
        prev_hash: GENESIS.into(),
        hash: seal(GENESIS, &content, key),
        content,
    }
}

#[test]
fn the_seal_key_must_verify_the_newest_sealed_entry() {
    let with = |key: Option<&[u8]>, unkeyed: bool, row: Option<SealedRow>| {
        let c = AuditCatalog {
            newest_sealed: row.map(Ok),
            ..migrated()
        };
        let cfg = AuditCheckConfig {
            seal: SealSetting {
                expected: true,
                unkeyed,
                key: key.map(<[u8]>::to_vec),
            },
            ..config()
        };
        check(&c, &cfg)
    };
    let name = "seal key verifies";
    assert!(with(Some(KEY), false, Some(sealed(Some(KEY)))).passed);
    assert!(with(Some(KEY), false, None).passed, "nothing sealed yet");
    assert!(with(None, true, Some(sealed(None))).passed);
    assert!(failure(&with(None, false, None), name).contains("AUDIT_SEAL_KEY is not set"));
    let wrong = failure(
        &with(
            Some(b"another-key-of-more-than-32-bytes!"),
            false,
            Some(sealed(Some(KEY))),
        ),
        name,
    );
    assert!(
        wrong.starts_with("AUDIT_SEAL_KEY does not verify entry r1 (seq 7): it is not the key"),
        "{wrong}"
    );
    assert!(
        failure(&with(Some(KEY), false, Some(sealed(None))), name).contains("sealed without a key")
    );
    assert!(failure(&with(None, true, Some(sealed(Some(KEY)))), name).contains("sealed with a key"));
    // Sealed entries, but nothing says sealing is used: a warning.
    let c = AuditCatalog {
        newest_sealed: Some(Ok(sealed(Some(KEY)))),
        ..migrated()
    };
    let r = check(&c, &config());
    assert!(r.passed);
    assert_eq!(r.warnings[0].check, "seal key checked");
}
