//! `better-tenant` commands: the file and database I/O around the core's pure CLI logic.
//! Output is collected and returned, so the JS bin only prints it and sets the exit code.

pub(crate) mod db;
pub(crate) mod doctor;
mod errors;
mod privileges;
pub(crate) mod tls;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use usebetter_core::check::{self, CheckConfig};
use usebetter_core::cli::{self, args::Invocation, args::Parsed};
use usebetter_core::policy::{self, MigrationConfig};

/// What the JS bin knows: where it runs, the loaded config, and the environment it forwards.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    pub cwd: String,
    pub version: String,
    /// The loaded `better.config.*` default export; `null` when no file was found.
    pub config: Option<Value>,
    pub database_url: Option<String>,
    /// Hardened-mode key, for signing the bypass in `seed` and `doctor`.
    pub hardened_key: Option<String>,
    /// `PGSSLMODE` / `PGSSLROOTCERT`.
    #[serde(flatten)]
    pub tls: tls::TlsEnv,
}

/// The result of one invocation.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub(crate) fn ok(stdout: String) -> Outcome {
        Outcome {
            code: 0,
            stdout,
            stderr: String::new(),
        }
    }

    pub fn fail(message: impl Into<String>) -> Outcome {
        let mut stderr = message.into();
        stderr.push('\n');
        Outcome {
            code: 1,
            stdout: String::new(),
            stderr,
        }
    }
}

