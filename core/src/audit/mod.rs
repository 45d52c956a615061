//! Audit primitives: canonical JSON, diffs, redaction, enrichment merge, durations, cursors,
//! query compilation, the statements of the store and of the capturing adapters, and the names
//! they share. Each works on a whole batch per call, so a binding crosses into Rust once per
//! mutation batch or query, never per field.

pub mod canonical;
pub mod capture;
pub mod chain;
pub mod chain_sql;
pub mod checkpoint;
#[cfg(feature = "cli")]
pub mod cli_sql;
pub mod contract;
pub mod cursor;
pub mod diff;
pub mod duration;
pub mod enrich;
pub mod image;
pub mod purge;
pub mod query;
pub mod redact;
pub mod seal;
pub mod storage;
pub mod store;
pub mod table;
pub mod time;
pub mod triggers;
