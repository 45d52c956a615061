//! Checks of what callers hand to `send()` and `endpoints.create/update`: custom headers,
//! payload size, idempotency and ordering keys, schedules, batch sizes. Each failure names the
//! field, so a bad value is refused before any SQL runs and nothing is half-written.

use super::error::{Result, WebhooksError};

/// Default `maxPayloadBytes` (256 KiB).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 262_144;
/// Hard ceiling of `maxPayloadBytes` (1 MiB).
pub const MAX_PAYLOAD_CEILING: usize = 1_048_576;
/// Longest idempotency or ordering key, in characters.
pub const MAX_KEY_CHARS: usize = 255;
/// Most messages in one `sendMany`.
pub const MAX_SEND_MANY: usize = 1_000;
/// Furthest `deliverAfter` may lie ahead (30 days).
pub const MAX_DELIVER_AFTER_MS: i64 = 30 * 86_400_000;

/// Header names the engine sets itself, or that change how the request is framed.
const RESERVED: [&str; 6] = [
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "connection",
    "transfer-encoding",
];
const RESERVED_PREFIXES: [&str; 2] = ["webhook-", "svix-"];

fn header_err(field: String, reason: impl Into<String>) -> WebhooksError {
    WebhooksError::InvalidHeader {
        field,
        reason: reason.into(),
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Validates an endpoint's custom headers (`headers`), `field` being the config path.
///
/// # Errors
/// `WEBHOOKS_INVALID_HEADER` naming `field["Name"]`: reserved names, names that are not HTTP
/// tokens, duplicates (names are case-insensitive), values with CR, LF, NUL or other control
/// characters (a CR LF would inject headers).
pub fn check_headers(field: &str, headers: &[(String, String)]) -> Result<()> {
    let mut seen: Vec<String> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let f = format!("{field}[{name:?}]");
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(header_err(
                f,
                "a header name is letters, digits and !#$%&'*+-.^_`|~ only",
            ));
        }
        let lower = name.to_ascii_lowercase();
        if RESERVED.contains(&lower.as_str())
            || RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p))
        {
            return Err(header_err(
                f,
                "reserved: the engine sets it (`webhook-*`, `svix-*`, content-type, content-length, host, user-agent, connection, transfer-encoding)",
            ));
        }
        if seen.contains(&lower) {
            return Err(header_err(f, "given twice (header names ignore case)"));
        }
        if let Some(c) = value.chars().find(|c| c.is_control() && *c != '\t') {
            let what = match c {
                '\r' => "CR".to_owned(),
                '\n' => "LF".to_owned(),
                '\0' => "NUL".to_owned(),
                other => format!("control character {}", other.escape_unicode()),
            };
            return Err(header_err(f, format!("the value contains {what}")));
        }
        seen.push(lower);
    }
    Ok(())
}

/// `maxPayloadBytes` from the config.
///
/// # Errors
/// `WEBHOOKS_INVALID_CONFIG` naming `maxPayloadBytes` beyond 1 MiB or 0.
pub fn check_max_payload_bytes(value: usize) -> Result<usize> {
    if value == 0 || value > MAX_PAYLOAD_CEILING {
        return Err(WebhooksError::config(
            "maxPayloadBytes",
            format!("1 to {MAX_PAYLOAD_CEILING} bytes (1 MiB), got {value}"),
        ));
    }
    Ok(value)
}

/// A serialised body against the limit.
///
/// # Errors
/// `WEBHOOKS_PAYLOAD_TOO_LARGE` naming `field`, the size and the limit.
pub fn check_payload_size(field: &str, size: usize, limit: usize) -> Result<()> {
    if size > limit {
        return Err(WebhooksError::PayloadTooLarge {
            field: field.to_owned(),
            size,
            limit,
        });
    }
    Ok(())
}

