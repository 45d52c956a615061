//! Public ids: a prefix (`msg_`, `ep_`, `dlv_`, `atm_`, `lane_`) and the 26 lower-case Crockford
//! base-32 characters of a 128-bit UUID (the TypeID layout), stored as `uuid` in PostgreSQL.
//!
//! New ids are UUIDv7 (48-bit Unix milliseconds, then random bits), so they sort by creation time
//! and keep B-tree inserts at the right edge. The caller passes the clock and the random bytes.
//! The encoding contains no `.`, as the Standard Webhooks signed content requires of `webhook-id`.
//! Decoding is strict (lower case, no `I`/`L`/`O` aliases, first character `0`–`7`) so that every
//! id has exactly one spelling: receivers de-duplicate on the text.

use super::error::{Result, WebhooksError};
use crate::resolve::is_uuid;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Length of the encoded part.
pub const ENCODED_LEN: usize = 26;

/// What an id names; decides its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum IdKind {
    Message,
    Endpoint,
    Delivery,
    Attempt,
    Lane,
    /// An email message (`@usebetterdev/email`).
    Email,
}

impl IdKind {
    /// The prefix including its `_`.
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Message => "msg_",
            IdKind::Endpoint => "ep_",
            IdKind::Delivery => "dlv_",
            IdKind::Attempt => "atm_",
            IdKind::Lane => "lane_",
            IdKind::Email => "eml_",
        }
    }
}

/// A UUIDv7 from Unix milliseconds and at least 10 random bytes (the first 10 are used).
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `random` when fewer than 10 bytes are given, or `unixMs`
/// when the time does not fit 48 bits.
pub fn uuid_v7(unix_ms: u64, random: &[u8]) -> Result<[u8; 16]> {
    if unix_ms >= 1 << 48 {
        return Err(WebhooksError::argument(
            "unixMs",
            "must be below 2^48 milliseconds",
        ));
    }
    let random = random.get(..10).ok_or_else(|| {
        WebhooksError::argument("random", "expected at least 10 random bytes for a UUIDv7")
    })?;
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
    b[6..].copy_from_slice(random);
    b[6] = 0x70 | (b[6] & 0x0f); // version 7
    b[8] = 0x80 | (b[8] & 0x3f); // RFC 9562 variant
    Ok(b)
}

/// A new prefixed UUIDv7 id.
///
/// # Errors
/// As [`uuid_v7`].
pub fn new_id(kind: IdKind, unix_ms: u64, random: &[u8]) -> Result<String> {
    Ok(encode(kind, &uuid_v7(unix_ms, random)?))
}

/// `prefix` + 26 base-32 characters of `bytes`.
#[must_use]
pub fn encode(kind: IdKind, bytes: &[u8; 16]) -> String {
    let v = u128::from_be_bytes(*bytes);
    let mut out = String::with_capacity(kind.prefix().len() + ENCODED_LEN);
    out.push_str(kind.prefix());
    for i in 0..ENCODED_LEN {
        // 130 bits of output for 128 of input: the first character carries only 3 bits.
        let shift = 125 - 5 * i;
        let digit = (v >> shift) & 31;
        out.push(char::from(ALPHABET[usize::try_from(digit).unwrap_or(0)]));
    }
    out
}

/// The 16 bytes of a `kind` id; `field` names the argument in errors.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `field` for a wrong prefix or a malformed body.
pub fn decode(field: &str, kind: IdKind, text: &str) -> Result<[u8; 16]> {
    let bad = |reason: &str| {
        WebhooksError::argument(
            field,
            format!(
                "{text:?} {reason}: expected `{}` followed by 26 base-32 characters",
                kind.prefix()
            ),
        )
    };
    let body = text
        .strip_prefix(kind.prefix())
        .ok_or_else(|| bad("has the wrong prefix"))?;
    if body.len() != ENCODED_LEN {
        return Err(bad("has the wrong length"));
    }
    let mut v: u128 = 0;
    for (i, c) in body.bytes().enumerate() {
        let digit = ALPHABET
            .iter()
            .position(|a| *a == c)
            .ok_or_else(|| bad("contains a character outside the base-32 alphabet"))?;
        if i == 0 && digit > 7 {
            return Err(bad("is out of range"));
        }
        v = (v << 5) | u128::try_from(digit).unwrap_or(0);
    }
    Ok(v.to_be_bytes())
}

/// Canonical lower-case `8-4-4-4-12` text of 16 bytes.
#[must_use]
pub fn uuid_text(b: &[u8; 16]) -> String {
    let hex = crate::crypto::hex(b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The 16 bytes of a hyphenated UUID (any case).
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `field`.
pub fn parse_uuid(field: &str, text: &str) -> Result<[u8; 16]> {
    if !is_uuid(text) {
        return Err(WebhooksError::argument(
            field,
            format!("{text:?} is not a UUID"),
        ));
    }
    let hex: Vec<u8> = text.bytes().filter(|c| *c != b'-').collect();
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).unwrap_or("00");
        out[i] = u8::from_str_radix(s, 16).unwrap_or(0);
    }
    Ok(out)
}

