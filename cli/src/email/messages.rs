//! `better-email messages show <eml_id> [--tenant]`: reads one message in system context.

use tokio_postgres::types::ToSql;
use usebetter_core::cli::email_messages::show_report;
use usebetter_core::email::store::schema_status;
use usebetter_core::webhooks::ids::{self, IdKind};
use usebetter_core::{CliFailure, Result};

use super::Run;
use crate::bound::row_json;
use crate::{db, Outcome};

pub(super) async fn run(r: &Run<'_>) -> Result<Outcome> {
    match r.inv.positionals.first().map(String::as_str) {
        Some("show") => {}
        Some(other) => {
            return Err(
                CliFailure::Usage.with(format!("error: unknown messages action '{other}' (show)"))
            )
        }
        None => return Err(CliFailure::Usage.with("error: missing required argument 'show'")),
    }
    let id = r
        .inv
        .positionals
        .get(1)
        .map(String::as_str)
        .unwrap_or_default();
    let uuid = ids::decode("eml_id", IdKind::Email, id)
        .map(uuid::Uuid::from_bytes)
        .map_err(|e| CliFailure::Usage.with(format!("error: {e}")))?;
    let tenant =
        match r.inv.value("tenant") {
            Some(t) => Some(uuid::Uuid::parse_str(t).map_err(|_| {
                CliFailure::Usage.with(format!("error: --tenant {t:?} is not a UUID"))
            })?),
            None => None,
        };
    let client = r.tables().client().await?;
    let (has_meta, version) = r.tables().schema_facts(&client).await?;
    schema_status(has_meta, version.as_deref())?;
    r.tables().begin_system(&client).await?;
    let params: [&(dyn ToSql + Sync); 2] = [&uuid, &tenant];
    let rows = db::rows(&client, &r.store().email_message_show().sql, &params).await;
    db::batch(&client, "COMMIT").await?;
    let row = rows?.first().map(row_json).transpose()?;
    Ok(Outcome::ok(show_report(
        id,
        row.as_ref(),
        r.tables().json(),
    )?))
}