/// An idempotency or ordering key: 1–255 characters, no control characters.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `field`.
pub fn check_key(field: &str, value: &str) -> Result<()> {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS {
        return Err(WebhooksError::argument(
            field,
            format!("1 to {MAX_KEY_CHARS} characters, got {chars}"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(WebhooksError::argument(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// `deliverAfter`: at most 30 days after `now_ms` (a past time means now).
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `field`.
pub fn check_deliver_after(field: &str, at_ms: i64, now_ms: i64) -> Result<()> {
    if at_ms.saturating_sub(now_ms) > MAX_DELIVER_AFTER_MS {
        return Err(WebhooksError::argument(field, "at most 30 days ahead"));
    }
    Ok(())
}

/// `sendMany` takes 1 to 1,000 messages (one INSERT).
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `inputs`.
pub fn check_send_many(len: usize) -> Result<()> {
    if len == 0 || len > MAX_SEND_MANY {
        return Err(WebhooksError::argument(
            "inputs",
            format!("1 to {MAX_SEND_MANY} messages, got {len}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn headers() {
        assert!(
            check_headers("headers", &h(&[("X-Api-Key", "abc\tdef"), ("x-trace", "")])).is_ok()
        );
        for (pairs, needle) in [
            (h(&[("Webhook-Id", "x")]), "reserved"),
            (h(&[("SVIX-signature", "x")]), "reserved"),
            (h(&[("Content-Type", "x")]), "reserved"),
            (h(&[("host", "x")]), "reserved"),
            (h(&[("Transfer-Encoding", "x")]), "reserved"),
            (h(&[("X-A", "1\r\nX-B: 2")]), "CR"),
            (h(&[("X-A", "1\n")]), "LF"),
            (h(&[("X-A", "a\0")]), "NUL"),
            (h(&[("X-A", "a\u{7f}")]), "control"),
            (h(&[("X A", "1")]), "header name"),
            (h(&[("X-A\r\n", "1")]), "header name"),
            (h(&[("", "1")]), "header name"),
            (h(&[("X-A", "1"), ("x-a", "2")]), "twice"),
        ] {
            let e = check_headers("headers", &pairs).unwrap_err();
            assert_eq!(e.code(), "WEBHOOKS_INVALID_HEADER");
            assert!(e.to_string().contains(needle), "{e}");
            assert!(e.to_string().contains("`headers[\""), "{e}");
        }
    }

    #[test]
    fn sizes_and_keys() {
        assert!(check_payload_size("payload", 262_144, DEFAULT_MAX_PAYLOAD_BYTES).is_ok());
        let e = check_payload_size("payload", 263_168, DEFAULT_MAX_PAYLOAD_BYTES).unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_PAYLOAD_TOO_LARGE");
        assert!(e.to_string().contains("263168") && e.to_string().contains("262144"));
        assert!(check_max_payload_bytes(MAX_PAYLOAD_CEILING).is_ok());
        assert!(check_max_payload_bytes(MAX_PAYLOAD_CEILING + 1).is_err());
        assert!(check_max_payload_bytes(0).is_err());
        assert!(check_key("idempotencyKey", &"é".repeat(255)).is_ok());
        for bad in [
            String::new(),
            "x".repeat(256),
            "a\nb".into(),
            "a\u{0}".into(),
        ] {
            let e = check_key("idempotencyKey", &bad).unwrap_err();
            assert_eq!(e.code(), "WEBHOOKS_INVALID_ARGUMENT");
            assert!(e.to_string().contains("`idempotencyKey`"));
        }
        assert!(check_deliver_after("deliverAfter", MAX_DELIVER_AFTER_MS, 0).is_ok());
        assert!(check_deliver_after("deliverAfter", MAX_DELIVER_AFTER_MS + 1, 0).is_err());
        assert!(check_deliver_after("deliverAfter", -5, 0).is_ok());
        assert!(check_send_many(1_000).is_ok());
        assert!(check_send_many(1_001).is_err() && check_send_many(0).is_err());
    }
}
