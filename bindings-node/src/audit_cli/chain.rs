//! The hash chains in the database: sealing rows that were written unsealed, verifying each
//! chain, printing chain heads, plus `stats` and `export`.

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::{json, Map, Value};
use tokio_postgres::{Client, Row};
use usebetter_core::audit::chain::{self, ChainAnchor, ChainSql, Checkpoint};
use usebetter_core::audit::cli_sql::sealing_state;
use usebetter_core::audit::seal::{Anchor, JSON_COLUMNS, SEALED_COLUMNS};
use usebetter_core::audit::storage::{Table, CHECKPOINTS};
use usebetter_core::audit::{duration, time};
use usebetter_core::bridge::audit::{seal_rows, sealed_rows, StoredSealedRow};
use usebetter_core::cli::audit::{
    chain_name, csv_cell, sealing_off_output, verify_output, ChainReport,
};

use super::Run;
use crate::cli::db::db_error;
use crate::cli::Outcome;

fn sql(t: &Table) -> ChainSql {
    chain::chain_sql(&t.qualified("audit_logs"), &t.qualified(CHECKPOINTS))
}

fn seq_of(text: &str) -> u64 {
    text.parse().unwrap_or(0)
}

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

/// The chains to look at: those with entries, with a checkpoint, and `more` (say, the chains
/// of an anchor file, which may be gone from the table); `None` is the global chain.
async fn chains(
    client: &Client,
    t: &Table,
    only: Option<&str>,
    more: &[Option<String>],
) -> Result<Vec<Option<String>>, String> {
    if let Some(tenant) = only {
        return Ok(vec![(tenant != "global").then(|| tenant.to_owned())]);
    }
    let q = sql(t);
    let mut listed = vec![format!(
        "SELECT DISTINCT tenant_id::text FROM {}",
        t.qualified("audit_logs")
    )];
    let has: bool = client
        .query_one(&q.has_checkpoints, &[])
        .await
        .map_err(|e| db_error(&e))?
        .get(0);
    if has {
        listed.push(q.checkpoint_chains);
    }
    let mut out: Vec<Option<String>> = Vec::new();
    for q in &listed {
        let rows = client.query(q, &[]).await.map_err(|e| db_error(&e))?;
        out.extend(rows.iter().map(|r| r.get::<_, Option<String>>(0)));
    }
    out.extend(more.iter().cloned());
    out.sort();
    out.dedup();
    Ok(out)
}

async fn lock_chain(client: &Client, t: &Table, tenant: Option<&str>) -> Result<(), String> {
    client
        .execute(&sql(t).lock, &[&tenant])
        .await
        .map(|_| ())
        .map_err(|e| db_error(&e))
}

pub(super) async fn head(
    client: &Client,
    t: &Table,
    tenant: Option<&str>,
) -> Result<Option<Anchor>, String> {
    let q = sql(t);
    let row = match tenant {
        None => client.query_opt(&q.head_global, &[]).await,
        Some(id) => client.query_opt(&q.head_tenant, &[&id]).await,
    }
    .map_err(|e| db_error(&e))?;
    match row {
        Some(r) => Ok(Some(Anchor {
            seq: seq_of(&r.get::<_, String>(0)),
            hash: r.get(1),
        })),
        // Every sealed entry of the chain was purged: it continues after the checkpoint.
        None => Ok(checkpoint(client, t, tenant).await?.map(|c| Anchor {
            seq: c.seq,
            hash: c.hash,
        })),
    }
}

async fn checkpoint(
    client: &Client,
    t: &Table,
    tenant: Option<&str>,
) -> Result<Option<Checkpoint>, String> {
    let row = client
        .query_opt(&sql(t).checkpoint, &[&tenant])
        .await
        .map_err(|e| db_error(&e))?;
    Ok(row.map(|r| Checkpoint {
        seq: seq_of(&r.get::<_, String>(0)),
        hash: r.get(1),
        mac: r.get(2),
    }))
}

