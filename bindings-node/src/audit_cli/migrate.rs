//! `better-audit migrate`: the audit_logs DDL (plain or partitioned, tenant isolation, trigger
//! capture), printed, written or applied; applying it to a database it leaves unchanged says so.

use std::fmt::Write as _;

use tokio_postgres::Client;
use usebetter_core::audit::cli_sql::SCHEMA_DIGEST;
use usebetter_core::audit::storage;
use usebetter_core::audit::triggers::{self, TriggerTable};
use usebetter_core::cli::audit::UP_TO_DATE;

use super::{kind, Run};
use crate::cli::db::db_error;
use crate::cli::Outcome;

pub(super) async fn trigger_tables(
    client: &Client,
    names: &[String],
) -> Result<Vec<TriggerTable>, String> {
    let mut out = Vec::new();
    for name in names {
        let rows = client
            .query(
                "SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), array_position(i.indkey::int2[], a.attnum)
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                   LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
                  WHERE c.oid = to_regclass($1) ORDER BY a.attnum",
                &[&format!("\"{}\"", name.replace('"', "\"\""))],
            )
            .await
            .map_err(|e| db_error(&e))?;
        let first = rows.first().ok_or_else(|| {
            format!("table \"{name}\" (from auditTables / --tables) does not exist")
        })?;
        let mut key: Vec<(i32, String)> = rows
            .iter()
            .filter_map(|r| r.get::<_, Option<i32>>(4).map(|p| (p, r.get(2))))
            .collect();
        key.sort();
        if key.is_empty() {
            return Err(format!(
                "table \"{name}\" has no primary key; trigger capture needs one for record ids"
            ));
        }
        let precise = rows
            .iter()
            .filter(|r| usebetter_core::audit::image::keeps_as_text(&r.get::<_, String>(3)))
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

pub(super) async fn migrate(r: &Run<'_>) -> Result<Outcome, String> {
    let partitioned = r.inv.has("partitioned");
    let mut sql = if partitioned {
        storage::partitioned_sql(&r.table, r.now(), r.months()?)
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
            return Err("audit_logs exists as a plain table; --partitioned cannot convert it in place (create a partitioned table, copy the rows, swap names)".into());
        }
    }
    let mut summary = format!(
        "audit_logs {}",
        if partitioned {
            "partitioned by month"
        } else {
            "table"
        }
    );
    if r.inv.has("triggers") {
        let names = r.inv.value("tables").map_or_else(
            || r.config.tables.clone(),
            |t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            },
        );
        if names.is_empty() {
            return Err("--triggers needs the audited tables: set audit.auditTables in better.config.* or pass --tables".into());
        }
        let tables = trigger_tables(
            client
                .as_ref()
                .ok_or("--triggers reads the tables' keys: pass --database-url")?,
            &names,
        )
        .await?;
        sql.push_str(&triggers::triggers_sql(&r.table, &tables).map_err(|e| e.to_string())?);
        let _ = write!(summary, ", trigger capture on {}", names.join(", "));
    }
    if let Some(path) = r.inv.value("output") {
        let full = std::path::Path::new(&r.ctx.cwd).join(path);
        std::fs::write(&full, &sql).map_err(|e| format!("cannot write {}: {e}", full.display()))?;
        return Ok(Outcome::ok(format!("wrote {}\n", full.display())));
    }
    if !apply {
        return Ok(Outcome::ok(sql));
    }
    let client = client.ok_or("no database")?;
    let digest = || async {
        client
            .query_one(SCHEMA_DIGEST, &[])
            .await
            .map(|row| row.get::<_, String>(0))
            .map_err(|e| db_error(&e))
    };
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| db_error(&e))?;
    let before = digest().await?;
    client.batch_execute(&sql).await.map_err(|e| db_error(&e))?;
    let after = digest().await?;
    // Committed either way: whatever the digest might miss is applied all the same.
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| db_error(&e))?;
    Ok(Outcome::ok(if before == after {
        format!("{UP_TO_DATE}\n")
    } else {
        format!("applied: {summary}\n")
    }))
}