/// `msg_…` → the `uuid` stored in the database.
///
/// # Errors
/// As [`decode`].
pub fn to_uuid(field: &str, kind: IdKind, text: &str) -> Result<String> {
    Ok(uuid_text(&decode(field, kind, text)?))
}

/// The `uuid` stored in the database → `msg_…`.
///
/// # Errors
/// As [`parse_uuid`].
pub fn from_uuid(field: &str, kind: IdKind, uuid: &str) -> Result<String> {
    Ok(encode(kind, &parse_uuid(field, uuid)?))
}

/// [`from_uuid`] for a whole batch (rows returned by one query); `field` is suffixed `[i]`.
///
/// # Errors
/// The first malformed entry.
pub fn from_uuids(field: &str, kind: IdKind, uuids: &[String]) -> Result<Vec<String>> {
    uuids
        .iter()
        .enumerate()
        .map(|(i, u)| from_uuid(&format!("{field}[{i}]"), kind, u))
        .collect()
}

/// The 16 bytes of an id given either as `kind` id or as UUID text.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `field`.
pub fn id_or_uuid(field: &str, kind: IdKind, text: &str) -> Result<[u8; 16]> {
    if text.starts_with(kind.prefix()) {
        decode(field, kind, text)
    } else {
        parse_uuid(field, text)
    }
}

/// Unix milliseconds of a UUIDv7 (`None` for other versions), to bound partition scans by time.
#[must_use]
pub fn v7_unix_ms(b: &[u8; 16]) -> Option<u64> {
    if b[6] >> 4 != 7 {
        return None;
    }
    let mut ms = [0u8; 8];
    ms[2..].copy_from_slice(&b[..6]);
    Some(u64::from_be_bytes(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typeid_reference_encoding() {
        // The TypeID specification's own examples (valid/*.yaml of jetify-com/typeid).
        let nil = parse_uuid("u", "00000000-0000-0000-0000-000000000000").unwrap();
        assert_eq!(
            encode(IdKind::Message, &nil),
            "msg_00000000000000000000000000"
        );
        let max = parse_uuid("u", "ffffffff-ffff-ffff-ffff-ffffffffffff").unwrap();
        assert_eq!(
            encode(IdKind::Lane, &max),
            "lane_7zzzzzzzzzzzzzzzzzzzzzzzzz"
        );
        let one = parse_uuid("u", "00000000-0000-0000-0000-000000000001").unwrap();
        assert_eq!(
            encode(IdKind::Endpoint, &one),
            "ep_00000000000000000000000001"
        );
        let v7 = parse_uuid("u", "01890a5d-ac96-774b-bcce-b302099a8057").unwrap();
        assert_eq!(
            encode(IdKind::Message, &v7),
            "msg_01h455vb4pex5vsknk084sn02q"
        );
    }

    #[test]
    fn round_trip_and_time() {
        let b = uuid_v7(1_724_000_000_123, &[0xab; 10]).unwrap();
        assert_eq!(b[6] >> 4, 7);
        assert_eq!(b[8] >> 6, 0b10);
        assert_eq!(v7_unix_ms(&b), Some(1_724_000_000_123));
        let id = encode(IdKind::Delivery, &b);
        assert!(id.starts_with("dlv_") && id.len() == 30 && !id.contains('.'));
        assert_eq!(decode("id", IdKind::Delivery, &id).unwrap(), b);
        let uuid = to_uuid("id", IdKind::Delivery, &id).unwrap();
        assert_eq!(from_uuid("id", IdKind::Delivery, &uuid).unwrap(), id);
        assert_eq!(id_or_uuid("id", IdKind::Delivery, &uuid).unwrap(), b);
        assert_eq!(
            from_uuids("ids", IdKind::Delivery, &[uuid.to_uppercase()]).unwrap(),
            vec![id]
        );
    }

    #[test]
    fn ids_sort_by_time() {
        let a = new_id(IdKind::Message, 1_000, &[0xff; 10]).unwrap();
        let b = new_id(IdKind::Message, 1_001, &[0x00; 10]).unwrap();
        assert!(a < b);
    }

    #[test]
    fn strict_decoding_names_the_field() {
        let good = "msg_01h455vb4pex5vsknk084sn02q";
        for bad in [
            "ep_01h455vb4pex5vsknk084sn02q",
            "msg_01h455vb4pex5vsknk084sn02",
            "msg_01H455VB4PEX5VSKNK084SN02Q",
            "msg_01h455vb4pex5vsknk084sn0iq",
            "msg_81h455vb4pex5vsknk084sn02q",
            "msg_01h455vb4pex5vsknk084sn02q.",
        ] {
            let e = decode("messageId", IdKind::Message, bad).unwrap_err();
            assert_eq!(e.code(), "WEBHOOKS_INVALID_ARGUMENT", "{bad}");
            assert!(e.to_string().contains("`messageId`"), "{e}");
        }
        assert!(decode("messageId", IdKind::Message, good).is_ok());
        assert!(uuid_v7(1, &[0; 9]).is_err());
        assert!(uuid_v7(1 << 48, &[0; 10]).is_err());
        assert!(parse_uuid("u", "not-a-uuid").is_err());
        assert_eq!(v7_unix_ms(&[0; 16]), None);
    }
}
