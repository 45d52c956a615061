//! `better-email messages show <eml_id> [--tenant]`: reads one message in system context.

use serde_json::json;
use usebetter_core::cli::email_messages::show_report;
use usebetter_core::webhooks::ids::{self, IdKind};
use usebetter_core::{CliFailure, Result};

use super::Run;
use crate::Outcome;

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
        .map(|b| ids::uuid_text(&b))
        .map_err(|e| CliFailure::Usage.with(format!("error: {e}")))?;
    let tenant = r.tenant_flag()?.map(|t| t.to_string());
    let values = [json!(uuid), json!(tenant)];
    let rows = r
        .system_json(&r.store().email_message_show(), &values, Ok)
        .await?;
    Ok(Outcome::ok(show_report(
        id,
        rows.first(),
        r.tables().json(),
    )?))
}
