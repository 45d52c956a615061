//! `better-webhooks check`: judges the webhook tables as `migrate` writes them (tables,
//! indexes, partitions, tenant isolation), what the application role can do around them, the
//! secrets at rest, the workers and the backlog, and the plans of the hot statements. Policies
//! are judged by the tenant check's classifier and role reach by its rules, so both tools agree.
//!
//! Every expectation comes from the generators (`Store::expected_indexes`, the layout's
//! partition names and policy), never from a copy; the table checks are `check::store`'s.

use serde_json::Value;

use super::catalog::Catalog;
use super::store::{self, Target};
use super::{reach, CheckResult, Index, Report};
use crate::webhooks::seal::SecretsKeys;
use crate::webhooks::store::schema::{TABLES, TENANT_TABLES};
use crate::webhooks::store::{schema_status, Store};
use crate::webhooks::stored_keys::{open_key, StoredKey};

const MIGRATE: &str = "run `better-webhooks migrate` as the tables' owner";
/// Seconds after which a worker's heartbeat counts as gone.
pub const HEARTBEAT_LIMIT_SECS: f64 = 30.0;
/// Seconds a due delivery may wait before `check` warns.
pub const BACKLOG_LIMIT_SECS: f64 = 300.0;

/// The row of `Store::health_facts`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    pub clear_secrets: i64,
    pub sealed_secrets: i64,
    pub heartbeat_age: Option<f64>,
    pub pending_age: Option<f64>,
    pub blocked_lanes: i64,
}

/// Everything `better-webhooks check` looks at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhooksFacts {
    /// The tenant check's catalog of the webhook schema.
    pub catalog: Catalog,
    /// `webhook_meta`'s schema version; `None` when absent.
    pub schema_version: Option<String>,
    /// `None` when the tables are missing (nothing was read).
    pub health: Option<Health>,
    /// `(endpoint uuid, keys)` of `Store::secret_sample`.
    pub sample: Vec<(String, Value)>,
    /// `--plans`: each hot statement's `EXPLAIN (FORMAT JSON)` output, or why it failed.
    pub plans: Vec<(String, Result<Value, String>)>,
}

/// Where the egress guard runs (`check --json` reports it as `ssrf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ssrf {
    /// Addresses are checked at connect by the Node worker's guarded lookup.
    Node,
    /// `network.proxy`: the proxy owns the address policy.
    Proxy,
}

impl Ssrf {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Ssrf::Node => "node",
            Ssrf::Proxy => "proxy",
        }
    }
}

/// What to check against.
pub struct WebhooksCheckConfig<'a> {
    pub store: &'a Store,
    pub schema: String,
    pub allow_plaintext: bool,
    /// `BETTER_WEBHOOKS_KEY` (and `_PREVIOUS`).
    pub secrets: Option<&'a SecretsKeys>,
    pub ssrf: Ssrf,
    pub now_ms: i64,
}

/// Judges `facts`. `next` is the fix of the first failure.
#[must_use]
pub fn check(facts: &WebhooksFacts, config: &WebhooksCheckConfig<'_>) -> Report {
    let ix = Index::new(&facts.catalog);
    let mut r = Report::default();
    super::role_results(&facts.catalog.role, &mut r);
    reach::privileged_roles(&ix, &mut r);
    let version = schema_status(
        ix.tables
            .contains_key(&(config.schema.as_str(), "webhook_meta")),
        facts.schema_version.as_deref(),
    );
    let target = Target {
        layout: config.store,
        tables: &TABLES,
        tenant_tables: &TENANT_TABLES,
        indexes: config.store.expected_indexes(),
        version: version.map_err(|e| e.to_string()),
        migrate: MIGRATE,
        partitions_fix: "run `better-webhooks ensure-partitions` (the worker does it hourly)",
        now_ms: config.now_ms,
    };
    store::tables(&ix, &target, &mut r);
    if let Some(h) = &facts.health {
        secrets(h, &facts.sample, config, &mut r);
        workers(h, &mut r);
    }
    plans(&facts.plans, &mut r);
    r.results.push(CheckResult::pass(format!(
        "SSRF guard: {}",
        config.ssrf.as_str()
    )));
    r.finish();
    r
}

