//! One mail transaction on an open connection: `MAIL FROM`, one `RCPT TO` per recipient (each
//! reply kept), `DATA` and the message, every reply awaited within the timeout.

use std::future::Future;
use std::time::Duration;

use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::Extension;
use lettre::transport::smtp::response::Response;
use usebetter_core::email::smtp_envelope::{mail_command, rcpt_command};
use usebetter_core::email::smtp_outcome::{Cause, End, Failure, Reply, Stage};

use super::{Job, Observed};

/// A step's error: a negative reply, or a failure with its description.
pub(crate) struct Stop {
    pub cause: Cause,
    pub detail: String,
}

impl Stop {
    pub(crate) fn failure(failure: Failure, detail: impl Into<String>) -> Stop {
        Stop {
            cause: Cause::Failure(failure),
            detail: detail.into(),
        }
    }

    /// A reply of `421`: the server is closing the connection.
    fn closing(&self) -> bool {
        matches!(&self.cause, Cause::Reply(r) if r.code == 421)
    }

    /// A connection that died while idle in the pool: closed, reset, or its `421` read now.
    pub(crate) fn stale(&self) -> bool {
        self.closing()
            || matches!(
                self.cause,
                Cause::Failure(Failure::Connection | Failure::Protocol)
            )
    }
}

fn reply(r: &Response) -> Reply {
    Reply::new(
        u16::from(r.code()),
        &r.message().collect::<Vec<_>>().join(" "),
    )
}

/// What a lettre error says: the server's negative reply, or why there is none.
pub(crate) fn stop(e: &lettre::transport::smtp::Error) -> Stop {
    let detail = e.to_string();
    if let Some(code) = e.status() {
        let text = std::error::Error::source(e).map_or_else(String::new, ToString::to_string);
        return Stop {
            cause: Cause::Reply(Reply::new(u16::from(code), &text)),
            detail,
        };
    }
    let failure = if e.is_tls() || handshake_failed(e) {
        Failure::Tls
    } else if e.is_timeout() {
        Failure::Timeout
    } else if e.is_client() {
        Failure::Unsupported
    } else if e.is_response() && !detail.contains("incomplete response") {
        Failure::Protocol
    } else {
        // Network errors, and "incomplete response": the server closed the connection.
        Failure::Connection
    };
    Stop::failure(failure, detail)
}

/// Whether a connection error is rustls refusing the handshake (lettre reports those as
/// connection errors): an untrusted certificate, a wrong name, no common version.
fn handshake_failed(e: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        let io_inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref);
        if err.is::<rustls::Error>() || io_inner.is_some_and(|i| i.is::<rustls::Error>()) {
            return true;
        }
        source = err.source();
    }
    false
}

/// `step` within `limit`; a late reply is a timeout.
pub(crate) async fn timed<T>(
    limit: Duration,
    step: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, Stop> {
    match tokio::time::timeout(limit, step).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(stop(&e)),
        Err(_) => Err(Stop::failure(
            Failure::Timeout,
            format!("no reply within {} ms", limit.as_millis()),
        )),
    }
}

/// The transaction's result, and whether the connection can go back to the pool.
pub(crate) struct Done {
    pub observed: Observed,
    pub reusable: bool,
    /// Stopped at the first command by a connection that had died while idle.
    pub stale: bool,
}

fn stopped(n: usize, stage: Stage, s: Stop, reusable: bool) -> Done {
    Done {
        stale: false,
        reusable,
        observed: Observed::stopped(n, stage, s.cause, s.detail),
    }
}

/// Runs one transaction for `job` on `conn`.
pub(crate) async fn transaction(
    conn: &mut AsyncSmtpConnection,
    job: &Job,
    limit: Duration,
) -> Done {
    let n = job.envelope.to.len();
    let info = conn.server_info();
    let unsupported =
        if job.envelope.needs_smtputf8() && !info.supports_feature(Extension::SmtpUtfEight) {
            Some("an address is not ASCII and the server does not offer SMTPUTF8")
        } else if job.eight_bit && !info.supports_feature(Extension::EightBitMime) {
            Some("the message is not 7-bit and the server does not offer 8BITMIME")
        } else {
            None
        };
    if let Some(why) = unsupported {
        return stopped(
            n,
            Stage::Mail,
            Stop::failure(Failure::Unsupported, why),
            true,
        );
    }
    if let Err(s) = timed(
        limit,
        conn.command(mail_command(&job.envelope, job.eight_bit)),
    )
    .await
    {
        let (stale, reusable) = (
            s.stale(),
            matches!(s.cause, Cause::Reply(_)) && !s.closing(),
        );
        let mut done = stopped(n, Stage::Mail, s, reusable);
        done.stale = stale;
        return done;
    }
    let mut rcpt = Vec::with_capacity(n);
    for address in &job.envelope.to {
        match timed(limit, conn.command(rcpt_command(address))).await {
            Ok(r) => rcpt.push(Some(reply(&r))),
            Err(Stop {
                cause: Cause::Reply(r),
                detail,
            }) => {
                let closing = r.code == 421;
                rcpt.push(Some(r.clone()));
                if closing {
                    return with_rcpt(rcpt, n, Stage::Rcpt, Cause::Reply(r), detail);
                }
            }
            Err(s) => return with_rcpt(rcpt, n, Stage::Rcpt, s.cause, s.detail),
        }
    }
    if !rcpt.iter().flatten().any(Reply::is_positive) {
        // Nothing to deliver: end the transaction and keep the connection if it still answers.
        let reset = timed(limit, conn.command("RSET\r\n")).await.is_ok();
        return Done {
            stale: false,
            reusable: reset,
            observed: Observed {
                rcpt,
                end: End::NoRecipient,
                data: None,
                detail: String::new(),
            },
        };
    }
    if let Err(s) = timed(limit, conn.command("DATA\r\n")).await {
        let reusable = !s.closing()
            && matches!(s.cause, Cause::Reply(_))
            && timed(limit, conn.command("RSET\r\n")).await.is_ok();
        let mut done = with_rcpt(rcpt, n, Stage::Data, s.cause, s.detail);
        done.reusable = reusable;
        return done;
    }
    match timed(limit, conn.message(&job.payload)).await {
        Ok(r) => Done {
            stale: false,
            reusable: true,
            observed: Observed {
                rcpt,
                end: End::Delivered,
                data: Some(reply(&r)),
                detail: String::new(),
            },
        },
        Err(s) => {
            // A negative final reply ends the transaction; the connection stays usable.
            let reusable = matches!(s.cause, Cause::Reply(_)) && !s.closing();
            let data = match &s.cause {
                Cause::Reply(r) => Some(r.clone()),
                Cause::Failure(_) => None,
            };
            let mut done = with_rcpt(rcpt, n, Stage::Message, s.cause, s.detail);
            done.reusable = reusable;
            done.observed.data = data;
            done
        }
    }
}

/// Stopped at `stage` after some `RCPT` replies; the recipients not reached have none.
fn with_rcpt(
    mut rcpt: Vec<Option<Reply>>,
    n: usize,
    stage: Stage,
    cause: Cause,
    detail: String,
) -> Done {
    rcpt.resize(n, None);
    Done {
        stale: false,
        reusable: false,
        observed: Observed {
            rcpt,
            end: End::Stopped { stage, cause },
            data: None,
            detail,
        },
    }
}
