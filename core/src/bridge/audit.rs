//! JSON-facing wrappers of the audit primitives: timestamps as ISO strings (microseconds),
//! options with defaults.

use serde_json::{Map, Value};

use crate::audit::{cursor, diff, duration, query, storage, time};
use crate::error::{Error, Result};

fn instant(field: &str, iso: &str) -> Result<i64> {
    time::parse_iso(iso)
        .ok_or_else(|| Error::config(field, format!("an ISO 8601 timestamp, got {iso:?}")))
}

/// # Errors
/// `InvalidDuration`, or `InvalidConfig` for a bad reference timestamp.
pub fn parse_duration(input: &str, reference: Option<&str>, now: i64) -> Result<String> {
    let at = match reference {
        Some(r) => instant("referenceDate", r)?,
        None => now,
    };
    duration::before(input, at).map(time::format_iso)
}

/// # Errors
/// `InvalidConfig` for a bad timestamp, `InvalidCursor` for an id that is not a UUID.
pub fn encode_cursor(timestamp: &str, id: &str) -> Result<String> {
    let t = instant("timestamp", timestamp)?;
    if !crate::resolve::is_uuid(id) {
        return Err(Error::InvalidCursor {
            reason: "id must be a valid UUID".into(),
        });
    }
    Ok(cursor::encode(t, &id.to_ascii_lowercase()))
}

#[derive(Debug, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DecodedCursor {
    pub timestamp: String,
    pub id: String,
}

/// # Errors
/// `InvalidCursor`.
pub fn decode_cursor(c: &str) -> Result<DecodedCursor> {
    let (t, id) = cursor::decode(c)?;
    Ok(DecodedCursor {
        timestamp: time::format_iso(t),
        id,
    })
}

/// Where and how to query.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditQueryOptions", optional_fields))]
pub struct QueryOptions {
    /// The entries' table as statements spell it; default `audit_logs`.
    #[serde(default = "default_table")]
    #[cfg_attr(feature = "ts", ts(as = "Option<_>"))]
    pub table: String,
    /// The largest page; default 1000.
    #[serde(default = "default_max")]
    #[cfg_attr(feature = "ts", ts(as = "Option<_>"))]
    pub max_limit: u32,
    /// ISO "now" for durations; default the current time.
    pub now: Option<String>,
}

fn default_table() -> String {
    storage::LOGS.into()
}

fn default_max() -> u32 {
    1000
}

/// # Errors
/// As [`query::compile`].
pub fn compile(
    spec: &query::QuerySpec,
    options: &QueryOptions,
    now: i64,
) -> Result<query::Compiled> {
    let now = match &options.now {
        Some(n) => instant("now", n)?,
        None => now,
    };
    query::compile(spec, &options.table, now, options.max_limit)
}

/// One entry to redact: the parts redaction may change.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "RedactionEntry"))]
pub struct Entry {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>", optional))]
    pub before: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>", optional))]
    pub after: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>", optional))]
    pub metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub diff: Option<DiffJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted_fields: Vec<String>,
}

/// The `diff` column as JSON: `changedFields` plus our `changes`.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "RowDiff"))]
pub struct DiffJson {
    #[serde(default)]
    pub changed_fields: Vec<String>,
    #[serde(default)]
    pub changes: Vec<ChangeJson>,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "FieldChange"))]
pub struct ChangeJson {
    pub field: String,
    /// Absent when the field did not exist before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "unknown", optional))]
    pub old: Option<Value>,
    /// Absent when the field does not exist after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "unknown", optional))]
    pub new: Option<Value>,
}

impl From<diff::RowDiff> for DiffJson {
    fn from(d: diff::RowDiff) -> Self {
        DiffJson {
            changed_fields: d.changed_fields,
            changes: d
                .changes
                .into_iter()
                .map(|c| ChangeJson {
                    field: c.field,
                    old: c.old,
                    new: c.new,
                })
                .collect(),
        }
    }
}

/// Applies `rule` to each entry; `redactedFields` lists what was removed.
///
/// # Errors
/// `InvalidConfig` when the rule has both `redact` and `include`.
pub fn redact_entries(
    rule: &crate::audit::redact::Redaction,
    entries: Vec<Entry>,
) -> Result<Vec<Entry>> {
    rule.validate("redaction")?;
    Ok(entries
        .into_iter()
        .map(|mut e| {
            let mut d = e.diff.take().map(|d| diff::RowDiff {
                changed_fields: d.changed_fields,
                changes: d
                    .changes
                    .into_iter()
                    .map(|c| diff::FieldChange {
                        field: c.field,
                        old: c.old,
                        new: c.new,
                    })
                    .collect(),
            });
            let removed = rule.apply(crate::audit::redact::Images {
                before: e.before.as_mut(),
                after: e.after.as_mut(),
                metadata: e.metadata.as_mut(),
                diff: d.as_mut(),
            });
            e.diff = d.map(DiffJson::from);
            e.redacted_fields = removed;
            e
        })
        .collect())
}

/// The chain protocol's statements over `logs` and `checkpoints`, by default the tables as the
/// library names them.
#[must_use]
pub fn chain_sql(
    logs: Option<&str>,
    checkpoints: Option<&str>,
) -> crate::audit::chain_sql::ChainSql {
    let (default_logs, default_checkpoints) = storage::library_names();
    crate::audit::chain_sql::chain_sql(
        logs.unwrap_or(&default_logs),
        checkpoints.unwrap_or(&default_checkpoints),
    )
}

/// The store's statements over `logs`, by default `audit_logs` as the library names it.
#[must_use]
pub fn store_sql(logs: Option<&str>) -> crate::audit::store::StoreSql {
    crate::audit::store::store_sql(logs.unwrap_or(&storage::library_names().0))
}
