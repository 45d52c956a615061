//! `better-email purge`: the retention of `email::store::retention` — bodies and props of
//! finished messages past `bodiesDays` nulled and their attachments deleted, partitions wholly
//! past `metadataDays` dropped (those still holding an open message stay), expired keys and
//! suppressions deleted, then the DEFAULT partitions trimmed; each batch its own short
//! transaction. A dry run lists the partitions and counts the rows in one transaction that is
//! rolled back.

use usebetter_core::cli::email as cli;
use usebetter_core::email::store::retention::PURGE_BATCH;
use usebetter_core::email::store::{schema_status, Statement, PARTITIONED};
use usebetter_core::Result;

use super::Run;
use crate::Outcome;

pub(super) async fn purge(r: &Run<'_>) -> Result<Outcome> {
    let dry = r.inv.has("dry-run");
    let store = r.store();
    let tables = r.tables();
    let retention = r.email.retention;
    let int = |d: u32| i32::try_from(d).unwrap_or(i32::MAX);
    let (bodies, metadata) = (int(retention.bodies_days), int(retention.metadata_days));
    let client = tables.client().await?;
    let (has_meta, version) = tables.schema_facts(&client).await?;
    schema_status(has_meta, version.as_deref())?;
    let mut batched: Vec<(&str, Statement, i32)> = vec![
        ("message bodies", store.purge_bodies(), bodies),
        ("attachments", store.purge_attachments(), bodies),
    ];
    for (kind, table) in [
        ("expired idempotency keys", "idempotency_keys"),
        ("expired event keys", "event_keys"),
        ("expired suppressions", "suppressions"),
    ] {
        batched.push((kind, store.purge_expired(table)?, 0));
    }
    for (table, statement) in store.purge_default_partitions() {
        let kind = match table {
            "messages" => "messages in the default partition",
            "recipients" => "recipients in the default partition",
            "attempts" => "attempts in the default partition",
            _ => "events in the default partition",
        };
        batched.push((kind, statement, metadata));
    }
    let droppable = PARTITIONED
        .iter()
        .map(|t| store.droppable_partitions(t))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let drop_sql = |names: &[String]| Ok(store.drop_partitions_sql(names)?);
    let (listed, rows) = tables
        .purge(
            &client,
            &droppable,
            metadata,
            drop_sql,
            &batched,
            PURGE_BATCH,
        )
        .await?;
    Ok(Outcome::ok(cli::purge_report(
        dry,
        retention.metadata_days,
        &listed,
        &rows,
        tables.json(),
    )))
}
