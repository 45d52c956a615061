//! JSON-facing wrappers of the audit primitives: timestamps as ISO strings (microseconds),
//! options with defaults.

use serde_json::{Map, Value};

use crate::audit::{cursor, diff, duration, query, time};
use crate::error::{Error, Result};

/// One `{ before, after }` pair of row images.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Pair {
    #[serde(default)]
    pub before: Map<String, Value>,
    #[serde(default)]
    pub after: Map<String, Value>,
}

#[must_use]
pub fn diff_pairs(pairs: &[Pair]) -> Vec<diff::RowDiff> {
    pairs
        .iter()
        .map(|p| diff::diff(&p.before, &p.after))
        .collect()
}

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
pub struct QueryOptions {
    #[serde(default = "default_table")]
    pub table: String,
    #[serde(default = "default_max")]
    pub max_limit: u32,
    /// ISO "now" for durations; default the current time.
    pub now: Option<String>,
}

fn default_table() -> String {
    "audit_logs".into()
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
