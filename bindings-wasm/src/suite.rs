//! The tenant and audit entry points: left out of the email package's edge module, which
//! needs none of them.

use usebetter_core::audit::{capture, contract, table};
use usebetter_core::{bridge::audit, jwt, policy, resolve};
use wasm_bindgen::prelude::*;

use crate::{args, core_err, opt_string, parse, string, to_js};

#[expect(
    clippy::cast_possible_truncation,
    reason = "microseconds since 1970 fit i64"
)]
fn now_micros() -> i64 {
    (js_sys::Date::now() * 1000.0).floor() as i64
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "milliseconds since 1970 fit i64"
)]
fn now() -> i64 {
    (js_sys::Date::now() / 1000.0).floor() as i64
}

/// A resolver compiled once from `tenantResolver` config, then used per request.
#[wasm_bindgen]
pub struct TenantResolver {
    inner: resolve::Resolver,
}

#[wasm_bindgen]
impl TenantResolver {
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue) -> Result<TenantResolver, JsValue> {
        let config: resolve::ResolverConfig = parse("tenantResolver", &config)?;
        let inner = resolve::Resolver::new(&config).map_err(|e| core_err(&e))?;
        Ok(TenantResolver { inner })
    }

    /// Resolves one request: `{ headers, host?, path?, url?, token?, claims? }`.
    pub fn resolve(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let request: resolve::Request = parse("request", &request)?;
        to_js(&self.inner.resolve(&request, now()))
    }

    /// True when the JWT strategy decodes tokens without verifying them.
    #[wasm_bindgen(getter, js_name = jwtUnverified)]
    pub fn jwt_unverified(&self) -> bool {
        self.inner.jwt_unverified()
    }
}

/// One-shot resolution (compiles `config` on every call; prefer `TenantResolver`).
#[wasm_bindgen(js_name = resolveTenant)]
pub fn resolve_tenant(request: JsValue, config: JsValue) -> Result<JsValue, JsValue> {
    TenantResolver::new(config)?.resolve(request)
}

/// The string claim of an `Authorization: Bearer` value, decoded or (with `verify`) verified;
/// null when there is none.
#[wasm_bindgen(js_name = bearerClaim)]
pub fn bearer_claim(
    authorization: JsValue,
    claim: JsValue,
    verify: JsValue,
) -> Result<JsValue, JsValue> {
    let authorization = opt_string("authorization", &authorization)?.unwrap_or_default();
    let claim = string("claim", &claim)?;
    let verify: Option<jwt::VerifyOptions> = parse("verify", &verify)?;
    to_js(
        &jwt::bearer_claim(&authorization, &claim, verify.as_ref(), now())
            .map_err(|e| core_err(&e))?,
    )
}

/// The token of an `Authorization: Bearer <token>` value, or null.
#[wasm_bindgen(js_name = bearerToken)]
pub fn bearer_token(authorization: JsValue) -> Result<JsValue, JsValue> {
    let authorization = opt_string("authorization", &authorization)?.unwrap_or_default();
    to_js(&jwt::bearer_token(&authorization))
}

/// Verifies a JWT and returns its claims.
#[wasm_bindgen(js_name = verifyJwt)]
pub fn verify_jwt(token: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let token = string("token", &token)?;
    let options: jwt::VerifyOptions = parse("options", &options)?;
    let verifier = jwt::Verifier::new(&options).map_err(|e| core_err(&e))?;
    let claims = verifier.verify(&token, now()).map_err(|e| core_err(&e))?;
    to_js(&claims)
}

/// The full RLS migration for `{ tenantTables, schema?, hardened? }`.
#[wasm_bindgen(js_name = generateMigrationSql)]
pub fn generate_migration_sql(config: JsValue) -> Result<String, JsValue> {
    let config: policy::MigrationConfig = parse("config", &config)?;
    policy::migration_sql(&config).map_err(|e| core_err(&e))
}

/// The RLS block for one more table.
#[wasm_bindgen(js_name = generateAddTableSql)]
pub fn generate_add_table_sql(table: JsValue, config: JsValue) -> Result<String, JsValue> {
    let table = string("table", &table)?;
    let config: policy::MigrationConfig = parse("config", &config)?;
    policy::add_table_sql(&table, &config).map_err(|e| core_err(&e))
}

