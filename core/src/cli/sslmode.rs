//! libpq's `sslmode` and `sslrootcert` for both tools' connections: read from the connection
//! string (else `PGSSLMODE` / `PGSSLROOTCERT`), and taken out of it, since tokio-postgres
//! knows only disable/prefer/require and refuses `sslrootcert`. The rest of the string is
//! handed over as is; the CLI crate verifies what the mode asks for.

use crate::error::{CliFailure, Result};

/// libpq's `sslmode` values (`allow` is not offered: it never protects anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str, source: &str) -> Result<SslMode> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(CliFailure::DatabaseUrl.with(format!(
                    "invalid {source} {other:?}: expected disable, prefer, require, verify-ca or verify-full"
                )))
            }
        })
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// `PGSSLMODE` / `PGSSLROOTCERT`, as the JS bin forwards them; the connection string wins.
#[derive(Debug, Default, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct TlsEnv {
    pub ssl_mode: Option<String>,
    pub ssl_root_cert: Option<String>,
}

/// Whom the server certificate must be signed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// A PEM file (`sslrootcert=<path>`).
    File(String),
    /// The system's trusted roots (`sslrootcert=system`, and verify-* without a file).
    System,
}

/// A connection string split into what tokio-postgres reads and what TLS needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub mode: SslMode,
    pub roots: Option<Roots>,
}

/// Splits `url` (a `postgres://` URL or `key=value` pairs) and applies the environment;
/// `default_root` is libpq's `~/.postgresql/root.crt` when that file exists.
///
/// # Errors
/// `DB_INVALID_URL` naming a bad `sslmode` or a weak mode combined with `sslrootcert=system`.
pub fn target(url: &str, env: &TlsEnv, cwd: &str, default_root: Option<String>) -> Result<Target> {
    let (rest, mode, root) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        strip_url(url)
    } else {
        strip_pairs(url)
    };
    let present = |v: Option<String>| v.filter(|s| !s.is_empty());
    let mode = match present(mode) {
        Some(m) => Some(SslMode::parse(&m, "sslmode")?),
        None => match present(env.ssl_mode.clone()) {
            Some(m) => Some(SslMode::parse(&m, "PGSSLMODE")?),
            None => None,
        },
    };
    let root = present(root).or_else(|| present(env.ssl_root_cert.clone()));
    let (mode, roots) = match root.as_deref() {
        // libpq 16: the system roots only make sense with the host name checked.
        Some("system") => match mode {
            None | Some(SslMode::VerifyFull) => (SslMode::VerifyFull, Some(Roots::System)),
            Some(weak) => {
                return Err(CliFailure::DatabaseUrl.with(format!(
                    "sslrootcert=system needs sslmode=verify-full (got {}): without the host name check any certificate a public CA issued would pass",
                    weak.as_str()
                )))
            }
        },
        Some(path) => (
            mode.unwrap_or(SslMode::Prefer),
            Some(Roots::File(absolute(path, cwd))),
        ),
        None => (mode.unwrap_or(SslMode::Prefer), default_root.map(Roots::File)),
    };
    Ok(Target {
        url: rest,
        mode,
        roots,
    })
}

fn absolute(path: &str, cwd: &str) -> String {
    let p = std::path::Path::new(path);
    if p.is_absolute() || cwd.is_empty() {
        path.to_owned()
    } else {
        std::path::Path::new(cwd).join(p).display().to_string()
    }
}

type Split = (String, Option<String>, Option<String>);

/// Takes `sslmode` and `sslrootcert` out of a URL's query string.
fn strip_url(url: &str) -> Split {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None, None);
    };
    let (mut mode, mut root) = (None, None);
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match decode(k).as_str() {
                "sslmode" => mode = Some(decode(v)),
                "sslrootcert" => root = Some(decode(v)),
                _ => return true,
            }
            false
        })
        .collect();
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, mode, root)
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Takes `sslmode` and `sslrootcert` out of libpq's `key=value` form (values may be quoted
/// with `'`, with `\` escapes). Anything it cannot read is left for tokio-postgres to refuse.
fn strip_pairs(s: &str) -> Split {
    let (mut mode, mut root) = (None, None);
    let mut rest = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &s[start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            rest.push_str(&s[start..]);
            break;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        let quoted = b.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        let (mut end, mut escaped) = (s.len(), false);
        for (off, c) in s[i..].char_indices() {
            match c {
                _ if escaped => {
                    value.push(c);
                    escaped = false;
                }
                '\\' => escaped = true,
                '\'' if quoted => {
                    end = i + off + 1;
                    break;
                }
                _ if !quoted && c.is_ascii_whitespace() => {
                    end = i + off;
                    break;
                }
                _ => value.push(c),
            }
        }
        i = end;
        match key {
            "sslmode" => mode = Some(value),
            "sslrootcert" => root = Some(value),
            _ => {
                rest.push_str(&s[start..i]);
                rest.push(' ');
            }
        }
    }
    (rest.trim_end().to_owned(), mode, root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(mode: Option<&str>, root: Option<&str>) -> TlsEnv {
        TlsEnv {
            ssl_mode: mode.map(str::to_owned),
            ssl_root_cert: root.map(str::to_owned),
        }
    }

    #[test]
    fn url_parameters_are_taken_out_and_win_over_the_environment() {
        let t = target(
            "postgres://u:p%3F@h:5/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fca.pem",
            &env(Some("disable"), Some("/other.pem")),
            "/",
            None,
        )
        .unwrap();
        assert_eq!(t.url, "postgres://u:p%3F@h:5/db?application_name=x");
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.roots, Some(Roots::File("/ca.pem".into())));
        let e = target(
            "postgres://h/db",
            &env(Some("require"), Some("ca.pem")),
            "/p",
            None,
        )
        .unwrap();
        assert_eq!(e.url, "postgres://h/db");
        assert_eq!(
            (e.mode, e.roots),
            (SslMode::Require, Some(Roots::File("/p/ca.pem".into())))
        );
        let bare = target(
            "postgres://h/db?sslmode=require",
            &TlsEnv::default(),
            "/",
            None,
        )
        .unwrap();
        assert_eq!(bare.url, "postgres://h/db");
        let allow = target(
            "postgres://h/db?sslmode=allow",
            &TlsEnv::default(),
            "/",
            None,
        )
        .unwrap_err();
        assert_eq!(allow.code(), "DB_INVALID_URL");
        assert!(allow.to_string().contains("invalid sslmode \"allow\""));
        assert!(target("postgres://h/db", &env(Some("on"), None), "/", None)
            .unwrap_err()
            .to_string()
            .starts_with("invalid PGSSLMODE \"on\""));
    }

    #[test]
    fn key_value_form_and_system_roots() {
        let t = target(
            "host=h sslmode = 'verify-ca' password='a b\\'c' sslrootcert=/c.pem",
            &TlsEnv::default(),
            "/",
            None,
        )
        .unwrap();
        assert_eq!(t.url, "host=h password='a b\\'c'");
        assert_eq!(t.mode, SslMode::VerifyCa);
        let sys = target("host=h sslrootcert=system", &TlsEnv::default(), "/", None).unwrap();
        assert_eq!(
            (sys.mode, sys.roots),
            (SslMode::VerifyFull, Some(Roots::System))
        );
        assert!(target(
            "postgres://h/db?sslrootcert=system&sslmode=require",
            &TlsEnv::default(),
            "/",
            None
        )
        .unwrap_err()
        .to_string()
        .contains("needs sslmode=verify-full"));
    }
}
