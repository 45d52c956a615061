//! TLS for the tools' connections, with libpq's `sslmode` semantics on rustls.
//!
//! The connection string's `sslmode` and `sslrootcert` (else `PGSSLMODE` / `PGSSLROOTCERT`)
//! decide what is verified. tokio-postgres itself knows only disable/prefer/require and refuses
//! `sslrootcert`, so both are taken out of the string here and the rest is handed over as is.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Deserialize;
use tokio_postgres_rustls::MakeRustlsConnect;
use usebetter_core::{CliFailure, Result};

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
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
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

/// Splits `url` (a `postgres://` URL or `key=value` pairs) and applies the environment.
///
/// # Errors
/// `DB_INVALID_URL` naming a bad `sslmode` or a weak mode combined with `sslrootcert=system`.
pub fn target(url: &str, env: &TlsEnv, cwd: &str) -> Result<Target> {
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
        None => (mode.unwrap_or(SslMode::Prefer), default_root_file()),
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

/// libpq's default root file, when it exists.
fn default_root_file() -> Option<Roots> {
    let home = std::env::var_os("HOME")?;
    let path = std::path::Path::new(&home).join(".postgresql/root.crt");
    path.is_file()
        .then(|| Roots::File(path.display().to_string()))
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

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(ring::default_provider()))
        .clone()
}

/// The system's roots (`/etc/ssl/certs` and the like). None is an error naming the fixes, as
/// libpq has it: the addon carries no root list of its own.
fn system_roots() -> Result<Arc<RootCertStore>> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    let roots = ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            Arc::new(roots)
        })
        .clone();
    if roots.is_empty() {
        return Err(CliFailure::Tls.with("no root certificates found on this system to verify the server with: pass sslrootcert=<file with the server's CA> (or PGSSLROOTCERT), or install the system's CA certificates (ca-certificates)"));
    }
    Ok(roots)
}

fn file_roots(path: &str) -> Result<Arc<RootCertStore>> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
        .map_err(|e| CliFailure::Tls.with(format!("cannot read sslrootcert {path}: {e}")))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(CliFailure::Tls.with(format!(
            "sslrootcert {path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(Arc::new(roots))
}

/// Checks what `sslmode` asks for: nothing (but still the handshake's signatures), the chain,
/// or the chain and the host name.
#[derive(Debug)]
struct Verifier {
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
            if self.check_name {
                verify_server_name(&cert, server_name)?;
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS connector for `mode`: `require` with a root file verifies like `verify-ca`, as
/// libpq does; `verify-*` without one use the system's roots.
///
/// # Errors
/// `DB_TLS` naming an unreadable `sslrootcert`, or a system without root certificates.
pub fn connector(mode: SslMode, roots: Option<&Roots>) -> Result<MakeRustlsConnect> {
    let verified = match mode {
        SslMode::Disable | SslMode::Prefer => false,
        SslMode::Require => roots.is_some(),
        SslMode::VerifyCa | SslMode::VerifyFull => true,
    };
    let roots = if verified {
        Some(match roots {
            Some(Roots::File(path)) => file_roots(path)?,
            Some(Roots::System) | None => system_roots()?,
        })
    } else {
        None
    };
    let provider = provider();
    let verifier = Verifier {
        roots,
        check_name: mode == SslMode::VerifyFull,
        algorithms: provider.signature_verification_algorithms,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e: rustls::Error| CliFailure::Tls.with(format!("TLS set-up failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
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
        )
        .unwrap();
        assert_eq!(t.url, "postgres://u:p%3F@h:5/db?application_name=x");
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.roots, Some(Roots::File("/ca.pem".into())));
        let e = target(
            "postgres://h/db",
            &env(Some("require"), Some("ca.pem")),
            "/p",
        )
        .unwrap();
        assert_eq!(e.url, "postgres://h/db");
        assert_eq!(
            (e.mode, e.roots),
            (SslMode::Require, Some(Roots::File("/p/ca.pem".into())))
        );
        let bare = target("postgres://h/db?sslmode=require", &TlsEnv::default(), "/").unwrap();
        assert_eq!(bare.url, "postgres://h/db");
        let allow = target("postgres://h/db?sslmode=allow", &TlsEnv::default(), "/").unwrap_err();
        assert_eq!(allow.code(), "DB_INVALID_URL");
        assert!(allow.to_string().contains("invalid sslmode \"allow\""));
        assert!(target("postgres://h/db", &env(Some("on"), None), "/")
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
        )
        .unwrap();
        assert_eq!(t.url, "host=h password='a b\\'c'");
        assert_eq!(t.mode, SslMode::VerifyCa);
        let sys = target("host=h sslrootcert=system", &TlsEnv::default(), "/").unwrap();
        assert_eq!(
            (sys.mode, sys.roots),
            (SslMode::VerifyFull, Some(Roots::System))
        );
        assert!(target(
            "postgres://h/db?sslrootcert=system&sslmode=require",
            &TlsEnv::default(),
            "/"
        )
        .unwrap_err()
        .to_string()
        .contains("needs sslmode=verify-full"));
    }

    #[test]
    fn unreadable_root_file_is_named() {
        let e = connector(
            SslMode::VerifyCa,
            Some(&Roots::File("/nonexistent.pem".into())),
        )
        .err()
        .unwrap();
        assert_eq!(e.code(), "DB_TLS");
        assert!(
            e.to_string()
                .starts_with("cannot read sslrootcert /nonexistent.pem"),
            "{e}"
        );
        assert!(connector(SslMode::Require, None).is_ok());
    }
}
