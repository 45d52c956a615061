//! Purge checkpoints and anchor files. A checkpoint records where retention cut a chain;
//! verification starts after it. Unsealed, it would let anyone who can write the table hide
//! deleted history by recording the last deleted row as "purged", so each carries a MAC under
//! the chain's key, and anchors (kept outside the database) list them.

use serde_json::{json, Value};

use super::seal::{self, Anchor, Break, BreakKind};
use crate::error::{CliFailure, Result};

/// A chain's purge checkpoint as stored (`chain` is `''` for the global chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: String,
    pub mac: Option<String>,
}

/// The checkpoint's MAC: a seal under the chain's key of what it records. The `checkpoint`
/// prefix stands where a row has its 64-hex `prev_hash`, so no row seal can pass for one.
#[must_use]
pub fn checkpoint_mac(chain: Option<&str>, seq: u64, hash: &str, key: Option<&[u8]>) -> String {
    let content = json!({ "chain": chain.unwrap_or(""), "seq": seq, "hash": hash });
    seal::seal("checkpoint", &content, key)
}

/// One chain of an anchor file: its head and its checkpoint when the anchor was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainAnchor {
    pub chain: Option<String>,
    pub head: Anchor,
    pub checkpoint: Option<Anchor>,
}

fn anchor_json(a: &Anchor) -> Value {
    json!({ "seq": a.seq, "hash": a.hash })
}

/// The anchor file `better-audit anchor` prints.
#[must_use]
pub fn anchors_json(at_iso: &str, chains: &[ChainAnchor]) -> Value {
    let chains: Vec<Value> = chains
        .iter()
        .map(|c| {
            json!({ "tenant": c.chain, "seq": c.head.seq, "hash": c.head.hash,
                    "checkpoint": c.checkpoint.as_ref().map(anchor_json) })
        })
        .collect();
    json!({ "at": at_iso, "chains": chains })
}

fn read_anchor(v: &Value) -> Option<Anchor> {
    Some(Anchor {
        seq: v.get("seq")?.as_u64()?,
        hash: v.get("hash")?.as_str()?.to_owned(),
    })
}

/// Reads an anchor file; every chain in it is checked, so a malformed entry is an error
/// rather than a chain silently left out.
///
/// # Errors
/// `AUDIT_ANCHOR_INVALID` naming the entry that is not `{ tenant, seq, hash, checkpoint? }`.
pub fn parse_anchors(v: &Value) -> Result<Vec<ChainAnchor>> {
    let chains = v
        .get("chains")
        .and_then(Value::as_array)
        .ok_or_else(|| CliFailure::Anchor.with("no `chains` array"))?;
    chains
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let bad = || {
                CliFailure::Anchor.with(format!(
                    "`chains[{i}]` is not {{ tenant, seq, hash, checkpoint? }}"
                ))
            };
            let chain = match c.get("tenant") {
                None | Some(Value::Null) => None,
                Some(Value::String(t)) => Some(t.clone()),
                Some(_) => return Err(bad()),
            };
            let checkpoint = match c.get("checkpoint") {
                None | Some(Value::Null) => None,
                Some(cp) => Some(read_anchor(cp).ok_or_else(bad)?),
            };
            Ok(ChainAnchor {
                chain,
                head: read_anchor(c).ok_or_else(bad)?,
                checkpoint,
            })
        })
        .collect()
}

fn checkpoint_break(seq: u64, message: String) -> Break {
    Break {
        kind: BreakKind::Checkpoint,
        row_id: None,
        seq,
        message,
    }
}

/// The checkpoint against its MAC and the anchor's record of it.
pub(super) fn check_checkpoint(
    chain: Option<&str>,
    key: Option<&[u8]>,
    cp: Option<&Checkpoint>,
    anchor: Option<&ChainAnchor>,
) -> Option<Break> {
    let anchored = anchor.and_then(|a| a.checkpoint.as_ref());
    if let Some(c) = cp {
        if c.mac.as_deref() != Some(checkpoint_mac(chain, c.seq, &c.hash, key).as_str()) {
            return Some(checkpoint_break(
                c.seq,
                format!("the checkpoint at seq {} is not sealed with the chain's key: it was written or changed outside `better-audit purge`", c.seq),
            ));
        }
    }
    match (cp, anchored) {
        (None, Some(a)) => Some(checkpoint_break(
            a.seq,
            format!("the anchor records a checkpoint at seq {} that is gone", a.seq),
        )),
        (Some(c), Some(a)) if c.seq < a.seq || (c.seq == a.seq && c.hash != a.hash) => {
            Some(checkpoint_break(
                c.seq,
                format!("the checkpoint at seq {} differs from the anchor's (seq {})", c.seq, a.seq),
            ))
        }
        // Without a key anyone can compute the MAC: only the anchor vouches for a checkpoint.
        (Some(c), a) if key.is_none() && a.map_or(anchor.is_some(), |a| a.seq != c.seq) => {
            Some(checkpoint_break(
                c.seq,
                format!("the checkpoint at seq {} is newer than the anchor and an unkeyed chain cannot prove it: anchor again after each purge", c.seq),
            ))
        }
        (Some(c), _) => anchor
            .filter(|a| a.head.seq == c.seq && a.head.hash != c.hash)
            .map(|_| checkpoint_break(c.seq, format!("the checkpoint at seq {} differs from the anchored head", c.seq))),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_files_round_trip_and_malformed_entries_are_named() {
        let chains = vec![ChainAnchor {
            chain: Some("t".into()),
            head: Anchor {
                seq: 3,
                hash: "h".into(),
            },
            checkpoint: Some(Anchor {
                seq: 1,
                hash: "c".into(),
            }),
        }];
        let file = anchors_json("2026-01-01T00:00:00.000000Z", &chains);
        assert_eq!(parse_anchors(&file).unwrap(), chains);
        let bad = json!({ "chains": [{ "tenant": null, "seq": "3", "hash": "h" }] });
        let e = parse_anchors(&bad).unwrap_err();
        assert_eq!(e.code(), "AUDIT_ANCHOR_INVALID");
        assert!(e.to_string().contains("chains[0]"));
        assert!(parse_anchors(&json!({})).is_err());
    }
}
