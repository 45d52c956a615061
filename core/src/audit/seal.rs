//! Tamper evidence: each audit row is sealed into its chain (one chain per tenant, or a global
//! one) as `hash = H(prev_hash || canonical_json(content))`, where H is SHA-256 or, with a key
//! kept outside the database, HMAC-SHA-256. Rows carry `seq` (1, 2, … per chain) and
//! `prev_hash`, so a verifier can tell what kind of break it found.
//!
//! Without a key, someone who can rewrite the table can also recompute every hash; an anchor
//! (the chain head stored elsewhere) or the key closes that gap.

use hmac::Mac;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::canonical::to_canonical_string;
use crate::crypto::{hex, hmac_sha256};

/// The hash of the first row's predecessor.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Seals `content` after `prev_hash`.
#[must_use]
pub fn seal(prev_hash: &str, content: &Value, key: Option<&[u8]>) -> String {
    let body = to_canonical_string(content);
    match key {
        Some(k) => {
            let mut mac = hmac_sha256(k);
            mac.update(prev_hash.as_bytes());
            mac.update(body.as_bytes());
            hex(&mac.finalize().into_bytes())
        }
        None => {
            let mut h = Sha256::new();
            h.update(prev_hash.as_bytes());
            h.update(body.as_bytes());
            hex(&h.finalize())
        }
    }
}

/// The `audit_logs` columns a seal covers (not `seq`, `prev_hash`, `hash` themselves).
pub const SEALED_COLUMNS: [&str; 18] = [
    "id",
    "timestamp",
    "table_name",
    "operation",
    "record_id",
    "actor_id",
    "before_data",
    "after_data",
    "diff",
    "label",
    "description",
    "severity",
    "compliance",
    "notify",
    "reason",
    "metadata",
    "redacted_fields",
    "tenant_id",
];

/// The sealed columns of type `jsonb`.
pub const JSON_COLUMNS: [&str; 6] = [
    "before_data",
    "after_data",
    "diff",
    "compliance",
    "metadata",
    "redacted_fields",
];

/// The sealed content of a stored row (column name to value, JSON columns as values): the
/// sealed columns that are not SQL NULL, the timestamp as microseconds in UTC, so the row the
/// library sealed and the row the database returns give the same bytes. A JSON column that
/// holds JSON `null` is present (as `null`) while one that is SQL NULL is absent, so turning
/// one into the other breaks the seal; callers pass SQL NULL as an absent key. `None` when the
/// timestamp is missing or not ISO 8601.
#[must_use]
pub fn content(row: &serde_json::Map<String, Value>) -> Option<Value> {
    let mut out = serde_json::Map::new();
    for column in SEALED_COLUMNS {
        match row.get(column) {
            Some(Value::Null) if JSON_COLUMNS.contains(&column) => {
                out.insert(column.into(), Value::Null);
            }
            None | Some(Value::Null) => {}
            Some(v) if column == "timestamp" => {
                let micros = super::time::parse_iso(v.as_str()?)?;
                out.insert(
                    column.into(),
                    Value::String(super::time::format_iso(micros)),
                );
            }
            Some(v) => {
                out.insert(column.into(), v.clone());
            }
        }
    }
    out.contains_key("timestamp").then_some(Value::Object(out))
}

/// One stored row of a chain.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct SealedRow {
    pub id: String,
    pub seq: u64,
    pub prev_hash: String,
    pub hash: String,
    /// Everything that was sealed (the entry without `hash`).
    pub content: Value,
}

/// The head of a chain, exported and stored outside the database.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "ChainHead"))]
pub struct Anchor {
    pub seq: u64,
    pub hash: String,
}

/// What kind of break `verify` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "ChainBreakKind"))]
pub enum BreakKind {
    Edited,
    Deleted,
    Inserted,
    Reordered,
    Truncated,
    /// A purge checkpoint that the key did not seal, or that an anchor contradicts.
    Checkpoint,
    /// The chain is sealed without a key (anyone who can write the table can recompute it)
    /// while verification expects a keyed one.
    Unkeyed,
}

