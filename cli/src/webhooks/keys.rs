//! `better-webhooks keys generate` (a new endpoint secret from the OS's random source) and
//! `rekey` (every endpoint's keys sealed again with `BETTER_WEBHOOKS_KEY`, page by page, each
//! page its own transaction in system context; a row changed meanwhile is left for the next run).

use serde_json::Value;
use usebetter_core::cli::args::Invocation;
use usebetter_core::cli::webhooks as cli;
use usebetter_core::webhooks::keys::{generate_secret, Scheme};
use usebetter_core::{CliFailure, Result};
use uuid::Uuid;

use super::{require_schema, rollback, Run};
use crate::db;
use crate::Outcome;

/// Endpoints per `rekey` transaction.
const PAGE: i64 = 200;

fn random(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf)
        .map_err(|e| CliFailure::Internal.with(format!("the OS random source failed: {e}")))?;
    Ok(buf)
}

pub(super) fn generate(inv: &Invocation) -> Result<Outcome> {
    cli::keys_action(inv.positionals.first().map_or("", String::as_str))?;
    let scheme = if inv.has("v1a") {
        Scheme::V1a
    } else {
        Scheme::V1
    };
    let g = generate_secret(scheme, &random(32)?)?;
    Ok(Outcome::ok(cli::generated(
        &g.secret,
        g.public_key.as_deref(),
        inv.has("json"),
    )))
}

pub(super) async fn rekey(r: &Run<'_>) -> Result<Outcome> {
    if r.hooks.config().secrets.is_none() {
        return Err(cli::rekey_needs_key());
    }
    let store = r.store();
    let client = r.client().await?;
    require_schema(r, &client).await?;
    let (page_sql, set_sql) = (
        store.endpoint_keys_page().sql,
        store.set_endpoint_keys().sql,
    );
    let mut after: Option<Uuid> = None;
    let mut resealed = 0;
    loop {
        r.begin_system(&client).await?;
        let page = async {
            let rows = db::rows(&client, &page_sql, &[&after, &PAGE]).await?;
            let (mut ids, mut expected, mut keys) = (Vec::new(), Vec::new(), Vec::new());
            for row in &rows {
                let id: Uuid = row.get(0);
                let stored: Value = row.get(1);
                let count = stored.as_array().map_or(0, Vec::len);
                let sealed = r
                    .hooks
                    .reseal_keys(&id.to_string(), &stored, &random(24 * count)?)?;
                ids.push(id);
                expected.push(stored);
                keys.push(sealed);
            }
            let written =
                db::rows(&client, &set_sql, &[&None::<Uuid>, &ids, &expected, &keys]).await?;
            Ok((ids.last().copied(), rows.len(), written.len()))
        }
        .await;
        let (last, read, written) = rollback(&client, page).await?;
        db::batch(&client, "COMMIT").await?;
        resealed += written;
        match last {
            Some(id) if read == usize::try_from(PAGE).unwrap_or(usize::MAX) => after = Some(id),
            _ => break,
        }
    }
    Ok(Outcome::ok(cli::rekeyed(resealed, r.json())))
}
