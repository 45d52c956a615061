//! The chain protocol's statements, the same text wherever a chain is extended or read: the
//! library's sealed writes and every `better-audit` command. A chain is one tenant's entries,
//! or the global chain of entries without a tenant.
//!
//! A statement about one chain comes in two forms (`PerChain`) that take the same parameters,
//! `$1` the tenant as text (null for the global chain): `tenant_id = $1` and `tenant_id IS
//! NULL`. `IS NOT DISTINCT FROM` would serve both, but the `(tenant_id, seq)` index cannot
//! answer it, so each lookup would scan the chain.

use serde_json::{Map, Value};

use super::seal::{JSON_COLUMNS, SEALED_COLUMNS};
use crate::error::{CliFailure, Result};
use crate::sql::literal;

/// Prefix of the chain's advisory-lock key (`usebetter_audit_chain:<tenant>`, `…:` for the
/// global chain): every writer of a chain takes this lock first, so chains never fork.
pub const LOCK_KEY_PREFIX: &str = "usebetter_audit_chain:";

/// Entries one sealing transaction takes at most (`pending`'s `$2`): a backlog is sealed in
/// transactions of this size, each a fraction of a second.
pub const SEAL_BATCH: i64 = 5_000;

/// One statement about a chain, for the global chain and for a tenant's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PerChain {
    pub global: String,
    pub tenant: String,
}

impl PerChain {
    fn new(make: impl Fn(&str) -> String) -> PerChain {
        PerChain {
            // `$1` stays referenced, so both forms take the same parameters.
            global: make("tenant_id IS NULL AND $1::text IS NULL"),
            tenant: make("tenant_id = $1::text::uuid"),
        }
    }

    /// The form for `tenant` (`None`: the global chain).
    #[must_use]
    pub fn pick(&self, tenant: Option<&str>) -> &str {
        match tenant {
            None => &self.global,
            Some(_) => &self.tenant,
        }
    }
}

/// The statements over `logs` and `checkpoints` (names as the caller spells them: qualified in
/// the CLI, on the search path in the library). `$1` is the tenant unless a field says otherwise.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChainSql {
    /// The chain's transaction-scoped advisory lock (in FROM: Prisma cannot read a void column).
    pub lock: String,
    /// The last sealed entry (`head_seq` as text, `hash`); not a column named seq, which
    /// ORDER BY would then sort as text.
    pub head: PerChain,
    /// Whether the checkpoint table exists (`has`), taking no `$1`.
    pub has_checkpoints: String,
    /// The chain's checkpoint (`head_seq` as text, `hash`, `mac`).
    pub checkpoint: String,
    /// The chains that have a checkpoint (`chain`, null for the global one), taking no `$1`.
    pub checkpoint_chains: String,
    /// Per chain (`chain`, `seq`, `hash`), the last sealed entry older than `$1` (ISO instant).
    pub purged_heads: String,
    /// Upserts checkpoints from arrays `$1` chain, `$2` seq, `$3` hash, `$4` mac; never
    /// moves one back.
    pub record_checkpoints: String,
    /// The chains that have entries (`chain`, null for the global one), taking no `$1`.
    pub chains: String,
    /// The chain's oldest unsealed entries, at most `$2`, in sealing order, the sealed columns
    /// as text ([`sealed_text_columns`]).
    pub pending: PerChain,
    /// Writes seals from arrays `$1` id, `$2` seq, `$3` prev_hash, `$4` hash.
    pub mark_sealed: String,
    /// The chain's sealed entries with seq above `$2`, at most `$3` (null: all), in seq order:
    /// the sealed columns as text, then `seq`, `prev_hash`, `hash`.
    pub sealed_after: PerChain,
    /// How many of the chain's entries are unsealed (`n`), and how many of those were written
    /// more than `$2` seconds ago (`overdue`): a running `seal --watch` has not caught up.
    pub unsealed: PerChain,
    /// The chains that have unsealed entries (`chain`, null for the global one), taking no
    /// `$1`: a loose scan of the `(tenant_id, seq)` index, one probe per chain, so a sealer
    /// polling a large table reads no entries but the unsealed ones.
    pub pending_chains: String,
    /// One row: `sealed` (any entry has a seq) and `entries` (how many there are), no `$1`.
    pub sealing_state: String,
    /// The sealed columns of type `jsonb`, whose text is parsed before sealing.
    pub json_columns: Vec<&'static str>,
}