impl BreakKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            BreakKind::Edited => "edited",
            BreakKind::Deleted => "deleted",
            BreakKind::Inserted => "inserted",
            BreakKind::Reordered => "reordered",
            BreakKind::Truncated => "truncated",
            BreakKind::Checkpoint => "checkpoint",
            BreakKind::Unkeyed => "unkeyed",
        }
    }
}

/// The first break in a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "ChainBreak"))]
pub struct Break {
    pub kind: BreakKind,
    /// The row where the break shows (for `deleted`/`truncated`: the last intact row, if any).
    pub row_id: Option<String>,
    pub seq: u64,
    pub message: String,
}

fn brk(kind: BreakKind, row_id: Option<&str>, seq: u64, message: String) -> Break {
    Break {
        kind,
        row_id: row_id.map(str::to_owned),
        seq,
        message,
    }
}

/// Walks `rows` (any order; sorted by `seq` here) and reports the first break.
///
/// # Errors
/// The first [`Break`] found.
pub fn verify(
    rows: &[SealedRow],
    key: Option<&[u8]>,
    anchor: Option<&Anchor>,
) -> Result<(), Break> {
    verify_from(rows, key, None, anchor)
}

/// [`verify`] for a chain whose rows up to `start` were purged by retention: the first row
/// must follow `start` (its seq and hash, recorded when the purge ran).
///
/// # Errors
/// The first [`Break`] found.
pub fn verify_from(
    rows: &[SealedRow],
    key: Option<&[u8]>,
    start: Option<&Anchor>,
    anchor: Option<&Anchor>,
) -> Result<(), Break> {
    let mut sorted: Vec<&SealedRow> = rows.iter().collect();
    sorted.sort_by_key(|r| r.seq);
    let known: std::collections::HashSet<&str> = rows.iter().map(|r| r.hash.as_str()).collect();
    let mut prev = start.map_or_else(|| GENESIS.to_owned(), |s| s.hash.clone());
    let mut expected = start.map_or(1, |s| s.seq + 1);
    let mut last: Option<&SealedRow> = None;
    for row in &sorted {
        if row.seq < expected {
            return Err(brk(
                BreakKind::Inserted,
                Some(&row.id),
                row.seq,
                format!("row {} repeats seq {}", row.id, row.seq),
            ));
        }
        if row.seq > expected {
            return Err(brk(
                BreakKind::Deleted,
                last.map(|l| l.id.as_str()),
                expected,
                format!(
                    "seq {expected}..{} missing before row {}",
                    row.seq - 1,
                    row.id
                ),
            ));
        }
        let self_consistent = seal(&row.prev_hash, &row.content, key) == row.hash;
        if row.prev_hash == prev {
            if !self_consistent {
                return Err(brk(
                    BreakKind::Edited,
                    Some(&row.id),
                    row.seq,
                    format!("row {} does not match its seal", row.id),
                ));
            }
        } else if self_consistent && known.contains(row.prev_hash.as_str()) {
            return Err(brk(
                BreakKind::Reordered,
                Some(&row.id),
                row.seq,
                format!("row {} is sealed after another position", row.id),
            ));
        } else {
            return Err(brk(
                BreakKind::Inserted,
                Some(&row.id),
                row.seq,
                format!("row {} does not continue the chain", row.id),
            ));
        }
        prev.clone_from(&row.hash);
        expected += 1;
        last = Some(row);
    }
    // An anchored head that a later purge removed is vouched for by the checkpoint.
    let anchor = anchor.filter(|a| start.is_none_or(|s| a.seq > s.seq));
    if let Some(a) = anchor {
        let found = sorted.iter().find(|r| r.seq == a.seq);
        match found {
            None => {
                return Err(brk(
                    BreakKind::Truncated,
                    last.map(|l| l.id.as_str()),
                    a.seq,
                    format!(
                        "chain ends at seq {} but the anchor is at seq {}",
                        expected - 1,
                        a.seq
                    ),
                ))
            }
            Some(r) if r.hash != a.hash => {
                return Err(brk(
                    BreakKind::Edited,
                    Some(&r.id),
                    r.seq,
                    format!("row {} differs from the anchor", r.id),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: u64, key: Option<&[u8]>) -> Vec<SealedRow> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let content = json!({ "id": format!("r{seq}"), "seq": seq, "tableName": "users", "after": { "n": seq } });
                let hash = seal(&prev, &content, key);
                let row = SealedRow { id: format!("r{seq}"), seq, prev_hash: prev.clone(), hash: hash.clone(), content };
                prev = hash;
                row
            })
            .collect()
    }

    fn kind(rows: &[SealedRow], key: Option<&[u8]>, anchor: Option<&Anchor>) -> Option<BreakKind> {
        verify(rows, key, anchor).err().map(|b| b.kind)
    }

    #[test]
    fn intact_chain_verifies_in_any_order() {
        let mut rows = chain(50, None);
        rows.reverse();
        assert_eq!(kind(&rows, None, None), None);
    }

    #[test]
    fn each_tamper_kind_is_found() {
        let rows = chain(20, None);
        let mut edited = rows.clone();
        edited[7].content["after"]["n"] = json!(999);
        let b = verify(&edited, None, None).unwrap_err();
        assert_eq!(
            (b.kind, b.row_id.as_deref()),
            (BreakKind::Edited, Some("r8"))
        );

        let mut deleted = rows.clone();
        deleted.remove(9);
        let b = verify(&deleted, None, None).unwrap_err();
        assert_eq!((b.kind, b.seq), (BreakKind::Deleted, 10));

        let mut swapped = rows.clone();
        let (a, c) = (swapped[4].seq, swapped[5].seq);
        swapped[4].seq = c;
        swapped[5].seq = a;
        assert_eq!(kind(&swapped, None, None), Some(BreakKind::Reordered));

        let mut forged = rows.clone();
        let content = json!({ "id": "evil", "seq": 5, "after": { "n": 0 } });
        forged.push(SealedRow {
            id: "evil".into(),
            seq: 5,
            prev_hash: rows[3].hash.clone(),
            hash: seal(&rows[3].hash, &content, None),
            content,
        });
        assert_eq!(kind(&forged, None, None), Some(BreakKind::Inserted));

        let anchor = Anchor {
            seq: 20,
            hash: rows[19].hash.clone(),
        };
        let truncated = rows[..17].to_vec();
        assert_eq!(
            kind(&truncated, None, None),
            None,
            "without an anchor a truncated tail looks intact"
        );
        let b = verify(&truncated, None, Some(&anchor)).unwrap_err();
        assert_eq!(
            (b.kind, b.row_id.as_deref()),
            (BreakKind::Truncated, Some("r17"))
        );
        assert_eq!(kind(&rows, None, Some(&anchor)), None);
    }

    #[test]
    fn every_single_edit_or_deletion_is_found_wherever_it_is() {
        let rows = chain(2000, None);
        for i in (0..rows.len()).step_by(37) {
            let mut edited = rows.clone();
            edited[i].content["tableName"] = json!("orders");
            assert_eq!(
                kind(&edited, None, None),
                Some(BreakKind::Edited),
                "edit at {i}"
            );
            let mut deleted = rows.clone();
            deleted.remove(i);
            let expected = if i + 1 == rows.len() {
                None
            } else {
                Some(BreakKind::Deleted)
            };
            assert_eq!(kind(&deleted, None, None), expected, "delete at {i}");
        }
    }

    #[test]
    fn a_key_makes_recomputed_chains_fail() {
        let key = b"kept-outside-the-database-0123456789";
        let rows = chain(5, Some(key));
        assert_eq!(kind(&rows, Some(key), None), None);
        // Someone with table access rewrites the whole chain with plain SHA-256.
        let rewritten = chain(5, None);
        assert_eq!(kind(&rewritten, Some(key), None), Some(BreakKind::Edited));
        assert_ne!(
            seal(GENESIS, &json!({}), Some(key)),
            seal(GENESIS, &json!({}), None)
        );
    }
}
