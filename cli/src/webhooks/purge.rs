//! `better-webhooks purge`: the retention of `webhook::store::{partitions, retention}` — old
//! message and attempt partitions dropped whole (those still holding unexpanded messages or
//! messages with unfinished deliveries stay), then batched deletes, each batch its own short
//! transaction. A dry run lists the partitions and counts the rows in one transaction that is
//! rolled back.

use usebetter_core::cli::webhooks as cli;
use usebetter_core::webhooks::store::partitions::PARTITIONED;
use usebetter_core::webhooks::store::retention::PURGE_BATCH;
use usebetter_core::webhooks::store::Statement;
use usebetter_core::Result;

use super::{require_schema, rollback, Run};
use crate::db;
use crate::Outcome;

/// `webhooksInbox`'s default `retentionDays`.
const INBOX_DAYS: i32 = 7;
/// Heartbeat rows of workers gone this many days are removed.
const WORKER_DAYS: i32 = 7;

pub(super) async fn purge(r: &Run<'_>) -> Result<Outcome> {
    let dry = r.inv.has("dry-run");
    let days = r.hooks.config().settings.retention_days;
    let days_param = i32::try_from(days).unwrap_or(i32::MAX);
    let store = r.store();
    let client = r.client().await?;
    require_schema(r, &client).await?;
    let [messages_default, attempts_default] = store.purge_default_partitions();
    let batched: [(&str, Statement, i32); 7] = [
        ("finished deliveries", store.purge_deliveries(), days_param),
        (
            "expired idempotency keys",
            store.purge_idempotency_keys(),
            0,
        ),
        ("inbox rows", store.purge_inbox(), INBOX_DAYS),
        (
            "operational events",
            store.purge_operational_events(),
            days_param,
        ),
        (
            "attempt error texts",
            store.purge_attempt_errors(),
            days_param,
        ),
        (
            "messages in the default partition",
            messages_default,
            days_param,
        ),
        (
            "attempts in the default partition",
            attempts_default,
            days_param,
        ),
    ];
    let droppable = PARTITIONED
        .iter()
        .map(|t| store.droppable_partitions(t))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let drop_sql = |names: &[String]| Ok(store.drop_partitions_sql(names)?);
    let (listed, mut rows) = r
        .tables()
        .purge(
            &client,
            &droppable,
            days_param,
            drop_sql,
            &batched,
            PURGE_BATCH,
        )
        .await?;
    if !dry {
        db::batch(&client, "BEGIN").await?;
        let n = rollback(
            &client,
            db::execute(&client, &store.purge_workers().sql, &[&WORKER_DAYS]).await,
        )
        .await?;
        db::batch(&client, "COMMIT").await?;
        rows.push((
            "stale worker heartbeats",
            i64::try_from(n).unwrap_or(i64::MAX),
        ));
    }
    Ok(Outcome::ok(cli::purge_report(
        dry,
        days,
        &listed,
        &rows,
        r.json(),
    )))
}
