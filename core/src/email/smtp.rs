//! The SMTP transport's options and what is acceptable in them (plain text only to a loopback
//! host); the envelope and the message bytes are checked in `smtp_envelope`, the replies judged in
//! `smtp_outcome`. The connection itself (lettre, tokio, rustls) lives in the CLI crate; it asks here
//! before it writes anything.

use super::error::{EmailError, Result};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Security {
    /// Implicit TLS from the first byte (port 465, RFC 8314).
    Tls,
    /// `STARTTLS` after the greeting, required: a server that does not offer it gets nothing.
    StartTls,
    /// No TLS at all; accepted for loopback hosts only.
    None,
}

/// SASL mechanism for `AUTH` with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Mechanism {
    Plain,
    Login,
}

/// Credentials: a password (PLAIN, or LOGIN for servers that only offer it) or an OAuth 2
/// access token (XOAUTH2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(deny_unknown_fields, rename_all = "camelCase")
)]
pub struct Auth {
    pub user: String,
    #[cfg_attr(feature = "serde", serde(default))]
    pub pass: Option<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub access_token: Option<String>,
    /// Only PLAIN, or only LOGIN; by default PLAIN when the server offers it, else LOGIN.
    #[cfg_attr(feature = "serde", serde(default))]
    pub mechanism: Option<Mechanism>,
}

/// Pool settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct PoolSettings {
    /// Most connections open at once to this server with these options.
    #[cfg_attr(feature = "serde", serde(default))]
    pub max: Option<u32>,
}

/// The SMTP transport's options, as the addon receives them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(deny_unknown_fields, rename_all = "camelCase")
)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub secure: Security,
    #[cfg_attr(feature = "serde", serde(default))]
    pub auth: Option<Auth>,
    /// Bounds opening a connection: TCP connect, TLS handshake, greeting and `EHLO`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub connect_timeout_ms: Option<u32>,
    /// Bounds every later command's reply, and the reply to the message itself.
    #[cfg_attr(feature = "serde", serde(default))]
    pub timeout_ms: Option<u32>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub pool: PoolSettings,
    /// The `EHLO` name; an address literal (`[127.0.0.1]`) when absent.
    #[cfg_attr(feature = "serde", serde(default))]
    pub hello_name: Option<String>,
    /// Extra trusted CA certificates (PEM) besides the system's roots: private relays, tests.
    #[cfg_attr(feature = "serde", serde(default))]
    pub ca: Option<String>,
}

/// Default for [`Settings::connect_timeout_ms`].
pub const CONNECT_TIMEOUT_MS: u32 = 10_000;
/// Default for [`Settings::timeout_ms`]: the HTTP transports' `timeoutMs`.
pub const TIMEOUT_MS: u32 = 15_000;
/// Longest accepted timeout: ten minutes, RFC 5321's own limit for the final reply (§4.5.3.2.6).
pub const TIMEOUT_MAX_MS: u32 = 600_000;
/// Default for [`PoolSettings::max`].
pub const POOL_MAX: u32 = 5;
/// Largest pool: a relay counts connections per client, and more rarely helps.
pub const POOL_MAX_LIMIT: u32 = 100;

/// Reads and checks the options argument (`options`).
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming the first bad field, e.g. `options.secure`.
#[cfg(feature = "serde")]
pub fn parse_settings(value: &serde_json::Value) -> Result<Settings> {
    let settings: Settings = crate::input::with_path(value).map_err(|(path, e)| {
        EmailError::argument(crate::input::field_path("options", &path), e.to_string())
    })?;
    settings.check()?;
    Ok(settings)
}

