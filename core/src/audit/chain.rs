//! The protocol around the seals: which key seals a chain (at least 32 bytes, or an explicit
//! opt-in to unkeyed chains), sealing rows after a chain's head, and the verdict on one chain
//! (its mode, its checkpoint, its rows, its anchor). The statements that read and extend
//! chains are in `chain_sql`.

use serde_json::{Map, Value};

use super::checkpoint::check_checkpoint;
pub use super::checkpoint::{anchors_json, checkpoint_mac, parse_anchors, ChainAnchor, Checkpoint};
use super::seal::{self, Anchor, Break, BreakKind, SealedRow};
use crate::error::{Error, Result};

/// The shortest key accepted: HMAC-SHA-256's output size, so the key is not the weak part.
pub const MIN_KEY_BYTES: usize = 32;

/// The key that seals, `None` when the caller opted into unkeyed chains (`opt_in` names how:
/// `--unkeyed`, `seal: { unkeyed: true }`).
///
/// # Errors
/// `SealKey`: no key without the opt-in, a key shorter than [`MIN_KEY_BYTES`], or both a key
/// and the opt-in.
pub fn seal_key<'a>(
    key: Option<&'a [u8]>,
    unkeyed: bool,
    opt_in: &str,
) -> Result<Option<&'a [u8]>> {
    let key = key.filter(|k| !k.is_empty());
    let message = match (key, unkeyed) {
        (Some(_), true) => format!(
            "a seal key is set (AUDIT_SEAL_KEY) and {opt_in} asks for unkeyed chains: use one or the other"
        ),
        (Some(k), false) if k.len() < MIN_KEY_BYTES => format!(
            "the seal key (AUDIT_SEAL_KEY) has {} bytes, fewer than the {MIN_KEY_BYTES} required: make one with `openssl rand -hex 32`",
            k.len()
        ),
        (Some(k), false) => return Ok(Some(k)),
        (None, true) => return Ok(None),
        (None, false) => format!(
            "AUDIT_SEAL_KEY is not set: seals need a key of at least {MIN_KEY_BYTES} bytes kept outside the database (make one with `openssl rand -hex 32` and set AUDIT_SEAL_KEY); {opt_in} accepts chains that anyone who can write the table can recompute"
        ),
    };
    Err(Error::SealKey { message })
}

/// Whether a chain's seals need a key to recompute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Mode {
    Keyed,
    Unkeyed,
}

impl Mode {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Keyed => "keyed",
            Mode::Unkeyed => "unkeyed",
        }
    }
}

/// A chain's mode, judged by its first row: a seal that recomputes without a key is unkeyed.
/// `None` without rows.
#[must_use]
pub fn mode_of(first: Option<&SealedRow>) -> Option<Mode> {
    first.map(|r| {
        if seal::seal(&r.prev_hash, &r.content, None) == r.hash {
            Mode::Unkeyed
        } else {
            Mode::Keyed
        }
    })
}

/// What `verify` found on one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub mode: Mode,
    pub broken: Option<Break>,
}

/// Verifies one chain (`chain`: its tenant, `None` for the global one) as `key` expects it:
/// keyed with a key, unkeyed without. `checkpoint` is where a purge cut it, `anchor` its entry
/// in an anchor file.
#[must_use]
pub fn verify_chain(
    chain: Option<&str>,
    rows: &[SealedRow],
    key: Option<&[u8]>,
    checkpoint: Option<&Checkpoint>,
    anchor: Option<&ChainAnchor>,
) -> Verdict {
    let expected = if key.is_some() {
        Mode::Keyed
    } else {
        Mode::Unkeyed
    };
    let first = rows.iter().min_by_key(|r| r.seq);
    let mode = mode_of(first).unwrap_or(expected);
    if let (Some(r), Mode::Keyed, Mode::Unkeyed) = (first, expected, mode) {
        let message = format!("row {} is sealed without a key: anyone who can write the table can recompute this chain (verify it with --unkeyed and no key to accept that)", r.id);
        let broken = Some(Break {
            kind: BreakKind::Unkeyed,
            row_id: Some(r.id.clone()),
            seq: r.seq,
            message,
        });
        return Verdict { mode, broken };
    }
    if let Some(b) = check_checkpoint(chain, key, checkpoint, anchor) {
        return Verdict {
            mode,
            broken: Some(b),
        };
    }
    let start = checkpoint.map(|c| Anchor {
        seq: c.seq,
        hash: c.hash.clone(),
    });
    let broken = seal::verify_from(rows, key, start.as_ref(), anchor.map(|a| &a.head)).err();
    Verdict { mode, broken }
}

/// The seal of one row, as written to its `seq`, `prev_hash` and `hash` columns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "RowSeal"))]
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
/// `None` (callers decide that with [`seal_key`]).
///
/// # Errors
/// `InvalidArgument` naming the row whose timestamp is missing or malformed; `SealKey` for a
/// key shorter than [`MIN_KEY_BYTES`].
pub fn seal_rows(
    rows: &[Map<String, Value>],
    head: Option<&Anchor>,
    key: Option<&[u8]>,
) -> Result<Vec<SealOut>> {
    let key = seal_key(key, key.is_none(), "an explicit unkeyed seal")?;
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
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StoredSealedRow {
    pub seq: u64,
    pub prev_hash: String,
    pub hash: String,
    /// The stored row, column name to value (SQL NULL as an absent key).
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub row: Map<String, Value>,
}

/// Stored rows as the seal sees them.
///
/// # Errors
/// `InvalidArgument` naming a row whose timestamp is missing or malformed.
pub fn sealed_rows(rows: Vec<StoredSealedRow>) -> Result<Vec<SealedRow>> {
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
            Ok(SealedRow {
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
/// key shorter than [`MIN_KEY_BYTES`].
pub fn verify_rows(
    rows: Vec<StoredSealedRow>,
    key: Option<&[u8]>,
    anchor: Option<&Anchor>,
) -> Result<Option<Break>> {
    let key = seal_key(key, key.is_none(), "an explicit unkeyed check")?;
    Ok(seal::verify(&sealed_rows(rows)?, key, anchor).err())
}

#[cfg(test)]
mod tests;
