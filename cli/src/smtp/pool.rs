//! Connections kept open between sends, one pool per distinct options, at most `pool.max` open
//! at once. A connection goes back only when its transaction ended cleanly; one that died while
//! idle is found out by its first command, dropped, and the send retried once on a new one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::{Credentials, Mechanism as LettreMechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::sync::Semaphore;
use usebetter_core::email::smtp::{Mechanism, Security, Settings};
use usebetter_core::email::smtp_outcome::{Failure, Stage};

use super::exchange::{self, timed, Stop};
use super::{Job, Observed};

/// Idle connections older than this are closed rather than reused: servers drop idle clients
/// after a minute or more (RFC 5321 §4.5.3.2.7 asks for five), so a send seldom meets one dead.
const IDLE_MAX: Duration = Duration::from_secs(30);

struct Pool {
    /// Trust for `tls` and `starttls`, built once (the system's roots are read from disk).
    tls: Option<TlsParameters>,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

static POOLS: LazyLock<Mutex<HashMap<Settings, Arc<Pool>>>> = LazyLock::new(Mutex::default);

impl Pool {
    /// Closes the idle connections too old to reuse; whether any is left.
    fn sweep(&self) -> bool {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.retain(|(c, at)| at.elapsed() < IDLE_MAX && !c.has_broken());
        !idle.is_empty()
    }
}

fn pool(job: &Job) -> Result<Arc<Pool>, Stop> {
    let mut pools = POOLS.lock().unwrap_or_else(PoisonError::into_inner);
    // Every send closes what the server has long since given up on, in every pool, and forgets
    // the pools nobody uses (no send in flight, nothing idle): per-tenant credentials would
    // otherwise keep sockets and options around for good.
    pools.retain(|_, p| p.sweep() || Arc::strong_count(p) > 1);
    if let Some(p) = pools.get(&job.settings) {
        return Ok(Arc::clone(p));
    }
    let tls = match job.settings.secure {
        Security::None => None,
        Security::Tls | Security::StartTls => Some(tls_parameters(job)?),
    };
    let max = usize::try_from(job.settings.pool_max()).unwrap_or(1);
    let p = Arc::new(Pool {
        tls,
        permits: Arc::new(Semaphore::new(max)),
        idle: Mutex::default(),
    });
    pools.insert(job.settings.clone(), Arc::clone(&p));
    Ok(p)
}

fn tls_parameters(job: &Job) -> Result<TlsParameters, Stop> {
    let tls = |e: lettre::transport::smtp::Error| Stop::failure(Failure::Tls, e.to_string());
    let mut builder = TlsParameters::builder(job.settings.connect_host().to_owned());
    for der in &job.roots {
        builder = builder.add_root_certificate(Certificate::from_der(der.clone()).map_err(tls)?);
    }
    builder.build_rustls().map_err(tls)
}

/// Sends `job` on a pooled connection, or a new one.
pub(crate) async fn send(job: &Job) -> Observed {
    let n = job.envelope.to.len();
    let fail = |stage, s: Stop| Observed::stopped(n, stage, s.cause, s.detail);
    let pool = match pool(job) {
        Ok(p) => p,
        Err(s) => return fail(Stage::Connect, s),
    };
    // The semaphore is never closed, so acquiring only waits.
    let Ok(_permit) = Arc::clone(&pool.permits).acquire_owned().await else {
        return fail(
            Stage::Connect,
            Stop::failure(Failure::Connection, "pool closed"),
        );
    };
    let limit = Duration::from_millis(u64::from(job.settings.timeout()));
    let mut reused = take_idle(&pool);
    loop {
        let (mut conn, was_idle) = match reused.take() {
            Some(c) => (c, true),
            None => match open(job, pool.tls.as_ref(), limit).await {
                Ok(c) => (c, false),
                Err((stage, s)) => return fail(stage, s),
            },
        };
        let done = exchange::transaction(&mut conn, job, limit).await;
        if done.stale && was_idle {
            // Nothing of this message reached the server: a new connection gets it.
            continue;
        }
        if done.reusable {
            pool.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((conn, Instant::now()));
        }
        return done.observed;
    }
}

/// The most recently used idle connection young enough to reuse (a send may have waited for
/// its permit since the last sweep).
fn take_idle(pool: &Pool) -> Option<AsyncSmtpConnection> {
    pool.sweep();
    let mut idle = pool.idle.lock().unwrap_or_else(PoisonError::into_inner);
    idle.pop().map(|(c, _)| c)
}

/// Opens a connection: TCP and implicit TLS, greeting and `EHLO` within the connect timeout,
/// then `STARTTLS` and `AUTH` within the command timeout each.
async fn open(
    job: &Job,
    tls: Option<&TlsParameters>,
    limit: Duration,
) -> Result<AsyncSmtpConnection, (Stage, Stop)> {
    let s = &job.settings;
    let hello = s
        .hello_name
        .clone()
        .map_or_else(ClientId::default, ClientId::Domain);
    let connect_limit = Duration::from_millis(u64::from(s.connect_timeout()));
    let implicit = tls.filter(|_| s.secure == Security::Tls).cloned();
    let at = |stage| move |e: Stop| (stage, e);
    let connect = async {
        let addrs = addresses(s).await?;
        if implicit.is_some() {
            return AsyncSmtpConnection::connect_tokio1(&addrs[..], None, &hello, implicit, None)
                .await
                .map_err(|e| exchange::stop(&e));
        }
        let tcp = tcp_connect(&addrs, &s.host).await?;
        AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
            .await
            .map_err(|e| exchange::stop(&e))
    };
    let mut conn = match tokio::time::timeout(connect_limit, connect).await {
        Ok(r) => r.map_err(at(Stage::Connect))?,
        Err(_) => {
            let why = format!("not connected within {} ms", connect_limit.as_millis());
            return Err((Stage::Connect, Stop::failure(Failure::Timeout, why)));
        }
    };
    if s.secure == Security::StartTls {
        let Some(params) = tls.cloned().filter(|_| conn.can_starttls()) else {
            let why = "the server does not offer STARTTLS, which `secure: \"starttls\"` requires; nothing was sent";
            return Err((Stage::StartTls, Stop::failure(Failure::Unsupported, why)));
        };
        timed(limit, conn.starttls(params, &hello))
            .await
            .map_err(at(Stage::StartTls))?;
    }
    if let Some(auth) = &s.auth {
        let (secret, mechanisms) = match (&auth.pass, &auth.access_token, auth.mechanism) {
            (_, Some(token), _) => (token, &[LettreMechanism::Xoauth2][..]),
            (Some(pass), None, Some(Mechanism::Plain)) => (pass, &[LettreMechanism::Plain][..]),
            (Some(pass), None, Some(Mechanism::Login)) => (pass, &[LettreMechanism::Login][..]),
            (Some(pass), None, None) => {
                (pass, &[LettreMechanism::Plain, LettreMechanism::Login][..])
            }
            (None, None, _) => unreachable_auth()?,
        };
        let credentials = Credentials::new(auth.user.clone(), secret.clone());
        timed(limit, conn.auth(mechanisms, &credentials))
            .await
            .map_err(at(Stage::Auth))?;
    }
    Ok(conn)
}

/// The core refuses `auth` without `pass` or `accessToken`; answered as a failure, not a panic.
fn unreachable_auth<T>() -> Result<T, (Stage, Stop)> {
    Err((
        Stage::Auth,
        Stop::failure(
            Failure::Unsupported,
            "`auth` has neither `pass` nor `accessToken`",
        ),
    ))
}

/// A TCP connection to the first address that answers, with Nagle's algorithm off: the client
/// writes a message's body and its closing `.` separately, and with Nagle on the second write
/// waits for the server's delayed ACK (~40 ms a message on loopback).
async fn tcp_connect(addrs: &[SocketAddr], host: &str) -> Result<tokio::net::TcpStream, Stop> {
    let mut last = None;
    for addr in addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(tcp) => {
                tcp.set_nodelay(true)
                    .map_err(|e| Stop::failure(Failure::Connection, e.to_string()))?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    let why = last.map_or_else(|| "no address".to_owned(), |e| e.to_string());
    Err(Stop::failure(
        Failure::Connection,
        format!("cannot connect to {host}: {why}"),
    ))
}

/// The addresses to connect to. Plain text goes to loopback addresses only, whatever
/// `localhost` resolves to here.
async fn addresses(s: &Settings) -> Result<Vec<SocketAddr>, Stop> {
    let resolved = tokio::net::lookup_host((s.connect_host(), s.port))
        .await
        .map_err(|e| {
            Stop::failure(
                Failure::Connection,
                format!("cannot resolve {}: {e}", s.host),
            )
        })?;
    let addrs: Vec<SocketAddr> = resolved
        .filter(|a| s.secure != Security::None || a.ip().is_loopback())
        .collect();
    if addrs.is_empty() {
        return Err(Stop::failure(
            Failure::Connection,
            format!("{} resolves to no usable address", s.host),
        ));
    }
    Ok(addrs)
}
