//! The I/O that `better-webhooks` and `better-email` share around their tables (the core's
//! `store::Layout`): the connection, the system scope, the schema version, `migrate` (print,
//! write or apply, and tell whether anything changed), `ensure-partitions`, and the purge
//! loops (droppable partitions, batched deletes).

use tokio_postgres::Client;
use usebetter_core::audit::cli_sql::SCHEMA_DIGEST;
use usebetter_core::cli::args::Invocation;
use usebetter_core::cli::audit::{no_database, system_scope_key};
use usebetter_core::cli::store as cli;
use usebetter_core::store::{Layout, Statement};
use usebetter_core::{CliFailure, Result};

use crate::db::{self, connect};
use crate::tenant::doctor::enter_bypass;
use crate::Outcome;

/// One invocation of a tool over one product's tables.
pub(crate) struct Tables<'a> {
    pub inv: &'a Invocation,
    pub ctx: &'a crate::Context,
    pub layout: &'a Layout,
}

pub(crate) fn now_ms() -> i64 {
    crate::now_micros() / 1000
}

/// Rolls back after a failure inside a transaction, keeping the failure.
pub(crate) async fn rollback<T>(client: &Client, result: Result<T>) -> Result<T> {
    if result.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}

impl Tables<'_> {
    pub(crate) fn json(&self) -> bool {
        self.inv.has("json")
    }

    pub(crate) async fn client(&self) -> Result<Client> {
        let url = self
            .inv
            .value("database-url")
            .or(self.ctx.database_url.as_deref())
            .filter(|u| !u.is_empty())
            .ok_or_else(no_database)?;
        connect(url, &self.ctx.tls, &self.ctx.cwd).await
    }

    /// `BEGIN`, then (with tenancy) the system scope: the tool's reads and writes span every
    /// tenant under the FORCE ROW LEVEL SECURITY that `migrate` puts on the tables.
    pub(crate) async fn begin_system(&self, client: &Client) -> Result<()> {
        db::batch(client, "BEGIN").await?;
        if !self.layout.rls() {
            return Ok(());
        }
        let key = system_scope_key(self.layout.hardened(), self.ctx.hardened_key.as_deref())?;
        enter_bypass(client, key).await
    }

    /// Whether `<prefix>_meta` exists, and the version it records.
    pub(crate) async fn schema_facts(&self, client: &Client) -> Result<(bool, Option<String>)> {
        let probe = db::one(client, &self.layout.schema_probe().sql, &[]).await?;
        let has_meta: bool = probe.get(1);
        let version = if has_meta {
            db::maybe(client, &self.layout.schema_version().sql, &[])
                .await?
                .and_then(|row| row.get::<_, Option<String>>(0))
        } else {
            None
        };
        Ok((has_meta, version))
    }

    /// `migrate`: `sql` written to `--output`, printed with `--dry-run`, else applied in one
    /// transaction; `applied(changed)` is the line printed after applying, `changed` telling
    /// whether the catalog differs afterwards (a second run changes nothing).
    pub(crate) async fn migrate(
        &self,
        sql: &str,
        applied: impl FnOnce(bool) -> String,
    ) -> Result<Outcome> {
        if let Some(path) = self.inv.value("output") {
            let full = std::path::Path::new(&self.ctx.cwd).join(path);
            std::fs::write(&full, sql).map_err(|e| {
                CliFailure::File.with(format!("cannot write {}: {e}", full.display()))
            })?;
            return Ok(Outcome::ok(format!("wrote {}\n", full.display())));
        }
        if self.inv.has("dry-run") {
            return Ok(Outcome::ok(sql.to_owned()));
        }
        let client = self.client().await?;
        let digest = || async {
            db::one(&client, SCHEMA_DIGEST, &[])
                .await
                .map(|row| row.get::<_, String>(0))
        };
        db::batch(&client, "BEGIN").await?;
        let changed = async {
            let before = digest().await?;
            db::batch(&client, sql).await?;
            Ok(before != digest().await?)
        }
        .await;
        let changed = rollback(&client, changed).await?;
        db::batch(&client, "COMMIT").await?;
        Ok(Outcome::ok(applied(changed)))
    }

    /// `ensure-partitions [--ahead n]` once `require` accepted the schema version.
    pub(crate) async fn ensure_partitions(
        &self,
        require: impl FnOnce(bool, Option<&str>) -> Result<()>,
    ) -> Result<Outcome> {
        let ahead = cli::ahead("ahead", self.inv.value("ahead"))?;
        let client = self.client().await?;
        let (has_meta, version) = self.schema_facts(&client).await?;
        require(has_meta, version.as_deref())?;
        let sql = self.layout.ensure_partitions_sql(now_ms(), ahead);
        db::batch(&client, &format!("BEGIN;\n{sql}COMMIT;")).await?;
        Ok(Outcome::ok(cli::partitions_ready(
            self.layout.partition_width(),
            ahead,
            self.json(),
        )))
    }

    /// `purge [--dry-run]`: in system context, lists the partitions the `droppable` statements
    /// name for `days` and (unless a dry run) drops them with `drop_sql` of the names, then drains each
    /// `(kind, statement, param)` of `batched`. A dry run lists and counts inside one
    /// transaction that is rolled back. Returns the partitions and the rows per kind.
    pub(crate) async fn purge<'k>(
        &self,
        client: &Client,
        droppable: &[Statement],
        days: i32,
        drop_sql: impl FnOnce(&[String]) -> Result<String>,
        batched: &[(&'k str, Statement, i32)],
        batch: u32,
    ) -> Result<(Vec<String>, Vec<(&'k str, i64)>)> {
        let dry = self.inv.has("dry-run");
        self.begin_system(client).await?;
        let listed = async {
            let mut out = Vec::new();
            for s in droppable {
                for row in db::rows(client, &s.sql, &[&days]).await? {
                    out.push(row.get(0));
                }
            }
            Ok(out)
        }
        .await;
        let listed: Vec<String> = rollback(client, listed).await?;
        if !dry {
            let sql = rollback(client, drop_sql(&listed)).await?;
            rollback(client, db::batch(client, &sql).await).await?;
            db::batch(client, "COMMIT").await?;
        }
        let mut rows = Vec::new();
        for (kind, statement, param) in batched {
            let drained = self.drain(client, statement, *param, batch, dry).await;
            rows.push((*kind, rollback(client, drained).await?));
        }
        if dry {
            db::batch(client, "ROLLBACK").await?;
        }
        Ok((listed, rows))
    }

    /// Runs `statement` until a batch deletes less than a full one. A dry run stays inside the
    /// open transaction (rolled back by the caller); otherwise each batch commits on its own.
    async fn drain(
        &self,
        client: &Client,
        statement: &Statement,
        param: i32,
        batch: u32,
        dry: bool,
    ) -> Result<i64> {
        let batch = i64::from(batch);
        let mut total = 0;
        loop {
            if !dry {
                self.begin_system(client).await?;
            }
            let n: i64 = db::one(client, &statement.sql, &[&param, &batch])
                .await?
                .get(0);
            if !dry {
                db::batch(client, "COMMIT").await?;
            }
            total += n;
            if n < batch {
                return Ok(total);
            }
        }
    }
}
