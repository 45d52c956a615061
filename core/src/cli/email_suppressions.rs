//! `better-email suppressions list|add|remove`: the operator's side of the suppression API
//! (spec §10.4). The flags become the same input `email.suppressions.*` takes, so the core's
//! plan and verdict are the API's; this module only reads the flags and words the report.

use serde_json::{json, Map, Value};

use super::args::Invocation;
use crate::error::Result;
use crate::CliFailure;

/// The actions that go through the API's plan (import and export read and write files).
pub const MANAGED: [&str; 3] = ["list", "add", "remove"];

/// The email section's keys the plan reads (the others configure the running app).
#[must_use]
pub fn plan_config(section: Option<&Value>) -> Value {
    let categories = section.and_then(|s| s.get("categories")).cloned();
    match categories {
        Some(c) if !c.is_null() => json!({ "categories": c }),
        _ => json!({}),
    }
}

/// The API input for `action` from the flags: `add`/`remove` take the address as the second
/// positional and need `--tenant` or `--scope global` (system context has no tenant of its own).
///
/// # Errors
/// `CLI_USAGE` for a missing address or tenant.
pub fn input(action: &str, inv: &Invocation) -> Result<Value> {
    let mut m = Map::new();
    let mut put = |key: &str, flag: &str| {
        if let Some(v) = inv.value(flag) {
            m.insert(key.to_owned(), Value::String(v.to_owned()));
        }
    };
    let flags: &[(&str, &str)] = match action {
        "add" => &[
            ("reason", "reason"),
            ("scope", "scope"),
            ("category", "category"),
            ("expiresAt", "expires"),
            ("note", "note"),
        ],
        "remove" => &[
            ("scope", "scope"),
            ("category", "category"),
            ("reason", "reason"),
        ],
        _ => &[
            ("reason", "reason"),
            ("since", "since"),
            ("cursor", "cursor"),
            ("scope", "scope"),
        ],
    };
    for (key, flag) in flags {
        put(key, flag);
    }
    if action == "list" {
        if let Some(l) = inv.value("limit") {
            let n: u64 = l.parse().map_err(|_| {
                CliFailure::Usage.with(format!("error: --limit {l:?} is not a whole number"))
            })?;
            m.insert("limit".into(), json!(n));
        }
        return Ok(Value::Object(m));
    }
    let Some(address) = inv.positionals.get(1) else {
        return Err(CliFailure::Usage.with(format!(
            "error: suppressions {action} needs the address: suppressions {action} <address>"
        )));
    };
    m.insert("address".into(), Value::String(address.clone()));
    if inv.value("tenant").is_none() && inv.value("scope") != Some("global") {
        return Err(CliFailure::Usage.with(format!(
            "error: suppressions {action} needs --tenant <uuid> for a tenant's entry, or --scope global for one that applies to every tenant"
        )));
    }
    Ok(Value::Object(m))
}

fn who(e: &Value) -> String {
    match e.get("tenantId").and_then(Value::as_str) {
        Some(t) => format!("tenant {t}"),
        None => "every tenant".into(),
    }
}

fn line(e: &Value) -> String {
    let s = |k: &str, none: &str| e.get(k).and_then(Value::as_str).unwrap_or(none).to_owned();
    format!(
        "{}  {}  {}  {}  {}  {}\n",
        s("id", "-"),
        e.get("tenantId")
            .and_then(Value::as_str)
            .unwrap_or("global"),
        s("address", "(erased)"),
        s("reason", "-"),
        s("category", "all categories"),
        s("createdAt", "-"),
    )
}

/// What `action` prints from the API's result.
#[must_use]
pub fn report(action: &str, result: &Value, as_json: bool) -> String {
    if as_json {
        return format!("{result}\n");
    }
    match action {
        "add" => match result.get("suppression").filter(|s| !s.is_null()) {
            Some(e) => format!(
                "added: {} for {} ({})\n",
                e["reason"].as_str().unwrap_or("-"),
                who(e),
                e["id"].as_str().unwrap_or("-")
            ),
            None => "already present: nothing added\n".into(),
        },
        "remove" => format!(
            "removed {} suppressions\n",
            result["removed"].as_u64().unwrap_or(0)
        ),
        _ => {
            let rows = result["data"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut out: String = rows.iter().map(line).collect();
            if rows.is_empty() {
                out.push_str("no suppressions\n");
            }
            if let Some(c) = result["nextCursor"].as_str() {
                out.push_str(&format!("more: --cursor {c}\n"));
            }
            out
        }
    }
}
