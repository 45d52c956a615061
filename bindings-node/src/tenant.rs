//! Tenant entry points: request resolution, JWTs, the migration and the scope's statements.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use usebetter_core::{jwt, policy, resolve};

use crate::{core_err, now, opt_string, parse, string, to_js, Code};

/// A resolver compiled once from `tenantResolver` config, then used per request.
#[napi]
pub struct TenantResolver {
    inner: resolve::Resolver,
}

#[napi]
impl TenantResolver {
    #[napi(constructor)]
    pub fn new(config: Unknown<'_>) -> Result<Self, Code> {
        let config: resolve::ResolverConfig = parse("tenantResolver", config)?;
        let inner = resolve::Resolver::new(&config).map_err(|e| core_err(&e))?;
        Ok(TenantResolver { inner })
    }

    /// Resolves one request: `{ headers, host?, path?, url?, token?, claims? }`.
    #[napi]
    pub fn resolve(&self, request: Unknown<'_>) -> Result<Value, Code> {
        let request: resolve::Request = parse("request", request)?;
        to_js(&self.inner.resolve(&request, now()))
    }

    /// True when the JWT strategy decodes tokens without verifying them.
    #[napi(getter)]
    pub fn jwt_unverified(&self) -> bool {
        self.inner.jwt_unverified()
    }
}

/// One-shot resolution (compiles `config` on every call; prefer `TenantResolver`).
#[napi]
pub fn resolve_tenant(request: Unknown<'_>, config: Unknown<'_>) -> Result<Value, Code> {
    TenantResolver::new(config)?.resolve(request)
}

/// The string claim of an `Authorization: Bearer` value, decoded or (with `verify`) verified;
/// null when there is none.
#[napi]
pub fn bearer_claim(
    authorization: Unknown<'_>,
    claim: Unknown<'_>,
    verify: Unknown<'_>,
) -> Result<Option<String>, Code> {
    let authorization = opt_string("authorization", authorization)?.unwrap_or_default();
    let claim = string("claim", claim)?;
    let verify: Option<jwt::VerifyOptions> = parse("verify", verify)?;
    jwt::bearer_claim(&authorization, &claim, verify.as_ref(), now()).map_err(|e| core_err(&e))
}

/// The token of an `Authorization: Bearer <token>` value, or null.
#[napi]
pub fn bearer_token(authorization: Unknown<'_>) -> Result<Option<String>, Code> {
    let authorization = opt_string("authorization", authorization)?.unwrap_or_default();
    Ok(jwt::bearer_token(&authorization).map(str::to_owned))
}

/// Verifies a JWT and returns its claims.
#[napi]
pub fn verify_jwt(token: Unknown<'_>, options: Unknown<'_>) -> Result<Value, Code> {
    let token = string("token", token)?;
    let options: jwt::VerifyOptions = parse("options", options)?;
    let verifier = jwt::Verifier::new(&options).map_err(|e| core_err(&e))?;
    let claims = verifier.verify(&token, now()).map_err(|e| core_err(&e))?;
    Ok(Value::Object(claims))
}

/// The full RLS migration for `{ tenantTables, schema?, hardened? }`.
#[napi]
pub fn generate_migration_sql(config: Unknown<'_>) -> Result<String, Code> {
    let config: policy::MigrationConfig = parse("config", config)?;
    policy::migration_sql(&config).map_err(|e| core_err(&e))
}

/// The RLS block for one more table.
#[napi]
pub fn generate_add_table_sql(table: Unknown<'_>, config: Unknown<'_>) -> Result<String, Code> {
    let table = string("table", table)?;
    let config: policy::MigrationConfig = parse("config", config)?;
    policy::add_table_sql(&table, &config).map_err(|e| core_err(&e))
}

/// The reference's `slugFromName`.
#[napi]
pub fn slug_from_name(name: Unknown<'_>) -> Result<String, Code> {
    Ok(usebetter_core::cli::tenant::slug_from_name(&string(
        "name", name,
    )?))
}