/// Classifies a tenant identifier: `{ value, kind }` with UUIDs lower-cased.
#[wasm_bindgen(js_name = normalizeTenantId)]
pub fn normalize_tenant_id(raw: JsValue) -> Result<JsValue, JsValue> {
    let raw = string("raw", &raw)?;
    let (value, kind) =
        usebetter_core::resolve::normalize_tenant_id(&raw).map_err(|e| core_err(&e))?;
    to_js(&serde_json::json!({ "value": value, "kind": kind }))
}

/// Checks a slug to be stored as given; throws `TENANT_INVALID_SLUG` naming the rule.
#[wasm_bindgen(js_name = checkSlug)]
pub fn check_slug(slug: JsValue) -> Result<(), JsValue> {
    resolve::check_slug(&string("slug", &slug)?).map_err(|e| core_err(&e))
}

/// Hardened mode: the tenant signature for `tenantId` in the transaction `binding`.
#[wasm_bindgen(js_name = tenantSignature)]
pub fn tenant_signature(
    key: JsValue,
    tenant_id: JsValue,
    binding: JsValue,
) -> Result<String, JsValue> {
    let (key, id) = (string("key", &key)?, string("tenantId", &tenant_id)?);
    Ok(policy::tenant_signature(
        key.as_bytes(),
        &id,
        &string("binding", &binding)?,
    ))
}

/// Hardened mode: the bypass signature in the transaction `binding`.
#[wasm_bindgen(js_name = bypassSignature)]
pub fn bypass_signature(key: JsValue, binding: JsValue) -> Result<String, JsValue> {
    let key = string("key", &key)?;
    Ok(policy::bypass_signature(
        key.as_bytes(),
        &string("binding", &binding)?,
    ))
}

/// The tenant context's setting names and the `tenant_id` column default, as data.
#[wasm_bindgen(js_name = tenantContract)]
pub fn tenant_contract() -> Result<JsValue, JsValue> {
    to_js(&policy::context::contract())
}

/// The tenants table's statements for adapters that run SQL text (`table` default `tenants`).
#[wasm_bindgen(js_name = tenantsSql)]
pub fn tenants_sql(table: JsValue) -> Result<JsValue, JsValue> {
    let table = opt_string("table", &table)?;
    to_js(&policy::tenants::tenants_sql(table.as_deref()).map_err(|e| core_err(&e))?)
}

/// The query a hardened scope runs first: one row with the transaction's `binding`.
#[wasm_bindgen(js_name = scopeBindingSql)]
pub fn scope_binding_sql(begin: JsValue) -> Result<String, JsValue> {
    let begin: Option<bool> = parse("begin", &begin)?;
    Ok(policy::context::binding_query(begin.unwrap_or(false)))
}

/// The query that reads the connection's default isolation level (column `isolation`).
#[wasm_bindgen(js_name = scopeIsolationSql)]
#[must_use]
pub fn scope_isolation_sql() -> String {
    policy::context::ISOLATION_SQL.to_owned()
}

/// The changed field names per `{ before, after }` pair, JSON text in and out.
#[wasm_bindgen(js_name = auditChangedFieldsJson)]
pub fn audit_changed_fields_json(pairs: JsValue) -> Result<String, JsValue> {
    usebetter_core::audit::diff::changed_fields_json(&string("pairsJson", &pairs)?)
        .map_err(|e| core_err(&e))
}

/// The same decision as SQL: the stored diff (`jsonb`, NULL when nothing changed) of the JSON
/// images the SQL expressions `before` and `after` give.
#[wasm_bindgen(js_name = auditDiffSql)]
pub fn audit_diff_sql(before: JsValue, after: JsValue) -> Result<String, JsValue> {
    let (before, after) = (string("before", &before)?, string("after", &after)?);
    Ok(usebetter_core::audit::diff::diff_sql(&before, &after))
}

/// Canonical JSON text (sorted keys, no whitespace) of any JSON value.
#[wasm_bindgen(js_name = canonicalJson)]
pub fn canonical_json(value: JsValue) -> Result<String, JsValue> {
    let value = args::json_defined("value", &value).map_err(|e| core_err(&e))?;
    Ok(usebetter_core::audit::canonical::to_canonical_string(
        &value,
    ))
}

/// `parseDuration`: the ISO instant `input` (e.g. `30d`) before `reference` (ISO; default now).
#[wasm_bindgen(js_name = parseDuration)]
pub fn parse_duration(input: JsValue, reference: JsValue) -> Result<String, JsValue> {
    let input = string("input", &input)?;
    let reference = opt_string("reference", &reference)?;
    audit::parse_duration(&input, reference.as_deref(), now_micros()).map_err(|e| core_err(&e))
}