/// Whether `host` is certainly this machine: `localhost` or a loopback address literal. Names
/// are not resolved here; the caller connects to `localhost` only through loopback addresses.
#[must_use]
pub fn is_loopback_host(host: &str) -> bool {
    let bare = unbracket(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// A token of SMTP text: printable ASCII without spaces (host names, `EHLO` names, user names).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}

impl Settings {
    /// Checks what the types cannot: non-empty tokens, ranges, and plain text only to loopback.
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` naming the field.
    pub fn check(&self) -> Result<()> {
        if !is_token(&self.host) {
            return Err(EmailError::argument(
                "options.host",
                "expected a host name or IP address without spaces",
            ));
        }
        if self.port == 0 {
            return Err(EmailError::argument(
                "options.port",
                "expected a port from 1 to 65535",
            ));
        }
        if self.secure == Security::None && !is_loopback_host(&self.host) {
            return Err(EmailError::argument(
                "options.secure",
                format!(
                    "\"none\" sends mail and credentials in clear text, which is accepted for loopback hosts only (localhost, 127.0.0.1, ::1), not {:?}: use \"tls\" (port 465) or \"starttls\" (port 587)",
                    self.host
                ),
            ));
        }
        for (field, v) in [
            ("options.connectTimeoutMs", self.connect_timeout_ms),
            ("options.timeoutMs", self.timeout_ms),
        ] {
            if v.is_some_and(|ms| ms == 0 || ms > TIMEOUT_MAX_MS) {
                return Err(EmailError::argument(
                    field,
                    format!("expected milliseconds from 1 to {TIMEOUT_MAX_MS}"),
                ));
            }
        }
        if self.pool.max.is_some_and(|m| m == 0 || m > POOL_MAX_LIMIT) {
            return Err(EmailError::argument(
                "options.pool.max",
                format!("expected a connection count from 1 to {POOL_MAX_LIMIT}"),
            ));
        }
        if let Some(name) = &self.hello_name {
            if !is_token(name) {
                return Err(EmailError::argument(
                    "options.helloName",
                    "expected a domain or address literal without spaces",
                ));
            }
        }
        if let Some(auth) = &self.auth {
            check_auth(auth)?;
        }
        Ok(())
    }

    /// The host to resolve and to verify the certificate for: without the brackets of an
    /// IPv6 literal.
    #[must_use]
    pub fn connect_host(&self) -> &str {
        unbracket(&self.host)
    }

    /// [`Settings::connect_timeout_ms`] or its default.
    #[must_use]
    pub fn connect_timeout(&self) -> u32 {
        self.connect_timeout_ms.unwrap_or(CONNECT_TIMEOUT_MS)
    }

    /// [`Settings::timeout_ms`] or its default.
    #[must_use]
    pub fn timeout(&self) -> u32 {
        self.timeout_ms.unwrap_or(TIMEOUT_MS)
    }

    /// [`PoolSettings::max`] or its default.
    #[must_use]
    pub fn pool_max(&self) -> u32 {
        self.pool.max.unwrap_or(POOL_MAX)
    }
}

fn check_auth(auth: &Auth) -> Result<()> {
    // SASL PLAIN separates its fields with NUL; CR/LF would end the command line.
    let clean = |s: &str| !s.contains(['\0', '\r', '\n']);
    if auth.user.is_empty() || !clean(&auth.user) {
        return Err(EmailError::argument(
            "options.auth.user",
            "expected a non-empty user name without NUL, CR or LF",
        ));
    }
    match (&auth.pass, &auth.access_token) {
        (Some(p), None) if clean(p) => Ok(()),
        (None, Some(t)) if !t.is_empty() && clean(t) && auth.mechanism.is_none() => Ok(()),
        (None, Some(_)) if auth.mechanism.is_some() => Err(EmailError::argument(
            "options.auth.mechanism",
            "an access token always uses XOAUTH2: leave `mechanism` out",
        )),
        (Some(_), Some(_)) | (None, None) => Err(EmailError::argument(
            "options.auth",
            "expected either `pass` or `accessToken`",
        )),
        (Some(_), None) => Err(EmailError::argument(
            "options.auth.pass",
            "expected a password without NUL, CR or LF",
        )),
        (None, Some(_)) => Err(EmailError::argument(
            "options.auth.accessToken",
            "expected a non-empty token without NUL, CR or LF",
        )),
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn field(v: Value) -> String {
        match parse_settings(&v) {
            Err(EmailError::InvalidArgument { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let s =
            parse_settings(&json!({ "host": "smtp.example.com", "port": 465, "secure": "tls" }))
                .expect("valid");
        assert_eq!(
            (s.connect_timeout(), s.timeout(), s.pool_max()),
            (CONNECT_TIMEOUT_MS, TIMEOUT_MS, POOL_MAX)
        );
        assert_eq!(s.secure, Security::Tls);
        let s = parse_settings(&json!({
            "host": "127.0.0.1", "port": 2525, "secure": "none", "timeoutMs": 500,
            "connectTimeoutMs": 250, "pool": { "max": 2 }, "helloName": "[127.0.0.1]",
            "auth": { "user": "u", "pass": "p", "mechanism": "login" }, "ca": "PEM"
        }))
        .expect("valid");
        assert_eq!(
            (s.connect_timeout(), s.timeout(), s.pool_max()),
            (250, 500, 2)
        );
        assert_eq!(s.auth.and_then(|a| a.mechanism), Some(Mechanism::Login));
    }

    #[test]
    fn plain_text_to_loopback_only() {
        for host in [
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(host), "{host}");
            assert!(parse_settings(&json!({ "host": host, "port": 25, "secure": "none" })).is_ok());
        }
        for host in [
            "smtp.example.com",
            "10.0.0.1",
            "localhost.example.com",
            "0.0.0.0",
            "::",
        ] {
            assert!(!is_loopback_host(host), "{host}");
            let v = json!({ "host": host, "port": 25, "secure": "none" });
            let e = parse_settings(&v).expect_err(host);
            assert_eq!(e.code(), "EMAIL_INVALID_ARGUMENT");
            assert!(
                e.to_string().starts_with("invalid `options.secure`: "),
                "{e}"
            );
            assert!(e.to_string().contains("\"starttls\""), "{e}");
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let base = || json!({ "host": "smtp.example.com", "port": 587, "secure": "starttls" });
        let with = |k: &str, v: Value| {
            let mut o = base();
            o[k] = v;
            field(o)
        };
        assert_eq!(field(json!({ "port": 25, "secure": "tls" })), "options");
        assert_eq!(with("host", json!("a b")), "options.host");
        assert_eq!(with("host", json!(1)), "options.host");
        assert_eq!(with("port", json!(0)), "options.port");
        assert_eq!(with("port", json!(70000)), "options.port");
        assert_eq!(with("secure", json!("ssl")), "options.secure");
        assert_eq!(with("timeoutMs", json!(0)), "options.timeoutMs");
        assert_eq!(
            with("connectTimeoutMs", json!(TIMEOUT_MAX_MS + 1)),
            "options.connectTimeoutMs"
        );
        assert_eq!(with("pool", json!({ "max": 0 })), "options.pool.max");
        assert_eq!(with("pool", json!({ "size": 2 })), "options.pool.size");
        assert_eq!(with("helloName", json!("my host")), "options.helloName");
        assert_eq!(with("extra", json!(1)), "options.extra");
        assert_eq!(
            with("auth", json!({ "user": "", "pass": "p" })),
            "options.auth.user"
        );
        assert_eq!(with("auth", json!({ "user": "u" })), "options.auth");
        assert_eq!(
            with(
                "auth",
                json!({ "user": "u", "pass": "p", "accessToken": "t" })
            ),
            "options.auth"
        );
        assert_eq!(
            with("auth", json!({ "user": "u", "pass": "a\r\nQUIT" })),
            "options.auth.pass"
        );
        assert_eq!(
            with("auth", json!({ "user": "u", "accessToken": "" })),
            "options.auth.accessToken"
        );
        assert_eq!(
            with(
                "auth",
                json!({ "user": "u", "accessToken": "t", "mechanism": "plain" })
            ),
            "options.auth.mechanism"
        );
        assert_eq!(
            with(
                "auth",
                json!({ "user": "u", "pass": "p", "mechanism": "cram-md5" })
            ),
            "options.auth.mechanism"
        );
    }
}
