//! `better-audit` commands: the database I/O around the core's DDL, retention plan, chain
//! statements and seals.

mod chain;
mod check;
mod migrate;
mod purge;
mod seal;

use serde::Deserialize;
use tokio_postgres::Client;
use usebetter_core::audit::cli_sql::RELATION_KIND;
use usebetter_core::audit::purge::{self as plan, Partition};
use usebetter_core::audit::storage::{self, Table};
use usebetter_core::cli::args::{parse_with, Invocation, Parsed};
use usebetter_core::cli::audit::{self as cli, audit_config, tenancy, AuditConfig, AUDIT};
use usebetter_core::policy::audit::audit_rls_sql;
use usebetter_core::policy::MigrationConfig;
use usebetter_core::{CliFailure, Result};

use crate::db::{self, connect};
use crate::tenant::doctor::enter_bypass;
use crate::Outcome;

/// `better-tenant`'s context plus the seal key.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    #[serde(flatten)]
    pub common: crate::Context,
    /// `AUDIT_SEAL_KEY`: the HMAC key for seals, kept out of the database.
    pub seal_key: Option<String>,
}

impl std::ops::Deref for Context {
    type Target = crate::Context;

    fn deref(&self) -> &crate::Context {
        &self.common
    }
}

pub(crate) struct Run<'a> {
    inv: Invocation,
    ctx: &'a Context,
    config: AuditConfig,
    /// The `tenant` section: the audit table is isolated by tenant, so the commands that read or
    /// rewrite entries run in the system scope.
    tenancy: Option<MigrationConfig>,
    table: Table,
}

/// Runs `args` (without the program name).
pub async fn run(args: &[String], ctx: &Context) -> Result<Outcome> {
    let inv = match parse_with(&AUDIT, args, &ctx.version)? {
        Parsed::Print(text) => return Ok(Outcome::ok(text)),
        Parsed::Run(inv) => inv,
    };
    let config = audit_config(ctx.config.as_ref())?;
    let table = Table::new(inv.value("schema").unwrap_or("public"))?;
    let tenancy = tenancy(ctx.config.as_ref(), &ctx.cwd)?;
    let run = Run {
        inv,
        ctx,
        config,
        tenancy,
        table,
    };
    match run.inv.command.as_str() {
        "migrate" => migrate::migrate(&run).await,
        "check" => check::check(&run).await,
        "ensure-partitions" => ensure_partitions(&run).await,
        "purge" => purge::purge(&run).await,
        "seal" => seal::seal(&run).await,
        "verify" => chain::verify(&run).await,
        "anchor" => chain::anchor(&run).await,
        "stats" => chain::stats(&run).await,
        "export" => chain::export(&run).await,
        other => Err(CliFailure::Usage.with(format!("error: unknown command '{other}'"))),
    }
}

impl Run<'_> {
    async fn client(&self) -> Result<Client> {
        let url = self
            .inv
            .value("database-url")
            .or(self.ctx.database_url.as_deref())
            .filter(|u| !u.is_empty())
            .ok_or_else(cli::no_database)?;
        connect(url, &self.ctx.tls, &self.ctx.cwd).await
    }

    /// `BEGIN`, then (with tenancy) the system scope: the entries of every chain are visible
    /// under the FORCE ROW LEVEL SECURITY that `migrate` puts on the audit table.
    async fn begin(&self, client: &Client) -> Result<()> {
        db::batch(client, "BEGIN").await?;
        let Some(tenancy) = &self.tenancy else {
            return Ok(());
        };
        let key = cli::system_scope_key(tenancy.hardened, self.ctx.hardened_key.as_deref())?;
        enter_bypass(client, key).await
    }

    /// A connection inside one transaction in the system scope, for the commands that only read.
    async fn reader(&self) -> Result<Client> {
        let client = self.client().await?;
        self.require_table(&client).await?;
        self.begin(&client).await?;
        Ok(client)
    }

    /// The commands that read or rewrite entries need the table: name the command that makes it.
    async fn require_table(&self, client: &Client) -> Result<()> {
        if kind(client, &self.table).await?.is_some() {
            return Ok(());
        }
        Err(cli::table_missing(
            &self.table.logs(),
            self.inv.value("schema"),
        ))
    }

    /// The tenant isolation of the audit table and its partitions, with tenancy; else nothing.
    fn rls_sql(&self) -> Result<String> {
        self.tenancy.as_ref().map_or(Ok(String::new()), |t| {
            audit_rls_sql(t, &self.table.logs(), &self.table.checkpoints())
        })
    }

    fn now(&self) -> i64 {
        crate::now_micros()
    }

    /// The key that seals or verifies: at least 32 bytes, or none with `--unkeyed`.
    fn seal_key(&self) -> Result<Option<Vec<u8>>> {
        let key = self.key()?;
        usebetter_core::audit::chain::seal_key(key.as_deref(), self.inv.has("unkeyed"), "--unkeyed")
            .map(|k| k.map(<[u8]>::to_vec))
    }

    fn key(&self) -> Result<Option<Vec<u8>>> {
        if let Some(path) = self.inv.value("key-file") {
            let full = std::path::Path::new(&self.ctx.cwd).join(path);
            let text = std::fs::read_to_string(&full).map_err(|e| {
                CliFailure::File.with(format!("cannot read --key-file {}: {e}", full.display()))
            })?;
            return Ok(Some(
                text.trim_end_matches(['\n', '\r']).as_bytes().to_vec(),
            ));
        }
        Ok(self
            .ctx
            .seal_key
            .as_ref()
            .filter(|k| !k.is_empty())
            .map(|k| k.as_bytes().to_vec()))
    }
}

/// `relkind` of the audit table: `r` plain, `p` partitioned, `None` missing.
pub(crate) async fn kind(client: &Client, t: &Table) -> Result<Option<String>> {
    let row = db::maybe(client, RELATION_KIND, &[&t.logs()]).await?;
    Ok(row.map(|r| r.get(0)))
}

async fn ensure_partitions(r: &Run<'_>) -> Result<Outcome> {
    let client = r.client().await?;
    r.require_table(&client).await?;
    if kind(&client, &r.table).await?.as_deref() != Some("p") {
        return Err(cli::not_partitioned());
    }
    let months = cli::months(r.inv.value("months"))?;
    // New partitions get the tenant policy: a query naming a partition skips the parent's.
    let sql = storage::partitions_sql(&r.table, r.now(), months) + &r.rls_sql()?;
    db::batch(&client, &format!("BEGIN;\n{sql}COMMIT;")).await?;
    Ok(Outcome::ok(cli::partitions_ready(months)))
}

async fn partitions(client: &Client, t: &Table) -> Result<Vec<Partition>> {
    let rows = db::rows(client, plan::PARTITIONS, &[&t.logs()]).await?;
    Ok(rows
        .iter()
        .map(|row| plan::partition(row.get(0), &row.get::<_, String>(1)))
        .collect())
}
