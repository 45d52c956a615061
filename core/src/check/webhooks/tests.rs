use serde_json::json;

use super::*;
use crate::check::catalog::Policy;
use crate::webhooks::keys::b64_encode;
use crate::webhooks::store::partitions::PARTITIONED;
use crate::webhooks::store::StoreConfig;
use crate::webhooks::stored_keys::store_key;

const NOW_MS: i64 = 1_787_000_000_000;
const EP: &str = "018f3c00-7c00-7000-8000-00a0c91e6bf6";

fn store() -> Store {
    Store::new(&StoreConfig {
        rls: true,
        ..StoreConfig::default()
    })
    .unwrap()
}

fn kek(b: u8) -> SecretsKeys {
    SecretsKeys::parse("secretsKey", &b64_encode(&[b; 32]), None).unwrap()
}

/// A database as `migrate` leaves it, read by a role that owns nothing.
fn healthy(s: &Store) -> WebhooksFacts {
    let mut names: Vec<String> = TABLES.iter().map(|t| format!("webhook_{t}")).collect();
    for t in PARTITIONED {
        names.push(format!("webhook_{t}_default"));
    }
    names.extend(s.current_partitions(NOW_MS));
    let catalog = crate::check::store::migrated_catalog(s, names, s.expected_indexes());
    let sealed = store_key(
        Some(&kek(1)),
        false,
        EP,
        &format!("whsec_{}", b64_encode(&[7; 32])),
        &[3; 24],
    )
    .unwrap();
    WebhooksFacts {
        catalog,
        schema_version: Some("1".into()),
        health: Some(Health {
            sealed_secrets: 1,
            heartbeat_age: Some(2.0),
            ..Health::default()
        }),
        sample: vec![(EP.into(), serde_json::to_value(vec![sealed]).unwrap())],
        plans: vec![],
    }
}

fn run(facts: &WebhooksFacts, s: &Store, secrets: Option<&SecretsKeys>) -> Report {
    check(
        facts,
        &WebhooksCheckConfig {
            store: s,
            schema: "public".into(),
            allow_plaintext: false,
            secrets,
            ssrf: Ssrf::Node,
            now_ms: NOW_MS,
        },
    )
}

fn failed(r: &Report) -> Vec<String> {
    r.results
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{}: {}", c.check, c.message.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn a_migrated_database_passes() {
    let s = store();
    assert!(s.expected_indexes().len() > 20);
    let k = kek(1);
    let r = run(&healthy(&s), &s, Some(&k));
    assert!(r.passed, "{:?}", failed(&r));
    assert!(r.results.iter().any(|c| c.check == "SSRF guard: node"));
}

#[test]
fn each_finding_is_named() {
    let s = store();
    let k = kek(1);
    let findings = |f: &dyn Fn(&mut WebhooksFacts), key: Option<&SecretsKeys>| {
        let mut facts = healthy(&s);
        f(&mut facts);
        let r = run(&facts, &s, key);
        assert!(!r.passed);
        failed(&r).join("\n")
    };
    let out = findings(
        &|f| {
            f.catalog
                .tables
                .iter_mut()
                .find(|t| t.name == "webhook_lanes")
                .unwrap()
                .rls_enabled = false
        },
        Some(&k),
    );
    assert!(out.contains("table webhook_lanes RLS enabled"), "{out}");
    let out = findings(
        &|f| {
            f.catalog
                .indexes
                .retain(|i| i.name != "webhook_deliveries_due_idx")
        },
        Some(&k),
    );
    assert!(
        out.contains("webhook_deliveries_due_idx on webhook_deliveries"),
        "{out}"
    );
    let out = findings(&|f| f.catalog.role.bypass_rls = true, Some(&k));
    assert!(out.contains("BYPASSRLS"), "{out}");
    let out = findings(&|f| f.health.as_mut().unwrap().clear_secrets = 2, Some(&k));
    assert!(
        out.contains("2 endpoints keep a signing secret in clear"),
        "{out}"
    );
    let out = findings(
        &|f| f.health.as_mut().unwrap().heartbeat_age = None,
        Some(&k),
    );
    assert!(out.contains("no worker has sent a heartbeat"), "{out}");
    let out = findings(
        &|f| {
            f.catalog
                .tables
                .retain(|t| !t.name.starts_with("webhook_attempts_p"))
        },
        Some(&k),
    );
    assert!(out.contains("webhook_attempts_p"), "{out}");
    let out = findings(
        &|f| {
            f.catalog.tables[0].owner = "app".into();
            f.catalog.tables[0].owner_reachable = true;
        },
        Some(&k),
    );
    assert!(out.contains("owns webhook_endpoints"), "{out}");
    let other = kek(2);
    let out = findings(&|_| {}, Some(&other));
    assert!(
        out.contains(&format!(
            "BETTER_WEBHOOKS_KEY opens the stored secrets: endpoint {EP}"
        )),
        "{out}"
    );
    let out = findings(&|_| {}, None);
    assert!(out.contains("BETTER_WEBHOOKS_KEY is not set"), "{out}");
    let out = findings(&|f| f.policy_widened(), Some(&k));
    assert!(out.contains("\"open\" is not tenant-scoped"), "{out}");
    let out = findings(
        &|f| f.catalog.tables.retain(|t| t.name != "webhook_meta"),
        Some(&k),
    );
    assert!(out.contains("webhook_meta"), "{out}");
    let plan = json!([{ "Plan": { "Node Type": "ModifyTable", "Plans": [{ "Node Type": "Seq Scan", "Relation Name": "webhook_deliveries" }] } }]);
    let out = findings(
        &|f| f.plans = vec![("claimUnordered".into(), Ok(plan.clone()))],
        Some(&k),
    );
    assert!(
        out.contains("claimUnordered scans webhook_deliveries sequentially"),
        "{out}"
    );
}

impl WebhooksFacts {
    fn policy_widened(&mut self) {
        self.catalog.policies.push(Policy {
            schema: "public".into(),
            table: "webhook_endpoints".into(),
            name: "open".into(),
            permissive: true,
            roles: vec!["public".into()],
            command: "SELECT".into(),
            qual: Some("true".into()),
            with_check: None,
        });
    }
}

#[test]
fn warnings_do_not_fail() {
    let s = store();
    let k = kek(1);
    let mut facts = healthy(&s);
    let h = facts.health.as_mut().unwrap();
    h.pending_age = Some(900.0);
    h.blocked_lanes = 3;
    let r = run(&facts, &s, Some(&k));
    assert!(r.passed, "{:?}", failed(&r));
    let w: Vec<&str> = r.warnings.iter().map(|c| c.check.as_str()).collect();
    assert_eq!(w, ["delivery backlog", "blocked lanes"]);
}
