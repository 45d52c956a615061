//! RFC 8058 one-click unsubscribe: the token in the `List-Unsubscribe` URL and the two header
//! values. A token is `u1.` + base64url(nonce ‖ XChaCha20-Poly1305(`tokenKey`, fields)), sealed
//! with the webhooks' sealing code under its own associated data: opaque and unforgeable as
//! RFC 8058 §3.1 asks, no address in clear in URLs or logs, and verified without a database
//! read. A key change keeps old tokens working through `previous`. The nonce comes from the
//! caller's random source.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::error::{EmailError, Result};
use crate::webhooks::seal::{open_with, seal_with, SecretsKeys, NONCE_BYTES};

const PREFIX: &str = "u1.";
/// Associated data: a token never opens as an endpoint secret or the reverse, even under the
/// same key.
const AAD: &[u8] = b"better-email/unsubscribe/v1";
/// `List-Unsubscribe-Post`'s only value (RFC 8058 §3.1).
pub const LIST_UNSUBSCRIBE_POST: &str = "List-Unsubscribe=One-Click";

/// What a token carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
pub struct TokenFields {
    /// The tenant the suppression is for; none without tenancy.
    pub tenant_id: Option<String>,
    /// The suppression matching key of the recipient (lower-cased address).
    pub address: String,
    pub category: String,
    pub message_id: Option<String>,
    /// Unix seconds.
    pub issued_at: i64,
}

/// An opened token; `stale` means the previous key opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct OpenedToken {
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub fields: TokenFields,
    pub stale: bool,
}

/// Parses `tokenKey` (`{ current, previous? }` as the webhooks' `secretsKey`).
///
/// # Errors
/// `EMAIL_INVALID_CONFIG` naming `tokenKey`, `tokenKey.current` or `tokenKey.previous`.
pub fn token_keys(current: &str, previous: Option<&str>) -> Result<SecretsKeys> {
    SecretsKeys::parse("tokenKey", current, previous).map_err(|e| {
        // The webhooks' parser names the part at fault; keep that name under this product's code.
        let text = e.to_string();
        let field = ["tokenKey.previous", "tokenKey.current"]
            .into_iter()
            .find(|f| text.contains(&format!("`{f}`")))
            .unwrap_or("tokenKey");
        EmailError::InvalidConfig {
            field: field.into(),
            expected: "32 bytes in base64 (generate one with `openssl rand -base64 32`)".into(),
        }
    })
}

/// Seals `fields` into a token with the caller's 24 random bytes.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming `nonce`, `address` or `category` (empty).
pub fn seal_token(keys: &SecretsKeys, fields: &TokenFields, nonce: &[u8]) -> Result<String> {
    if fields.address.is_empty() {
        return Err(EmailError::argument("address", "must be non-empty"));
    }
    if fields.category.is_empty() {
        return Err(EmailError::argument("category", "must be non-empty"));
    }
    if nonce.len() != NONCE_BYTES {
        return Err(EmailError::argument(
            "nonce",
            format!("expected {NONCE_BYTES} random bytes, got {}", nonce.len()),
        ));
    }
    // Short keys keep the URL short; `v` leaves room for another layout under the same prefix.
    let plain = json!({
        "v": 1, "t": fields.tenant_id, "a": fields.address, "c": fields.category,
        "m": fields.message_id, "iat": fields.issued_at,
    })
    .to_string();
    let sealed = seal_with(keys, AAD, plain.as_bytes(), nonce)
        .map_err(|e| EmailError::argument("nonce", e.to_string()))?;
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed)))
}

/// Opens a token.
///
/// # Errors
/// `EMAIL_UNSUBSCRIBE_TOKEN_INVALID` for anything that is not a token sealed by these keys
/// (malformed, tampered, another key); the handler answers 404 without saying which.
pub fn open_token(keys: &SecretsKeys, token: &str) -> Result<OpenedToken> {
    let invalid = || EmailError::UnsubscribeTokenInvalid;
    let raw = token
        .strip_prefix(PREFIX)
        .and_then(|t| URL_SAFE_NO_PAD.decode(t).ok())
        .ok_or_else(invalid)?;
    let (plain, stale) = open_with(keys, AAD, &raw).ok_or_else(invalid)?;
    let v: Value = serde_json::from_slice(&plain).map_err(|_| invalid())?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if v.get("v").and_then(Value::as_i64) != Some(1) {
        return Err(invalid());
    }
    Ok(OpenedToken {
        fields: TokenFields {
            tenant_id: text("t"),
            address: text("a").ok_or_else(invalid)?,
            category: text("c").ok_or_else(invalid)?,
            message_id: text("m"),
            issued_at: v.get("iat").and_then(Value::as_i64).ok_or_else(invalid)?,
        },
        stale,
    })
}

/// Characters that would end a `<…>` entry or the header line.
fn check_uri_text(field: &str, text: &str) -> Result<()> {
    if text.is_empty()
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | '"'))
    {
        return Err(EmailError::argument(
            field,
            "must be non-empty, without whitespace, control characters, `<`, `>`, `,` or `\"`",
        ));
    }
    Ok(())
}

