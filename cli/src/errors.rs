//! The CLIs' connection and database errors as one line for the user: what went wrong, named
//! by its cause (a host that does not resolve, a port nobody listens on, a certificate that
//! does not match), and the fix. The password of the URL is never part of a message.

use std::error::Error as _;

use rustls::CertificateError;
use tokio_postgres::config::Host;
use tokio_postgres::Config;
use usebetter_core::cli::RUN_AGAIN;
use usebetter_core::{CliFailure, Error};

use super::tls::{Roots, SslMode, Target};

const WHERE: &str = "--database-url / DATABASE_URL";

pub fn invalid_url(e: &tokio_postgres::Error) -> Error {
    CliFailure::DatabaseUrl.with(format!(
        "invalid database URL: {e}. Expected postgres://user:password@host:port/database"
    ))
}

/// The first error of type `T` in `e`'s chain, looking inside `io::Error`s too (their
/// `source()` skips the error they wrap).
fn find<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if let Some(t) = find::<T>(inner) {
                return Some(t);
            }
        }
        next = err.source();
    }
    None
}

/// The handshake itself failed (as opposed to the server refusing TLS or the network).
pub fn tls_failed(e: &tokio_postgres::Error) -> bool {
    find::<rustls::Error>(e).is_some()
}

fn tcp_hosts(config: &Config) -> Vec<String> {
    config
        .get_hosts()
        .iter()
        .filter_map(|h| match h {
            Host::Tcp(h) => Some(h.clone()),
            Host::Unix(_) => None,
        })
        .collect()
}

fn address(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(h) => h.clone(),
            Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{}:{port}", hosts.join(","))
}

/// Why connecting failed, for a user who can fix the URL, the server or the certificate:
/// `DB_TLS` when TLS is what failed, else `DB_CONNECT`.
pub async fn connect_failed(e: &tokio_postgres::Error, config: &Config, target: &Target) -> Error {
    let at = address(config);
    if let Some(t) = find::<rustls::Error>(e) {
        return CliFailure::Tls.with(tls_message(t, config, target));
    }
    if let Some(db) = e.as_db_error() {
        if db.code().code() == "28000" && db.message().contains("no encryption") {
            return CliFailure::Tls.with(format!(
                "the server at {at} refuses unencrypted connections here ({}): connect with sslmode=verify-full (or require) in {WHERE}",
                db.message()
            ));
        }
    }
    if e.source()
        .is_some_and(|s| s.to_string() == "server does not support TLS")
    {
        return CliFailure::Tls.with(format!(
            "the server at {at} does not accept TLS connections (sslmode={}): turn on ssl in its postgresql.conf, or use sslmode=prefer on a network you trust",
            target.mode.as_str()
        ));
    }
    CliFailure::Connect.with(connect_message(e, config, &at).await)
}

async fn connect_message(e: &tokio_postgres::Error, config: &Config, at: &str) -> String {
    let user = config.get_user().unwrap_or("?");
    if let Some(db) = e.as_db_error() {
        return match db.code().code() {
            "28P01" => format!(
                "password authentication failed for user \"{user}\": check the password in {WHERE}"
            ),
            "3D000" => format!("{}: check the database name in {WHERE}", db.message()),
            _ => format!("could not connect: {}", db.message()),
        };
    }
    if let Some(io) = find::<std::io::Error>(e) {
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return format!(
                "nothing is listening on {at} (connection refused): is PostgreSQL running there, and are the host and port in {WHERE} right?"
            );
        }
    }
    // A name that does not resolve: asked again here, since the error only carries the
    // resolver's text.
    let port = config.get_ports().first().copied().unwrap_or(5432);
    for host in tcp_hosts(config) {
        if let Err(resolve) = tokio::net::lookup_host((host.as_str(), port)).await {
            return format!(
                "the host name \"{host}\" could not be resolved ({resolve}): check the host in {WHERE}"
            );
        }
    }
    format!(
        "could not connect to PostgreSQL at {at} ({e}): is the server running and {WHERE} right?"
    )
}

fn tls_message(e: &rustls::Error, config: &Config, target: &Target) -> String {
    let host = tcp_hosts(config).join(",");
    let mode = target.mode.as_str();
    let roots = match &target.roots {
        Some(Roots::File(path)) => format!("sslrootcert {path}"),
        Some(Roots::System) | None => "the system's trusted roots".to_owned(),
    };
    let mode = if target.mode == SslMode::Require {
        format!("{mode} with sslrootcert: verified as verify-ca")
    } else {
        mode.to_owned()
    };
    match e {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            let names = match e {
                rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                    presented,
                    ..
                }) if !presented.is_empty() => {
                    // webpki lists them as `DnsName("db.example.com")`.
                    let names: Vec<&str> = presented
                        .iter()
                        .map(|p| {
                            p.split_once("(\"")
                                .and_then(|(_, n)| n.strip_suffix("\")"))
                                .unwrap_or(p)
                        })
                        .collect();
                    format!(" (it names {})", names.join(", "))
                }
                _ => String::new(),
            };
            format!(
                "TLS: the server's certificate does not match the host name \"{host}\"{names} (sslmode={mode}): connect with a host name the certificate lists, or use sslmode=verify-ca to check only who signed it"
            )
        }
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => format!(
            "TLS: certificate verification failed: the server's certificate is not signed by {roots} (sslmode={mode}): set sslrootcert to the CA certificate your provider publishes for this server"
        ),
        rustls::Error::InvalidCertificate(_) => format!(
            "TLS: certificate verification failed: {e} (sslmode={mode}, checked against {roots})"
        ),
        other => format!("TLS handshake with {host} failed: {other} (sslmode={mode})"),
    }
}

/// A database error as one line: message plus SQLSTATE; a connection that went away says so.
pub fn db_error(e: &tokio_postgres::Error) -> Error {
    let closed = match e.as_db_error() {
        // admin_shutdown (pg_terminate_backend, a fast shutdown), crash_shutdown.
        Some(db) => matches!(db.code().code(), "57P01" | "57P02"),
        None => e.is_closed() || find::<std::io::Error>(e).is_some(),
    };
    let failure = if closed {
        CliFailure::ConnectionClosed
    } else {
        CliFailure::Database
    };
    failure.with(db_message(e))
}

/// [`db_error`]'s message, for a report that quotes it.
pub fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) if matches!(db.code().code(), "57P01" | "57P02") => format!(
            "the database connection was closed: {} ({}){RUN_AGAIN}",
            db.message(),
            db.code().code()
        ),
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None if e.is_closed() || find::<std::io::Error>(e).is_some() => {
            format!("the database connection was closed: {e}{RUN_AGAIN}")
        }
        None => e.to_string(),
    }
}
