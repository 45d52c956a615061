//! The email SMTP transport's I/O: one message to one server over a pooled lettre connection,
//! each recipient's `RCPT` reply kept. What the options may be, the command lines and what the
//! replies mean are the core's (`usebetter_core::email::smtp*`); this module only talks.

mod exchange;
mod pool;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use rustls::pki_types::{pem::PemObject, CertificateDer};
use serde::Serialize;
use serde_json::Value;
use usebetter_core::email::dkim::{self, DkimOptions, DkimSigner};
use usebetter_core::email::smtp::{self, Settings};
use usebetter_core::email::smtp_envelope::{self, Envelope};
use usebetter_core::email::smtp_outcome::{self, Cause, End, Failure, HandOff, Reply, Stage};
use usebetter_core::email::EmailError;
use usebetter_core::Error;

/// A checked send, ready to run.
pub struct Job {
    settings: Settings,
    /// The extra trusted CA certificates of `options.ca`, DER.
    roots: Vec<Vec<u8>>,
    envelope: Envelope,
    /// The message without its final CRLF.
    payload: Vec<u8>,
    eight_bit: bool,
    /// Signs the message before it is sent (`options.dkim`).
    dkim: Option<Arc<DkimSigner>>,
}

/// Parsed DKIM keys by their options: parsing an RSA key costs more than the send it signs.
static SIGNERS: LazyLock<Mutex<HashMap<String, Arc<DkimSigner>>>> = LazyLock::new(Mutex::default);
/// Distinct keys kept at most (tenants' own keys could otherwise pile up).
const SIGNERS_MAX: usize = 64;

/// The signer of `options.dkim`, checked (the key parses, the names are DNS names).
fn signer(value: &Value) -> Result<Arc<DkimSigner>, Error> {
    let opts: DkimOptions = usebetter_core::input::with_path(value).map_err(|(path, e)| {
        EmailError::InvalidArgument {
            field: usebetter_core::input::error_field("options.dkim", &path, &e),
            reason: e.to_string(),
        }
    })?;
    let key = format!(
        "{}\n{}\n{:?}\n{}",
        opts.domain, opts.selector, opts.timestamp, opts.private_key
    );
    let mut signers = SIGNERS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(s) = signers.get(&key) {
        return Ok(Arc::clone(s));
    }
    let s = Arc::new(DkimSigner::new(&opts).map_err(|e| match e {
        EmailError::InvalidArgument { field, reason } => EmailError::InvalidArgument {
            field: format!("options.dkim.{field}"),
            reason,
        },
        other => other,
    })?);
    if signers.len() >= SIGNERS_MAX {
        signers.clear();
    }
    signers.insert(key, Arc::clone(&s));
    Ok(s)
}

/// Checks the arguments of a send, before any connection: `options`, `envelope` and the MIME
/// bytes of `message`.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` or `EMAIL_INVALID_ADDRESS`, naming the field.
pub fn prepare(options: &Value, envelope: &Value, message: &[u8]) -> Result<Job, Error> {
    // DKIM signs the message, not the connection: the pool's key stays the connection settings.
    let mut options = options.clone();
    let dkim = match options.as_object_mut().and_then(|o| o.remove("dkim")) {
        None | Some(Value::Null) => None,
        Some(d) => {
            dkim::check_signable(message)?;
            Some(signer(&d)?)
        }
    };
    let settings = smtp::parse_settings(&options)?;
    let envelope = smtp_envelope::parse_envelope(envelope)?;
    let payload = smtp_envelope::data_payload(message)?.to_vec();
    let roots = match &settings.ca {
        Some(pem) => certificates(pem)?,
        None => Vec::new(),
    };
    Ok(Job {
        eight_bit: !message.is_ascii(),
        settings,
        roots,
        envelope,
        payload,
        dkim,
    })
}

