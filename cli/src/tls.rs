//! TLS for the tools' connections, with libpq's `sslmode` semantics (read in the core's
//! `cli::sslmode`) on rustls.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;
pub use usebetter_core::cli::sslmode::{Roots, SslMode, Target, TlsEnv};
use usebetter_core::{CliFailure, Result};

/// [`usebetter_core::cli::sslmode::target`] with libpq's default root file, when it exists.
///
/// # Errors
/// `DB_INVALID_URL` naming a bad `sslmode` or a weak mode combined with `sslrootcert=system`.
pub fn target(url: &str, env: &TlsEnv, cwd: &str) -> Result<Target> {
    let default_root = std::env::var_os("HOME")
        .map(|home| std::path::Path::new(&home).join(".postgresql/root.crt"))
        .filter(|path| path.is_file())
        .map(|path| path.display().to_string());
    usebetter_core::cli::sslmode::target(url, env, cwd, default_root)
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