/// Secrets at rest: sealed (unless plaintext is allowed), and the key opens them.
fn secrets(h: &Health, sample: &[(String, Value)], c: &WebhooksCheckConfig<'_>, r: &mut Report) {
    let clear = CheckResult::when(
        "endpoint secrets sealed",
        h.clear_secrets == 0,
        format!(
            "{} endpoints keep a signing secret in clear",
            h.clear_secrets
        ),
    )
    .fix("set BETTER_WEBHOOKS_KEY (the app's `secretsKey`) and run `better-webhooks rekey`");
    if c.allow_plaintext && !clear.passed {
        r.warnings.push(CheckResult {
            message: clear
                .message
                .map(|m| format!("{m} (allowPlaintextSecrets: development only)")),
            ..clear
        });
    } else {
        r.results.push(clear);
    }
    let Some(keys) = c.secrets else {
        if h.sealed_secrets > 0 || !c.allow_plaintext {
            r.results.push(
                CheckResult::fail(
                    "BETTER_WEBHOOKS_KEY opens the stored secrets",
                    "BETTER_WEBHOOKS_KEY is not set: sealed secrets cannot be checked, and without `secretsKey` new secrets are refused (or stored in clear with allowPlaintextSecrets)",
                )
                .fix("set BETTER_WEBHOOKS_KEY to the app's `secretsKey` (new one: `openssl rand -base64 32`)"),
            );
        }
        return;
    };
    let mut failures = Vec::new();
    let mut stale = 0;
    for (id, value) in sample {
        let stored: Vec<StoredKey> = match serde_json::from_value(value.clone()) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("endpoint {id}: keys unreadable ({e})"));
                continue;
            }
        };
        for (i, k) in stored.iter().enumerate() {
            match open_key(k, Some(keys), id, &format!("keys[{i}]")) {
                Ok((_, s)) => stale += usize::from(s),
                Err(e) => failures.push(format!("endpoint {id}: {e}")),
            }
        }
    }
    r.results.push(
        CheckResult::when(
            "BETTER_WEBHOOKS_KEY opens the stored secrets",
            failures.is_empty(),
            failures.join("; "),
        )
        .fix("set BETTER_WEBHOOKS_KEY to the key the secrets were sealed with (during a key change: the new one, and the old one as BETTER_WEBHOOKS_KEY_PREVIOUS)"),
    );
    if stale > 0 {
        r.warnings.push(
            CheckResult::fail(
                "secrets sealed with the current key",
                format!("{stale} sampled keys open only with BETTER_WEBHOOKS_KEY_PREVIOUS"),
            )
            .fix("run `better-webhooks rekey`"),
        );
    }
}

fn workers(h: &Health, r: &mut Report) {
    let message = match h.heartbeat_age {
        None => "no worker has sent a heartbeat: nothing delivers the messages".to_owned(),
        Some(age) => format!("the newest worker heartbeat is {age:.0} s old (limit {HEARTBEAT_LIMIT_SECS:.0} s): no live worker"),
    };
    r.results.push(
        CheckResult::when(
            "a worker is live",
            h.heartbeat_age.is_some_and(|a| a < HEARTBEAT_LIMIT_SECS),
            message,
        )
        .fix("start a worker: `webhooks.createWorker().start()` in a long-running process"),
    );
    if let Some(age) = h.pending_age.filter(|a| *a >= BACKLOG_LIMIT_SECS) {
        r.warnings.push(CheckResult::fail(
            "delivery backlog",
            format!("the oldest due delivery has waited {age:.0} s (over {BACKLOG_LIMIT_SECS:.0} s): workers do not keep up"),
        ));
    }
    if h.blocked_lanes > 0 {
        r.warnings.push(CheckResult::fail(
            "blocked lanes",
            format!(
                "{} ordered lanes are blocked by an exhausted delivery; later messages wait behind it",
                h.blocked_lanes
            ),
        ));
    }
}

/// Whether `plan` (EXPLAIN's JSON) reads the whole of `webhook_deliveries`: a Seq Scan, or
/// (sequential scans being priced out) an index scan with no condition on the index, which
/// walks every entry.
#[must_use]
pub fn seq_scans_deliveries(plan: &Value) -> bool {
    match plan {
        Value::Object(o) => {
            let node = o
                .get("Node Type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let on_deliveries = o.get("Relation Name").and_then(Value::as_str)
                == Some("webhook_deliveries")
                || o.get("Index Name")
                    .and_then(Value::as_str)
                    .is_some_and(|i| i.starts_with("webhook_deliveries"));
            let whole = node == "Seq Scan"
                || (node.contains("Index")
                    && node.ends_with("Scan")
                    && !o.contains_key("Index Cond"));
            (on_deliveries && whole) || o.values().any(seq_scans_deliveries)
        }
        Value::Array(items) => items.iter().any(seq_scans_deliveries),
        _ => false,
    }
}

fn plans(plans: &[(String, Result<Value, String>)], r: &mut Report) {
    for (name, plan) in plans {
        let (ok, message) = match plan {
            Ok(p) if seq_scans_deliveries(p) => (
                false,
                format!("{name} scans webhook_deliveries sequentially: no index serves it"),
            ),
            Ok(_) => (true, String::new()),
            Err(e) => (false, format!("EXPLAIN {name} failed: {e}")),
        };
        r.results.push(
            CheckResult::when(format!("plan of {name} uses an index"), ok, message).fix(MIGRATE),
        );
    }
}

#[cfg(test)]
mod tests;
