//! Audit entry points: diffs, sealing and verification, the store's statements, queries,
//! redaction, enrichment, and the SQL analysis raw-SQL capture relies on.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use usebetter_core::audit::{capture, contract, table};
use usebetter_core::bridge::audit;

use crate::{args, core_err, now_micros, opt_string, parse, string, to_js, Code};

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