/// Runs `args` (without the program name).
pub async fn run(args: &[String], ctx: &Context) -> Outcome {
    let inv = match cli::args::parse(args, &ctx.version) {
        Ok(Parsed::Print(text)) => return Outcome::ok(text),
        Ok(Parsed::Run(inv)) => inv,
        Err(e) => return Outcome::fail(e.0),
    };
    let result = match inv.command.as_str() {
        "init" => init(&inv, ctx),
        "migrate" => migrate(&inv, ctx).await,
        "add-table" => add_table(&inv, ctx),
        "check" => check_cmd(&inv, ctx, false).await,
        "doctor" => check_cmd(&inv, ctx, true).await,
        "seed" => seed(&inv, ctx).await,
        other => Err(format!("error: unknown command '{other}'")),
    };
    result.unwrap_or_else(Outcome::fail)
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

async fn load_config(inv: &Invocation, ctx: &Context) -> Result<MigrationConfig, String> {
    let loaded = ctx.config.as_ref().filter(|c| !c.is_null());
    let mut detected = Vec::new();
    if loaded.is_none() && !inv.has("tables") {
        // The snippet lists real tables when a database is at hand; an unreachable one is
        // simply not consulted here.
        if let Some(url) = database_url(inv, ctx) {
            if let Ok(client) = db::connect(url, &ctx.tls, &ctx.cwd).await {
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
) -> Result<Outcome, String> {
    // Shown as the reference shows it: the path as given, not resolved against the cwd.
    let shown = cli::output_path(inv.value("output"), &ctx.cwd, default_name);
    let path = resolve_path(ctx, &shown);
    let mut out = Outcome::default();
    if path.exists() {
        if !inv.has("force") {
            return Err(format!(
                "File already exists: {shown}\nUse --force to overwrite."
            ));
        }
        writeln!(out.stderr, "Warning: overwriting existing file {shown}").ok();
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create directory {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, contents).map_err(|e| format!("cannot write {shown}: {e}"))?;
    writeln!(out.stdout, "✓ Wrote {shown}").ok();
    Ok(out)
}

async fn migrate(inv: &Invocation, ctx: &Context) -> Result<Outcome, String> {
    let mut config = load_config(inv, ctx).await?;
    config.hardened |= inv.has("hardened");
    config.citus = inv.has("citus");
    let sql = policy::migration_sql(&config).map_err(|e| e.to_string())?;
    emit(
        inv,
        ctx,
        &format!("{}_better_tenant_rls.sql", now_stamp()),
        sql,
    )
}

/// `--dry-run` prints the SQL; otherwise it is written to `-o`.
fn emit(
    inv: &Invocation,
    ctx: &Context,
    default_name: &str,
    sql: String,
) -> Result<Outcome, String> {
    if inv.has("dry-run") {
        return Ok(Outcome::ok(sql));
    }
    write_output(inv, ctx, default_name, &sql)
}

fn add_table(inv: &Invocation, ctx: &Context) -> Result<Outcome, String> {
    let table = inv
        .positionals
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let schema = inv.value("schema").map(str::to_owned).or_else(|| {
        ctx.config
            .as_ref()?
            .get("tenant")?
            .get("schema")?
            .as_str()
            .map(str::to_owned)
    });
    let from_config = ctx
        .config
        .as_ref()
        .and_then(|c| c.get("tenant")?.get("hardened")?.as_bool())
        .unwrap_or(false);
    let config = MigrationConfig {
        schema,
        hardened: inv.has("hardened") || from_config,
        ..MigrationConfig::default()
    };
    let block = policy::add_table_sql(table, &config).map_err(|e| e.to_string())?;
    let sql = format!(
        "-- Better Tenant: RLS for {}\n-- Assumes tenants table and tenant_id column exist (managed by your ORM).\n-- Uses the functions created by `better-tenant migrate`.\n\n{block}",
        table.escape_debug()
    );
    emit(
        inv,
        ctx,
        &cli::add_table_file_name(&now_stamp(), table),
        sql,
    )
}

fn init(inv: &Invocation, ctx: &Context) -> Result<Outcome, String> {
    let tables = inv
        .value("tables")
        .ok_or("--tables is required in non-interactive mode")?;
    let orm = inv
        .value("orm")
        .ok_or("--orm is required in non-interactive mode")?;
    if orm != "drizzle" && orm != "prisma" {
        return Err("--orm must be 'drizzle' or 'prisma'".into());
    }
    let tables = cli::split_csv(tables);
    if tables.is_empty() {
        return Err("--tables requires at least one table name".into());
    }
    let path = resolve_path(ctx, cli::CONFIG_FILE);
    if path.exists() && !inv.has("overwrite") {
        return Err(format!(
            "{} already exists. Pass --overwrite to replace it.",
            cli::CONFIG_FILE
        ));
    }
    let hardened = !inv.has("plain");
    std::fs::write(&path, cli::init_config_file(&tables, hardened))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut stdout = format!("✓ Created {}\n", cli::CONFIG_FILE);
    if hardened {
        stdout.push_str(&write_key(ctx)?);
    }
    stdout.push_str("\nNext steps:\n");
    stdout.push_str(&cli::init_guide(orm, hardened));
    Ok(Outcome::ok(stdout))
}

/// Appends a fresh key to `.env` unless one is there; the line to print.
fn write_key(ctx: &Context) -> Result<String, String> {
    let path = resolve_path(ctx, cli::KEY_FILE);
    let existing = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    // Two v4 UUIDs: 244 random bits from the OS generator, as 64 hex characters.
    let key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    match cli::env_with_key(&existing, &key) {
        None => Ok(format!(
            "✓ Kept the {} already in {} (hardened mode)\n",
            cli::KEY_VARIABLE,
            cli::KEY_FILE
        )),
        Some(contents) => {
            std::fs::write(&path, contents)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(format!(
                "✓ Wrote a new {} to {} (hardened mode: keep it secret, out of git; pass --plain for the unsigned mode)\n",
                cli::KEY_VARIABLE,
                cli::KEY_FILE
            ))
        }
    }
}

async fn check_cmd(inv: &Invocation, ctx: &Context, live: bool) -> Result<Outcome, String> {
    let url = database_url(inv, ctx).ok_or_else(|| {
        format!(
            "{} requires --database-url or DATABASE_URL environment variable",
            inv.command
        )
    })?;
    let config = load_config(inv, ctx).await?;
    let check_config = CheckConfig {
        tenant_tables: config.tenant_tables.clone(),
        schema: config.schema.clone(),
        hardened: config.hardened,
        shared_tables: cli::shared_tables(ctx.config.as_ref())?,
    };
    let mut client = db::connect(url, &ctx.tls, &ctx.cwd).await?;
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
        let mut v = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        if let Some(p) = &probes {
            v["probes"] = serde_json::to_value(p).map_err(|e| e.to_string())?;
            v["passed"] = Value::Bool(passed);
        }
        format!(
            "{}\n",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        )
    } else {
        let mut text = check::render(&report);
        if let Some(p) = &probes {
            text.push_str(&doctor::render(p));
        }
        let rerun = format!("better-tenant {}", inv.command);
        let steps = check::next_steps(&report, &migrate_command(inv), &rerun);
        let steps = if steps.is_empty() && !probes_ok {
            format!("Next step: fix what the ✗ probes above show, then run `{rerun}` again.\n")
        } else {
            steps
        };
        if !steps.is_empty() && !text.ends_with("\n\n") {
            text.push('\n');
        }
        text.push_str(&steps);
        text
    };
    Ok(Outcome {
        code: i32::from(!passed),
        stdout,
        stderr: String::new(),
    })
}

/// `migrate` as this invocation would run it: the same config, schema and tables.
fn migrate_command(inv: &Invocation) -> String {
    let mut cmd = String::from("better-tenant migrate");
    for flag in ["config", "schema", "tables"] {
        if let Some(v) = inv.value(flag) {
            let _ = write!(cmd, " --{flag} {v}");
        }
    }
    cmd
}

async fn seed(inv: &Invocation, ctx: &Context) -> Result<Outcome, String> {
    let url = database_url(inv, ctx)
        .ok_or("seed requires --database-url or DATABASE_URL environment variable")?;
    let (name, slug) = cli::seed_input(inv.value("name").unwrap_or_default(), inv.value("slug"))?;
    let mut client = db::connect(url, &ctx.tls, &ctx.cwd).await?;
    let tx = client.transaction().await.map_err(|e| db::db_error(&e))?;
    doctor::enter_bypass(&tx, ctx.hardened_key.as_deref()).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let row = tx
        .query_one(
            "INSERT INTO tenants (id, name, slug) VALUES ($1::text::uuid, $2, $3) RETURNING id::text, name, slug",
            &[&id, &name, &slug],
        )
        .await
        .map_err(|e| match e.as_db_error().map(|d| d.code().code()) {
            Some("23505") => format!("seed: a tenant with slug {slug:?} already exists"),
            Some("42P01") => "seed: table tenants not found: create it with your ORM's migration first".into(),
            _ => format!("seed: {}", db::db_error(&e)),
        })?;
    tx.commit().await.map_err(|e| db::db_error(&e))?;
    let (id, name, slug): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    let stdout = if inv.has("json") {
        format!(
            "{}\n",
            serde_json::json!({ "id": id, "name": name, "slug": slug })
        )
    } else {
        format!("✓ Created tenant: {name} ({slug})\n{id}\n")
    };
    Ok(Outcome::ok(stdout))
}
