//! The suppression list as an API (spec §10.4) and erasure: what each call's input means (the
//! statement and its parameters, [`Email::suppression_plan`]) and what its rows mean
//! ([`Email::suppression_result`]). Addresses are checked as the send path checks them and
//! matched by the same key; a tenant's entry never silently becomes a global one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::{em, Email};
use crate::audit::time::{format_iso, parse_iso_ms};
use crate::email::address::{parse_address, AddressOptions};
use crate::email::recipients::AddressInput;
use crate::email::suppression_file::{self, REASONS};
use crate::email::EmailError;
use crate::error::Result;

/// `list`'s page size when none is given, and its ceiling.
const PAGE: (u64, u64) = (100, 1_000);
/// Longest `note` kept (it is for people, not payloads).
const NOTE_MAX: usize = 2_000;

pub(super) fn arg(field: &str, reason: impl Into<String>) -> crate::error::Error {
    em(EmailError::argument(field, reason))
}

/// An argument of the wrong type at the boundary (as the bindings' own readers report it).
fn shape(field: &str, expected: &str) -> crate::error::Error {
    crate::error::Error::InvalidArgument {
        field: field.into(),
        reason: format!("expected {expected}"),
    }
}

/// The call's options object, refusing keys it does not take.
pub(super) fn fields<'a>(input: &'a Value, allowed: &[&str]) -> Result<&'a Map<String, Value>> {
    let Value::Object(m) = input else {
        return Err(shape("input", "an object"));
    };
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(arg(
            k,
            format!("unknown field (expected {})", allowed.join(", ")),
        ));
    }
    Ok(m)
}

pub(super) fn text(m: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(arg(key, "expected a string")),
    }
}

fn time(m: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    text(m, key)?
        .map(|t| {
            parse_iso_ms(&t)
                .map(|ms| format_iso(ms.saturating_mul(1000)))
                .ok_or_else(|| arg(key, "expected a Date or an ISO 8601 timestamp"))
        })
        .transpose()
}

/// `(address, key)`, checked as a recipient of `send()` is.
fn address(m: &Map<String, Value>) -> Result<(String, String)> {
    let given = text(m, "address")?.ok_or_else(|| arg("address", "missing"))?;
    let mailbox = parse_address(
        "address",
        &AddressInput::Text(given),
        AddressOptions { smtp_utf8: true },
    )
    .map_err(em)?;
    Ok((mailbox.address, mailbox.key))
}

fn reason(m: &Map<String, Value>) -> Result<Option<String>> {
    let r = text(m, "reason")?;
    if let Some(r) = &r {
        if !REASONS.contains(&r.as_str()) {
            return Err(arg(
                "reason",
                format!("{r:?} is not one of {}", REASONS.join(", ")),
            ));
        }
    }
    Ok(r)
}

/// `Some(true)` for `scope: "global"`, `Some(false)` for `"tenant"`.
pub(super) fn scope(m: &Map<String, Value>) -> Result<Option<bool>> {
    match text(m, "scope")?.as_deref() {
        None => Ok(None),
        Some("global") => Ok(Some(true)),
        Some("tenant") => Ok(Some(false)),
        Some(other) => Err(arg(
            "scope",
            format!("expected \"tenant\" or \"global\", got {other:?}"),
        )),
    }
}

pub(super) fn uuid(field: &str, t: Option<&str>) -> Result<Option<String>> {
    match t {
        Some(t) if !crate::resolve::is_uuid(t) => Err(arg(field, "expected the tenant's UUID")),
        t => Ok(t.map(str::to_owned)),
    }
}

impl Email {
    fn category(&self, m: &Map<String, Value>) -> Result<Option<String>> {
        let c = text(m, "category")?;
        if let Some(c) = &c {
            if !self.config.settings.categories.contains_key(c) {
                let known: Vec<&str> = self
                    .config
                    .settings
                    .categories
                    .keys()
                    .map(String::as_str)
                    .collect();
                return Err(arg(
                    "category",
                    format!("{c:?} is not a configured category ({})", known.join(", ")),
                ));
            }
        }
        Ok(c)
    }

