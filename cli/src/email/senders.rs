//! `better-email senders list|verify <id>`, and the senders `check --dns` reads. Both go through
//! the API's plan and verdict (the core's `Email`), in system context. DNS lookups are the bin's
//! (`node:dns`): without answers a command hands back the names to look up, and the bin runs it
//! again with them.

use serde_json::{json, Value};
use usebetter_core::bridge::email::senders::expect_of;
use usebetter_core::bridge::email::Email;
use usebetter_core::check::email_dns::{self, SenderDns};
use usebetter_core::check::{render, Report};
use usebetter_core::email::dns::{self, Answers, Overrides, Query};
use usebetter_core::email::store::Statement;
use usebetter_core::{CliFailure, Result};

use super::Run;
use crate::tenant::{json as to_json, pretty};
use crate::Outcome;

pub(super) async fn run(r: &Run<'_>) -> Result<Outcome> {
    match r.inv.positionals.first().map(String::as_str) {
        Some("list") => list(r).await,
        Some("verify") => verify(r).await,
        Some(other) => Err(CliFailure::Usage.with(format!(
            "error: unknown senders action '{other}' (list or verify)"
        ))),
        None => Err(CliFailure::Usage.with("error: missing required argument 'list|verify'")),
    }
}

/// The API's planner: senders need no key of the `email` section.
fn email() -> Result<Email> {
    Email::for_tools(&json!({}))
}

fn statement(r: &Run<'_>, name: &str) -> Result<Statement> {
    let s = r.store();
    Ok(match name {
        "sendersList" => s.email_senders_list(),
        "senderVerified" => s.email_sender_verified(),
        other => {
            return Err(CliFailure::Internal.with(format!("internal error: no statement {other}")))
        }
    })
}

/// Runs sender operation `op` with `input` and returns its verdict.
async fn call(r: &Run<'_>, op: &str, input: &Value, tenant: Option<&str>) -> Result<Value> {
    let email = email()?;
    let plan = email.sender_plan(op, input, tenant)?;
    let st = statement(r, plan["statement"].as_str().unwrap_or_default())?;
    let values = plan["params"].as_array().cloned().unwrap_or_default();
    r.system_json(&st, &values, |rows| {
        email.sender_result(op, input, &Value::Array(rows))
    })
    .await
}

/// The answers the bin looked up, or the names it should look up (a hand-off).
fn answers(r: &Run<'_>, queries: &[Query]) -> Result<std::result::Result<Answers, Outcome>> {
    match &r.ctx.dns_answers {
        Some(a) => serde_json::from_value(a.clone())
            .map(Ok)
            .map_err(|e| CliFailure::Internal.with(format!("internal error: DNS answers: {e}"))),
        None => Ok(Err(Outcome {
            handoff: Some(json!({ "command": "dns", "queries": queries })),
            ..Outcome::default()
        })),
    }
}

/// Every sender, as `check --dns` judges it.
pub(super) async fn all(r: &Run<'_>) -> Result<Vec<SenderDns>> {
    let listed = call(r, "list", &json!({}), None).await?;
    let senders = listed.as_array().cloned().unwrap_or_default();
    senders.iter().map(sender_dns).collect()
}

fn sender_dns(s: &Value) -> Result<SenderDns> {
    let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
    let name = s["address"]
        .as_str()
        .map_or_else(|| text("domain"), str::to_owned);
    // A row written by hand has no expectations: the domain's, for no particular provider.
    let expect = match expect_of(&s["expect"]) {
        Ok(e) => e,
        Err(_) => dns::expect(&text("domain"), None, &Overrides::default())?,
    };
    Ok(SenderDns {
        id: text("id"),
        name,
        verified: !s["verifiedAt"].is_null(),
        expect,
    })
}

/// `check --dns`: the senders' lines added to `report`; a hand-off when the names are not
/// looked up yet.
pub(super) async fn check(r: &Run<'_>, report: &mut Report) -> Result<Option<Outcome>> {
    let senders = all(r).await?;
    let answers = match answers(r, &email_dns::queries(&senders))? {
        Ok(a) => a,
        Err(handoff) => return Ok(Some(handoff)),
    };
    email_dns::add(report, &senders, &answers);
    Ok(None)
}

async fn list(r: &Run<'_>) -> Result<Outcome> {
    let tenant = r.tenant_flag()?.map(|t| t.to_string());
    let listed = call(r, "list", &json!({}), tenant.as_deref()).await?;
    if r.tables().json() {
        return Ok(Outcome::ok(format!("{}\n", pretty(&listed)?)));
    }
    let rows = listed.as_array().cloned().unwrap_or_default();
    let mut out = format!("{} senders\n", rows.len());
    for s in &rows {
        let f = |k: &str| s[k].as_str().unwrap_or("-").to_owned();
        let name = s["address"]
            .as_str()
            .map_or_else(|| f("domain"), str::to_owned);
        let verified = s["verifiedAt"]
            .as_str()
            .map_or_else(|| "not verified".to_owned(), |at| format!("verified {at}"));
        let tenant = s["tenantId"].as_str().unwrap_or("global");
        out.push_str(&format!(
            "{}  {tenant}  {name}  {}  {verified}\n",
            f("id"),
            f("transport")
        ));
    }
    Ok(Outcome::ok(out))
}

async fn verify(r: &Run<'_>) -> Result<Outcome> {
    let Some(id) = r.inv.positionals.get(1) else {
        return Err(CliFailure::Usage.with("error: senders verify needs the sender's id"));
    };
    let got = call(r, "get", &json!({ "id": id }), None).await?;
    let queries = expect_of(&got["sender"]["expect"])?.queries();
    let answers = match answers(r, &queries)? {
        Ok(a) => a,
        Err(handoff) => return Ok(handoff),
    };
    let input =
        json!({ "id": id, "expect": got["sender"]["expect"], "answers": r.ctx.dns_answers });
    let sender = call(r, "verified", &input, None).await?;
    let mut report = Report::default();
    let mut judged = sender_dns(&sender)?;
    // Every line of the sender verified is a result: its verdict is the command's.
    judged.verified = true;
    let reports = email_dns::add(&mut report, std::slice::from_ref(&judged), &answers);
    report.finish();
    let state = match (sender["verifiedAt"].as_str(), reports.first()) {
        (_, Some(d)) if d.inconclusive => "a lookup failed: its verification is unchanged",
        (Some(_), _) => "verified",
        (None, _) => "not verified",
    };
    if r.tables().json() {
        let out = json!({ "sender": sender, "report": to_json(&report)? });
        return Ok(Outcome::report(
            !report.passed,
            format!("{}\n", pretty(&out)?),
        ));
    }
    let head = format!("sender {id} {}: {state}\n", judged.name);
    Ok(Outcome::report(!report.passed, head + &render(&report)))
}
