//! `better-tenant` commands: the file and database I/O around the core's pure CLI logic
//! (`usebetter_core::cli::tenant`).

pub(crate) mod doctor;
mod privileges;

use std::path::{Path, PathBuf};

use serde_json::Value;
use usebetter_core::check::{self, probes, CheckConfig};
use usebetter_core::cli::args::{Invocation, Parsed};
use usebetter_core::cli::tenant as cli;
use usebetter_core::policy::{self, MigrationConfig};
use usebetter_core::{CliFailure, Error, Result};

use crate::db::{self, connect};
use crate::{Context, Outcome};

/// Runs `args` (without the program name).
pub async fn run(args: &[String], ctx: &Context) -> Result<Outcome> {
    let inv = match cli::parse(args, &ctx.version)? {
        Parsed::Print(text) => return Ok(Outcome::ok(text)),
        Parsed::Run(inv) => inv,
    };
    match inv.command.as_str() {
        "init" => init(&inv, ctx),
        "migrate" => migrate(&inv, ctx).await,
        "add-table" => add_table(&inv, ctx),
        "check" => check_cmd(&inv, ctx, false).await,
        "doctor" => check_cmd(&inv, ctx, true).await,
        "seed" => seed(&inv, ctx).await,
        other => Err(CliFailure::Usage.with(format!("error: unknown command '{other}'"))),
    }
}

fn database_url<'a>(inv: &'a Invocation, ctx: &'a Context) -> Option<&'a str> {
    inv.value("database-url")
        .or(ctx.database_url.as_deref())
        .filter(|u| !u.is_empty())
}

fn resolve_path(ctx: &Context, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_owned()
    } else {
        Path::new(&ctx.cwd).join(p)
    }
}

fn file_error(what: &str, path: impl std::fmt::Display, e: &std::io::Error) -> Error {
    CliFailure::File.with(format!("cannot {what} {path}: {e}"))
}

fn now_stamp() -> String {
    use chrono::{Datelike, Timelike};
    let n = chrono::Local::now();
    cli::timestamp([
        u32::try_from(n.year()).unwrap_or(0),
        n.month(),
        n.day(),
        n.hour(),
        n.minute(),
        n.second(),
    ])
}

async fn load_config(inv: &Invocation, ctx: &Context) -> Result<MigrationConfig> {
    let loaded = ctx.config.as_ref().filter(|c| !c.is_null());
    let mut detected = Vec::new();
    if loaded.is_none() && !inv.has("tables") {
        // The snippet lists real tables when a database is at hand; an unreachable one is
        // simply not consulted here.
        if let Some(url) = database_url(inv, ctx) {
            if let Ok(client) = connect(url, &ctx.tls, &ctx.cwd).await {
                detected = db::detect_tables(&client).await.unwrap_or_default();
            }
        }
    }
    cli::tenant_config(
        loaded,
        inv.value("tables"),
        inv.value("schema"),
        &ctx.cwd,
        &detected,
    )
}

/// Writes `contents` to `-o` (a `.sql` file, or a directory that gets `default_name`).
fn write_output(
    inv: &Invocation,
    ctx: &Context,
    default_name: &str,
    contents: &str,
) -> Result<Outcome> {
    // Shown as the reference shows it: the path as given, not resolved against the cwd.
    let shown = cli::output_path(inv.value("output"), &ctx.cwd, default_name);
    let path = resolve_path(ctx, &shown);
    let mut out = Outcome::default();
    if path.exists() {
        if !inv.has("force") {
            return Err(cli::file_exists(&shown));
        }
        out.stderr.push_str(&cli::overwriting(&shown));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| file_error("create directory", parent.display(), &e))?;
    }
    std::fs::write(&path, contents).map_err(|e| file_error("write", &shown, &e))?;
    out.stdout.push_str(&cli::wrote(&shown));
    Ok(out)
}

async fn migrate(inv: &Invocation, ctx: &Context) -> Result<Outcome> {
    let mut config = load_config(inv, ctx).await?;
    config.hardened |= inv.has("hardened");
    config.citus = inv.has("citus");
    let sql = policy::migration_sql(&config)?;
    emit(inv, ctx, &cli::migrate_file_name(&now_stamp()), sql)
}

/// `--dry-run` prints the SQL; otherwise it is written to `-o`.
fn emit(inv: &Invocation, ctx: &Context, default_name: &str, sql: String) -> Result<Outcome> {
    if inv.has("dry-run") {
        return Ok(Outcome::ok(sql));
    }
    write_output(inv, ctx, default_name, &sql)
}

fn add_table(inv: &Invocation, ctx: &Context) -> Result<Outcome> {
    let table = inv
        .positionals
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let tenant = ctx.config.as_ref().and_then(|c| c.get("tenant"));
    let schema = inv
        .value("schema")
        .map(str::to_owned)
        .or_else(|| tenant?.get("schema")?.as_str().map(str::to_owned));
    let from_config = tenant
        .and_then(|t| t.get("hardened")?.as_bool())
        .unwrap_or(false);
    let config = MigrationConfig {
        schema,
        hardened: inv.has("hardened") || from_config,
        ..MigrationConfig::default()
    };
    let block = policy::add_table_sql(table, &config)?;
    emit(
        inv,
        ctx,
        &cli::add_table_file_name(&now_stamp(), table),
        cli::add_table_file(table, &block),
    )
}

