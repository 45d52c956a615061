//! `better-email suppressions list|add|remove`: the API's plan and verdict (through the core's
//! `Email`), run in one system-context transaction.
//!
//! `better-email suppressions import|export`: the suppression list from and to a file. Import
//! reads the whole file and checks every row in the core before it writes anything, then adds
//! the rows in one system-context transaction, a thousand per statement; rows already present
//! stay as they are, so importing the same file twice adds nothing.

use usebetter_core::bridge::email::Email;
use usebetter_core::cli::email as cli;
use usebetter_core::cli::email_suppressions::{self as manage_cli, MANAGED};
use usebetter_core::email::store::{schema_status, Statement};
use usebetter_core::email::suppression_file;
use usebetter_core::{CliFailure, Result};

use super::Run;
use crate::{db, Outcome};

pub(super) async fn run(r: &Run<'_>) -> Result<Outcome> {
    match r.inv.positionals.first().map(String::as_str) {
        Some("import") => import(r).await,
        Some("export") => export(r).await,
        Some(action) if MANAGED.contains(&action) => manage(r, action).await,
        Some(other) => Err(CliFailure::Usage.with(format!(
            "error: unknown suppressions action '{other}' (import, export, list, add or remove)"
        ))),
        None => Err(CliFailure::Usage
            .with("error: missing required argument 'import|export|list|add|remove'")),
    }
}

async fn import(r: &Run<'_>) -> Result<Outcome> {
    let Some(path) = r.inv.value("file") else {
        return Err(CliFailure::Usage.with(
            "error: suppressions import needs --file <path> (CSV with a header line, or NDJSON)",
        ));
    };
    let full = std::path::Path::new(&r.ctx.cwd).join(path);
    let text = std::fs::read_to_string(&full).map_err(|e| {
        CliFailure::File.with(format!("cannot read --file {}: {e}", full.display()))
    })?;
    let rows = suppression_file::parse(&text, r.inv.value("tenant"))?;
    let client = r.tables().client().await?;
    let (has_meta, version) = r.tables().schema_facts(&client).await?;
    schema_status(has_meta, version.as_deref())?;
    let statement = r.store().email_suppressions_import();
    r.tables().begin_system(&client).await?;
    let mut added = 0usize;
    for chunk in rows.chunks(suppression_file::IMPORT_CHUNK) {
        let [tenants, addresses, keys, categories, reasons, expires, notes] =
            suppression_file::import_columns(chunk);
        let row = db::one(
            &client,
            &statement.sql,
            &[
                &tenants,
                &addresses,
                &keys,
                &categories,
                &reasons,
                &expires,
                &notes,
            ],
        )
        .await?;
        added += usize::try_from(row.get::<_, i32>(0)).unwrap_or(0);
    }
    db::batch(&client, "COMMIT").await?;
    Ok(Outcome::ok(cli::suppressions_imported(
        rows.len(),
        added,
        r.tables().json(),
    )))
}

async fn export(r: &Run<'_>) -> Result<Outcome> {
    let client = r.tables().client().await?;
    let (has_meta, version) = r.tables().schema_facts(&client).await?;
    schema_status(has_meta, version.as_deref())?;
    let tenant = r.tenant_flag()?;
    r.tables().begin_system(&client).await?;
    let sql = &r.store().email_suppressions_export().sql;
    let rows = db::rows(&client, sql, &[&tenant, &false]).await?;
    db::batch(&client, "COMMIT").await?;
    let rows: Vec<[Option<String>; 6]> = rows
        .iter()
        .map(|row| std::array::from_fn(|i| row.get::<_, Option<String>>(i)))
        .collect();
    let csv = suppression_file::to_csv(&rows);
    if let Some(path) = r.inv.value("output") {
        let full = std::path::Path::new(&r.ctx.cwd).join(path);
        std::fs::write(&full, &csv)
            .map_err(|e| CliFailure::File.with(format!("cannot write {}: {e}", full.display())))?;
        return Ok(Outcome::ok(format!(
            "wrote {} suppressions to {}\n",
            rows.len(),
            full.display()
        )));
    }
    Ok(Outcome::ok(csv))
}

/// The store's statement of a plan's name (the plan comes from the API's own planner).
fn statement(r: &Run<'_>, name: &str) -> Result<Statement> {
    let s = r.store();
    Ok(match name {
        "suppressionPut" => s.email_suppression_put(),
        "suppressionRemove" => s.email_suppression_remove(),
        "suppressionsList" => s.email_suppressions_list(),
        other => {
            return Err(CliFailure::Internal.with(format!("internal error: no statement {other}")))
        }
    })
}

async fn manage(r: &Run<'_>, action: &str) -> Result<Outcome> {
    let email = Email::for_tools(&manage_cli::plan_config(
        r.ctx.config.as_ref().and_then(|c| c.get("email")),
    ))?;
    let input = manage_cli::input(action, &r.inv)?;
    let plan = email.suppression_plan(action, &input, r.inv.value("tenant"))?;
    let st = statement(r, plan["statement"].as_str().unwrap_or_default())?;
    let mut values = plan["params"].as_array().cloned().unwrap_or_default();
    // Entries this tool adds say so (the API's say `api`).
    if let Some(i) = st.params.iter().position(|p| p.name == "source") {
        values[i] = "cli".into();
    }
    let result = r
        .system_json(&st, &values, |rows| {
            email.suppression_result(action, &input, &serde_json::Value::Array(rows))
        })
        .await?;
    Ok(Outcome::ok(manage_cli::report(
        action,
        &result,
        r.tables().json(),
    )))
}
