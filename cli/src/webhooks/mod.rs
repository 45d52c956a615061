//! `better-webhooks` commands: the database and file I/O around the core's webhook DDL,
//! retention statements, catalog judgement and key sealing.

mod check;
mod keys;
mod ops;
mod purge;

use serde::Deserialize;
use tokio_postgres::Client;
use usebetter_core::bridge::webhooks::Webhooks;
use usebetter_core::cli::args::{parse_with, Invocation, Parsed};
use usebetter_core::cli::webhooks::{self as cli, WEBHOOKS};
use usebetter_core::webhooks::store::{schema_status, Store};
use usebetter_core::{CliFailure, Result};

use crate::store::Tables;
pub(crate) use crate::store::{now_ms, rollback};
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
        "replay" | "recover" | "lanes" | "endpoints" | "stats" => ops::operate(&run).await,
        other => Err(CliFailure::Usage.with(format!("error: unknown command '{other}'"))),
    }
}

impl Run<'_> {
    fn store(&self) -> &Store {
        &self.hooks.config().store
    }

    fn tables(&self) -> Tables<'_> {
        Tables {
            inv: &self.inv,
            ctx: &self.ctx.common,
            layout: self.store(),
        }
    }

    fn json(&self) -> bool {
        self.inv.has("json")
    }

    async fn client(&self) -> Result<Client> {
        self.tables().client().await
    }

    async fn begin_system(&self, client: &Client) -> Result<()> {
        self.tables().begin_system(client).await
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
        r.inv.has("prepare"),
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

/// The commands that work on the tables need them: `WEBHOOKS_SCHEMA_MISSING` /
/// `_OUTDATED` name `better-webhooks migrate`.
async fn require_schema(r: &Run<'_>, client: &Client) -> Result<()> {
    let (has_meta, version) = r.tables().schema_facts(client).await?;
    Ok(schema_status(has_meta, version.as_deref())?)
}

async fn migrate(r: &Run<'_>) -> Result<Outcome> {
    let ahead = cli::ahead("partitions", r.inv.value("partitions"))?;
    let sql = r.store().migration_sql(now_ms(), ahead);
    let (rls, json) = (r.store().rls(), r.json());
    r.tables()
        .migrate(&sql, |changed| cli::migrate_applied(changed, rls, json))
        .await
}

async fn ensure_partitions(r: &Run<'_>) -> Result<Outcome> {
    r.tables()
        .ensure_partitions(|has_meta, version| Ok(schema_status(has_meta, version)?))
        .await
}