fn init(inv: &Invocation, ctx: &Context) -> Result<Outcome> {
    let (tables, orm) = cli::init_request(inv.value("tables"), inv.value("orm"))?;
    let path = resolve_path(ctx, cli::CONFIG_FILE);
    if path.exists() && !inv.has("overwrite") {
        return Err(cli::config_exists());
    }
    let hardened = !inv.has("plain");
    std::fs::write(&path, cli::init_config_file(&tables, hardened))
        .map_err(|e| file_error("write", path.display(), &e))?;
    let mut stdout = format!("✓ Created {}\n", cli::CONFIG_FILE);
    if hardened {
        stdout.push_str(&write_key(ctx)?);
    }
    stdout.push_str("\nNext steps:\n");
    stdout.push_str(&cli::init_guide(orm, hardened));
    Ok(Outcome::ok(stdout))
}

/// Appends a fresh key to `.env` unless one is there; the line to print.
fn write_key(ctx: &Context) -> Result<String> {
    let path = resolve_path(ctx, cli::KEY_FILE);
    let existing = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(file_error("read", path.display(), &e)),
    };
    // Two v4 UUIDs: 244 random bits from the OS generator, as 64 hex characters.
    let key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let written = match cli::env_with_key(&existing, &key) {
        None => false,
        Some(contents) => {
            std::fs::write(&path, contents).map_err(|e| file_error("write", path.display(), &e))?;
            true
        }
    };
    Ok(cli::key_line(written))
}

async fn check_cmd(inv: &Invocation, ctx: &Context, live: bool) -> Result<Outcome> {
    let url = database_url(inv, ctx).ok_or_else(|| cli::needs_database(&inv.command))?;
    let config = load_config(inv, ctx).await?;
    let check_config = CheckConfig {
        tenant_tables: config.tenant_tables.clone(),
        schema: config.schema.clone(),
        hardened: config.hardened,
        shared_tables: cli::shared_tables(ctx.config.as_ref())?,
    };
    let mut client = connect(url, &ctx.tls, &ctx.cwd).await?;
    let catalog = db::read_catalog(&client, &check_config.schemas()).await?;
    let report = check::check(&catalog, &check_config);
    let probes = if live {
        let mut all = privileges::probes(&mut client, &catalog, &check_config).await?;
        all.extend(
            doctor::probes(
                &mut client,
                &catalog,
                &check_config,
                ctx.hardened_key.as_deref(),
            )
            .await?,
        );
        Some(all)
    } else {
        None
    };
    let probes_ok = probes.as_ref().is_none_or(|p| p.iter().all(|r| r.passed));
    let passed = report.passed && probes_ok;
    let stdout = if inv.has("json") {
        let mut v = json(&report)?;
        if let Some(p) = &probes {
            v["probes"] = json(p)?;
            v["passed"] = Value::Bool(passed);
        }
        format!("{}\n", pretty(&v)?)
    } else {
        let mut text = check::render(&report);
        if let Some(p) = &probes {
            text.push_str(&probes::render(p));
        }
        let rerun = format!("better-tenant {}", inv.command);
        let migrate = cli::migrate_command(
            inv.value("config"),
            inv.value("schema"),
            inv.value("tables"),
        );
        let steps = check::next_steps(&report, &migrate, &rerun);
        let steps = if steps.is_empty() && !probes_ok {
            cli::probes_failed_step(&rerun)
        } else {
            steps
        };
        if !steps.is_empty() && !text.ends_with("\n\n") {
            text.push('\n');
        }
        text.push_str(&steps);
        text
    };
    Ok(Outcome::report(!passed, stdout))
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| CliFailure::Internal.with(e.to_string()))
}

pub(crate) fn pretty(v: &Value) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| CliFailure::Internal.with(e.to_string()))
}

async fn seed(inv: &Invocation, ctx: &Context) -> Result<Outcome> {
    let url = database_url(inv, ctx).ok_or_else(|| cli::needs_database("seed"))?;
    let (name, slug) = cli::seed_input(inv.value("name").unwrap_or_default(), inv.value("slug"))?;
    let mut client = connect(url, &ctx.tls, &ctx.cwd).await?;
    let tx = client.transaction().await.map_err(|e| db::db_error(&e))?;
    doctor::enter_bypass(&tx, ctx.hardened_key.as_deref()).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let row = tx
        .query_one(cli::seed_sql().as_str(), &[&id, &name, &slug])
        .await
        .map_err(|e| {
            let state = e.as_db_error().map(|d| d.code().code());
            cli::seed_failure(state, &slug, &db::db_message(&e))
        })?;
    tx.commit().await.map_err(|e| db::db_error(&e))?;
    let (id, name, slug): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    Ok(Outcome::ok(cli::seed_output(
        &id,
        &name,
        &slug,
        inv.has("json"),
    )))
}
