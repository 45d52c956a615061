//! `better-webhooks check`: reads the catalog (as `better-tenant check` does), the schema
//! version, and in system context the secrets, heartbeats, backlog and (`--plans`) the plans of
//! the hot statements; the core judges them (`check::webhooks`). It writes nothing: the reads
//! run in a transaction that is rolled back.

use serde_json::Value;
use tokio_postgres::{Client, SimpleQueryMessage};
use usebetter_core::check::render;
use usebetter_core::check::webhooks::{
    self as judge, Health, Ssrf, WebhooksCheckConfig, WebhooksFacts,
};
use usebetter_core::webhooks::store::health::HOT_STATEMENTS;
use usebetter_core::webhooks::store::schema::TABLES;
use usebetter_core::webhooks::store::Store;
use usebetter_core::{CliFailure, Result};

use super::{rollback, Run};
use crate::db;
use crate::tenant::{json, pretty};
use crate::Outcome;

pub(super) async fn check(r: &Run<'_>) -> Result<Outcome> {
    let store = r.store();
    let client = r.client().await?;
    let schema = store.schema().to_owned();
    let mut facts = WebhooksFacts {
        catalog: db::read_catalog(&client, std::slice::from_ref(&schema)).await?,
        ..WebhooksFacts::default()
    };
    let has = |name: &str| {
        facts
            .catalog
            .tables
            .iter()
            .any(|t| t.schema == schema && t.name == format!("webhook_{name}"))
    };
    if has("meta") {
        facts.schema_version = db::maybe(&client, &store.schema_version().sql, &[])
            .await?
            .and_then(|row| row.get::<_, Option<String>>(0));
    }
    if TABLES.iter().all(|t| has(t)) {
        r.begin_system(&client).await?;
        let read = system_reads(r, &client, &mut facts).await;
        rollback(&client, read).await?;
        db::batch(&client, "ROLLBACK").await?;
    }
    let settings = &r.hooks.config().settings;
    let config = WebhooksCheckConfig {
        store,
        schema,
        allow_plaintext: settings.allow_plaintext_secrets,
        secrets: r.hooks.config().secrets.as_ref(),
        ssrf: if settings.proxy.is_some() {
            Ssrf::Proxy
        } else {
            Ssrf::Node
        },
        now_ms: super::now_ms(),
    };
    let report = judge::check(&facts, &config);
    let stdout = if r.json() {
        let mut v = json(&report)?;
        v["ssrf"] = Value::from(config.ssrf.as_str());
        format!("{}\n", pretty(&v)?)
    } else {
        render(&report)
    };
    Ok(Outcome::report(!report.passed, stdout))
}

async fn system_reads(r: &Run<'_>, client: &Client, facts: &mut WebhooksFacts) -> Result<()> {
    let store = r.store();
    let row = db::one(client, &store.health_facts().sql, &[]).await?;
    facts.health = Some(Health {
        clear_secrets: row.get(0),
        sealed_secrets: row.get(1),
        heartbeat_age: row.get(2),
        pending_age: row.get(3),
        blocked_lanes: row.get(4),
    });
    facts.sample = db::rows(client, &store.secret_sample().sql, &[])
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    if r.inv.has("plans") {
        let statements = store.statements();
        for name in HOT_STATEMENTS {
            let Some((_, statement)) = statements.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            db::batch(client, "SAVEPOINT plan").await?;
            let plan = explain(client, &Store::explain_sql(statement)).await;
            db::batch(client, "ROLLBACK TO SAVEPOINT plan").await?;
            // PREPARE outlives a rollback.
            let _ = client.batch_execute("DEALLOCATE ALL").await;
            facts.plans.push((name.to_owned(), plan));
        }
    }
    Ok(())
}

/// `EXPLAIN (FORMAT JSON)` of the prepared statement, as JSON (the simple protocol hands the
/// `json` column over as text).
async fn explain(
    client: &Client,
    (setup, explain): &(String, String),
) -> std::result::Result<Value, String> {
    client
        .batch_execute(setup)
        .await
        .map_err(|e| db::db_message(&e))?;
    let messages = client
        .simple_query(explain)
        .await
        .map_err(|e| db::db_message(&e))?;
    let text = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .ok_or_else(|| "EXPLAIN returned no plan".to_owned())?;
    serde_json::from_str(&text).map_err(|e| CliFailure::Internal.with(e.to_string()).to_string())
}