/// Called by purge inside its transaction, before rows go: each chain's last purged seal,
/// sealed with the chain's key so that nobody without it can record a cut.
pub(super) async fn record_purge(
    r: &Run<'_>,
    client: &Client,
    cutoff_iso: &str,
) -> Result<(), String> {
    let q = sql(&r.table);
    let heads = client
        .query(&q.purged_heads, &[&cutoff_iso])
        .await
        .map_err(|e| db_error(&e))?;
    if heads.is_empty() {
        return Ok(());
    }
    let key = r.seal_key()?;
    let chains: Vec<String> = heads.iter().map(|h| h.get(0)).collect();
    let seqs: Vec<i64> = heads.iter().map(|h| h.get(1)).collect();
    let hashes: Vec<String> = heads.iter().map(|h| h.get(2)).collect();
    let macs: Vec<String> = chains
        .iter()
        .zip(&seqs)
        .zip(&hashes)
        .map(|((c, s), h)| {
            let chain = Some(c.as_str()).filter(|c| !c.is_empty());
            chain::checkpoint_mac(chain, u64::try_from(*s).unwrap_or(0), h, key.as_deref())
        })
        .collect();
    client
        .execute(&q.record_checkpoints, &[&chains, &seqs, &hashes, &macs])
        .await
        .map(|_| ())
        .map_err(|e| db_error(&e))
}

pub(super) async fn seal(r: &Run<'_>) -> Result<Outcome, String> {
    let key = r.seal_key()?;
    let client = r.reader().await?;
    let logs = r.table.qualified("audit_logs");
    let mut total = 0usize;
    let mut out = String::new();
    let all = chains(&client, &r.table, None, &[]).await?;
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| db_error(&e))?;
    for tenant in all {
        let tenant = tenant.as_deref();
        r.begin(&client).await?;
        lock_chain(&client, &r.table, tenant).await?;
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
        "sealed {total} entries ({})",
        if key.is_some() { "keyed" } else { "unkeyed" }
    );
    Ok(Outcome::ok(out))
}

