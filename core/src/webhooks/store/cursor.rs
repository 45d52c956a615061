//! Arguments of the list queries (spec §11), checked before any SQL: page size, keyset cursors
//! and the enumerated filters.
//!
//! A cursor is the position after the last row of a page, `(created_at, id)` with microsecond
//! precision (a JavaScript `Date` keeps milliseconds, so rows created within one millisecond
//! would repeat or vanish between pages). It travels as opaque text: unpadded base64url of one
//! byte naming the list, the big-endian microseconds since the Unix epoch and the 16 bytes of the
//! id. The list byte makes a cursor of one list refused by another instead of paging from a
//! meaningless position.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::super::error::{Result, WebhooksError};
use super::super::ids::{parse_uuid, uuid_text};
use crate::audit::time::format_iso;

/// Page size when the caller gives none.
pub const DEFAULT_LIST_LIMIT: u32 = 50;
/// Largest page (§11).
pub const MAX_LIST_LIMIT: u32 = 500;

/// Endpoint statuses a list can filter on.
pub const ENDPOINT_STATUSES: [&str; 3] = ["enabled", "disabled", "deleted"];
/// Delivery statuses (the CHECK of `webhook_deliveries.status`).
pub const DELIVERY_STATUSES: [&str; 6] = [
    "pending",
    "in_flight",
    "succeeded",
    "exhausted",
    "cancelled",
    "skipped",
];
/// Attempt outcomes (§18).
pub const ATTEMPT_OUTCOMES: [&str; 9] = [
    "ok",
    "gone",
    "throttled",
    "http_error",
    "timeout",
    "network_error",
    "destination_blocked",
    "lease_expired",
    "worker_shutdown",
];
/// `stats({ window })` values and the interval each one passes as the statement's `window`.
pub const STATS_WINDOWS: [(&str, &str); 3] =
    [("1h", "1 hour"), ("24h", "24 hours"), ("7d", "7 days")];

/// Which list a cursor pages through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum ListKind {
    Endpoints,
    Messages,
    Deliveries,
    Attempts,
}

impl ListKind {
    fn tag(self) -> u8 {
        match self {
            ListKind::Endpoints => b'e',
            ListKind::Messages => b'm',
            ListKind::Deliveries => b'd',
            ListKind::Attempts => b'a',
        }
    }
}

/// A decoded cursor: the statement's `after_at` / `after_id` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last row, microseconds since the Unix epoch.
    pub micros: i64,
    /// Its id, canonical UUID text.
    pub id: String,
}

impl Cursor {
    /// `after_at` as RFC 3339 text with microseconds, exact when passed as a `timestamptz`.
    #[must_use]
    pub fn at_text(&self) -> String {
        format_iso(self.micros)
    }
}

/// The cursor after the row `(created_at µs, id)` of `kind` (the `created_at_us` and `id` the
/// list statements return).
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `id` when it is not a UUID.
pub fn encode_cursor(kind: ListKind, micros: i64, id: &str) -> Result<String> {
    let mut bytes = Vec::with_capacity(25);
    bytes.push(kind.tag());
    bytes.extend_from_slice(&micros.to_be_bytes());
    bytes.extend_from_slice(&parse_uuid("id", id)?);
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Reads a cursor of `kind`; `None` (no cursor) is the first page.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `field` for text that is not a cursor of this list.
pub fn decode_cursor(field: &str, kind: ListKind, cursor: Option<&str>) -> Result<Option<Cursor>> {
    let Some(text) = cursor else {
        return Ok(None);
    };
    let invalid = |why: &str| {
        WebhooksError::argument(
            field,
            format!("{why}; pass the `nextCursor` of a previous page of this list, or none for the first page"),
        )
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid("not a cursor"))?;
    let (tag, rest) = match bytes.split_first() {
        Some((tag, rest)) if rest.len() == 24 => (*tag, rest),
        _ => return Err(invalid("not a cursor")),
    };
    if tag != kind.tag() {
        return Err(invalid("a cursor of another list"));
    }
    let (at, id) = rest.split_at(8);
    let mut micros = [0u8; 8];
    micros.copy_from_slice(at);
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(id);
    Ok(Some(Cursor {
        micros: i64::from_be_bytes(micros),
        id: uuid_text(&uuid),
    }))
}

/// The page size: `limit` (1–500) or [`DEFAULT_LIST_LIMIT`]. The statements take one row more
/// than this (`limit + 1`), so the caller knows whether a next page exists.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `field`.
pub fn check_limit(field: &str, limit: Option<f64>) -> Result<u32> {
    let Some(n) = limit else {
        return Ok(DEFAULT_LIST_LIMIT);
    };
    if n.fract() != 0.0 || !(1.0..=f64::from(MAX_LIST_LIMIT)).contains(&n) {
        return Err(WebhooksError::argument(
            field,
            format!("expected an integer from 1 to {MAX_LIST_LIMIT}, got {n}"),
        ));
    }
    // In range and integral, so the conversion is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(n as u32)
}

/// A filter value that must be one of `allowed` (`None`: no filter).
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `field` and the allowed values.
pub fn check_choice<'a>(
    field: &str,
    allowed: &[&str],
    value: Option<&'a str>,
) -> Result<Option<&'a str>> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(WebhooksError::argument(
            field,
            format!("expected one of {}, got {v:?}", allowed.join(", ")),
        )),
        other => Ok(other),
    }
}

