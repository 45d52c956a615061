//! `better-audit migrate`: the audit table's DDL (plain or partitioned, tenant isolation, trigger
//! capture), printed, written or applied; applying it to a database it leaves unchanged says so.

use tokio_postgres::Client;
use usebetter_core::audit::cli_sql::{capture_target, CAPTURE_COLUMNS, SCHEMA_DIGEST};
use usebetter_core::audit::image::keeps_as_text;
use usebetter_core::audit::storage;
use usebetter_core::audit::triggers::{self, TriggerTable};
use usebetter_core::cli::audit as cli;
use usebetter_core::cli::split_csv;
use usebetter_core::{CliFailure, Result};

use super::{kind, Run};
use crate::db;
use crate::Outcome;

/// The tables to capture as the catalog describes them: their schema, name, key and the
/// columns whose values are kept as text.
pub(super) async fn trigger_tables(client: &Client, names: &[String]) -> Result<Vec<TriggerTable>> {
    let mut out = Vec::new();
    for name in names {
        let rows = db::rows(client, CAPTURE_COLUMNS, &[&capture_target(name)]).await?;
        let first = rows
            .first()
            .ok_or_else(|| cli::capture_table_missing(name))?;
        let mut key: Vec<(i32, String)> = rows
            .iter()
            .filter_map(|r| r.get::<_, Option<i32>>(4).map(|p| (p, r.get(2))))
            .collect();
        key.sort();
        if key.is_empty() {
            return Err(cli::capture_table_keyless(name));
        }
        let precise = rows
            .iter()
            .filter(|r| keeps_as_text(&r.get::<_, String>(3)))
            .map(|r| r.get(2))
            .collect();
        out.push(TriggerTable {
            schema: first.get(0),
            name: first.get(1),
            key: key.into_iter().map(|(_, c)| c).collect(),
            precise,
        });
    }
    Ok(out)
}

pub(super) async fn migrate(r: &Run<'_>) -> Result<Outcome> {
    let partitioned = r.inv.has("partitioned");
    let mut sql = if partitioned {
        storage::partitioned_sql(&r.table, r.now(), cli::months(r.inv.value("months"))?)
    } else {
        storage::plain_sql(&r.table)
    };
    sql.push_str(&r.rls_sql()?);
    let apply = !r.inv.has("dry-run") && r.inv.value("output").is_none();
    let needs_db = apply || r.inv.has("triggers");
    let client = if needs_db {
        Some(r.client().await?)
    } else {
        None
    };
    if let (Some(c), true) = (&client, partitioned) {
        if kind(c, &r.table).await?.as_deref() == Some("r") {
            return Err(cli::plain_table_exists());
        }
    }
    let mut captured = Vec::new();
    if r.inv.has("triggers") {
        let names = r
            .inv
            .value("tables")
            .map_or_else(|| r.config.tables.clone(), split_csv);
        if names.is_empty() {
            return Err(cli::triggers_need_tables());
        }
        let client = client.as_ref().ok_or_else(cli::triggers_need_database)?;
        let tables = trigger_tables(client, &names).await?;
        sql.push_str(&triggers::triggers_sql(&r.table, &tables)?);
        captured = names;
    }
    let summary = cli::migrate_summary(partitioned, &captured);
    if let Some(path) = r.inv.value("output") {
        let full = std::path::Path::new(&r.ctx.cwd).join(path);
        std::fs::write(&full, &sql)
            .map_err(|e| CliFailure::File.with(format!("cannot write {}: {e}", full.display())))?;
        return Ok(Outcome::ok(format!("wrote {}\n", full.display())));
    }
    let Some(client) = client.filter(|_| apply) else {
        return Ok(Outcome::ok(sql));
    };
    let digest = || async {
        db::one(&client, SCHEMA_DIGEST, &[])
            .await
            .map(|row| row.get::<_, String>(0))
    };
    db::batch(&client, "BEGIN").await?;
    let before = digest().await?;
    db::batch(&client, &sql).await?;
    let after = digest().await?;
    // Committed either way: whatever the digest might miss is applied all the same.
    db::batch(&client, "COMMIT").await?;
    Ok(Outcome::ok(cli::migrate_applied(&summary, before != after)))
}
