//! `better-email stats`: one statement in system context; the core plans it and words the report.

use usebetter_core::cli::email_stats::{plan, report};
use usebetter_core::Result;

use super::Run;
use crate::Outcome;

pub(super) async fn run(r: &Run<'_>) -> Result<Outcome> {
    let (values, limits) = plan(&r.inv)?;
    let rows = r.system_json(&r.store().email_stats(), &values, Ok).await?;
    let window = r.inv.value("window").unwrap_or("24h");
    Ok(Outcome::ok(report(
        &rows,
        window,
        limits,
        r.tables().json(),
    )))
}
