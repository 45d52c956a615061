//! `better-audit purge`: the core's purge protocol (`audit::purge`) in one transaction. A
//! purge of every table records each chain's checkpoint before its rows go; one of some tables
//! refuses sealed entries.

use usebetter_core::audit::purge::{self as plan, PurgeStep};
use usebetter_core::audit::{duration, time};
use usebetter_core::Result;

use super::{chain, partitions, Run};
use crate::db;
use crate::Outcome;

pub(super) async fn purge(r: &Run<'_>) -> Result<Outcome> {
    let dry = r.inv.has("dry-run");
    plan::confirm(dry, r.inv.has("yes"))?;
    let window = plan::window(r.inv.value("since"), r.config.retention_days)?;
    let cutoff = duration::before(&window, r.now())?;
    let tables: Vec<String> = r
        .inv
        .value("table")
        .map_or_else(|| r.config.retention_tables.clone(), |t| vec![t.to_owned()]);
    let client = r.client().await?;
    r.require_table(&client).await?;
    let steps = plan::purge_plan(
        &partitions(&client, &r.table).await?,
        cutoff,
        tables.is_empty(),
    );
    let cutoff_iso = time::format_iso(cutoff);
    let only: Option<&Vec<String>> = (!tables.is_empty()).then_some(&tables);
    // A dry run reads in the system scope too, and rolls back.
    r.begin(&client).await?;
    let removed = async {
        if !dry && only.is_some() {
            let logs = r.table.logs();
            let sealed: i64 = db::one(&client, &plan::sealed_count(&logs), &[&cutoff_iso, &only])
                .await?
                .get(0);
            plan::refuse_sealed(sealed)?;
        }
        if !dry && only.is_none() {
            // Before the rows go: where each chain now starts.
            chain::record_purge(r, &client, &cutoff_iso).await?;
        }
        let mut removed = Vec::with_capacity(steps.len());
        for step in steps {
            let n: i64 = match &step {
                PurgeStep::Drop { partition } => {
                    let target = r.table.qualified(partition);
                    let n = db::one(&client, &plan::whole_count(&target), &[])
                        .await?
                        .get(0);
                    if !dry {
                        db::batch(&client, &plan::drop_partition(&target)).await?;
                    }
                    n
                }
                PurgeStep::Delete { relation } => {
                    let target = r.table.qualified(relation);
                    // Sealed entries of the chosen tables were refused above; one sealed
                    // since stays.
                    let sql = if dry {
                        plan::doomed_count(&target)
                    } else {
                        plan::delete(&target, only.is_some())
                    };
                    db::one(&client, &sql, &[&cutoff_iso, &only]).await?.get(0)
                }
            };
            removed.push((step, n));
        }
        Ok::<_, usebetter_core::Error>(removed)
    }
    .await;
    let removed = match removed {
        Ok(removed) => removed,
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(e);
        }
    };
    db::batch(&client, if dry { "ROLLBACK" } else { "COMMIT" }).await?;
    Ok(Outcome::ok(plan::report(
        dry,
        &cutoff_iso,
        &tables,
        &removed,
    )))
}
