//! `better-email messages show <eml_id>`: one message, its recipients, attempts and provider
//! events, as the operator reads them when a user asks "did my mail go out?".

use serde_json::{json, Value};

use crate::email::EmailError;
use crate::error::Result;

/// `v[k]` as printed: text as is, other values as JSON, missing or NULL as `-`.
fn field(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(x) => x.to_string(),
    }
}

/// The report of the `show` statement's row (`None`: no such message, or another tenant's).
///
/// # Errors
/// `EMAIL_NOT_FOUND` naming the id.
pub fn show_report(id: &str, row: Option<&Value>, as_json: bool) -> Result<String> {
    let Some(m) = row else {
        return Err(EmailError::NotFound {
            what: format!("message {id}"),
        }
        .into());
    };
    let s = |k: &str| field(m, k);
    let list = |k: &str| {
        m.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    if as_json {
        let mut out = m.clone();
        out["id"] = json!(id);
        return Ok(format!("{out}\n"));
    }
    let mut out = format!(
        "{id}  {}  ({}, priority {})  tenant {}\n  from {}  subject {}  template {}\n  created {}  send at {}  next attempt {}  expires {}  finished {}\n  transport {}  provider id {}  attempts {}  last outcome {}  last error {}\n",
        s("status"),
        s("category"),
        s("priority"),
        s("tenant_id"),
        s("from_addr"),
        s("subject"),
        s("template"),
        s("created_at"),
        s("send_at"),
        s("next_attempt_at"),
        s("expires_at"),
        s("finished_at"),
        s("transport"),
        s("provider_message_id"),
        s("attempt_count"),
        s("last_outcome"),
        s("last_error"),
    );
    out.push_str("recipients:\n");
    for r in list("recipients") {
        let why = field(&r, "suppressionReason");
        let why = if why == "-" {
            String::new()
        } else {
            format!(" ({why})")
        };
        out.push_str(&format!(
            "  {} {}  {}{why}\n",
            field(&r, "kind"),
            field(&r, "address"),
            field(&r, "status")
        ));
    }
    out.push_str("attempts:\n");
    let attempts = list("attempts");
    if attempts.is_empty() {
        out.push_str("  none\n");
    }
    for a in attempts {
        out.push_str(&format!(
            "  #{} {}  {}  {} ms  {}  {}  {}\n",
            field(&a, "attempt"),
            field(&a, "transport"),
            field(&a, "startedAt"),
            field(&a, "durationMs"),
            field(&a, "outcome"),
            field(&a, "providerStatus"),
            field(&a, "detail"),
        ));
    }
    out.push_str("events:\n");
    let events = list("events");
    if events.is_empty() {
        out.push_str("  none\n");
    }
    for e in events {
        out.push_str(&format!(
            "  {}{}  {}  {}  {}\n",
            field(&e, "type"),
            match field(&e, "bounce").as_str() {
                "-" => String::new(),
                b => format!(" ({b})"),
            },
            field(&e, "recipient"),
            field(&e, "provider"),
            field(&e, "occurredAt"),
        ));
    }
    Ok(out)
}