/// `anchor` output, read back by `verify --anchor`.
fn read_anchors(r: &Run<'_>) -> Result<Option<Vec<ChainAnchor>>, String> {
    let Some(path) = r.inv.value("anchor") else {
        return Ok(None);
    };
    let full = std::path::Path::new(&r.ctx.cwd).join(path);
    let text = std::fs::read_to_string(&full)
        .map_err(|e| format!("cannot read --anchor {}: {e}", full.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| e.to_string())
        .and_then(|v| chain::parse_anchors(&v))
        .map(Some)
        .map_err(|e| format!("--anchor {} is not an anchor file: {e}", full.display()))
}

/// A chain's sealed rows from `after` on (`seq > after`), in seq order.
pub(super) async fn sealed_after(
    client: &Client,
    t: &Table,
    tenant: Option<&str>,
    after: u64,
    limit: Option<i64>,
) -> Result<Vec<StoredSealedRow>, String> {
    let rows = client
        .query(
            &format!("SELECT {}, seq, prev_hash, hash FROM {} WHERE tenant_id IS NOT DISTINCT FROM $1::text::uuid AND seq > $2 ORDER BY seq LIMIT $3", select_list(), t.qualified("audit_logs")),
            &[&tenant, &i64::try_from(after).unwrap_or(0), &limit],
        )
        .await
        .map_err(|e| db_error(&e))?;
    let n = SEALED_COLUMNS.len();
    rows.iter()
        .map(|row| {
            Ok(StoredSealedRow {
                seq: u64::try_from(row.get::<_, i64>(n)).unwrap_or(0),
                prev_hash: row.get::<_, Option<String>>(n + 1).unwrap_or_default(),
                hash: row.get::<_, Option<String>>(n + 2).unwrap_or_default(),
                row: row_map(row)?,
            })
        })
        .collect()
}

/// Nothing sealed, no checkpoint, and neither a key nor `--unkeyed` given: sealing was never
/// turned on. The number of entries when so.
async fn never_sealed(r: &Run<'_>, client: &Client) -> Result<Option<i64>, String> {
    if r.key()?.is_some() || r.inv.has("unkeyed") {
        return Ok(None);
    }
    let state = client
        .query_one(&sealing_state(&r.table.qualified("audit_logs")), &[])
        .await
        .map_err(|e| db_error(&e))?;
    if state.get::<_, bool>(0) {
        return Ok(None);
    }
    let q = sql(&r.table);
    let has: bool = client
        .query_one(&q.has_checkpoints, &[])
        .await
        .map_err(|e| db_error(&e))?
        .get(0);
    if has
        && !client
            .query(&q.checkpoint_chains, &[])
            .await
            .map_err(|e| db_error(&e))?
            .is_empty()
    {
        return Ok(None);
    }
    Ok(Some(state.get(1)))
}

pub(super) async fn verify(r: &Run<'_>) -> Result<Outcome, String> {
    let anchors = read_anchors(r)?;
    let client = r.reader().await?;
    // An anchor says there were chains: its chains are verified (and found cut) below.
    if anchors.is_none() {
        if let Some(entries) = never_sealed(r, &client).await? {
            let (code, stdout) = sealing_off_output(entries, r.inv.has("json"));
            return Ok(Outcome {
                code,
                stdout,
                stderr: String::new(),
            });
        }
    }
    let key = r.seal_key()?;
    let anchors = anchors.unwrap_or_default();
    let logs = r.table.qualified("audit_logs");
    let anchored: Vec<Option<String>> = anchors.iter().map(|a| a.chain.clone()).collect();
    let mut reports = Vec::new();
    for tenant in chains(&client, &r.table, r.inv.value("tenant"), &anchored).await? {
        let tenant = tenant.as_deref();
        let start = checkpoint(&client, &r.table, tenant).await?;
        let stored = sealed_after(
            &client,
            &r.table,
            tenant,
            start.as_ref().map_or(0, |s| s.seq),
            None,
        )
        .await?;
        let unsealed: i64 = client
            .query_one(&format!("SELECT count(*) FROM {logs} WHERE tenant_id IS NOT DISTINCT FROM $1::text::uuid AND seq IS NULL"), &[&tenant])
            .await
            .map_err(|e| db_error(&e))?
            .get(0);
        let count = stored.len();
        let anchor = anchors.iter().find(|a| a.chain.as_deref() == tenant);
        let rows = sealed_rows(stored).map_err(|e| e.to_string())?;
        let verdict = chain::verify_chain(tenant, &rows, key.as_deref(), start.as_ref(), anchor);
        reports.push(ChainReport {
            chain: tenant.map(str::to_owned),
            rows: count,
            unsealed,
            mode: verdict.mode,
            broken: verdict.broken,
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
    let client = r.reader().await?;
    let mut anchors = Vec::new();
    for tenant in chains(&client, &r.table, None, &[]).await? {
        let t = tenant.as_deref();
        if let Some(head) = head(&client, &r.table, t).await? {
            let checkpoint = checkpoint(&client, &r.table, t).await?.map(|c| Anchor {
                seq: c.seq,
                hash: c.hash,
            });
            anchors.push(ChainAnchor {
                chain: tenant.clone(),
                head,
                checkpoint,
            });
        }
    }
    Ok(Outcome::ok(format!(
        "{}\n",
        chain::anchors_json(&time::format_iso(r.now()), &anchors)
    )))
}

pub(super) async fn stats(r: &Run<'_>) -> Result<Outcome, String> {
    let client = r.reader().await?;
    let logs = r.table.qualified("audit_logs");
    let rows = client
        .query(&format!("SELECT table_name, operation, count(*), count(*) FILTER (WHERE seq IS NULL) FROM {logs} GROUP BY 1, 2 ORDER BY 1, 2"), &[])
        .await
        .map_err(|e| db_error(&e))?;
    let counts: Vec<Value> = rows.iter().map(|r| json!({ "tableName": r.get::<_, String>(0), "operation": r.get::<_, String>(1), "count": r.get::<_, i64>(2), "unsealed": r.get::<_, i64>(3) })).collect();
    // Each chain's mode, judged by its first sealed row (null: nothing sealed yet).
    let mut chain_modes = Vec::new();
    for tenant in chains(&client, &r.table, None, &[]).await? {
        let first = sealed_after(&client, &r.table, tenant.as_deref(), 0, Some(1)).await?;
        let first = sealed_rows(first).map_err(|e| e.to_string())?;
        let mode = chain::mode_of(first.first()).map(chain::Mode::as_str);
        chain_modes.push(json!({ "chain": tenant, "mode": mode }));
    }
    if r.inv.has("json") {
        return Ok(Outcome::ok(format!(
            "{}\n",
            json!({ "counts": counts, "chains": chain_modes.len(), "chainModes": chain_modes })
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
    for c in &chain_modes {
        let _ = writeln!(
            out,
            "{}: {}",
            chain_name(c["chain"].as_str()),
            c["mode"].as_str().unwrap_or("not sealed")
        );
    }
    let total: i64 = counts.iter().filter_map(|c| c["count"].as_i64()).sum();
    let _ = writeln!(
        out,
        "total {total} entries in {} chain(s)",
        chain_modes.len()
    );
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
    let client = r.reader().await?;
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
