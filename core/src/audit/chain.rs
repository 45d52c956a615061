//! The protocol around the seals: which key seals a chain (at least 32 bytes, or an explicit
//! opt-in to unkeyed chains), the SQL every writer runs to extend a chain, and the verdict on
//! one chain (its mode, its checkpoint, its rows, its anchor).

use super::checkpoint::check_checkpoint;
pub use super::checkpoint::{anchors_json, checkpoint_mac, parse_anchors, ChainAnchor, Checkpoint};
use super::seal::{self, Anchor, Break, BreakKind, SealedRow};
use crate::error::{Error, Result};
use crate::sql::literal;

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

/// The chain protocol's statements, over `logs` and `checkpoints` (names as the caller
/// spells them: qualified in the CLI, on the search path in the library). `$1` is the tenant
/// (text, null for the global chain) except in `head_global`, which takes none.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct ChainSql {
    /// The chain's transaction-scoped advisory lock (in FROM: Prisma cannot read a void column).
    pub lock: String,
    /// The last sealed row (`head_seq` as text, `hash`); `= $1` / `IS NULL` rather than IS NOT
    /// DISTINCT FROM, which the (tenant_id, seq) index cannot answer, and not a column named
    /// seq, which ORDER BY would then sort as text.
    pub head_global: String,
    pub head_tenant: String,
    /// Whether the checkpoint table exists (`has`).
    pub has_checkpoints: String,
    /// The chain's checkpoint (`head_seq` as text, `hash`, `mac`).
    pub checkpoint: String,
    /// The chains that have a checkpoint (`chain`, null for the global one), taking no `$1`.
    pub checkpoint_chains: String,
    /// Per chain (`chain`, `seq`, `hash`), the last sealed row older than `$1` (ISO instant).
    pub purged_heads: String,
    /// Upserts checkpoints from arrays `$1` chain, `$2` seq, `$3` hash, `$4` mac; never
    /// moves one back.
    pub record_checkpoints: String,
}