/// The sealed columns as text, in [`SEALED_COLUMNS`] order, as the seal reads them:
/// timestamps with microseconds in UTC.
#[must_use]
pub fn sealed_text_columns() -> String {
    SEALED_COLUMNS
        .iter()
        .map(|c| match *c {
            "timestamp" => {
                "to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                    .to_owned()
            }
            other => format!("{other}::text"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row read with [`sealed_text_columns`] (SQL NULL as `None`) as the seal takes it: JSON
/// columns parsed, `notify` a boolean, NULL columns absent.
///
/// # Errors
/// `INTERNAL` when a JSON column's text is not JSON.
pub fn row_from_text(cells: &[Option<String>]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (column, text) in SEALED_COLUMNS.iter().zip(cells) {
        let Some(text) = text else { continue };
        let value = if JSON_COLUMNS.contains(column) {
            serde_json::from_str(text)
                .map_err(|e| CliFailure::Internal.with(format!("{column} is not JSON: {e}")))?
        } else if *column == "notify" {
            Value::Bool(text == "true")
        } else {
            Value::String(text.clone())
        };
        out.insert((*column).to_owned(), value);
    }
    Ok(out)
}

#[must_use]
pub fn chain_sql(logs: &str, checkpoints: &str) -> ChainSql {
    let sealed = sealed_text_columns();
    ChainSql {
        lock: format!("SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended({} || coalesce($1::text, ''), 0))", literal(LOCK_KEY_PREFIX)),
        head: PerChain::new(|chain| format!("SELECT seq::text AS head_seq, hash FROM {logs} WHERE {chain} AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1")),
        has_checkpoints: format!("SELECT to_regclass({}) IS NOT NULL AS has", literal(checkpoints)),
        checkpoint: format!("SELECT seq::text AS head_seq, hash, mac FROM {checkpoints} WHERE chain = coalesce($1::text, '')"),
        checkpoint_chains: format!("SELECT nullif(chain, '') AS chain FROM {checkpoints}"),
        purged_heads: format!("SELECT DISTINCT ON (tenant_id) coalesce(tenant_id::text, '') AS chain, seq, hash FROM {logs} WHERE \"timestamp\" < $1::text::timestamptz AND seq IS NOT NULL ORDER BY tenant_id, seq DESC"),
        record_checkpoints: format!("INSERT INTO {checkpoints} AS c (chain, seq, hash, mac) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac, purged_at = now() WHERE c.seq < excluded.seq"),
        chains: format!("SELECT DISTINCT tenant_id::text AS chain FROM {logs}"),
        pending: PerChain::new(|chain| format!("SELECT {sealed} FROM {logs} WHERE {chain} AND seq IS NULL ORDER BY \"timestamp\", id LIMIT $2::bigint")),
        mark_sealed: format!("UPDATE {logs} AS l SET seq = u.seq, prev_hash = u.prev, hash = u.hash FROM unnest($1::text[]::uuid[], $2::bigint[], $3::text[], $4::text[]) AS u(id, seq, prev, hash) WHERE l.id = u.id"),
        sealed_after: PerChain::new(|chain| format!("SELECT {sealed}, seq, prev_hash, hash FROM {logs} WHERE {chain} AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint")),
        unsealed: PerChain::new(|chain| format!("SELECT count(*) AS n, count(*) FILTER (WHERE \"timestamp\" < now() - $2::float8 * interval '1 second') AS overdue FROM {logs} WHERE {chain} AND seq IS NULL")),
        // uuid has no min(): the next chain is the first index entry above the last one. The
        // probe is a LATERAL with LIMIT, which the planner cannot turn into a semi-join over a
        // sequential scan of every entry.
        pending_chains: format!("WITH RECURSIVE t(id) AS ((SELECT tenant_id FROM {logs} WHERE tenant_id IS NOT NULL ORDER BY tenant_id LIMIT 1) UNION ALL SELECT (SELECT tenant_id FROM {logs} WHERE tenant_id > t.id ORDER BY tenant_id LIMIT 1) FROM t WHERE t.id IS NOT NULL) SELECT t.id::text AS chain FROM t CROSS JOIN LATERAL (SELECT 1 FROM {logs} WHERE tenant_id = t.id AND seq IS NULL LIMIT 1) AS p UNION ALL SELECT NULL WHERE EXISTS (SELECT 1 FROM {logs} WHERE tenant_id IS NULL AND seq IS NULL)"),
        sealing_state: format!("SELECT EXISTS (SELECT 1 FROM {logs} WHERE seq IS NOT NULL) AS sealed, (SELECT count(*) FROM {logs}) AS entries"),
        json_columns: JSON_COLUMNS.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_lookups_never_use_is_not_distinct_from() {
        let q = chain_sql("\"audit_logs\"", "\"audit_chain_checkpoints\"");
        for per in [&q.head, &q.pending, &q.sealed_after, &q.unsealed] {
            assert!(!per.global.contains("DISTINCT FROM") && !per.tenant.contains("DISTINCT FROM"));
            assert!(per
                .pick(None)
                .contains("tenant_id IS NULL AND $1::text IS NULL"));
            assert!(per.pick(Some("t")).contains("tenant_id = $1::text::uuid"));
        }
        assert!(q
            .lock
            .contains("hashtextextended('usebetter_audit_chain:' || coalesce($1::text, ''), 0)"));
        assert!(q
            .has_checkpoints
            .contains("to_regclass('\"audit_chain_checkpoints\"')"));
        assert!(q
            .head
            .tenant
            .ends_with("AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1"));
        assert_eq!(q.json_columns, JSON_COLUMNS);
    }

    #[test]
    fn rows_read_as_text_are_the_rows_the_seal_takes() {
        let mut cells: Vec<Option<String>> = vec![None; SEALED_COLUMNS.len()];
        let at = |c: &str| SEALED_COLUMNS.iter().position(|x| *x == c).unwrap();
        cells[at("id")] = Some("a".into());
        cells[at("after_data")] = Some("{\"n\": 1}".into());
        cells[at("diff")] = Some("null".into());
        cells[at("notify")] = Some("true".into());
        let row = row_from_text(&cells).unwrap();
        assert_eq!(row["after_data"], serde_json::json!({ "n": 1 }));
        assert_eq!(row["diff"], Value::Null, "JSON null stays, SQL NULL goes");
        assert_eq!(row["notify"], Value::Bool(true));
        assert!(!row.contains_key("label"));
        cells[at("metadata")] = Some("{".into());
        let e = row_from_text(&cells).unwrap_err();
        assert_eq!(e.code(), "INTERNAL");
        assert!(e.to_string().starts_with("metadata is not JSON"));
        assert!(
            sealed_text_columns().starts_with("id::text, to_char(\"timestamp\" AT TIME ZONE 'UTC'")
        );
    }
}