/// The interval of a `stats` window (default `24h`).
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `field`.
pub fn stats_window(field: &str, window: Option<&str>) -> Result<&'static str> {
    let w = window.unwrap_or("24h");
    STATS_WINDOWS
        .iter()
        .find(|(name, _)| *name == w)
        .map(|(_, interval)| *interval)
        .ok_or_else(|| WebhooksError::argument(field, format!("expected 1h, 24h or 7d, got {w:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

    #[test]
    fn cursors_round_trip_with_microseconds() {
        for micros in [0, 1_787_824_800_123_457, -1, i64::MAX, i64::MIN] {
            for kind in [
                ListKind::Endpoints,
                ListKind::Messages,
                ListKind::Deliveries,
                ListKind::Attempts,
            ] {
                let c = encode_cursor(kind, micros, &ID.to_uppercase()).unwrap();
                assert!(c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
                let d = decode_cursor("cursor", kind, Some(&c)).unwrap().unwrap();
                assert_eq!((d.micros, d.id.as_str()), (micros, ID));
            }
        }
        let c = decode_cursor(
            "cursor",
            ListKind::Messages,
            Some(&encode_cursor(ListKind::Messages, 1_787_824_800_123_457, ID).unwrap()),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.at_text(), "2026-08-27T10:00:00.123457Z");
        assert_eq!(
            decode_cursor("cursor", ListKind::Messages, None).unwrap(),
            None
        );
    }

    #[test]
    fn foreign_and_malformed_cursors_are_refused() {
        let m = encode_cursor(ListKind::Messages, 5, ID).unwrap();
        let e = decode_cursor("cursor", ListKind::Deliveries, Some(&m)).unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_INVALID_ARGUMENT");
        assert!(e.to_string().contains("`cursor`"), "{e}");
        assert!(e.to_string().contains("another list"), "{e}");
        for bad in ["", "!!", &m[..m.len() - 2], &format!("{m}AA"), "bWVzc2FnZQ"] {
            let e = decode_cursor("cursor", ListKind::Messages, Some(bad)).unwrap_err();
            assert!(e.to_string().contains("not a cursor"), "{bad:?}: {e}");
        }
        assert!(encode_cursor(ListKind::Messages, 0, "nope").is_err());
    }

    #[test]
    fn limits_and_choices() {
        assert_eq!(check_limit("limit", None).unwrap(), DEFAULT_LIST_LIMIT);
        assert_eq!(check_limit("limit", Some(1.0)).unwrap(), 1);
        assert_eq!(check_limit("limit", Some(500.0)).unwrap(), 500);
        for bad in [0.0, 501.0, -1.0, 2.5, f64::NAN, f64::INFINITY] {
            let e = check_limit("limit", Some(bad)).unwrap_err();
            assert_eq!(e.code(), "WEBHOOKS_INVALID_ARGUMENT");
            assert!(e.to_string().contains("`limit`"), "{e}");
        }
        assert_eq!(
            check_choice("status", &DELIVERY_STATUSES, Some("exhausted")).unwrap(),
            Some("exhausted")
        );
        assert_eq!(
            check_choice("status", &DELIVERY_STATUSES, None).unwrap(),
            None
        );
        let e = check_choice("outcome", &ATTEMPT_OUTCOMES, Some("OK")).unwrap_err();
        assert!(e.to_string().contains("`outcome`"), "{e}");
        assert_eq!(stats_window("window", None).unwrap(), "24 hours");
        assert_eq!(stats_window("window", Some("7d")).unwrap(), "7 days");
        assert!(stats_window("window", Some("2h"))
            .unwrap_err()
            .to_string()
            .contains("`window`"));
    }
}