/// The message printed when no `better.config.*` is found.
#[napi]
pub fn build_no_config_message(
    cwd: Unknown<'_>,
    suggested_tables: Unknown<'_>,
) -> Result<String, Code> {
    let cwd = string("cwd", cwd)?;
    let tables: Option<Vec<String>> = parse("suggestedTables", suggested_tables)?;
    Ok(usebetter_core::cli::tenant::no_config_message(
        &cwd,
        &tables.unwrap_or_default(),
    ))
}

/// Classifies a tenant identifier: `{ value, kind }` with UUIDs lower-cased.
#[napi]
pub fn normalize_tenant_id(raw: Unknown<'_>) -> Result<Value, Code> {
    let raw = string("raw", raw)?;
    let (value, kind) =
        usebetter_core::resolve::normalize_tenant_id(&raw).map_err(|e| core_err(&e))?;
    to_js(&serde_json::json!({ "value": value, "kind": kind }))
}

/// Checks a slug to be stored as given; throws `TENANT_INVALID_SLUG` naming the rule.
#[napi]
pub fn check_slug(slug: Unknown<'_>) -> Result<(), Code> {
    resolve::check_slug(&string("slug", slug)?).map_err(|e| core_err(&e))
}

/// Hardened mode: the tenant signature for `tenantId` in the transaction `binding`.
#[napi]
pub fn tenant_signature(
    key: Unknown<'_>,
    tenant_id: Unknown<'_>,
    binding: Unknown<'_>,
) -> Result<String, Code> {
    let (key, id) = (string("key", key)?, string("tenantId", tenant_id)?);
    Ok(policy::tenant_signature(
        key.as_bytes(),
        &id,
        &string("binding", binding)?,
    ))
}

/// Hardened mode: the bypass signature in the transaction `binding`.
#[napi]
pub fn bypass_signature(key: Unknown<'_>, binding: Unknown<'_>) -> Result<String, Code> {
    let key = string("key", key)?;
    Ok(policy::bypass_signature(
        key.as_bytes(),
        &string("binding", binding)?,
    ))
}

/// The tenant context's setting names and the `tenant_id` column default, as data.
#[napi]
pub fn tenant_contract() -> Result<Value, Code> {
    to_js(&policy::context::contract())
}

/// The tenants table's statements for adapters that run SQL text (`table` default `tenants`).
#[napi]
pub fn tenants_sql(table: Unknown<'_>) -> Result<Value, Code> {
    let table = opt_string("table", table)?;
    to_js(&policy::tenants::tenants_sql(table.as_deref()).map_err(|e| core_err(&e))?)
}

/// The query a hardened scope runs first: one row with the transaction's `binding`.
#[napi]
pub fn scope_binding_sql(begin: Unknown<'_>) -> Result<String, Code> {
    let begin: Option<bool> = parse("begin", begin)?;
    Ok(policy::context::binding_query(begin.unwrap_or(false)))
}

/// The query that reads the connection's default isolation level (column `isolation`).
#[napi]
pub fn scope_isolation_sql() -> String {
    policy::context::ISOLATION_SQL.to_owned()
}

/// The statement that opens a scope: `{ sql, params }` (see the core's `scope_sql`).
#[napi]
pub fn scope_sql(
    tenant_id: Unknown<'_>,
    key: Unknown<'_>,
    binding: Unknown<'_>,
    inline: Unknown<'_>,
    statement_timeout_ms: Unknown<'_>,
    lock_timeout_ms: Unknown<'_>,
    read_only: Unknown<'_>,
) -> Result<Value, Code> {
    let (tenant_id, key) = (opt_string("tenantId", tenant_id)?, opt_string("key", key)?);
    let binding = opt_string("binding", binding)?;
    let inline: Option<bool> = parse("inline", inline)?;
    let read_only: Option<bool> = parse("readOnly", read_only)?;
    let limits = policy::context::Limits {
        statement_ms: parse("statementTimeoutMs", statement_timeout_ms)?,
        lock_ms: parse("lockTimeoutMs", lock_timeout_ms)?,
    };
    let statement = policy::context::scope_sql(
        tenant_id.as_deref(),
        key.as_deref(),
        binding.as_deref(),
        inline.unwrap_or(false),
        limits,
        read_only.unwrap_or(false),
    )
    .map_err(|e| core_err(&e))?;
    to_js(&statement)
}
