//! `better-audit` commands: the database I/O around the core's DDL, retention plan and seals.

mod chain;
mod check;
mod migrate;

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value;
use tokio_postgres::Client;
use usebetter_core::audit::storage::{self, Partition, PurgeStep, Table};
use usebetter_core::audit::{duration, time};
use usebetter_core::cli::args::{parse_with, Invocation, Parsed};
use usebetter_core::cli::audit::{audit_config, tenancy, AuditConfig, AUDIT};
use usebetter_core::policy::audit::audit_rls_sql;
use usebetter_core::policy::MigrationConfig;

use crate::cli::db::{connect, db_error};
use crate::cli::doctor::enter_bypass;
use crate::cli::Outcome;

/// What the JS bin knows: where it runs, the loaded config, and the environment it forwards.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    pub cwd: String,
    pub version: String,
    pub config: Option<Value>,
    pub database_url: Option<String>,
    /// `AUDIT_SEAL_KEY`: the HMAC key for seals, kept out of the database.
    pub seal_key: Option<String>,
    /// `BETTER_TENANT_HARDENED_KEY`: signs the system scope when tenancy is hardened.
    pub hardened_key: Option<String>,
    /// `PGSSLMODE` / `PGSSLROOTCERT`.
    #[serde(flatten)]
    pub tls: crate::cli::tls::TlsEnv,
}

pub(crate) struct Run<'a> {
    inv: Invocation,
    ctx: &'a Context,
    config: AuditConfig,
    /// The `tenant` section: `audit_logs` is isolated by tenant, so the commands that read or
    /// rewrite entries run in the system scope.
    tenancy: Option<MigrationConfig>,
    table: Table,
}

/// Runs `args` (without the program name).
pub async fn run(args: &[String], ctx: &Context) -> Outcome {
    let inv = match parse_with(&AUDIT, args, &ctx.version) {
        Ok(Parsed::Print(text)) => return Outcome::ok(text),
        Ok(Parsed::Run(inv)) => inv,
        Err(e) => return Outcome::fail(e.0),
    };
    let setup = audit_config(ctx.config.as_ref()).and_then(|config| {
        let schema = inv.value("schema").unwrap_or("public");
        let table = Table::new(schema).map_err(|e| e.to_string())?;
        let tenancy = tenancy(ctx.config.as_ref(), &ctx.cwd)?;
        Ok(Run {
            inv,
            ctx,
            config,
            tenancy,
            table,
        })
    });
    let run = match setup {
        Ok(r) => r,
        Err(e) => return Outcome::fail(e),
    };
    let result = match run.inv.command.as_str() {
        "migrate" => migrate::migrate(&run).await,
        "check" => check::check(&run).await,
        "ensure-partitions" => ensure_partitions(&run).await,
        "purge" => purge(&run).await,
        "seal" => chain::seal(&run).await,
        "verify" => chain::verify(&run).await,
        "anchor" => chain::anchor(&run).await,
        "stats" => chain::stats(&run).await,
        "export" => chain::export(&run).await,
        other => Err(format!("error: unknown command '{other}'")),
    };
    result.unwrap_or_else(Outcome::fail)
}

