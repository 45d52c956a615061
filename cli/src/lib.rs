//! The command-line tools `better-tenant`, `better-audit`, `better-webhooks` and `better-email`: the file and PostgreSQL I/O
//! around the core's pure CLI logic (`usebetter_core::cli`) and statements. Output is collected
//! and returned, so the JS bin only prints it and sets the exit code; every failure is the
//! core's `Error`, whose code the outcome carries.

mod audit;
mod bound;
mod db;
mod email;
mod errors;
pub mod smtp;
mod store;
mod tenant;
mod tls;
mod webhooks;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use usebetter_core::{CliFailure, Error};

pub use tls::TlsEnv;

/// What the JS bin knows: where it runs, the loaded config, and the environment it forwards.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    pub cwd: String,
    pub version: String,
    /// The loaded `better.config.*` default export; `null` when no file was found.
    pub config: Option<Value>,
    pub database_url: Option<String>,
    /// `BETTER_TENANT_HARDENED_KEY`: signs the bypass (`seed`, `doctor`, better-audit's system
    /// scope) in hardened mode.
    pub hardened_key: Option<String>,
    /// `PGSSLMODE` / `PGSSLROOTCERT`.
    #[serde(flatten)]
    pub tls: TlsEnv,
    /// `better-email`'s DNS answers, looked up by the bin for the names a first run handed back
    /// (`check --dns`, `senders verify`).
    pub dns_answers: Option<Value>,
}

/// The result of one invocation.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The stable code of the failure (`err.code`), when the command failed with an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    /// A command whose long-running part is the bin's own JavaScript (`better-webhooks worker`:
    /// the package's delivery engine; `listen`: a verifying receiver), checked here and handed
    /// over as `{ command, … }`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff: Option<serde_json::Value>,
}

impl Outcome {
    pub(crate) fn ok(stdout: String) -> Outcome {
        Outcome {
            stdout,
            ..Outcome::default()
        }
    }

    /// A finished command's report, which exits 1 when it found a failure.
    pub(crate) fn report(failed: bool, stdout: String) -> Outcome {
        Outcome {
            code: i32::from(failed),
            stdout,
            ..Outcome::default()
        }
    }

    /// The error's message on stderr, exit code 1.
    #[must_use]
    pub fn fail(e: &Error) -> Outcome {
        Outcome {
            code: 1,
            stdout: String::new(),
            stderr: format!("{e}\n"),
            error_code: Some(e.code()),
            handoff: None,
        }
    }
}

impl Outcome {
    /// This outcome with exit code `code` for a usage error (`better-webhooks` exits 2).
    fn usage_exit(mut self, code: i32) -> Outcome {
        if self.error_code == Some(CliFailure::Usage.code()) {
            self.code = code;
        }
        self
    }
}

fn outcome(result: usebetter_core::Result<Outcome>) -> Outcome {
    result.unwrap_or_else(|e| Outcome::fail(&e))
}

/// Runs `better-tenant` with `args` (without the program name) in `context` (what the JS bin
/// knows: `{ cwd, version, config, databaseUrl, hardenedKey, sslMode?, sslRootCert? }`).
pub async fn run_tenant(args: &[String], context: &Value) -> Outcome {
    match usebetter_core::input::from_value::<Context>("context", context) {
        Ok(ctx) => outcome(tenant::run(args, &ctx).await),
        Err(e) => Outcome::fail(&e),
    }
}

/// Runs `better-audit` with `args` in `context` (`better-tenant`'s, plus `sealKey`); `export`
/// writes its rows to the process's stdout as it reads them.
pub async fn run_audit(args: &[String], context: &Value) -> Outcome {
    match usebetter_core::input::from_value::<audit::Context>("context", context) {
        Ok(ctx) => outcome(audit::run(args, &ctx).await),
        Err(e) => Outcome::fail(&e),
    }
}

/// Runs `better-webhooks` with `args` in `context` (`better-tenant`'s, plus `secretsKey` and
/// `secretsKeyPrevious`: `BETTER_WEBHOOKS_KEY` and `BETTER_WEBHOOKS_KEY_PREVIOUS`).
pub async fn run_webhooks(args: &[String], context: &Value) -> Outcome {
    match usebetter_core::input::from_value::<webhooks::Context>("context", context) {
        Ok(ctx) => outcome(webhooks::run(args, &ctx).await),
        Err(e) => Outcome::fail(&e),
    }
    .usage_exit(2)
}

/// Runs `better-email` with `args` in `context` (`better-tenant`'s).
pub async fn run_email(args: &[String], context: &Value) -> Outcome {
    match usebetter_core::input::from_value::<Context>("context", context) {
        Ok(ctx) => outcome(email::run(args, &ctx).await),
        Err(e) => Outcome::fail(&e),
    }
    .usage_exit(2)
}

pub(crate) fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
