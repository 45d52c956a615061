//! N-API entry points. Each function converts JS values to core types, calls the core and
//! converts the result back; errors carry the core's stable code as `err.code`.

mod args;
pub mod email;
pub mod email_crypto;
pub mod email_engine;
pub mod smtp;
pub mod webhooks;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde::de::DeserializeOwned;
use serde_json::Value;
use usebetter_core::audit::{capture, contract, table};
use usebetter_core::{bridge::audit, jwt, policy, resolve};

/// `err.code` for JS: the core's code, or `INVALID_ARGUMENT` for values of the wrong shape.
pub struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

fn core_err(e: &usebetter_core::Error) -> Error<Code> {
    Error::new(Code(e.code()), e.to_string())
}

/// Reads argument `arg` (any JS value) as `T`.
fn parse<T: DeserializeOwned>(arg: &str, value: Unknown<'_>) -> Result<T, Code> {
    let json = args::json(arg, value).map_err(|e| core_err(&e))?;
    usebetter_core::input::from_value(arg, &json).map_err(|e| core_err(&e))
}

fn string(arg: &str, value: Unknown<'_>) -> Result<String, Code> {
    args::string(arg, value).map_err(|e| core_err(&e))
}

fn opt_string(arg: &str, value: Unknown<'_>) -> Result<Option<String>, Code> {
    args::opt_string(arg, value).map_err(|e| core_err(&e))
}

/// A JS timestamp (ms since 1970, a double) as the core's integer milliseconds.
#[expect(
    clippy::cast_possible_truncation,
    reason = "milliseconds since 1970 fit i64"
)]
fn ms(v: f64) -> i64 {
    v.floor() as i64
}

