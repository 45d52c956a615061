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

fn row(id: &str, ts: &str, n: i64) -> Map<String, Value> {
    let v = json!({ "id": id, "timestamp": ts, "table_name": "t", "operation": "UPDATE", "record_id": "1",
                    "after_data": { "n": n, "a": [1, 2] }, "actor_id": null });
    v.as_object().unwrap().clone()
}

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
    assert_eq!(wrong_key.kind, BreakKind::Edited);
    read[0]["after_data"]["n"] = json!(5);
    let edited = verify_rows(stored(&read), Some(KEY), None)
        .unwrap()
        .unwrap();
    assert_eq!(
        (edited.kind, edited.row_id.as_deref()),
        (BreakKind::Edited, Some("a"))
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
    assert_eq!(check(&flipped), Some(BreakKind::Edited));
}