#[must_use]
pub fn chain_sql(logs: &str, checkpoints: &str) -> ChainSql {
    let head = |cond: &str| {
        format!("SELECT seq::text AS head_seq, hash FROM {logs} WHERE {cond} AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1")
    };
    ChainSql {
        lock: "SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended('usebetter_audit_chain:' || coalesce($1::text, ''), 0))".into(),
        head_global: head("tenant_id IS NULL"),
        head_tenant: head("tenant_id = $1::text::uuid"),
        has_checkpoints: format!("SELECT to_regclass({}) IS NOT NULL AS has", literal(checkpoints)),
        checkpoint: format!("SELECT seq::text AS head_seq, hash, mac FROM {checkpoints} WHERE chain = coalesce($1::text, '')"),
        checkpoint_chains: format!("SELECT nullif(chain, '') AS chain FROM {checkpoints}"),
        purged_heads: format!("SELECT DISTINCT ON (tenant_id) coalesce(tenant_id::text, '') AS chain, seq, hash FROM {logs} WHERE \"timestamp\" < $1::text::timestamptz AND seq IS NOT NULL ORDER BY tenant_id, seq DESC"),
        record_checkpoints: format!("INSERT INTO {checkpoints} AS c (chain, seq, hash, mac) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac, purged_at = now() WHERE c.seq < excluded.seq"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn chain(n: u64, key: Option<&[u8]>) -> Vec<SealedRow> {
        let mut prev = seal::GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let content = json!({ "id": format!("r{seq}"), "n": seq });
                let hash = seal::seal(&prev, &content, key);
                SealedRow {
                    id: format!("r{seq}"),
                    seq,
                    prev_hash: std::mem::replace(&mut prev, hash.clone()),
                    hash,
                    content,
                }
            })
            .collect()
    }

    /// An anchor of the global chain at the last of `rows`, without a checkpoint.
    fn head_of(rows: &[SealedRow]) -> ChainAnchor {
        let last = rows.last().unwrap();
        ChainAnchor {
            chain: None,
            head: Anchor {
                seq: last.seq,
                hash: last.hash.clone(),
            },
            checkpoint: None,
        }
    }

    fn kind(v: &Verdict) -> Option<BreakKind> {
        v.broken.as_ref().map(|b| b.kind)
    }

    #[test]
    fn keys_are_required_long_enough_or_explicitly_waived() {
        let missing = seal_key(None, false, "--unkeyed").unwrap_err();
        assert_eq!(missing.code(), "AUDIT_SEAL_KEY");
        assert!(
            missing.to_string().contains("openssl rand -hex 32"),
            "{missing}"
        );
        assert!(missing.to_string().contains("--unkeyed"));
        assert!(seal_key(Some(&b"k"[..]), false, "x")
            .unwrap_err()
            .to_string()
            .contains("1 bytes"));
        assert!(seal_key(Some(KEY), true, "--unkeyed").is_err());
        assert_eq!(seal_key(Some(KEY), false, "x").unwrap(), Some(KEY));
        assert_eq!(seal_key(Some(&b""[..]), true, "x").unwrap(), None);
    }

    #[test]
    fn modes_and_unkeyed_chains_under_a_key() {
        let unkeyed = chain(3, None);
        assert_eq!(mode_of(unkeyed.first()), Some(Mode::Unkeyed));
        let v = verify_chain(None, &unkeyed, Some(KEY), None, None);
        assert_eq!(
            (v.mode, kind(&v)),
            (Mode::Unkeyed, Some(BreakKind::Unkeyed))
        );
        assert_eq!(
            verify_chain(None, &unkeyed, None, None, None),
            Verdict {
                mode: Mode::Unkeyed,
                broken: None
            }
        );
        let keyed = chain(3, Some(KEY));
        assert_eq!(
            verify_chain(None, &keyed, Some(KEY), None, None),
            Verdict {
                mode: Mode::Keyed,
                broken: None
            }
        );
        assert_eq!(
            kind(&verify_chain(None, &keyed, None, None, None)),
            Some(BreakKind::Edited)
        );
    }

    #[test]
    fn checkpoints_are_sealed_and_anchored() {
        let rows = chain(10, Some(KEY));
        let t = Some("t1");
        let at = |seq: u64| Anchor {
            seq,
            hash: rows[usize::try_from(seq).unwrap() - 1].hash.clone(),
        };
        let cp = |seq: u64, mac: Option<String>| Checkpoint {
            seq,
            hash: at(seq).hash,
            mac,
        };
        let anchor = |checkpoint: Option<Anchor>| ChainAnchor {
            chain: t.map(str::to_owned),
            head: at(10),
            checkpoint,
        };
        let check = |cp: Option<&Checkpoint>, a: Option<ChainAnchor>, from: usize| {
            kind(&verify_chain(t, &rows[from..], Some(KEY), cp, a.as_ref()))
        };
        let genuine = cp(4, Some(checkpoint_mac(t, 4, &rows[3].hash, Some(KEY))));
        assert_eq!(check(Some(&genuine), None, 4), None);
        // Forged: no MAC, a MAC without the key, another chain's MAC.
        for mac in [
            None,
            Some(checkpoint_mac(t, 4, &rows[3].hash, None)),
            Some(checkpoint_mac(None, 4, &rows[3].hash, Some(KEY))),
        ] {
            assert_eq!(
                check(Some(&cp(4, mac)), None, 4),
                Some(BreakKind::Checkpoint)
            );
        }
        assert_eq!(check(Some(&genuine), Some(anchor(Some(at(4)))), 4), None);
        // The anchored checkpoint removed (rows 1-4 left out as well), or an older one restored.
        let removed = check(None, Some(anchor(Some(at(4)))), 4);
        assert_eq!(removed, Some(BreakKind::Checkpoint));
        let older = check(Some(&genuine), Some(anchor(Some(at(6)))), 4);
        assert_eq!(older, Some(BreakKind::Checkpoint));
        // A purge past the anchored head: the sealed checkpoint vouches for it.
        let late = cp(10, Some(checkpoint_mac(t, 10, &rows[9].hash, Some(KEY))));
        assert_eq!(check(Some(&late), Some(anchor(None)), 10), None);
        // Unkeyed: a checkpoint the anchor does not know cannot be told from a forged one.
        let plain = chain(10, None);
        let ucp = Checkpoint {
            seq: 4,
            hash: plain[3].hash.clone(),
            mac: Some(checkpoint_mac(t, 4, &plain[3].hash, None)),
        };
        let unkeyed =
            |a: Option<&ChainAnchor>| kind(&verify_chain(t, &plain[4..], None, Some(&ucp), a));
        assert_eq!(unkeyed(None), None);
        assert_eq!(unkeyed(Some(&head_of(&plain))), Some(BreakKind::Checkpoint));
    }

    #[test]
    fn a_chain_emptied_or_cut_is_truncated_against_its_anchor() {
        let rows = chain(5, Some(KEY));
        let a = head_of(&rows);
        let b = verify_chain(None, &[], Some(KEY), None, Some(&a))
            .broken
            .unwrap();
        assert_eq!((b.kind, b.seq), (BreakKind::Truncated, 5));
        assert_eq!(
            kind(&verify_chain(None, &rows[..3], Some(KEY), None, Some(&a))),
            Some(BreakKind::Truncated)
        );
    }
}
