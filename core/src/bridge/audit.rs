//! JSON-facing wrappers of the audit primitives: timestamps as ISO strings (microseconds),
//! options with defaults.

use serde_json::{Map, Value};

use crate::audit::{chain, cursor, diff, duration, query, seal, time};
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

/// One entry to redact: the parts redaction may change.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<DiffJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted_fields: Vec<String>,
}

/// The `diff` column as JSON: `changedFields` plus our `changes`.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffJson {
    #[serde(default)]
    pub changed_fields: Vec<String>,
    #[serde(default)]
    pub changes: Vec<ChangeJson>,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct ChangeJson {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// The seal of one row, as written to its `seq`, `prev_hash` and `hash` columns.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SealOut {
    pub seq: u64,
    pub prev_hash: String,
    pub hash: String,
}

fn unusable_row(i: usize) -> Error {
    Error::InvalidArgument {
        field: format!("rows[{i}]"),
        reason: "a stored audit row with an ISO 8601 `timestamp`".into(),
    }
}

/// Seals `rows` (column name to value, in chain order; SQL NULL as an absent key) after `head`
/// (the chain's last sealed row; none for a new chain) with an HMAC key, or unkeyed with
/// `None` (callers decide that with [`chain::seal_key`]).
///
/// # Errors
/// `InvalidArgument` naming the row whose timestamp is missing or malformed; `SealKey` for a
/// key shorter than [`chain::MIN_KEY_BYTES`].
pub fn seal_rows(
    rows: &[Map<String, Value>],
    head: Option<&seal::Anchor>,
    key: Option<&[u8]>,
) -> Result<Vec<SealOut>> {
    let key = chain::seal_key(key, key.is_none(), "an explicit unkeyed seal")?;
    let mut seq = head.map_or(0, |h| h.seq);
    let mut prev = head.map_or_else(|| seal::GENESIS.to_owned(), |h| h.hash.clone());
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let content = seal::content(row).ok_or_else(|| unusable_row(i))?;
            seq += 1;
            let hash = seal::seal(&prev, &content, key);
            let out = SealOut {
                seq,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            };
            Ok(out)
        })
        .collect()
}

/// One stored, sealed row as read back for verification.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSealedRow {
    pub seq: u64,
    pub prev_hash: String,
    pub hash: String,
    pub row: Map<String, Value>,
}

/// Stored rows as the seal sees them.
///
/// # Errors
/// `InvalidArgument` naming a row whose timestamp is missing or malformed.
pub fn sealed_rows(rows: Vec<StoredSealedRow>) -> Result<Vec<seal::SealedRow>> {
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let content = seal::content(&r.row).ok_or_else(|| unusable_row(i))?;
            let id = r
                .row
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            Ok(seal::SealedRow {
                id,
                seq: r.seq,
                prev_hash: r.prev_hash,
                hash: r.hash,
                content,
            })
        })
        .collect()
}

/// Verifies one chain of stored rows; `Ok(None)` when intact, else the first break.
///
/// # Errors
/// `InvalidArgument` naming a row whose timestamp is missing or malformed; `SealKey` for a
/// key shorter than [`chain::MIN_KEY_BYTES`].
pub fn verify_rows(
    rows: Vec<StoredSealedRow>,
    key: Option<&[u8]>,
    anchor: Option<&seal::Anchor>,
) -> Result<Option<seal::Break>> {
    let key = chain::seal_key(key, key.is_none(), "an explicit unkeyed check")?;
    Ok(seal::verify(&sealed_rows(rows)?, key, anchor).err())
}

#[cfg(test)]
mod seal_tests {
    use super::*;
    use serde_json::json;

    fn row(id: &str, ts: &str, n: i64) -> Map<String, Value> {
        let v = json!({ "id": id, "timestamp": ts, "table_name": "t", "operation": "UPDATE", "record_id": "1",
                        "after_data": { "n": n, "a": [1, 2] }, "actor_id": null });
        v.as_object().unwrap().clone()
    }

    const KEY: &[u8] = b"kept-outside-the-database-0123456789";

    #[test]
    fn rows_sealed_by_the_library_verify_as_the_database_returns_them() {
        let written = [
            row("a", "2026-03-01T10:00:00.123Z", 1),
            row("b", "2026-03-01T10:00:00.124Z", 2),
        ];
        let seals = seal_rows(&written, None, Some(KEY)).unwrap();
        assert_eq!((seals[0].seq, seals[1].seq), (1, 2));
        assert_eq!(seals[1].prev_hash, seals[0].hash);
        // Read back: microsecond text, another offset spelling, JSON keys reordered.
        let mut read = [
            row("a", "2026-03-01T11:00:00.123000+01:00", 1),
            row("b", "2026-03-01T10:00:00.124000Z", 2),
        ];
        read[1]["after_data"] = json!({ "a": [1, 2], "n": 2 });
        let stored = |rows: &[Map<String, Value>]| -> Vec<StoredSealedRow> {
            rows.iter()
                .zip(&seals)
                .map(|(r, s)| StoredSealedRow {
                    seq: s.seq,
                    prev_hash: s.prev_hash.clone(),
                    hash: s.hash.clone(),
                    row: r.clone(),
                })
                .collect()
        };
        assert!(verify_rows(stored(&read), Some(KEY), None)
            .unwrap()
            .is_none());
        let wrong_key = verify_rows(stored(&read), Some(&[b'x'; 32]), None)
            .unwrap()
            .unwrap();
        assert_eq!(wrong_key.kind, seal::BreakKind::Edited);
        read[0]["after_data"]["n"] = json!(5);
        let edited = verify_rows(stored(&read), Some(KEY), None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (edited.kind, edited.row_id.as_deref()),
            (seal::BreakKind::Edited, Some("a"))
        );
        let mut no_ts = written[0].clone();
        no_ts.remove("timestamp");
        assert!(seal_rows(&[no_ts], None, None)
            .unwrap_err()
            .to_string()
            .contains("rows[0]"));
        assert_eq!(
            seal_rows(&written, None, Some(b"k")).unwrap_err().code(),
            "AUDIT_SEAL_KEY",
            "a 1-byte key is refused"
        );
    }

    #[test]
    fn sql_null_and_json_null_seal_differently() {
        let mut insert = row("a", "2026-03-01T10:00:00Z", 1);
        insert.remove("after_data");
        let seals = seal_rows(std::slice::from_ref(&insert), None, Some(KEY)).unwrap();
        let check = |r: &Map<String, Value>| {
            let stored = StoredSealedRow {
                seq: 1,
                prev_hash: seals[0].prev_hash.clone(),
                hash: seals[0].hash.clone(),
                row: r.clone(),
            };
            verify_rows(vec![stored], Some(KEY), None)
                .unwrap()
                .map(|b| b.kind)
        };
        assert_eq!(check(&insert), None);
        let mut flipped = insert.clone();
        flipped.insert("after_data".into(), Value::Null);
        assert_eq!(check(&flipped), Some(seal::BreakKind::Edited));
    }
}
