//! The hash chains in the database, through the core's chain statements (`chain_sql`, the ones
//! the library's sealed writes run): verifying each chain, printing chain heads, recording purge
//! checkpoints, plus `stats` and `export` (sealing is in `seal`).

use std::io::Write as _;

use serde_json::{Map, Value};
use tokio_postgres::{Client, Row};
use usebetter_core::audit::chain::{self, sealed_rows, ChainAnchor, Checkpoint, StoredSealedRow};
use usebetter_core::audit::chain_sql::{row_from_text, ChainSql};
use usebetter_core::audit::cli_sql::{export_page, stats_counts, EXPORT_PAGE};
use usebetter_core::audit::seal::{Anchor, SEALED_COLUMNS};
use usebetter_core::audit::storage::Table;
use usebetter_core::audit::{duration, time};
use usebetter_core::cli::audit::{
    self as cli, csv_cell, sealing_off_output, verify_output, ChainReport, StatsCount,
};
use usebetter_core::{CliFailure, Error, Result};

use super::Run;
use crate::db;
use crate::Outcome;

pub(super) fn sql(t: &Table) -> ChainSql {
    usebetter_core::audit::chain_sql::chain_sql(&t.logs(), &t.checkpoints())
}

fn seq_of(text: &str) -> u64 {
    text.parse().unwrap_or(0)
}

/// A row read with the sealed columns as text, as the seal takes it.
pub(super) fn row_map(row: &Row) -> Result<Map<String, Value>> {
    let cells: Vec<Option<String>> = (0..SEALED_COLUMNS.len()).map(|i| row.get(i)).collect();
    row_from_text(&cells)
}

/// The chains to look at: those with entries, with a checkpoint, and `more` (say, the chains
/// of an anchor file, which may be gone from the table); `None` is the global chain.
async fn chains(
    client: &Client,
    t: &Table,
    only: Option<&str>,
    more: &[Option<String>],
) -> Result<Vec<Option<String>>> {
    if let Some(tenant) = only {
        return Ok(vec![(tenant != "global").then(|| tenant.to_owned())]);
    }
    let q = sql(t);
    let mut listed = vec![q.chains.clone()];
    let has: bool = db::one(client, &q.has_checkpoints, &[]).await?.get(0);
    if has {
        listed.push(q.checkpoint_chains);
    }
    let mut out: Vec<Option<String>> = Vec::new();
    for q in &listed {
        let rows = db::rows(client, q, &[]).await?;
        out.extend(rows.iter().map(|r| r.get::<_, Option<String>>(0)));
    }
    out.extend(more.iter().cloned());
    out.sort();
    out.dedup();
    Ok(out)
}

