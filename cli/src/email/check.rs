//! `better-email check`: reads the catalog (as `better-tenant check` does), the schema version
//! and the suppression lookup function; the core judges them (`check::email`). It writes
//! nothing.

use usebetter_core::check::email::{self as judge, EmailFacts, FunctionFacts};
use usebetter_core::check::{render, CheckResult, Report};
use usebetter_core::cli::args::Invocation;
use usebetter_core::email::store::enqueue::enqueue_function_query;
use usebetter_core::email::store::schema_status;
use usebetter_core::email::store::suppressed;
use usebetter_core::{CliFailure, Result};

use super::Run;
use crate::db;
use crate::store::now_ms;
use crate::tenant::{json, pretty};
use crate::Outcome;

pub(super) async fn check(r: &Run<'_>) -> Result<Outcome> {
    // The senders first: without DNS answers yet, the names to look up are all this run gives.
    let mut dns = Report::default();
    let store = r.store();
    let tables = r.tables();
    let client = tables.client().await?;
    if r.inv.has("dns") {
        let (has_meta, version) = tables.schema_facts(&client).await?;
        if schema_status(has_meta, version.as_deref()).is_ok() {
            if let Some(handoff) = super::senders::check(r, &mut dns).await? {
                return Ok(handoff);
            }
        } else {
            // The report says what is missing; the senders wait for the tables.
            dns.warnings.push(CheckResult {
                check: "senders' DNS not checked".into(),
                passed: false,
                message: Some("the email tables are missing or outdated".into()),
                remediation: Some("run `better-email migrate`, then `check --dns` again".into()),
            });
        }
    }
    let schema = store.schema().to_owned();
    let (_, schema_version) = tables.schema_facts(&client).await?;
    let facts = EmailFacts {
        catalog: db::read_catalog(&client, std::slice::from_ref(&schema)).await?,
        schema_version,
        suppressed: function(&client, &suppressed::function_query(), &schema).await?,
        enqueue: function(&client, &enqueue_function_query(), &schema).await?,
    };
    let mut report = judge::check(&facts, store, now_ms());
    report.results.append(&mut dns.results);
    report.warnings.append(&mut dns.warnings);
    report.finish();
    let stdout = if tables.json() {
        format!("{}\n", pretty(&json(&report)?)?)
    } else {
        render(&report)
    };
    Ok(Outcome::report(!report.passed, stdout))
}

/// `check --dkim-sample <file>`: the core judges a message saved as received.
pub(super) fn dkim_sample(inv: &Invocation, ctx: &crate::Context, path: &str) -> Result<Outcome> {
    let full = std::path::Path::new(&ctx.cwd).join(path);
    let message = std::fs::read(&full).map_err(|e| {
        CliFailure::File.with(format!("cannot read --dkim-sample {}: {e}", full.display()))
    })?;
    let report = judge::dkim_sample(&message);
    let stdout = if inv.has("json") {
        format!("{}\n", pretty(&json(&report)?)?)
    } else {
        render(&report)
    };
    Ok(Outcome::report(!report.passed, stdout))
}

/// Function facts read by `query` (`email::store::function_query`), in `schema`.
async fn function<C: tokio_postgres::GenericClient>(
    client: &C,
    query: &str,
    schema: &str,
) -> Result<Option<FunctionFacts>> {
    Ok(db::maybe(client, query, &[&schema])
        .await?
        .map(|row| FunctionFacts {
            security_definer: row.get(0),
            config: row.get(1),
            source: row.get(2),
        }))
}
