//! `better-email` commands: the database and file I/O around the core's email DDL, retention
//! statements and catalog judgement (`usebetter_core::{email::store, check::email}`).

mod check;
mod messages;
mod purge;
mod senders;
mod stats;
mod suppressions;

use tokio_postgres::types::ToSql;
use usebetter_core::cli::args::{parse_with, Invocation, Parsed};
use usebetter_core::cli::email::{self as cli, EmailCli, EMAIL};
use usebetter_core::email::store::operator::Action;
use usebetter_core::email::store::{schema_status, Statement, Store};
use usebetter_core::webhooks::ids::IdKind;
use usebetter_core::{CliFailure, Result};

use crate::bound::{bind, row_json};
use crate::db;
use crate::store::{now_ms, Tables};
use crate::Outcome;

pub(crate) struct Run<'a> {
    inv: Invocation,
    ctx: &'a crate::Context,
    email: EmailCli,
}

/// Runs `args` (without the program name).
pub async fn run(args: &[String], ctx: &crate::Context) -> Result<Outcome> {
    let inv = match parse_with(&EMAIL, args, &ctx.version)? {
        Parsed::Print(text) => return Ok(Outcome::ok(text)),
        Parsed::Run(inv) => inv,
    };
    // A file, not the database: no config needed.
    if inv.command == "check" {
        if let Some(path) = inv.value("dkim-sample") {
            return check::dkim_sample(&inv, ctx, path);
        }
    }
    let rls = if inv.command == "migrate" {
        cli::rls_flag(inv.has("rls"), inv.has("no-rls"))?
    } else {
        None
    };
    let email = cli::email_config(ctx.config.as_ref(), rls)?;
    let run = Run { inv, ctx, email };
    match run.inv.command.as_str() {
        "migrate" => migrate(&run).await,
        "check" => check::check(&run).await,
        "purge" => purge::purge(&run).await,
        "ensure-partitions" => {
            run.tables()
                .ensure_partitions(|has_meta, version| Ok(schema_status(has_meta, version)?))
                .await
        }
        "worker" => worker(&run).await,
        "preview" => preview(&run).await,
        "resolve" | "retry" | "cancel" => operate(&run).await,
        "suppressions" => suppressions::run(&run).await,
        "senders" => senders::run(&run).await,
        "messages" => messages::run(&run).await,
        "stats" => stats::run(&run).await,
        other => Err(CliFailure::Usage.with(format!("error: unknown command '{other}'"))),
    }
}

impl Run<'_> {
    fn store(&self) -> &Store {
        &self.email.store
    }

    /// Runs `statement` with the core's JSON `values` in one system-context transaction, after
    /// checking the schema; `judge` reads the rows (as JSON) before COMMIT, and its error rolls
    /// the transaction back, so a refused call writes nothing.
    async fn system_json<T>(
        &self,
        statement: &Statement,
        values: &[serde_json::Value],
        judge: impl FnOnce(Vec<serde_json::Value>) -> Result<T>,
    ) -> Result<T> {
        let params = bind(statement, values)?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let client = self.tables().client().await?;
        let (has_meta, version) = self.tables().schema_facts(&client).await?;
        schema_status(has_meta, version.as_deref())?;
        self.tables().begin_system(&client).await?;
        let outcome = async {
            let rows = db::rows(&client, &statement.sql, &refs).await?;
            judge(rows.iter().map(row_json).collect::<Result<Vec<_>>>()?)
        }
        .await;
        db::batch(
            &client,
            if outcome.is_ok() {
                "COMMIT"
            } else {
                "ROLLBACK"
            },
        )
        .await?;
        outcome
    }

    /// `--tenant <uuid>`, checked.
    fn tenant_flag(&self) -> Result<Option<uuid::Uuid>> {
        self.inv
            .value("tenant")
            .map(|t| {
                uuid::Uuid::parse_str(t).map_err(|_| {
                    CliFailure::Usage.with(format!("error: --tenant {t:?} is not a UUID"))
                })
            })
            .transpose()
    }

    fn tables(&self) -> Tables<'_> {
        Tables {
            inv: &self.inv,
            ctx: self.ctx,
            layout: self.store(),
        }
    }
}