/// Encodes a query cursor for the row `(timestamp ISO, id)`.
#[wasm_bindgen(js_name = encodeCursor)]
pub fn encode_cursor(timestamp: JsValue, id: JsValue) -> Result<String, JsValue> {
    let timestamp = string("timestamp", &timestamp)?;
    audit::encode_cursor(&timestamp, &string("id", &id)?).map_err(|e| core_err(&e))
}

/// Decodes a query cursor into `{ timestamp (ISO, microseconds), id }`.
#[wasm_bindgen(js_name = decodeCursor)]
pub fn decode_cursor(cursor: JsValue) -> Result<JsValue, JsValue> {
    to_js(&audit::decode_cursor(&string("cursor", &cursor)?).map_err(|e| core_err(&e))?)
}

/// Compiles an audit query spec into `{ sql, params, limit }`.
#[wasm_bindgen(js_name = compileAuditQuery)]
pub fn compile_audit_query(spec: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let spec: usebetter_core::audit::query::QuerySpec = parse("spec", &spec)?;
    let options: audit::QueryOptions = parse("options", &options)?;
    to_js(&audit::compile(&spec, &options, now_micros()).map_err(|e| core_err(&e))?)
}

/// The tables a piece of SQL writes: `[{ schema?, table, operation }]`.
#[cfg(feature = "analyze")]
#[wasm_bindgen(js_name = sqlWrites)]
pub fn sql_writes(sql: JsValue) -> Result<JsValue, JsValue> {
    to_js(&usebetter_core::analyze::writes(&string("sql", &sql)?).map_err(|e| core_err(&e))?)
}

/// Seals stored rows (column name to value, chain order) after the chain head `{ seq, hash }`
/// (null for a new chain): `[{ seq, prevHash, hash }]`.
#[wasm_bindgen(js_name = auditSealRows)]
pub fn audit_seal_rows(rows: JsValue, head: JsValue, key: JsValue) -> Result<JsValue, JsValue> {
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = parse("rows", &rows)?;
    let head: Option<usebetter_core::audit::seal::Anchor> = parse("head", &head)?;
    let key = opt_string("key", &key)?;
    let out = usebetter_core::audit::chain::seal_rows(
        &rows,
        head.as_ref(),
        key.as_deref().map(str::as_bytes),
    );
    to_js(&out.map_err(|e| core_err(&e))?)
}