/// `List-Unsubscribe` and `List-Unsubscribe-Post` for a token: `<{baseUrl}/{token}>` (`baseUrl`
/// is where the unsubscribe handler is mounted, as in `unsubscribe: { baseUrl }`) and,
/// with `mailto`, `, <mailto:{mailto}>`. RFC 8058 one-click needs an `https` URI.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming `baseUrl` (not https, or characters that would break the
/// header), `token` or `mailto`.
pub fn unsubscribe_headers(
    base_url: &str,
    token: &str,
    mailto: Option<&str>,
) -> Result<[(String, String); 2]> {
    check_uri_text("baseUrl", base_url)?;
    if !base_url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        return Err(EmailError::argument(
            "baseUrl",
            "one-click unsubscribe needs an `https://` URL (RFC 8058 §3.1)",
        ));
    }
    check_uri_text("token", token)?;
    let mut value = format!("<{}/{token}>", base_url.trim_end_matches('/'));
    if let Some(m) = mailto {
        check_uri_text("mailto", m)?;
        let m = m.strip_prefix("mailto:").unwrap_or(m);
        value.push_str(&format!(", <mailto:{m}>"));
    }
    Ok([
        ("List-Unsubscribe".into(), value),
        ("List-Unsubscribe-Post".into(), LIST_UNSUBSCRIBE_POST.into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn keys(b: u8) -> SecretsKeys {
        token_keys(&STANDARD.encode([b; 32]), None).unwrap()
    }

    fn fields() -> TokenFields {
        TokenFields {
            tenant_id: Some("018f3c00-7c00-7000-8000-00a0c91e6bf6".into()),
            address: "ann@example.com".into(),
            category: "notifications".into(),
            message_id: Some("eml_1".into()),
            issued_at: 1_700_000_000,
        }
    }

    #[test]
    fn round_trip_hides_the_address() {
        let t = seal_token(&keys(1), &fields(), &[7; 24]).unwrap();
        assert!(t.starts_with("u1.") && !t.contains("ann") && !t.contains('@'));
        assert!(t[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let o = open_token(&keys(1), &t).unwrap();
        assert_eq!(o.fields, fields());
        assert!(!o.stale);
        let none = TokenFields {
            tenant_id: None,
            message_id: None,
            ..fields()
        };
        let t2 = seal_token(&keys(1), &none, &[8; 24]).unwrap();
        assert_eq!(open_token(&keys(1), &t2).unwrap().fields, none);
    }

    #[test]
    fn tampered_foreign_and_malformed_tokens_are_invalid() {
        let t = seal_token(&keys(1), &fields(), &[7; 24]).unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(&t[3..]).unwrap();
        for i in [0, 30, raw.len() - 1] {
            raw[i] ^= 1;
            let bad = format!("u1.{}", URL_SAFE_NO_PAD.encode(&raw));
            assert_eq!(
                open_token(&keys(1), &bad).unwrap_err().code(),
                "EMAIL_UNSUBSCRIBE_TOKEN_INVALID"
            );
            raw[i] ^= 1;
        }
        for bad in ["", "u1.", "u2.abc", &t[3..], "u1.!!!!", &t[..t.len() - 4]] {
            assert_eq!(
                open_token(&keys(1), bad).unwrap_err().code(),
                "EMAIL_UNSUBSCRIBE_TOKEN_INVALID",
                "{bad}"
            );
        }
        assert_eq!(
            open_token(&keys(2), &t).unwrap_err().code(),
            "EMAIL_UNSUBSCRIBE_TOKEN_INVALID"
        );
        // An endpoint secret sealed under the same key is not a token.
        let secret = crate::webhooks::seal::seal(
            &keys(1),
            "018f3c00-7c00-7000-8000-00a0c91e6bf6",
            "x",
            &[1; 24],
        )
        .unwrap();
        let raw = STANDARD.decode(secret).unwrap();
        let as_token = format!("u1.{}", URL_SAFE_NO_PAD.encode(&raw[1..]));
        assert_eq!(
            open_token(&keys(1), &as_token).unwrap_err().code(),
            "EMAIL_UNSUBSCRIBE_TOKEN_INVALID"
        );
    }

    #[test]
    fn previous_key_opens_and_marks_stale() {
        let t = seal_token(&keys(1), &fields(), &[7; 24]).unwrap();
        let rotated =
            token_keys(&STANDARD.encode([2; 32]), Some(&STANDARD.encode([1; 32]))).unwrap();
        assert!(open_token(&rotated, &t).unwrap().stale);
        let e = token_keys("short", None).unwrap_err();
        assert_eq!(e.code(), "EMAIL_INVALID_CONFIG");
        assert!(e.to_string().contains("`tokenKey`"));
        let e = token_keys(&STANDARD.encode([2; 32]), Some("x")).unwrap_err();
        assert!(e.to_string().contains("`tokenKey.previous`"), "{e}");
        let e = token_keys("x", Some(&STANDARD.encode([2; 32]))).unwrap_err();
        assert!(e.to_string().contains("`tokenKey.current`"), "{e}");
        assert!(seal_token(&keys(1), &fields(), &[0; 12])
            .unwrap_err()
            .to_string()
            .contains("`nonce`"));
    }

    #[test]
    fn header_values() {
        let [lu, post] = unsubscribe_headers(
            "https://app.acme.com/email/u/",
            "u1.abc",
            Some("unsub@acme.com"),
        )
        .unwrap();
        assert_eq!(
            lu,
            (
                "List-Unsubscribe".into(),
                "<https://app.acme.com/email/u/u1.abc>, <mailto:unsub@acme.com>".into()
            )
        );
        assert_eq!(
            post,
            (
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into()
            )
        );
        let [lu, _] = unsubscribe_headers("https://a.io", "u1.x", None).unwrap();
        assert_eq!(lu.1, "<https://a.io/u1.x>");
        for (base, mailto, field) in [
            ("http://a.io", None, "baseUrl"),
            ("https://a.io/>\r\nBcc: x", None, "baseUrl"),
            ("https://a.io", Some("a@b, <x>"), "mailto"),
        ] {
            let e = unsubscribe_headers(base, "u1.x", mailto).unwrap_err();
            assert!(e.to_string().contains(&format!("`{field}`")), "{e}");
        }
    }
}