fn certificates(pem: &str) -> Result<Vec<Vec<u8>>, Error> {
    let bad = |reason: String| EmailError::InvalidArgument {
        field: "options.ca".into(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("expected PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(bad("expected at least one PEM `CERTIFICATE` block".into()).into());
    }
    Ok(certs)
}

/// One recipient in the result.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    address: String,
    accepted: bool,
    code: Option<u16>,
    enhanced_code: Option<String>,
    text: Option<String>,
    outcome: HandOff,
}

/// Where and why an exchange stopped early.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Stopped {
    stage: Stage,
    /// The failure, when no reply stopped it.
    failure: Option<Failure>,
    code: Option<u16>,
    enhanced_code: Option<String>,
    text: String,
}

/// The result of a send: the message's outcome, each recipient's, the final reply to the
/// message (`data`) and, when the exchange stopped early, where and why.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Outcome {
    outcome: HandOff,
    recipients: Vec<Recipient>,
    data: Option<Reply>,
    stopped: Option<Stopped>,
}

/// What one exchange observed, for the core to judge.
pub(crate) struct Observed {
    pub rcpt: Vec<Option<Reply>>,
    pub end: End,
    pub data: Option<Reply>,
    /// A description of the stop: the failure's message, or the stopping reply's text.
    pub detail: String,
}

impl Observed {
    pub(crate) fn stopped(recipients: usize, stage: Stage, cause: Cause, detail: String) -> Self {
        Observed {
            rcpt: vec![None; recipients],
            end: End::Stopped { stage, cause },
            data: None,
            detail,
        }
    }
}

/// Puts the DKIM signature in front of the message, computed off the async threads (an RSA
/// signature takes milliseconds). The message was checked signable in `prepare`; should signing
/// still fail (no random bytes from the OS), nothing is sent unsigned: the error says why.
async fn sign(job: &mut Job, signer: Arc<DkimSigner>) -> Result<(), String> {
    let payload = job.payload.clone();
    let signed = tokio::task::spawn_blocking(move || {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| e.to_string())?;
        let field = signer.sign(&payload, &random).map_err(|e| e.to_string())?;
        Ok::<_, String>([field.into_bytes(), payload].concat())
    })
    .await
    .map_err(|e| e.to_string())??;
    job.payload = signed;
    Ok(())
}

/// Sends `job`; every outcome, failures included, is data (nothing here throws).
pub async fn send(mut job: Job) -> Value {
    let n = job.envelope.to.len();
    let observed = match job.dkim.take() {
        None => pool::send(&job).await,
        Some(signer) => match sign(&mut job, signer).await {
            Ok(()) => pool::send(&job).await,
            // Judged as a connection that never opened: nothing was sent, a later attempt may.
            Err(e) => {
                let detail = format!("DKIM signing failed, nothing was sent: {e}");
                return outcome(
                    &job,
                    Observed::stopped(
                        n,
                        Stage::Connect,
                        Cause::Failure(Failure::Connection),
                        detail,
                    ),
                );
            }
        },
    };
    outcome(&job, observed)
}

/// The result of a send as the binding returns it.
fn outcome(job: &Job, observed: Observed) -> Value {
    let verdict = smtp_outcome::judge(&observed.rcpt, &observed.end);
    let recipients = job
        .envelope
        .to
        .iter()
        .zip(&observed.rcpt)
        .zip(&verdict.recipients)
        .map(|((address, reply), outcome)| Recipient {
            address: address.clone(),
            accepted: reply.as_ref().is_some_and(Reply::is_positive),
            code: reply.as_ref().map(|r| r.code),
            enhanced_code: reply.as_ref().and_then(|r| r.enhanced_code.clone()),
            text: reply.as_ref().map(|r| r.text.clone()),
            outcome: *outcome,
        })
        .collect();
    let stopped = match observed.end {
        End::Stopped { stage, cause } => Some(match cause {
            Cause::Reply(r) => Stopped {
                stage,
                failure: None,
                code: Some(r.code),
                enhanced_code: r.enhanced_code,
                text: r.text,
            },
            Cause::Failure(f) => Stopped {
                stage,
                failure: Some(f),
                code: None,
                enhanced_code: None,
                text: observed.detail,
            },
        }),
        End::Delivered | End::NoRecipient => None,
    };
    let outcome = Outcome {
        outcome: verdict.outcome,
        recipients,
        data: observed.data,
        stopped,
    };
    serde_json::to_value(&outcome).unwrap_or(Value::Null)
}
