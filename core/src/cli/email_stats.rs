//! `better-email stats [--tenant] [--window 1h|24h|7d]`: the statement's parameters from the
//! flags, and the report, with a warning for each tenant whose complaint or hard-bounce rate over
//! seven days passes its threshold (`--complaint-rate`, default 0.1 %; `--bounce-rate`, default
//! 2 %; mailbox providers publish spam-rate limits around 0.3 %).

use serde_json::{json, Value};

use super::args::Invocation;
use super::webhooks_ops::{tenant, window};
use crate::error::Result;
use crate::CliFailure;

/// The window the rates are judged over.
pub const RATES_WINDOW: &str = "7 days";

fn usage(text: String) -> crate::error::Error {
    CliFailure::Usage.with(text)
}

fn fraction(inv: &Invocation, flag: &str, default: f64) -> Result<f64> {
    inv.value(flag).map_or(Ok(default), |v| {
        v.parse::<f64>()
            .ok()
            .filter(|f| (0.0..=1.0).contains(f))
            .ok_or_else(|| {
                usage(format!(
                    "invalid --{flag}: {v:?} (a fraction from 0 to 1, e.g. 0.001)"
                ))
            })
    })
}

/// `[tenant, window, rates window]` and the thresholds `(complaint, hard bounce)`.
///
/// # Errors
/// `CLI_USAGE` naming the flag.
pub fn plan(inv: &Invocation) -> Result<(Vec<Value>, (f64, f64))> {
    let (tenant, window) = (tenant(inv)?, window(inv)?);
    let limits = (
        fraction(inv, "complaint-rate", 0.001)?,
        fraction(inv, "bounce-rate", 0.02)?,
    );
    Ok((vec![tenant, json!(window), json!(RATES_WINDOW)], limits))
}

fn rate(part: i64, whole: i64) -> Option<f64> {
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The report of the statement's rows.
#[must_use]
pub fn report(rows: &[Value], window: &str, limits: (f64, f64), as_json: bool) -> String {
    let n = |r: &Value, k: &str| r.get(k).and_then(Value::as_i64).unwrap_or(0);
    let mut tenants = Vec::new();
    let mut warnings = Vec::new();
    for r in rows {
        let who = r
            .get("tenant_id")
            .and_then(Value::as_str)
            .unwrap_or("(no tenant)")
            .to_owned();
        let handed = n(r, "handed");
        let (complaint, bounce) = (
            rate(n(r, "complaints"), handed),
            rate(n(r, "hard_bounces"), handed),
        );
        let mut mine = Vec::new();
        for (what, value, limit) in [
            ("complaint", complaint, limits.0),
            ("hard-bounce", bounce, limits.1),
        ] {
            if let Some(v) = value.filter(|v| *v > limit) {
                mine.push(format!(
                    "tenant {who}: {what} rate {:.2}% over 7 days is above {:.2}%",
                    v * 100.0,
                    limit * 100.0
                ));
            }
        }
        tenants.push(json!({
            "tenantId": r.get("tenant_id"), "queued": n(r, "queued"), "oldestQueuedSeconds": r.get("oldest_queued_seconds"),
            "sent": n(r, "sent"), "failed": n(r, "failed"), "handed7d": handed, "hardBounces7d": n(r, "hard_bounces"),
            "complaints7d": n(r, "complaints"), "complaintRate": complaint, "hardBounceRate": bounce, "warnings": mine,
        }));
        warnings.extend(mine);
    }
    if as_json {
        return format!("{}\n", json!({ "window": window, "tenants": tenants }));
    }
    let mut out = format!(
        "{:<36}  {:>7}  {:>9}  {:>7}  {:>7}  {:>9}  {:>9}  {:>10}\n",
        "tenant",
        "queued",
        "oldest s",
        &format!("sent {window}"),
        "failed",
        "handed 7d",
        "bounce 7d",
        "complaints"
    );
    for t in &tenants {
        let s = |k: &str| {
            t.get(k)
                .filter(|v| !v.is_null())
                .map_or("-".into(), ToString::to_string)
        };
        out.push_str(&format!(
            "{:<36}  {:>7}  {:>9}  {:>7}  {:>7}  {:>9}  {:>9}  {:>10}\n",
            t["tenantId"].as_str().unwrap_or("(no tenant)"),
            s("queued"),
            s("oldestQueuedSeconds"),
            s("sent"),
            s("failed"),
            s("handed7d"),
            s("hardBounces7d"),
            s("complaints7d"),
        ));
    }
    if tenants.is_empty() {
        out.push_str("no mail in the window\n");
    }
    for w in warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}
