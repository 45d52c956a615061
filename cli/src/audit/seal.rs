//! `better-audit seal`: entries written unsealed (trigger capture, deferred sealing) sealed
//! into their chains under the chain's lock, once or, with `--watch`, continuously.

use std::io::Write as _;

use tokio_postgres::Client;
use usebetter_core::audit::chain::seal_rows;
use usebetter_core::audit::chain_sql::{ChainSql, SEAL_BATCH};
use usebetter_core::cli::audit as cli;
use usebetter_core::{Error, Result};

use super::chain::{head, row_map, sql};
use super::Run;
use crate::db;
use crate::Outcome;

pub(super) async fn seal(r: &Run<'_>) -> Result<Outcome> {
    let key = r.seal_key()?;
    if let Some(w) = cli::seal_watch(r.inv.value("watch"), r.inv.value("max-seconds"))? {
        return watch(r, w, key.as_deref()).await;
    }
    let client = r.client().await?;
    r.require_table(&client).await?;
    let all = pending_chains(r, &client).await?;
    let (total, mut out) = seal_chains(r, &client, &all, key.as_deref()).await?;
    out.push_str(&cli::sealed_total_line(total, key.is_some()));
    Ok(Outcome::ok(out))
}

/// Seals the unsealed entries of `all`, under each chain's lock, at most [`SEAL_BATCH`] per
/// transaction (a backlog left by a long stop neither fills memory nor holds the lock for
/// long): how many, and a line per chain that had any.
async fn seal_chains(
    r: &Run<'_>,
    client: &Client,
    all: &[Option<String>],
    key: Option<&[u8]>,
) -> Result<(usize, String)> {
    let q = sql(&r.table);
    let mut total = 0usize;
    let mut out = String::new();
    for tenant in all {
        let tenant = tenant.as_deref();
        let (mut count, mut first, mut last) = (0usize, 0i64, 0i64);
        loop {
            let Some((n, from, to)) = seal_batch(r, client, &q, tenant, key).await? else {
                break;
            };
            if count == 0 {
                first = from;
            }
            (count, last) = (count + n, to);
            if i64::try_from(n).unwrap_or(i64::MAX) < SEAL_BATCH {
                break;
            }
        }
        if count > 0 {
            total += count;
            out.push_str(&cli::sealed_chain_line(tenant, count, first, last));
        }
    }
    Ok((total, out))
}

/// One transaction: the chain's oldest unsealed entries, up to [`SEAL_BATCH`], sealed after its
/// head. How many and their first and last seq; `None` when none were left.
async fn seal_batch(
    r: &Run<'_>,
    client: &Client,
    q: &ChainSql,
    tenant: Option<&str>,
    key: Option<&[u8]>,
) -> Result<Option<(usize, i64, i64)>> {
    r.begin(client).await?;
    // The library's sealed writes take the same lock, so a chain never forks.
    db::execute(client, &q.lock, &[&tenant]).await?;
    let pending = db::rows(client, q.pending.pick(tenant), &[&tenant, &SEAL_BATCH]).await?;
    if pending.is_empty() {
        db::batch(client, "ROLLBACK").await?;
        return Ok(None);
    }
    let rows = pending.iter().map(row_map).collect::<Result<Vec<_>>>()?;
    let head = head(client, &r.table, tenant).await?;
    let seals = seal_rows(&rows, head.as_ref(), key)?;
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
    db::execute(client, &q.mark_sealed, &[&ids, &seqs, &prevs, &hashes]).await?;
    db::batch(client, "COMMIT").await?;
    Ok(Some((rows.len(), seqs[0], seqs[seqs.len() - 1])))
}

/// The chains with unsealed entries, found through the index without reading sealed ones, in
/// `chains`' order (the global chain first).
async fn pending_chains(r: &Run<'_>, client: &Client) -> Result<Vec<Option<String>>> {
    r.begin(client).await?;
    let rows = db::rows(client, &sql(&r.table).pending_chains, &[]).await?;
    db::batch(client, "COMMIT").await?;
    let mut all: Vec<Option<String>> = rows.iter().map(|row| row.get(0)).collect();
    all.sort();
    Ok(all)
}

/// Failures a running sealer outlives: the server restarting or unreachable for a while.
fn transient(e: &Error) -> bool {
    matches!(e.code(), "DB_CONNECT" | "DB_CONNECTION_CLOSED")
}

/// `seal --watch`: a pass every interval, entries sealed shortly after they commit, so
/// writers never wait on a chain's lock. Once it has run, a lost connection is retried with
/// backoff (up to 30 s between attempts); a first connection that fails (a wrong URL) and
/// every other failure stop the sealer.
async fn watch(r: &Run<'_>, w: cli::Watch, key: Option<&[u8]>) -> Result<Outcome> {
    use std::time::{Duration, Instant};
    const REPORT_EVERY: Duration = Duration::from_secs(10);
    let interval = Duration::from_millis(w.interval_ms);
    let deadline = w
        .max_seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut client: Option<Client> = None;
    let mut connected = false;
    let mut backoff = interval;
    let (mut total, mut unreported, mut reported_at) = (0usize, 0usize, Instant::now());
    while deadline.is_none_or(|d| Instant::now() < d) {
        let pass = async {
            if client.is_none() {
                let c = r.client().await?;
                db::batch(&c, "SET application_name = 'better-audit seal --watch'").await?;
                r.require_table(&c).await?;
                client = Some(c);
                connected = true;
            }
            let c = client.as_ref().expect("connected above");
            let all = pending_chains(r, c).await?;
            seal_chains(r, c, &all, key).await
        }
        .await;
        let pause = match pass {
            Ok((n, _)) => {
                backoff = interval;
                total += n;
                unreported += n;
                interval
            }
            Err(e) if connected && transient(&e) => {
                client = None;
                let wait = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                eprint!("{}", cli::watch_retry_line(&e.to_string(), ms));
                wait
            }
            Err(e) => return Err(e),
        };
        if unreported > 0 && reported_at.elapsed() >= REPORT_EVERY {
            print!(
                "{}",
                cli::watch_line(unreported, reported_at.elapsed().as_secs())
            );
            let _ = std::io::stdout().flush();
            (unreported, reported_at) = (0, Instant::now());
        }
        let pause = deadline.map_or(pause, |d| {
            pause.min(d.saturating_duration_since(Instant::now()))
        });
        tokio::time::sleep(pause).await;
    }
    Ok(Outcome::ok(cli::sealed_total_line(total, key.is_some())))
}
