//! `better-webhooks` commands: the database and file I/O around the core's webhook DDL,
//! retention statements, catalog judgement and key sealing.

mod check;
mod keys;
mod purge;

use serde::Deserialize;
use tokio_postgres::Client;
use usebetter_core::audit::cli_sql::SCHEMA_DIGEST;
use usebetter_core::bridge::webhooks::Webhooks;
use usebetter_core::cli::args::{parse_with, Invocation, Parsed};
use usebetter_core::cli::audit::{no_database, system_scope_key};
use usebetter_core::cli::webhooks::{self as cli, WEBHOOKS};
use usebetter_core::webhooks::store::{schema_status, Store};
use usebetter_core::{CliFailure, Result};

use crate::db::{self, connect};
use crate::tenant::doctor::enter_bypass;
use crate::Outcome;

/// `better-tenant`'s context plus the secrets keys.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    #[serde(flatten)]
    pub common: crate::Context,
    /// `BETTER_WEBHOOKS_KEY`: the key-encryption key of endpoint secrets.
    pub secrets_key: Option<String>,
    /// `BETTER_WEBHOOKS_KEY_PREVIOUS`: the key it replaces, during a key change.
    pub secrets_key_previous: Option<String>,
}

pub(crate) struct Run<'a> {
    inv: Invocation,
    ctx: &'a Context,
    hooks: Webhooks,
}

/// Runs `args` (without the program name).
pub async fn run(args: &[String], ctx: &Context) -> Result<Outcome> {
    let inv = match parse_with(&WEBHOOKS, args, &ctx.common.version)? {
        Parsed::Print(text) => return Ok(Outcome::ok(text)),
        Parsed::Run(inv) => inv,
    };
    if inv.command == "keys" {
        return keys::generate(&inv);
    }
    if inv.command == "listen" {
        let mut options =
            cli::listen_options(inv.value("port"), inv.value("secret"), inv.value("status"))?;
        options["command"] = "listen".into();
        options["json"] = inv.has("json").into();
        return Ok(Outcome {
            handoff: Some(options),
            ..Outcome::default()
        });
    }
    let rls = if inv.command == "migrate" {
        cli::rls_flag(inv.has("rls"), inv.has("no-rls"))?
    } else {
        None
    };
    let section = cli::webhooks_section(
        ctx.common.config.as_ref(),
        ctx.secrets_key.as_deref(),
        ctx.secrets_key_previous.as_deref(),
        rls,
    )?;
    let hooks = Webhooks::new(&section, false)?;
    let run = Run { inv, ctx, hooks };
    match run.inv.command.as_str() {
        "migrate" => migrate(&run).await,
        "check" => check::check(&run).await,
        "purge" => purge::purge(&run).await,
        "ensure-partitions" => ensure_partitions(&run).await,
        "rekey" => keys::rekey(&run).await,
        "worker" => worker(&run, section).await,
        other => Err(CliFailure::Usage.with(format!("error: unknown command '{other}'"))),
    }
}

impl Run<'_> {
    fn store(&self) -> &Store {
        &self.hooks.config().store
    }

    fn json(&self) -> bool {
        self.inv.has("json")
    }

    async fn client(&self) -> Result<Client> {
        let url = self
            .inv
            .value("database-url")
            .or(self.ctx.common.database_url.as_deref())
            .filter(|u| !u.is_empty())
            .ok_or_else(no_database)?;
        connect(url, &self.ctx.common.tls, &self.ctx.common.cwd).await
    }

    /// `BEGIN`, then (with tenancy) the system scope: the engine's own reads and writes span
    /// every tenant under the FORCE ROW LEVEL SECURITY that `migrate` puts on the tables.
    async fn begin_system(&self, client: &Client) -> Result<()> {
        db::batch(client, "BEGIN").await?;
        if !self.store().rls() {
            return Ok(());
        }
        let key = system_scope_key(
            self.store().hardened(),
            self.ctx.common.hardened_key.as_deref(),
        )?;
        enter_bypass(client, key).await
    }
}

/// `worker`: checks the options, the database and its schema here (so a missing table names
/// `better-webhooks migrate` before any delivery starts), then hands the configuration back to
/// the bin, whose process runs the package's delivery engine.
async fn worker(r: &Run<'_>, section: serde_json::Value) -> Result<Outcome> {
    let mut options = cli::worker_options(
        r.inv.value("concurrency"),
        r.inv.has("once"),
        r.inv.value("max-seconds"),
    )?;
    options["json"] = r.json().into();
    let client = r.client().await?;
    require_schema(r, &client).await?;
    let url = r
        .inv
        .value("database-url")
        .or(r.ctx.common.database_url.as_deref())
        .unwrap_or_default();
    Ok(Outcome {
        handoff: Some(serde_json::json!({
            "command": "worker",
            "config": section,
            "databaseUrl": url,
            "options": options,
        })),
        ..Outcome::default()
    })
}

fn now_ms() -> i64 {
    crate::now_micros() / 1000
}

/// The commands that work on the tables need them: `WEBHOOKS_SCHEMA_MISSING` /
/// `_OUTDATED` name `better-webhooks migrate`.
async fn require_schema(r: &Run<'_>, client: &Client) -> Result<()> {
    let probe = db::one(client, &r.store().schema_probe().sql, &[]).await?;
    let has_meta: bool = probe.get(1);
    let version = if has_meta {
        db::maybe(client, &r.store().schema_version().sql, &[])
            .await?
            .and_then(|row| row.get::<_, Option<String>>(0))
    } else {
        None
    };
    Ok(schema_status(has_meta, version.as_deref())?)
}

/// Rolls back after a failure inside a transaction, keeping the failure.
async fn rollback<T>(client: &Client, result: Result<T>) -> Result<T> {
    if result.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}

async fn migrate(r: &Run<'_>) -> Result<Outcome> {
    let ahead = cli::ahead("partitions", r.inv.value("partitions"))?;
    let sql = r.store().migration_sql(now_ms(), ahead);
    if let Some(path) = r.inv.value("output") {
        let full = std::path::Path::new(&r.ctx.common.cwd).join(path);
        std::fs::write(&full, &sql)
            .map_err(|e| CliFailure::File.with(format!("cannot write {}: {e}", full.display())))?;
        return Ok(Outcome::ok(format!("wrote {}\n", full.display())));
    }
    if r.inv.has("dry-run") {
        return Ok(Outcome::ok(sql));
    }
    let client = r.client().await?;
    let digest = || async {
        db::one(&client, SCHEMA_DIGEST, &[])
            .await
            .map(|row| row.get::<_, String>(0))
    };
    db::batch(&client, "BEGIN").await?;
    let applied = async {
        let before = digest().await?;
        db::batch(&client, &sql).await?;
        Ok(before != digest().await?)
    }
    .await;
    let changed = rollback(&client, applied).await?;
    db::batch(&client, "COMMIT").await?;
    Ok(Outcome::ok(cli::migrate_applied(
        changed,
        r.store().rls(),
        r.json(),
    )))
}

async fn ensure_partitions(r: &Run<'_>) -> Result<Outcome> {
    let ahead = cli::ahead("ahead", r.inv.value("ahead"))?;
    let client = r.client().await?;
    require_schema(r, &client).await?;
    let sql = r.store().ensure_partitions_sql(now_ms(), ahead);
    db::batch(&client, &format!("BEGIN;\n{sql}COMMIT;")).await?;
    Ok(Outcome::ok(cli::partitions_ready(
        r.store().partition_width(),
        ahead,
        r.json(),
    )))
}