/// The chain's head: its last sealed entry, or where a purge cut it when none is left.
pub(super) async fn head(
    client: &Client,
    t: &Table,
    tenant: Option<&str>,
) -> Result<Option<Anchor>> {
    let q = sql(t);
    match db::maybe(client, q.head.pick(tenant), &[&tenant]).await? {
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
) -> Result<Option<Checkpoint>> {
    let row = db::maybe(client, &sql(t).checkpoint, &[&tenant]).await?;
    Ok(row.map(|r| Checkpoint {
        seq: seq_of(&r.get::<_, String>(0)),
        hash: r.get(1),
        mac: r.get(2),
    }))
}

/// Called by purge inside its transaction, before rows go: each chain's last purged seal,
/// sealed with the chain's key so that nobody without it can record a cut.
pub(super) async fn record_purge(r: &Run<'_>, client: &Client, cutoff_iso: &str) -> Result<()> {
    let q = sql(&r.table);
    let heads = db::rows(client, &q.purged_heads, &[&cutoff_iso]).await?;
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
    db::execute(
        client,
        &q.record_checkpoints,
        &[&chains, &seqs, &hashes, &macs],
    )
    .await
    .map(drop)
}

/// `anchor` output, read back by `verify --anchor`.
fn read_anchors(r: &Run<'_>) -> Result<Option<Vec<ChainAnchor>>> {
    let Some(path) = r.inv.value("anchor") else {
        return Ok(None);
    };
    let full = std::path::Path::new(&r.ctx.cwd).join(path);
    let text = std::fs::read_to_string(&full).map_err(|e| {
        CliFailure::File.with(format!("cannot read --anchor {}: {e}", full.display()))
    })?;
    let not_anchors = |why: &dyn std::fmt::Display| {
        CliFailure::Anchor.with(format!(
            "--anchor {} is not an anchor file: {why}",
            full.display()
        ))
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| not_anchors(&e))?;
    chain::parse_anchors(&v)
        .map(Some)
        .map_err(|e| not_anchors(&e))
}

/// A chain's sealed rows from `after` on (`seq > after`), in seq order.
pub(super) async fn sealed_after(
    client: &Client,
    t: &Table,
    tenant: Option<&str>,
    after: u64,
    limit: Option<i64>,
) -> Result<Vec<StoredSealedRow>> {
    let q = sql(t);
    let after = i64::try_from(after).unwrap_or(0);
    let rows = db::rows(
        client,
        q.sealed_after.pick(tenant),
        &[&tenant, &after, &limit],
    )
    .await?;
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
async fn never_sealed(r: &Run<'_>, client: &Client) -> Result<Option<i64>> {
    if r.key()?.is_some() || r.inv.has("unkeyed") {
        return Ok(None);
    }
    let q = sql(&r.table);
    let state = db::one(client, &q.sealing_state, &[]).await?;
    if state.get::<_, bool>(0) {
        return Ok(None);
    }
    let has: bool = db::one(client, &q.has_checkpoints, &[]).await?.get(0);
    if has
        && !db::rows(client, &q.checkpoint_chains, &[])
            .await?
            .is_empty()
    {
        return Ok(None);
    }
    Ok(Some(state.get(1)))
}

pub(super) async fn verify(r: &Run<'_>) -> Result<Outcome> {
    let anchors = read_anchors(r)?;
    let grace = cli::allow_unsealed(r.inv.value("allow-unsealed"))?;
    let client = r.reader().await?;
    // An anchor says there were chains: its chains are verified (and found cut) below.
    if anchors.is_none() {
        if let Some(entries) = never_sealed(r, &client).await? {
            let (code, stdout) = sealing_off_output(entries, r.inv.has("json"));
            return Ok(Outcome::report(code != 0, stdout));
        }
    }
    let key = r.seal_key()?;
    let anchors = anchors.unwrap_or_default();
    let q = sql(&r.table);
    let anchored: Vec<Option<String>> = anchors.iter().map(|a| a.chain.clone()).collect();
    let mut reports = Vec::new();
    for tenant in chains(&client, &r.table, r.inv.value("tenant"), &anchored).await? {
        let tenant = tenant.as_deref();
        let start = checkpoint(&client, &r.table, tenant).await?;
        let after = start.as_ref().map_or(0, |s| s.seq);
        let stored = sealed_after(&client, &r.table, tenant, after, None).await?;
        let counts = db::one(&client, q.unsealed.pick(tenant), &[&tenant, &grace]).await?;
        let (unsealed, overdue): (i64, i64) = (counts.get(0), counts.get(1));
        let count = stored.len();
        let anchor = anchors.iter().find(|a| a.chain.as_deref() == tenant);
        let rows = sealed_rows(stored)?;
        let verdict = chain::verify_chain(tenant, &rows, key.as_deref(), start.as_ref(), anchor);
        reports.push(ChainReport {
            chain: tenant.map(str::to_owned),
            rows: count,
            unsealed,
            overdue,
            mode: verdict.mode,
            broken: verdict.broken,
        });
    }
    let (code, stdout) = verify_output(&reports, r.inv.has("json"));
    Ok(Outcome::report(code != 0, stdout))
}

pub(super) async fn anchor(r: &Run<'_>) -> Result<Outcome> {
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

pub(super) async fn stats(r: &Run<'_>) -> Result<Outcome> {
    let client = r.reader().await?;
    let counts: Vec<StatsCount> = db::rows(&client, &stats_counts(&r.table.logs()), &[])
        .await?
        .iter()
        .map(|r| StatsCount {
            table_name: r.get(0),
            operation: r.get(1),
            count: r.get(2),
            unsealed: r.get(3),
        })
        .collect();
    // Each chain's mode, judged by its first sealed row (none: nothing sealed yet).
    let mut modes = Vec::new();
    for tenant in chains(&client, &r.table, None, &[]).await? {
        let first = sealed_after(&client, &r.table, tenant.as_deref(), 0, Some(1)).await?;
        let first = sealed_rows(first)?;
        modes.push((tenant, chain::mode_of(first.first())));
    }
    Ok(Outcome::ok(cli::stats_output(
        &counts,
        &modes,
        r.inv.has("json"),
    )))
}

/// Streams to stdout page by page (keyset on `timestamp, id`), so memory stays flat.
pub(super) async fn export(r: &Run<'_>) -> Result<Outcome> {
    let format = cli::export_format(r.inv.value("format"))?;
    let since = match r.inv.value("since") {
        Some(s) => time::format_iso(duration::before(s, r.now())?),
        None => "-infinity".to_owned(),
    };
    let client = r.reader().await?;
    let logs = r.table.logs();
    let mut w = std::io::BufWriter::new(std::io::stdout());
    let io = |e: std::io::Error| -> Error {
        CliFailure::File.with(format!("cannot write to stdout: {e}"))
    };
    if format == "csv" {
        writeln!(w, "{}", SEALED_COLUMNS.join(",")).map_err(io)?;
    }
    let mut after = (since, "00000000-0000-0000-0000-000000000000".to_owned());
    let mut first = true;
    let mut total = 0usize;
    loop {
        let rows = db::rows(&client, &export_page(&logs, first), &[&after.0, &after.1]).await?;
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
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) < EXPORT_PAGE {
            break;
        }
    }
    w.flush().map_err(io)?;
    Ok(Outcome {
        stderr: format!("exported {total} entries\n"),
        ..Outcome::default()
    })
}
