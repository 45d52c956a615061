//! N-API addon of the command-line tools: each entry runs one tool with its arguments and
//! context and resolves to `{ code, stdout, stderr, errorCode? }`. A separate addon from the
//! library's, so that applications do not load (or install) the tools' PostgreSQL client.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

/// Runs `better-tenant` with `args`; resolves to `{ code, stdout, stderr, errorCode? }`.
#[napi(
    ts_return_type = "Promise<{ code: number; stdout: string; stderr: string; errorCode?: string }>"
)]
pub async fn run_tenant_cli(args: Vec<String>, context: Value) -> Result<Value> {
    // Async exports cannot carry a custom error code: failures are in the outcome instead.
    let outcome = usebetter_cli::run_tenant(&args, &context).await;
    Ok(serde_json::to_value(&outcome)?)
}

/// Runs `better-audit` with `args`; resolves to `{ code, stdout, stderr, errorCode? }`
/// (`export` writes its rows to the process's stdout as it reads them).
#[napi(
    ts_return_type = "Promise<{ code: number; stdout: string; stderr: string; errorCode?: string }>"
)]
pub async fn run_audit_cli(args: Vec<String>, context: Value) -> Result<Value> {
    let outcome = usebetter_cli::run_audit(&args, &context).await;
    Ok(serde_json::to_value(&outcome)?)
}

/// Runs `better-webhooks` with `args`; resolves to `{ code, stdout, stderr, errorCode? }`.
#[napi(
    ts_return_type = "Promise<{ code: number; stdout: string; stderr: string; errorCode?: string }>"
)]
pub async fn run_webhooks_cli(args: Vec<String>, context: Value) -> Result<Value> {
    let outcome = usebetter_cli::run_webhooks(&args, &context).await;
    Ok(serde_json::to_value(&outcome)?)
}

/// Runs `better-email` with `args`; resolves to `{ code, stdout, stderr, errorCode? }`.
#[napi(
    ts_return_type = "Promise<{ code: number; stdout: string; stderr: string; errorCode?: string }>"
)]
pub async fn run_email_cli(args: Vec<String>, context: Value) -> Result<Value> {
    let outcome = usebetter_cli::run_email(&args, &context).await;
    Ok(serde_json::to_value(&outcome)?)
}
