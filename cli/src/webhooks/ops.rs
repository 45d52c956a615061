//! `replay`, `recover`, `lanes`, `endpoints`, `stats`: runs the statement the core planned in
//! one system-context transaction, binding each JSON parameter as its declared type, and hands
//! the rows back to the core as JSON for the report.

use tokio_postgres::types::ToSql;
use usebetter_core::cli::webhooks_ops::{plan, report};
use usebetter_core::Result;

use super::{now_ms, require_schema, rollback, Run};
use crate::bound::{bind, row_json};
use crate::db;
use crate::Outcome;

pub(super) async fn operate(r: &Run<'_>) -> Result<Outcome> {
    let op = plan(&r.inv, &r.hooks, now_ms())?;
    let params = bind(&op.statement, &op.params)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    let client = r.client().await?;
    require_schema(r, &client).await?;
    r.begin_system(&client).await?;
    let rows = rollback(&client, db::rows(&client, &op.statement.sql, &refs).await).await?;
    let rows = rollback(
        &client,
        rows.iter().map(row_json).collect::<Result<Vec<_>>>(),
    )
    .await?;
    // A failed action changed nothing: its transaction is rolled back with the error.
    let text = rollback(&client, report(&op, &r.hooks, &rows, r.json())).await?;
    db::batch(&client, "COMMIT").await?;
    Ok(Outcome::ok(text))
}