fn to_js<T: serde::Serialize>(v: &T) -> Result<Value, Code> {
    serde_json::to_value(v).map_err(|e| Error::new(Code("INTERNAL"), e.to_string()))
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

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

/// The changed field names per `{ before, after }` pair, JSON text in and out.
#[napi]
pub fn audit_changed_fields_json(pairs: Unknown<'_>) -> Result<String, Code> {
    usebetter_core::audit::diff::changed_fields_json(&string("pairsJson", pairs)?)
        .map_err(|e| core_err(&e))
}

/// The same decision as SQL: the stored diff (`jsonb`, NULL when nothing changed) of the JSON
/// images the SQL expressions `before` and `after` give.
#[napi]
pub fn audit_diff_sql(before: Unknown<'_>, after: Unknown<'_>) -> Result<String, Code> {
    let (before, after) = (string("before", before)?, string("after", after)?);
    Ok(usebetter_core::audit::diff::diff_sql(&before, &after))
}

/// Seals stored rows (column name to value, chain order) after the chain head `{ seq, hash }`
/// (null for a new chain): `[{ seq, prevHash, hash }]`.
#[napi]
pub fn audit_seal_rows(
    rows: Unknown<'_>,
    head: Unknown<'_>,
    key: Unknown<'_>,
) -> Result<Value, Code> {
    let rows: Vec<serde_json::Map<String, Value>> = parse("rows", rows)?;
    let head: Option<usebetter_core::audit::seal::Anchor> = parse("head", head)?;
    let key = opt_string("key", key)?;
    let out = usebetter_core::audit::chain::seal_rows(
        &rows,
        head.as_ref(),
        key.as_deref().map(str::as_bytes),
    );
    to_js(&out.map_err(|e| core_err(&e))?)
}

/// Verifies one chain of `[{ seq, prevHash, hash, row }]`: null when intact, else the first
/// break `{ kind, rowId, seq, message }`.
#[napi]
pub fn audit_verify_rows(
    rows: Unknown<'_>,
    key: Unknown<'_>,
    anchor: Unknown<'_>,
) -> Result<Value, Code> {
    let rows: Vec<usebetter_core::audit::chain::StoredSealedRow> = parse("rows", rows)?;
    let key = opt_string("key", key)?;
    let anchor: Option<usebetter_core::audit::seal::Anchor> = parse("anchor", anchor)?;
    let out = usebetter_core::audit::chain::verify_rows(
        rows,
        key.as_deref().map(str::as_bytes),
        anchor.as_ref(),
    );
    to_js(&out.map_err(|e| core_err(&e))?)
}

/// Checks the seal key before anything is sealed: `key` (null when unset) of at least 32
/// bytes, or none with `unkeyed`; else throws `AUDIT_SEAL_KEY` naming `optIn`, the caller's
/// way to accept unkeyed chains.
#[napi]
pub fn audit_seal_key(
    key: Unknown<'_>,
    unkeyed: Unknown<'_>,
    opt_in: Unknown<'_>,
) -> Result<(), Code> {
    let key = opt_string("key", key)?;
    let unkeyed: bool = parse("unkeyed", unkeyed)?;
    let opt_in = string("optIn", opt_in)?;
    usebetter_core::audit::chain::seal_key(key.as_deref().map(str::as_bytes), unkeyed, &opt_in)
        .map(|_| ())
        .map_err(|e| core_err(&e))
}

/// The chain protocol's statements over the named tables (default: the library's).
#[napi]
pub fn audit_chain_sql(logs: Unknown<'_>, checkpoints: Unknown<'_>) -> Result<Value, Code> {
    let logs = opt_string("logs", logs)?;
    let checkpoints = opt_string("checkpoints", checkpoints)?;
    to_js(&audit::chain_sql(logs.as_deref(), checkpoints.as_deref()))
}

/// The store's statements (an entry by id, the purge that spares sealed entries, the stats)
/// over `logs` (default: the library's table).
#[napi]
pub fn audit_store_sql(logs: Unknown<'_>) -> Result<Value, Code> {
    to_js(&audit::store_sql(opt_string("logs", logs)?.as_deref()))
}

/// The audit packages' shared names (table, columns, indexes, trigger, settings) and the
/// statements around them, as data.
#[napi]
pub fn audit_contract() -> Result<Value, Code> {
    to_js(&contract::contract())
}

/// One multi-row entry INSERT: `columns` the statement's entry columns, `rows` the columns each
/// row has values for; seal values last with `sealed`.
#[napi]
pub fn audit_insert_sql(
    columns: Unknown<'_>,
    rows: Unknown<'_>,
    sealed: Unknown<'_>,
) -> Result<String, Code> {
    let columns: Vec<String> = parse("columns", columns)?;
    let rows: Vec<Vec<String>> = parse("rows", rows)?;
    let sealed: bool = parse("sealed", sealed)?;
    contract::insert_sql(&columns, &rows, sealed).map_err(|e| core_err(&e))
}

/// The statement that captures one audited mutation of a table, in parts and slots.
#[napi]
pub fn audit_capture_sql(spec: Unknown<'_>) -> Result<Value, Code> {
    let spec: capture::CaptureSpec = parse("spec", spec)?;
    to_js(&capture::capture_sql(&spec).map_err(|e| core_err(&e))?)
}

/// A table's catalog query and, given its columns and key, the statements that image its rows.
#[napi]
pub fn audit_table_sql(table: Unknown<'_>) -> Result<Value, Code> {
    let spec: table::TableSpec = parse("table", table)?;
    to_js(&table::table_sql(&spec).map_err(|e| core_err(&e))?)
}

/// Canonical JSON text (sorted keys, no whitespace) of any JSON value.
#[napi]
pub fn canonical_json(value: Unknown<'_>) -> Result<String, Code> {
    let value = args::json_defined("value", value).map_err(|e| core_err(&e))?;
    Ok(usebetter_core::audit::canonical::to_canonical_string(
        &value,
    ))
}

/// `parseDuration`: the ISO instant `input` (e.g. `30d`) before `reference` (ISO; default now).
#[napi]
pub fn parse_duration(input: Unknown<'_>, reference: Unknown<'_>) -> Result<String, Code> {
    let input = string("input", input)?;
    let reference = opt_string("reference", reference)?;
    audit::parse_duration(&input, reference.as_deref(), now_micros()).map_err(|e| core_err(&e))
}

/// Encodes a query cursor for the row `(timestamp ISO, id)`.
#[napi]
pub fn encode_cursor(timestamp: Unknown<'_>, id: Unknown<'_>) -> Result<String, Code> {
    let timestamp = string("timestamp", timestamp)?;
    audit::encode_cursor(&timestamp, &string("id", id)?).map_err(|e| core_err(&e))
}

/// Decodes a query cursor into `{ timestamp (ISO, microseconds), id }`.
#[napi]
pub fn decode_cursor(cursor: Unknown<'_>) -> Result<Value, Code> {
    to_js(&audit::decode_cursor(&string("cursor", cursor)?).map_err(|e| core_err(&e))?)
}

/// Compiles an audit query spec into `{ sql, params, limit }`.
#[napi]
pub fn compile_audit_query(spec: Unknown<'_>, options: Unknown<'_>) -> Result<Value, Code> {
    let spec: usebetter_core::audit::query::QuerySpec = parse("spec", spec)?;
    let options: audit::QueryOptions = parse("options", options)?;
    to_js(&audit::compile(&spec, &options, now_micros()).map_err(|e| core_err(&e))?)
}

/// The tables a piece of SQL writes: `[{ schema?, table, operation }]`.
#[napi]
pub fn sql_writes(sql: Unknown<'_>) -> Result<Value, Code> {
    to_js(&usebetter_core::analyze::writes(&string("sql", sql)?).map_err(|e| core_err(&e))?)
}

/// Applies a redaction rule (`{ redact } | { include }`) to entries in one call.
#[napi]
pub fn redact_entries(rule: Unknown<'_>, entries: Unknown<'_>) -> Result<Value, Code> {
    let rule: usebetter_core::audit::redact::Redaction = parse("rule", rule)?;
    let entries: Vec<audit::Entry> = parse("entries", entries)?;
    to_js(&audit::redact_entries(&rule, entries).map_err(|e| core_err(&e))?)
}

/// Enrichment registrations of one audit instance, merged by specificity in Rust.
#[napi]
pub struct EnrichmentRegistry {
    inner: usebetter_core::audit::enrich::Registry,
}

#[napi]
impl EnrichmentRegistry {
    #[napi(constructor)]
    pub fn new(audit_tables: Unknown<'_>) -> Result<Self, Code> {
        let audit_tables: Vec<String> = parse("auditTables", audit_tables)?;
        Ok(EnrichmentRegistry {
            inner: usebetter_core::audit::enrich::Registry::new(audit_tables),
        })
    }

    /// Adds a registration; returns its index (for the `description` callback).
    #[napi]
    pub fn register(
        &mut self,
        table: Unknown<'_>,
        operation: Unknown<'_>,
        config: Unknown<'_>,
    ) -> Result<u32, Code> {
        let table = string("table", table)?;
        let operation = string("operation", operation)?;
        let config = parse("config", config)?;
        let i = self
            .inner
            .register(&table, &operation, config)
            .map_err(|e| core_err(&e))?;
        Ok(u32::try_from(i).unwrap_or(u32::MAX))
    }

    /// The merged enrichment for `(table, operation)`, or `null`.
    #[napi]
    pub fn resolve(&self, table: Unknown<'_>, operation: Unknown<'_>) -> Result<Value, Code> {
        let table = string("table", table)?;
        let operation = string("operation", operation)?;
        to_js(
            &self
                .inner
                .resolve(&table, &operation)
                .map_err(|e| core_err(&e))?,
        )
    }
}

/// What a piece of SQL could write: `{ writes: [{ schema?, table, operation }], opaque? }`,
/// `opaque` saying why it could also write tables it does not name.
#[napi]
pub fn sql_effects(sql: Unknown<'_>) -> Result<Value, Code> {
    to_js(&usebetter_core::analyze::effects(&string("sql", sql)?))
}

/// Whether `sql` is one plain read that gives the same rows in a transaction of its own.
#[napi]
pub fn sql_reads_alone(sql: Unknown<'_>) -> Result<bool, Code> {
    Ok(usebetter_core::analyze::reads_alone(&string("sql", sql)?))
}

/// Whether `sql` may change the session's defaults (`SET`, `RESET`, `DISCARD`).
#[napi]
pub fn sql_sets_session(sql: Unknown<'_>) -> Result<bool, Code> {
    Ok(usebetter_core::analyze::sets_session(&string("sql", sql)?))
}