/// `worker`: checks the options, the database and its schema here (so a missing table names
/// `better-email migrate` before any mail is handed off), then hands the `email` section back to
/// the bin, whose process runs the package's delivery engine with the section's transports.
async fn worker(r: &Run<'_>) -> Result<Outcome> {
    let mut options = usebetter_core::cli::webhooks::worker_options(
        Some(r.inv.value("concurrency").unwrap_or("16")),
        r.inv.has("once"),
        r.inv.value("max-seconds"),
        r.inv.has("prepare"),
    )?;
    options["json"] = r.tables().json().into();
    let client = r.tables().client().await?;
    let (has_meta, version) = r.tables().schema_facts(&client).await?;
    schema_status(has_meta, version.as_deref())?;
    let url = r
        .inv
        .value("database-url")
        .or(r.ctx.database_url.as_deref())
        .unwrap_or_default();
    Ok(Outcome {
        handoff: Some(serde_json::json!({
            "command": "worker",
            "config": r.ctx.config.as_ref().and_then(|c| c.get("email")).cloned().unwrap_or_default(),
            "databaseUrl": url,
            "options": options,
        })),
        ..Outcome::default()
    })
}

/// `preview`: checks the options and the schema (stored overrides are read from it), then hands
/// the `email` section back to the bin, whose process renders the section's templates.
async fn preview(r: &Run<'_>) -> Result<Outcome> {
    let mut options = cli::preview_options(r.inv.value("port"), r.inv.value("tenant"))?;
    options["json"] = r.tables().json().into();
    let client = r.tables().client().await?;
    let (has_meta, version) = r.tables().schema_facts(&client).await?;
    schema_status(has_meta, version.as_deref())?;
    Ok(Outcome {
        handoff: Some(serde_json::json!({
            "command": "preview",
            "databaseUrl": r.inv.value("database-url").or(r.ctx.database_url.as_deref()).unwrap_or_default(),
            "options": options,
        })),
        ..Outcome::default()
    })
}

async fn migrate(r: &Run<'_>) -> Result<Outcome> {
    let ahead = cli::ahead("partitions", r.inv.value("partitions"))?;
    let sql = r.store().migration_sql(now_ms(), ahead);
    let (rls, json) = (r.store().rls(), r.tables().json());
    r.tables()
        .migrate(&sql, |changed| cli::migrate_applied(changed, rls, json))
        .await
}

/// `resolve <id> --resend|--drop`, `retry <id>`, `cancel <id>`: one message, in system context.
async fn operate(r: &Run<'_>) -> Result<Outcome> {
    let action = match (
        r.inv.command.as_str(),
        r.inv.has("resend"),
        r.inv.has("drop"),
    ) {
        ("resolve", true, false) => Action::Resend,
        ("resolve", false, true) => Action::Drop,
        ("resolve", ..) => {
            return Err(
                CliFailure::Usage.with("error: resolve takes exactly one of --resend or --drop")
            )
        }
        ("retry", ..) => Action::Retry,
        _ => Action::Cancel,
    };
    let id = r
        .inv
        .positionals
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let uuid = usebetter_core::webhooks::ids::decode("eml_id", IdKind::Email, id)
        .map(uuid::Uuid::from_bytes)
        .map_err(|e| CliFailure::Usage.with(format!("error: {e}")))?;
    let statement = r.store().email_transition();
    let client = r.tables().client().await?;
    let (has_meta, version) = r.tables().schema_facts(&client).await?;
    schema_status(has_meta, version.as_deref())?;
    let from: Vec<&str> = action.from().to_vec();
    let note = action.note();
    r.tables().begin_system(&client).await?;
    let row = crate::db::maybe(
        &client,
        &statement.sql,
        &[&uuid, &from, &action.to(), &note, &None::<uuid::Uuid>],
    )
    .await?;
    crate::db::batch(&client, "COMMIT").await?;
    let found = row.map(|row| (row.get::<_, String>(0), row.get::<_, bool>(1)));
    let status = action
        .judge(id, found.as_ref().map(|(s, c)| (s.as_str(), *c)))
        .map_err(usebetter_core::Error::from)?;
    Ok(Outcome::ok(format!("{id}: {status}\n")))
}