/// Verifies one chain of `[{ seq, prevHash, hash, row }]`: null when intact, else the first
/// break `{ kind, rowId, seq, message }`.
#[wasm_bindgen(js_name = auditVerifyRows)]
pub fn audit_verify_rows(rows: JsValue, key: JsValue, anchor: JsValue) -> Result<JsValue, JsValue> {
    let rows: Vec<usebetter_core::audit::chain::StoredSealedRow> = parse("rows", &rows)?;
    let key = opt_string("key", &key)?;
    let anchor: Option<usebetter_core::audit::seal::Anchor> = parse("anchor", &anchor)?;
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
#[wasm_bindgen(js_name = auditSealKey)]
pub fn audit_seal_key(key: JsValue, unkeyed: JsValue, opt_in: JsValue) -> Result<(), JsValue> {
    let key = opt_string("key", &key)?;
    let unkeyed: bool = parse("unkeyed", &unkeyed)?;
    let opt_in = string("optIn", &opt_in)?;
    usebetter_core::audit::chain::seal_key(key.as_deref().map(str::as_bytes), unkeyed, &opt_in)
        .map(|_| ())
        .map_err(|e| core_err(&e))
}

/// The chain protocol's statements over the named tables (default: the library's).
#[wasm_bindgen(js_name = auditChainSql)]
pub fn audit_chain_sql(logs: JsValue, checkpoints: JsValue) -> Result<JsValue, JsValue> {
    let logs = opt_string("logs", &logs)?;
    let checkpoints = opt_string("checkpoints", &checkpoints)?;
    to_js(&audit::chain_sql(logs.as_deref(), checkpoints.as_deref()))
}

/// The store's statements (an entry by id, the purge that spares sealed entries, the stats)
/// over `logs` (default: the library's `audit_logs`).
#[wasm_bindgen(js_name = auditStoreSql)]
pub fn audit_store_sql(logs: JsValue) -> Result<JsValue, JsValue> {
    to_js(&audit::store_sql(opt_string("logs", &logs)?.as_deref()))
}

/// The audit packages' shared names (table, columns, indexes, trigger, settings) and the
/// statements around them, as data.
#[wasm_bindgen(js_name = auditContract)]
pub fn audit_contract() -> Result<JsValue, JsValue> {
    to_js(&contract::contract())
}

/// One multi-row entry INSERT: `columns` the statement's entry columns, `rows` the columns each
/// row has values for; seal values last with `sealed`.
#[wasm_bindgen(js_name = auditInsertSql)]
pub fn audit_insert_sql(
    columns: JsValue,
    rows: JsValue,
    sealed: JsValue,
) -> Result<String, JsValue> {
    let columns: Vec<String> = parse("columns", &columns)?;
    let rows: Vec<Vec<String>> = parse("rows", &rows)?;
    let sealed: bool = parse("sealed", &sealed)?;
    contract::insert_sql(&columns, &rows, sealed).map_err(|e| core_err(&e))
}

/// The statement that captures one audited mutation of a table, in parts and slots.
#[wasm_bindgen(js_name = auditCaptureSql)]
pub fn audit_capture_sql(spec: JsValue) -> Result<JsValue, JsValue> {
    let spec: capture::CaptureSpec = parse("spec", &spec)?;
    to_js(&capture::capture_sql(&spec).map_err(|e| core_err(&e))?)
}

/// A table's catalog query and, given its columns and key, the statements that image its rows.
#[wasm_bindgen(js_name = auditTableSql)]
pub fn audit_table_sql(table: JsValue) -> Result<JsValue, JsValue> {
    let spec: table::TableSpec = parse("table", &table)?;
    to_js(&table::table_sql(&spec).map_err(|e| core_err(&e))?)
}

/// Applies a redaction rule (`{ redact } | { include }`) to entries in one call.
#[wasm_bindgen(js_name = redactEntries)]
pub fn redact_entries(rule: JsValue, entries: JsValue) -> Result<JsValue, JsValue> {
    let rule: usebetter_core::audit::redact::Redaction = parse("rule", &rule)?;
    let entries: Vec<audit::Entry> = parse("entries", &entries)?;
    to_js(&audit::redact_entries(&rule, entries).map_err(|e| core_err(&e))?)
}

/// Enrichment registrations of one audit instance, merged by specificity in Rust.
#[wasm_bindgen]
pub struct EnrichmentRegistry {
    inner: usebetter_core::audit::enrich::Registry,
}

#[wasm_bindgen]
impl EnrichmentRegistry {
    #[wasm_bindgen(constructor)]
    pub fn new(audit_tables: JsValue) -> Result<EnrichmentRegistry, JsValue> {
        let audit_tables: Vec<String> = parse("auditTables", &audit_tables)?;
        Ok(EnrichmentRegistry {
            inner: usebetter_core::audit::enrich::Registry::new(audit_tables),
        })
    }

    /// Adds a registration; returns its index (for the `description` callback).
    pub fn register(
        &mut self,
        table: JsValue,
        operation: JsValue,
        config: JsValue,
    ) -> Result<u32, JsValue> {
        let table = string("table", &table)?;
        let operation = string("operation", &operation)?;
        let config = parse("config", &config)?;
        let i = self
            .inner
            .register(&table, &operation, config)
            .map_err(|e| core_err(&e))?;
        Ok(u32::try_from(i).unwrap_or(u32::MAX))
    }

    /// The merged enrichment for `(table, operation)`, or `null`.
    pub fn resolve(&self, table: JsValue, operation: JsValue) -> Result<JsValue, JsValue> {
        let table = string("table", &table)?;
        let operation = string("operation", &operation)?;
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
#[cfg(feature = "analyze")]
#[wasm_bindgen(js_name = sqlEffects)]
pub fn sql_effects(sql: JsValue) -> Result<JsValue, JsValue> {
    to_js(&usebetter_core::analyze::effects(&string("sql", &sql)?))
}

/// Whether `sql` is one plain read that gives the same rows in a transaction of its own.
#[cfg(feature = "analyze")]
#[wasm_bindgen(js_name = sqlReadsAlone)]
pub fn sql_reads_alone(sql: JsValue) -> Result<bool, JsValue> {
    Ok(usebetter_core::analyze::reads_alone(&string("sql", &sql)?))
}

/// Whether `sql` may change the session's defaults (`SET`, `RESET`, `DISCARD`).
#[cfg(feature = "analyze")]
#[wasm_bindgen(js_name = sqlSetsSession)]
pub fn sql_sets_session(sql: JsValue) -> Result<bool, JsValue> {
    Ok(usebetter_core::analyze::sets_session(&string("sql", &sql)?))
}