    /// `op` (`check`, `add`, `remove`, `list`, `export`, `import`, `erase`) with its `input`:
    /// `{ statement, params }` (import: `{ statement, chunks, total }`). `tenant_id` is the
    /// tenant an operator acts for (system context), or the scope's for `import`.
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` / `EMAIL_INVALID_ADDRESS` naming the field.
    pub fn suppression_plan(
        &self,
        op: &str,
        input: &Value,
        tenant_id: Option<&str>,
    ) -> Result<Value> {
        let tenant = uuid("tenantId", tenant_id)?;
        let (statement, params) = match op {
            "check" => {
                let m = fields(input, &["address", "category"])?;
                (
                    "suppressionCheck",
                    json!([address(m)?.1, self.category(m)?]),
                )
            }
            "add" => {
                let m = fields(
                    input,
                    &[
                        "address",
                        "reason",
                        "scope",
                        "category",
                        "expiresAt",
                        "note",
                    ],
                )?;
                let (addr, key) = address(m)?;
                let reason = reason(m)?.unwrap_or_else(|| "manual".into());
                let global = scope(m)?.unwrap_or(false);
                let note = text(m, "note")?;
                if note.as_ref().is_some_and(|n| n.chars().count() > NOTE_MAX) {
                    return Err(arg("note", format!("longer than {NOTE_MAX} characters")));
                }
                let params = json!([
                    tenant,
                    addr,
                    key,
                    self.category(m)?,
                    reason,
                    note,
                    time(m, "expiresAt")?,
                    global,
                    "api"
                ]);
                ("suppressionPut", params)
            }
            "remove" => {
                let m = fields(input, &["address", "scope", "category", "reason"])?;
                let global = scope(m)?.unwrap_or(false);
                (
                    "suppressionRemove",
                    json!([tenant, address(m)?.1, self.category(m)?, reason(m)?, global]),
                )
            }
            "list" => {
                let m = fields(input, &["reason", "since", "cursor", "limit", "scope"])?;
                let limit = match m.get("limit") {
                    None | Some(Value::Null) => PAGE.0,
                    Some(v) => {
                        v.as_u64()
                            .filter(|n| (1..=PAGE.1).contains(n))
                            .ok_or_else(|| {
                                arg("limit", format!("expected an integer from 1 to {}", PAGE.1))
                            })?
                    }
                };
                let (after, after_id) = match text(m, "cursor")? {
                    Some(c) => cursor(&c).map(|(a, b)| (Some(a), Some(b)))?,
                    None => (None, None),
                };
                let global = scope(m)?.unwrap_or(false);
                (
                    "suppressionsList",
                    json!([
                        tenant,
                        global,
                        reason(m)?,
                        time(m, "since")?,
                        after,
                        after_id,
                        limit + 1
                    ]),
                )
            }
            "export" => {
                let m = fields(input, &["scope", "format"])?;
                format(m)?;
                (
                    "suppressionsExport",
                    json!([tenant, scope(m)?.unwrap_or(false)]),
                )
            }
            "import" => return import(input, tenant.as_deref()),
            "erase" => ("erase", json!([address(fields(input, &["address"])?)?.1])),
            other => {
                return Err(arg(
                    "op",
                    format!("unknown suppression operation {other:?}"),
                ))
            }
        };
        Ok(json!({ "statement": statement, "params": params }))
    }

    /// What `op`'s rows mean: `check` `{ suppressed, reason }`; `add` `{ added, suppression }`;
    /// `remove` `{ removed, suppressions }`; `list` `{ data, nextCursor }`; `export` the text;
    /// `erase` the counts.
    ///
    /// # Errors
    /// `EMAIL_TENANT_REQUIRED` when a tenant's entry was asked for where the context has no
    /// tenant (nothing was written).
    pub fn suppression_result(&self, op: &str, input: &Value, rows: &Value) -> Result<Value> {
        let rows = match rows.as_array() {
            Some(r) if r.iter().all(Value::is_object) => r.as_slice(),
            _ => return Err(shape("rows", "an array of row objects")),
        };
        let m = input
            .as_object()
            .cloned()
            .ok_or_else(|| shape("input", "an object"))?;
        match op {
            "check" => {
                let found = rows
                    .first()
                    .and_then(|r| r.get("reason"))
                    .and_then(Value::as_str);
                let reason = self.blocking(text(&m, "category")?.as_deref(), found);
                Ok(json!({ "suppressed": reason.is_some(), "reason": reason }))
            }
            "add" | "remove" => {
                let global = scope(&m)?.unwrap_or(false);
                let first = rows.first();
                let has = |k: &str| first.and_then(|r| r.get(k)).is_some_and(|v| !v.is_null());
                if global && has("context") {
                    return Err(arg("scope", "a global entry applies to every tenant: add or remove it in system context (outside a tenant scope, or in tenant.runAsSystem)"));
                }
                if !global && !has("scope") {
                    return Err(em(EmailError::TenantRequired {
                        action: format!("suppressions.{op}"),
                    }));
                }
                let entries: Vec<Value> = rows
                    .iter()
                    .filter(|r| r.get("id").is_some_and(|v| !v.is_null()))
                    .map(entry)
                    .collect();
                Ok(if op == "add" {
                    json!({ "added": !entries.is_empty(), "suppression": entries.into_iter().next() })
                } else {
                    json!({ "removed": entries.len(), "suppressions": entries })
                })
            }
            "list" => {
                let limit = m.get("limit").and_then(Value::as_u64).unwrap_or(PAGE.0);
                let more = rows.len() as u64 > limit;
                let page: Vec<Value> = rows
                    .iter()
                    .take(usize::try_from(limit).unwrap_or(usize::MAX))
                    .map(entry)
                    .collect();
                let next = more
                    .then(|| {
                        page.last().map(|l| {
                            URL_SAFE_NO_PAD.encode(format!(
                                "{}|{}",
                                l["createdAt"].as_str().unwrap_or_default(),
                                l["id"].as_str().unwrap_or_default()
                            ))
                        })
                    })
                    .flatten();
                Ok(json!({ "data": page, "nextCursor": next }))
            }
            "export" => {
                let table: Vec<[Option<String>; 6]> = rows
                    .iter()
                    .map(|r| {
                        std::array::from_fn(|i| {
                            r.get(suppression_file::COLUMNS[i])
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                    })
                    .collect();
                Ok(Value::String(if format(&m)? == "ndjson" {
                    suppression_file::to_ndjson(&table)
                } else {
                    suppression_file::to_csv(&table)
                }))
            }
            "erase" => {
                let r = rows.first().cloned().unwrap_or_default();
                let f = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
                Ok(json!({
                    "addressHash": f("address_hash"), "messages": f("messages"), "recipients": f("recipients"),
                    "attachments": f("attachments"), "attempts": f("attempts"), "events": f("events"),
                    "suppressions": f("suppressions"),
                }))
            }
            other => Err(arg(
                "op",
                format!("unknown suppression operation {other:?}"),
            )),
        }
    }
}

fn format(m: &Map<String, Value>) -> Result<String> {
    match text(m, "format")?.as_deref() {
        None | Some("csv") => Ok("csv".into()),
        Some("ndjson") => Ok("ndjson".into()),
        Some(other) => Err(arg(
            "format",
            format!("expected \"csv\" or \"ndjson\", got {other:?}"),
        )),
    }
}

/// `(created_at, id)` of the last entry a page showed.
fn cursor(c: &str) -> Result<(String, String)> {
    let bad = || {
        arg(
            "cursor",
            "not a cursor this list returned (pass `nextCursor` as given)",
        )
    };
    let text = URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    if parse_iso_ms(at).is_none() || !crate::resolve::is_uuid(id) {
        return Err(bad());
    }
    Ok((at.to_owned(), id.to_owned()))
}

/// A row as the API returns it (camelCase).
fn entry(r: &Value) -> Value {
    let f = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "id": f("id"), "tenantId": f("tenant_id"), "address": f("address"), "addressHash": f("address_hash"), "category": f("category"),
        "reason": f("reason"), "source": f("source"), "note": f("note"),
        "expiresAt": f("expires_at"), "createdAt": f("created_at"),
    })
}

/// `import`'s input `{ rows }` (a CSV/NDJSON text or objects), checked whole before any
/// statement: the `suppressionsImport` parameters a thousand rows at a time. With `tenant`
/// (the scope's, or the operator's `tenantId`), rows without a tenant are that tenant's and a
/// row naming another tenant is refused.
fn import(input: &Value, tenant: Option<&str>) -> Result<Value> {
    let m = fields(input, &["rows"])?;
    let rows = match m.get("rows") {
        Some(Value::String(t)) => suppression_file::parse(t, tenant).map_err(em)?,
        Some(Value::Array(a)) => suppression_file::from_rows(a, tenant).map_err(em)?,
        _ => {
            return Err(arg(
                "rows",
                "expected CSV or NDJSON text, or an array of { address, reason?, ... }",
            ))
        }
    };
    if let Some(t) = tenant {
        if let Some(i) = rows.iter().position(|r| {
            r.tenant_id
                .as_deref()
                .is_some_and(|x| !x.eq_ignore_ascii_case(t))
        }) {
            return Err(arg(
                &format!("rows[{i}].tenantId"),
                "names another tenant than the one this call acts for",
            ));
        }
    }
    let chunks: Vec<Value> = rows
        .chunks(suppression_file::IMPORT_CHUNK)
        .map(|c| json!(suppression_file::import_columns(c)))
        .collect();
    Ok(json!({ "statement": "suppressionsImport", "chunks": chunks, "total": rows.len() }))
}
