//! The hash chains in the database: sealing rows that were written unsealed, verifying each
//! chain, printing chain heads, plus `stats` and `export`.

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::{json, Map, Value};
use tokio_postgres::{Client, Row};
use usebetter_core::audit::seal::{Anchor, SEALED_COLUMNS};
use usebetter_core::audit::storage::{Table, CHECKPOINTS};
use usebetter_core::audit::{duration, time};
use usebetter_core::bridge::audit::{seal_rows, verify_rows, StoredSealedRow};
use usebetter_core::cli::audit::{chain_name, csv_cell, verify_output, ChainReport};

use super::Run;
use crate::cli::db::db_error;
use crate::cli::Outcome;

const JSON_COLUMNS: [&str; 6] = [
    "before_data",
    "after_data",
    "diff",
    "compliance",
    "metadata",
    "redacted_fields",
];

/// The sealed columns as text the core reads: timestamps with microseconds in UTC.
fn select_list() -> String {
    SEALED_COLUMNS
        .iter()
        .map(|c| match *c {
            "timestamp" => {
                "to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                    .to_owned()
            }
            "notify" => "notify::text".to_owned(),
            other => format!("{other}::text"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn row_map(row: &Row) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (i, column) in SEALED_COLUMNS.iter().enumerate() {
        let Some(text) = row.get::<_, Option<String>>(i) else {
            continue;
        };
        let value = if JSON_COLUMNS.contains(column) {
            serde_json::from_str(&text).map_err(|e| format!("{column} is not JSON: {e}"))?
        } else if *column == "notify" {
            Value::Bool(text == "true")
        } else {
            Value::String(text)
        };
        out.insert((*column).to_owned(), value);
    }
    Ok(out)
}

/// The chains present: `None` is the global chain.
async fn chains(
    client: &Client,
    t: &Table,
    only: Option<&str>,
) -> Result<Vec<Option<String>>, String> {
    if let Some(tenant) = only {
        return Ok(vec![(tenant != "global").then(|| tenant.to_owned())]);
    }
    let rows = client
        .query(
            &format!(
                "SELECT DISTINCT tenant_id::text FROM {} ORDER BY 1 NULLS FIRST",
                t.qualified("audit_logs")
            ),
            &[],
        )
        .await
        .map_err(|e| db_error(&e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn lock_chain(client: &Client, tenant: Option<&str>) -> Result<(), String> {
    client
        .execute("SELECT pg_advisory_xact_lock(hashtextextended('usebetter_audit_chain:' || coalesce($1::text, ''), 0))", &[&tenant])
        .await
        .map(|_| ())
        .map_err(|e| db_error(&e))
}

async fn head(client: &Client, t: &Table, tenant: Option<&str>) -> Result<Option<Anchor>, String> {
    let row = client
        .query_opt(
            &format!("SELECT seq, hash FROM {} WHERE tenant_id IS NOT DISTINCT FROM $1::text::uuid AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1", t.qualified("audit_logs")),
            &[&tenant],
        )
        .await
        .map_err(|e| db_error(&e))?;
    match row {
        Some(r) => Ok(Some(Anchor {
            seq: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
            hash: r.get(1),
        })),
        // Every sealed entry of the chain was purged: it continues after the checkpoint.
        None => checkpoint(client, t, tenant).await,
    }
}

async fn checkpoint(
    client: &Client,
    t: &Table,
    tenant: Option<&str>,
) -> Result<Option<Anchor>, String> {
    let row = client
        .query_opt(
            &format!(
                "SELECT seq, hash FROM {} WHERE chain = coalesce($1::text, '')",
                t.qualified(CHECKPOINTS)
            ),
            &[&tenant],
        )
        .await
        .map_err(|e| db_error(&e))?;
    Ok(row.map(|r| Anchor {
        seq: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
        hash: r.get(1),
    }))
}

/// Called by purge inside its transaction, before rows go: each chain's last purged seal.
pub(super) async fn record_purge(
    client: &Client,
    t: &Table,
    cutoff_iso: &str,
) -> Result<(), String> {
    client
        .execute(
            &format!(
                "INSERT INTO {cp} (chain, seq, hash)
                 SELECT DISTINCT ON (tenant_id) coalesce(tenant_id::text, ''), seq, hash FROM {logs}
                  WHERE \"timestamp\" < $1::text::timestamptz AND seq IS NOT NULL ORDER BY tenant_id, seq DESC
                 ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, purged_at = now()
                  WHERE {cp}.seq < excluded.seq",
                cp = t.qualified(CHECKPOINTS),
                logs = t.qualified("audit_logs")
            ),
            &[&cutoff_iso],
        )
        .await
        .map(|_| ())
        .map_err(|e| db_error(&e))
}

pub(super) async fn seal(r: &Run<'_>) -> Result<Outcome, String> {
    let client = r.client().await?;
    let key = r.key()?;
    let logs = r.table.qualified("audit_logs");
    let mut total = 0usize;
    let mut out = String::new();
    for tenant in chains(&client, &r.table, None).await? {
        let tenant = tenant.as_deref();
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| db_error(&e))?;
        lock_chain(&client, tenant).await?;
        let pending = client
            .query(
                &format!("SELECT {} FROM {logs} WHERE tenant_id IS NOT DISTINCT FROM $1::text::uuid AND seq IS NULL ORDER BY \"timestamp\", id", select_list()),
                &[&tenant],
            )
            .await
            .map_err(|e| db_error(&e))?;
        if pending.is_empty() {
            client
                .batch_execute("ROLLBACK")
                .await
                .map_err(|e| db_error(&e))?;
            continue;
        }
        let rows = pending.iter().map(row_map).collect::<Result<Vec<_>, _>>()?;
        let seals = seal_rows(
            &rows,
            head(&client, &r.table, tenant).await?.as_ref(),
            key.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        let ids: Vec<String> = rows
            .iter()
            .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        let seqs: Vec<i64> = seals
            .iter()
            .map(|s| i64::try_from(s.seq).unwrap_or(i64::MAX))
            .collect();
        let prevs: Vec<&str> = seals.iter().map(|s| s.prev_hash.as_str()).collect();
        let hashes: Vec<&str> = seals.iter().map(|s| s.hash.as_str()).collect();
        client
            .execute(
                &format!("UPDATE {logs} AS l SET seq = u.seq, prev_hash = u.prev, hash = u.hash FROM unnest($1::text[]::uuid[], $2::bigint[], $3::text[], $4::text[]) AS u(id, seq, prev, hash) WHERE l.id = u.id"),
                &[&ids, &seqs, &prevs, &hashes],
            )
            .await
            .map_err(|e| db_error(&e))?;
        client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| db_error(&e))?;
        total += rows.len();
        let _ = writeln!(
            out,
            "{}: sealed {} entries (seq {}..{})",
            chain_name(tenant),
            rows.len(),
            seqs[0],
            seqs[seqs.len() - 1]
        );
    }
    let _ = writeln!(
        out,
        "sealed {total} entries{}",
        if key.is_some() { " (keyed)" } else { "" }
    );
    Ok(Outcome::ok(out))
}

/// `anchor` output, read back by `verify --anchor`.
fn read_anchors(r: &Run<'_>) -> Result<Option<Value>, String> {
    let Some(path) = r.inv.value("anchor") else {
        return Ok(None);
    };
    let full = std::path::Path::new(&r.ctx.cwd).join(path);
    let text = std::fs::read_to_string(&full)
        .map_err(|e| format!("cannot read --anchor {}: {e}", full.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("--anchor {} is not an anchor file: {e}", full.display()))
}

pub(super) async fn verify(r: &Run<'_>) -> Result<Outcome, String> {
    let client = r.client().await?;
    let key = r.key()?;
    let anchors = read_anchors(r)?;
    let logs = r.table.qualified("audit_logs");
    let mut reports = Vec::new();
    for tenant in chains(&client, &r.table, r.inv.value("tenant")).await? {
        let tenant = tenant.as_deref();
        let start = checkpoint(&client, &r.table, tenant).await?;
        let rows = client
            .query(
                &format!("SELECT {}, seq, prev_hash, hash FROM {logs} WHERE tenant_id IS NOT DISTINCT FROM $1::text::uuid AND seq > $2 ORDER BY seq", select_list()),
                &[&tenant, &start.as_ref().map_or(0, |s| i64::try_from(s.seq).unwrap_or(0))],
            )
            .await
            .map_err(|e| db_error(&e))?;
        let unsealed: i64 = client
            .query_one(&format!("SELECT count(*) FROM {logs} WHERE tenant_id IS NOT DISTINCT FROM $1::text::uuid AND seq IS NULL"), &[&tenant])
            .await
            .map_err(|e| db_error(&e))?
            .get(0);
        let n = SEALED_COLUMNS.len();
        let stored = rows
            .iter()
            .map(|row| {
                Ok(StoredSealedRow {
                    seq: u64::try_from(row.get::<_, i64>(n)).unwrap_or(0),
                    prev_hash: row.get::<_, Option<String>>(n + 1).unwrap_or_default(),
                    hash: row.get::<_, Option<String>>(n + 2).unwrap_or_default(),
                    row: row_map(row)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let count = stored.len();
        let anchor: Option<Anchor> = anchors.as_ref().and_then(|a| {
            let c = a["chains"]
                .as_array()?
                .iter()
                .find(|c| c["tenant"].as_str() == tenant)?;
            Some(Anchor {
                seq: c["seq"].as_u64()?,
                hash: c["hash"].as_str()?.to_owned(),
            })
        });
        let broken = verify_rows(stored, key.as_deref(), start.as_ref(), anchor.as_ref())
            .map_err(|e| e.to_string())?;
        reports.push(ChainReport {
            chain: tenant.map(str::to_owned),
            rows: count,
            unsealed,
            broken,
        });
    }
    let (code, stdout) = verify_output(&reports, r.inv.has("json"));
    Ok(Outcome {
        code,
        stdout,
        stderr: String::new(),
    })
}

pub(super) async fn anchor(r: &Run<'_>) -> Result<Outcome, String> {
    let client = r.client().await?;
    let mut heads = Vec::new();
    for tenant in chains(&client, &r.table, None).await? {
        if let Some(h) = head(&client, &r.table, tenant.as_deref()).await? {
            heads.push(json!({ "tenant": tenant, "seq": h.seq, "hash": h.hash }));
        }
    }
    Ok(Outcome::ok(format!(
        "{}\n",
        json!({ "at": time::format_iso(r.now()), "chains": heads })
    )))
}

pub(super) async fn stats(r: &Run<'_>) -> Result<Outcome, String> {
    let client = r.client().await?;
    let logs = r.table.qualified("audit_logs");
    let rows = client
        .query(&format!("SELECT table_name, operation, count(*), count(*) FILTER (WHERE seq IS NULL) FROM {logs} GROUP BY 1, 2 ORDER BY 1, 2"), &[])
        .await
        .map_err(|e| db_error(&e))?;
    let counts: Vec<Value> = rows.iter().map(|r| json!({ "tableName": r.get::<_, String>(0), "operation": r.get::<_, String>(1), "count": r.get::<_, i64>(2), "unsealed": r.get::<_, i64>(3) })).collect();
    let n_chains = chains(&client, &r.table, None).await?.len();
    if r.inv.has("json") {
        return Ok(Outcome::ok(format!(
            "{}\n",
            json!({ "counts": counts, "chains": n_chains })
        )));
    }
    let mut out = String::new();
    for c in &counts {
        let _ = writeln!(
            out,
            "{:<30} {:<7} {:>10}  ({} unsealed)",
            c["tableName"].as_str().unwrap_or(""),
            c["operation"].as_str().unwrap_or(""),
            c["count"],
            c["unsealed"]
        );
    }
    let total: i64 = counts.iter().filter_map(|c| c["count"].as_i64()).sum();
    let _ = writeln!(out, "total {total} entries in {n_chains} chain(s)");
    Ok(Outcome::ok(out))
}

/// Streams to stdout page by page (keyset on `timestamp, id`), so memory stays flat.
pub(super) async fn export(r: &Run<'_>) -> Result<Outcome, String> {
    let format = r.inv.value("format").unwrap_or("ndjson");
    if format != "csv" && format != "ndjson" {
        return Err(format!(
            "invalid --format {format:?}: expected csv or ndjson"
        ));
    }
    let since = match r.inv.value("since") {
        Some(s) => time::format_iso(duration::before(s, r.now()).map_err(|e| e.to_string())?),
        None => "-infinity".to_owned(),
    };
    let client = r.client().await?;
    let logs = r.table.qualified("audit_logs");
    let mut w = std::io::BufWriter::new(std::io::stdout());
    let io = |e: std::io::Error| format!("cannot write to stdout: {e}");
    if format == "csv" {
        writeln!(w, "{}", SEALED_COLUMNS.join(",")).map_err(io)?;
    }
    let mut after = (
        since.clone(),
        "00000000-0000-0000-0000-000000000000".to_owned(),
    );
    let mut first = true;
    let mut total = 0usize;
    loop {
        let rows = client
            .query(
                &format!("SELECT {} FROM {logs} WHERE (\"timestamp\", id) {} ($1::text::timestamptz, $2::text::uuid) ORDER BY \"timestamp\", id LIMIT 1000", select_list(), if first { ">=" } else { ">" }),
                &[&after.0, &after.1],
            )
            .await
            .map_err(|e| db_error(&e))?;
        first = false;
        for row in &rows {
            let m = row_map(row)?;
            if format == "csv" {
                let cells: Vec<String> =
                    SEALED_COLUMNS.iter().map(|c| csv_cell(m.get(*c))).collect();
                writeln!(w, "{}", cells.join(",")).map_err(io)?;
            } else {
                writeln!(w, "{}", Value::Object(m.clone())).map_err(io)?;
            }
            after = (
                m["timestamp"].as_str().unwrap_or_default().to_owned(),
                m["id"].as_str().unwrap_or_default().to_owned(),
            );
        }
        total += rows.len();
        if rows.len() < 1000 {
            break;
        }
    }
    w.flush().map_err(io)?;
    Ok(Outcome {
        code: 0,
        stdout: String::new(),
        stderr: format!("exported {total} entries\n"),
    })
}