impl Run<'_> {
    async fn client(&self) -> Result<Client, String> {
        let url = self
            .inv
            .value("database-url")
            .or(self.ctx.database_url.as_deref())
            .filter(|u| !u.is_empty())
            .ok_or("no database: pass --database-url or set DATABASE_URL")?;
        connect(url, &self.ctx.tls, &self.ctx.cwd).await
    }

    /// `BEGIN`, then (with tenancy) the system scope: the entries of every chain are visible
    /// under the FORCE ROW LEVEL SECURITY that `migrate` puts on `audit_logs`.
    async fn begin(&self, client: &Client) -> Result<(), String> {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| db_error(&e))?;
        let Some(tenancy) = &self.tenancy else {
            return Ok(());
        };
        let key = match (tenancy.hardened, self.ctx.hardened_key.as_deref()) {
            (false, _) => None,
            (true, Some(k)) if !k.is_empty() => Some(k),
            (true, _) => return Err("tenant.hardened is set: better-audit signs its system scope with the tenant key; set BETTER_TENANT_HARDENED_KEY".into()),
        };
        enter_bypass(client, key).await
    }

    /// A connection inside one transaction in the system scope, for the commands that only read.
    async fn reader(&self) -> Result<Client, String> {
        let client = self.client().await?;
        self.require_table(&client).await?;
        self.begin(&client).await?;
        Ok(client)
    }

    /// The commands that read or rewrite entries need the table: name the command that makes it.
    async fn require_table(&self, client: &Client) -> Result<(), String> {
        if kind(client, &self.table).await?.is_some() {
            return Ok(());
        }
        let schema = self
            .inv
            .value("schema")
            .map(|s| format!(" --schema {s}"))
            .unwrap_or_default();
        Err(format!(
            "{} does not exist: run `better-audit migrate{schema}` to create it",
            self.table.qualified("audit_logs")
        ))
    }

    /// The tenant isolation of `audit_logs` and its partitions, with tenancy; else nothing.
    fn rls_sql(&self) -> Result<String, String> {
        self.tenancy.as_ref().map_or(Ok(String::new()), |t| {
            audit_rls_sql(
                t,
                &self.table.qualified("audit_logs"),
                &self.table.qualified(storage::CHECKPOINTS),
            )
            .map_err(|e| e.to_string())
        })
    }

    fn now(&self) -> i64 {
        crate::now_micros()
    }

    /// The key that seals or verifies: at least 32 bytes, or none with `--unkeyed`.
    fn seal_key(&self) -> Result<Option<Vec<u8>>, String> {
        let key = self.key()?;
        usebetter_core::audit::chain::seal_key(key.as_deref(), self.inv.has("unkeyed"), "--unkeyed")
            .map(|k| k.map(<[u8]>::to_vec))
            .map_err(|e| e.to_string())
    }

    fn key(&self) -> Result<Option<Vec<u8>>, String> {
        if let Some(path) = self.inv.value("key-file") {
            let full = std::path::Path::new(&self.ctx.cwd).join(path);
            let text = std::fs::read_to_string(&full)
                .map_err(|e| format!("cannot read --key-file {}: {e}", full.display()))?;
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

    fn months(&self) -> Result<u32, String> {
        self.inv.value("months").map_or(Ok(3), |m| {
            m.parse().ok().filter(|n| *n <= 120).ok_or(format!(
                "invalid --months {m:?}: expected a number of months from 0 to 120"
            ))
        })
    }
}

/// `relkind` of audit_logs: `r` plain, `p` partitioned, `None` missing.
pub(crate) async fn kind(client: &Client, t: &Table) -> Result<Option<String>, String> {
    let row = client
        .query_opt(
            "SELECT c.relkind::text FROM pg_class c WHERE c.oid = to_regclass($1)",
            &[&t.qualified("audit_logs")],
        )
        .await
        .map_err(|e| db_error(&e))?;
    Ok(row.map(|r| r.get(0)))
}

async fn ensure_partitions(r: &Run<'_>) -> Result<Outcome, String> {
    let client = r.client().await?;
    r.require_table(&client).await?;
    if kind(&client, &r.table).await?.as_deref() != Some("p") {
        return Err("audit_logs is not partitioned: run `better-audit migrate --partitioned` on a new database".into());
    }
    let months = r.months()?;
    // New partitions get the tenant policy: a query naming a partition skips the parent's.
    let sql = storage::partitions_sql(&r.table, r.now(), months) + &r.rls_sql()?;
    client
        .batch_execute(&format!("BEGIN;\n{sql}COMMIT;"))
        .await
        .map_err(|e| db_error(&e))?;
    Ok(Outcome::ok(format!(
        "partitions ready for this month and the next {months}\n"
    )))
}

async fn partitions(client: &Client, t: &Table) -> Result<Vec<Partition>, String> {
    let rows = client
        .query(
            "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1) ORDER BY 1",
            &[&t.qualified("audit_logs")],
        )
        .await
        .map_err(|e| db_error(&e))?;
    Ok(rows
        .iter()
        .map(|row| {
            let bound: String = row.get(1);
            // FOR VALUES FROM ('2026-03-01 00:00:00+00') TO ('2026-04-01 00:00:00+00'), or DEFAULT.
            let quoted: Vec<String> = bound
                .split('\'')
                .skip(1)
                .step_by(2)
                .map(|s| s.replacen(' ', "T", 1))
                .collect();
            let iso = |s: Option<&String>| {
                s.map(|v| {
                    if v.ends_with("+00") {
                        format!("{v}:00")
                    } else {
                        v.clone()
                    }
                })
            };
            Partition {
                name: row.get(0),
                from: iso(quoted.first()),
                to: iso(quoted.get(1)),
            }
        })
        .collect())
}

async fn purge(r: &Run<'_>) -> Result<Outcome, String> {
    if !r.inv.has("dry-run") && !r.inv.has("yes") {
        return Err(
            "purge deletes audit entries: pass --dry-run to see what would go, or --yes to delete"
                .into(),
        );
    }
    let window = match (r.inv.value("since"), r.config.retention_days) {
        (Some(s), _) => s.to_owned(),
        (None, Some(days)) => format!("{days}d"),
        (None, None) => return Err(
            "no retention window: pass --since <duration> (e.g. 90d) or set audit.retention.days"
                .into(),
        ),
    };
    let now = r.now();
    let cutoff = duration::before(&window, now).map_err(|e| e.to_string())?;
    let tables: Vec<String> = r
        .inv
        .value("table")
        .map_or_else(|| r.config.retention_tables.clone(), |t| vec![t.to_owned()]);
    let client = r.client().await?;
    r.require_table(&client).await?;
    let parts = partitions(&client, &r.table).await?;
    let plan = storage::purge_plan(&parts, cutoff, tables.is_empty());
    let cutoff_iso = time::format_iso(cutoff);
    let dry = r.inv.has("dry-run");
    let mut out = format!(
        "{} entries older than {cutoff_iso}{}:\n",
        if dry { "would remove" } else { "removed" },
        if tables.is_empty() {
            String::new()
        } else {
            format!(" of {}", tables.join(", "))
        }
    );
    let mut total = 0i64;
    // A dry run reads in the system scope too, and rolls back.
    r.begin(&client).await?;
    if !tables.is_empty() && !dry {
        let sealed: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM {} WHERE \"timestamp\" < $1::text::timestamptz AND table_name = ANY($2) AND seq IS NOT NULL", r.table.qualified("audit_logs")),
                &[&cutoff_iso, &tables],
            )
            .await
            .map_err(|e| db_error(&e))?
            .get(0);
        if sealed > 0 {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(format!(
                "{sealed} of these entries are sealed into hash chains shared with other tables; purging only some tables would break the chains: purge without --table"
            ));
        }
    }
    if !dry && tables.is_empty() {
        // Before the rows go: where each chain now starts.
        if let Err(e) = chain::record_purge(r, &client, &cutoff_iso).await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(e);
        }
    }
    for step in &plan {
        let (relation, whole) = match step {
            PurgeStep::Drop { partition } => (partition, true),
            PurgeStep::Delete { relation } => (relation, false),
        };
        let target = r.table.qualified(relation);
        let filter = "\"timestamp\" < $1::text::timestamptz AND (cardinality($2::text[]) = 0 OR table_name = ANY($2))";
        let count: i64 = if whole {
            client
                .query_one(&format!("SELECT count(*) FROM {target}"), &[])
                .await
        } else {
            client
                .query_one(
                    &format!("SELECT count(*) FROM {target} WHERE {filter}"),
                    &[&cutoff_iso, &tables],
                )
                .await
        }
        .map_err(|e| db_error(&e))?
        .get(0);
        if !dry {
            if whole {
                client.batch_execute(&format!("DROP TABLE {target}")).await
            } else {
                client
                    .execute(
                        &format!("DELETE FROM {target} WHERE {filter}"),
                        &[&cutoff_iso, &tables],
                    )
                    .await
                    .map(|_| ())
            }
            .map_err(|e| db_error(&e))?;
        }
        total += count;
        let _ = writeln!(
            out,
            "  {relation}: {count} {}",
            if whole {
                "(whole partition dropped)"
            } else {
                "rows"
            }
        );
    }
    client
        .batch_execute(if dry { "ROLLBACK" } else { "COMMIT" })
        .await
        .map_err(|e| db_error(&e))?;
    let _ = writeln!(out, "total: {total}");
    Ok(Outcome::ok(out))
}
