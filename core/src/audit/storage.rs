//! The `audit_logs` table and what maintains it: idempotent DDL (plain, or range-partitioned
//! by month with a default partition), the upgrade of a reference-shaped table in place, and
//! monthly partitions (the retention that removes them is in `purge`).

use super::time;
use crate::error::Result;
use crate::sql::{dollar_quoted, literal, quote_ident, Ident};

/// The entries' table.
pub const LOGS: &str = "audit_logs";

/// Reference columns, then ours: `tenant_id` and the seal columns, all nullable.
const COLUMNS: &str = "  id uuid NOT NULL DEFAULT gen_random_uuid(),
  \"timestamp\" timestamptz NOT NULL DEFAULT now(),
  table_name text NOT NULL,
  operation text NOT NULL,
  record_id text NOT NULL,
  actor_id text,
  before_data jsonb,
  after_data jsonb,
  diff jsonb,
  label text,
  description text,
  severity text,
  compliance jsonb,
  notify boolean,
  reason text,
  metadata jsonb,
  redacted_fields jsonb,
  tenant_id uuid,
  seq bigint,
  prev_hash text,
  hash text";

const ADDED: [(&str, &str); 4] = [
    ("tenant_id", "uuid"),
    ("seq", "bigint"),
    ("prev_hash", "text"),
    ("hash", "text"),
];

/// The reference's index names and columns, plus the cursor and chain indexes.
const INDEXES: [(&str, &str); 8] = [
    (
        "audit_logs_table_name_timestamp_idx",
        "table_name, \"timestamp\"",
    ),
    ("audit_logs_actor_id_idx", "actor_id"),
    ("audit_logs_record_id_idx", "record_id"),
    (
        "audit_logs_table_name_record_id_idx",
        "table_name, record_id",
    ),
    ("audit_logs_operation_idx", "operation"),
    ("audit_logs_timestamp_idx", "\"timestamp\""),
    ("audit_logs_timestamp_id_idx", "\"timestamp\", id"),
    ("audit_logs_chain_seq_idx", "tenant_id, seq"),
];

/// The columns `migrate` creates, `(name, type)` in table order, read from its DDL.
#[must_use]
pub fn expected_columns() -> Vec<(&'static str, &'static str)> {
    COLUMNS
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((
                words.next()?.trim_matches('"'),
                words.next()?.trim_end_matches(','),
            ))
        })
        .collect()
}

/// The columns a table created for the reference lacks, which `migrate` adds in place.
#[must_use]
pub fn added_columns() -> Vec<&'static str> {
    ADDED.iter().map(|(c, _)| *c).collect()
}

/// The indexes `migrate` creates: `(name, columns)`.
#[must_use]
pub fn expected_indexes() -> Vec<(&'static str, Vec<&'static str>)> {
    INDEXES
        .iter()
        .map(|(name, columns)| {
            (
                *name,
                columns
                    .split(',')
                    .map(|c| c.trim().trim_matches('"'))
                    .collect(),
            )
        })
        .collect()
}

/// Where the table lives.
#[derive(Debug, Clone)]
pub struct Table {
    pub schema: Ident,
}

impl Table {
    /// # Errors
    /// An invalid schema name.
    pub fn new(schema: &str) -> Result<Table> {
        Ok(Table {
            schema: Ident::new("schema", schema)?,
        })
    }

    #[must_use]
    pub fn qualified(&self, name: &str) -> String {
        format!("{}.{}", self.schema.quoted(), quote_ident(name))
    }

    /// `audit_logs`, qualified.
    #[must_use]
    pub fn logs(&self) -> String {
        self.qualified(LOGS)
    }

    /// The checkpoint table, qualified.
    #[must_use]
    pub fn checkpoints(&self) -> String {
        self.qualified(CHECKPOINTS)
    }
}

/// The DDL for a plain `audit_logs` table; on an existing (reference-shaped) table it adds the
/// missing columns and indexes and changes nothing else.
#[must_use]
pub fn plain_sql(t: &Table) -> String {
    let name = t.logs();
    let mut s =
        format!("CREATE TABLE IF NOT EXISTS {name} (\n{COLUMNS},\n  PRIMARY KEY (id)\n);\n");
    s.push_str(&upgrade_sql(t));
    s
}

/// Columns and indexes a reference-shaped table lacks (idempotent), and the table recording
/// where retention cut each hash chain.
#[must_use]
pub fn upgrade_sql(t: &Table) -> String {
    let name = t.logs();
    let adds: Vec<String> = ADDED
        .iter()
        .map(|(c, ty)| format!("ADD COLUMN IF NOT EXISTS {c} {ty}"))
        .collect();
    let mut s = format!("ALTER TABLE {name} {};\n", adds.join(", "));
    for (index, columns) in INDEXES {
        s.push_str(&format!(
            "CREATE INDEX IF NOT EXISTS \"{index}\" ON {name} ({columns});\n"
        ));
    }
    let cp = t.checkpoints();
    s.push_str(&format!(
        "CREATE TABLE IF NOT EXISTS {cp} (\n  chain text PRIMARY KEY,\n  seq bigint NOT NULL,\n  hash text NOT NULL,\n  purged_at timestamptz NOT NULL DEFAULT now(),\n  mac text\n);\nALTER TABLE {cp} ADD COLUMN IF NOT EXISTS mac text;\n"
    ));
    s.push_str(&checkpoint_privileges_sql(&cp));
    s
}

/// Only the owner (the role that migrates and purges) may write checkpoints: write privileges
/// are revoked from PUBLIC and from every other role that holds them, e.g. through default
/// privileges granted to the application's role. Reading stays as granted.
fn checkpoint_privileges_sql(cp: &str) -> String {
    let revoke = format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {cp} FROM ");
    let body = format!(
        " DECLARE r record; BEGIN\n  FOR r IN SELECT DISTINCT a.grantee::regrole::text AS who FROM pg_class c, aclexplode(c.relacl) a\n    WHERE c.oid = {}::regclass AND a.grantee <> c.relowner AND a.grantee <> 0\n      AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')\n  LOOP EXECUTE {} || r.who; END LOOP;\nEND ",
        literal(cp),
        literal(&revoke)
    );
    format!("{revoke}PUBLIC;\nDO {};\n", dollar_quoted(&body))
}

/// Per chain (`''` for the global one, else the tenant id), the last seq and hash that a purge
/// removed, sealed with the chain's key (`mac`): verification starts after it.
pub const CHECKPOINTS: &str = "audit_chain_checkpoints";

/// `audit_logs` and the checkpoint table as the library names them: quoted, unqualified (on the
/// application's search path), where the CLI qualifies them with `--schema`.
#[must_use]
pub fn library_names() -> (String, String) {
    (quote_ident(LOGS), quote_ident(CHECKPOINTS))
}

/// The DDL for `audit_logs` range-partitioned by month on `timestamp`, with a default partition
/// and the months from `now` to `months_ahead` later.
#[must_use]
pub fn partitioned_sql(t: &Table, now_micros: i64, months_ahead: u32) -> String {
    let name = t.logs();
    let mut s = format!(
        "CREATE TABLE IF NOT EXISTS {name} (\n{COLUMNS},\n  PRIMARY KEY (id, \"timestamp\")\n) PARTITION BY RANGE (\"timestamp\");\n\
         CREATE TABLE IF NOT EXISTS {} PARTITION OF {name} DEFAULT;\n",
        t.qualified(&format!("{LOGS}_default"))
    );
    s.push_str(&partitions_sql(t, now_micros, months_ahead));
    s.push_str(&upgrade_sql(t));
    s
}

/// Month `(year, month)` `offset` months after the month of `micros` (UTC).
fn month_of(micros: i64, offset: i64) -> (i64, u32) {
    let (y, m, _) = time::civil_from_days(micros.div_euclid(86_400_000_000));
    let index = y * 12 + i64::from(m) - 1 + offset;
    (
        index.div_euclid(12),
        u32::try_from(index.rem_euclid(12)).unwrap_or(0) + 1,
    )
}

/// The first instant (UTC microseconds) of the month `offset` months after the month of `micros`.
#[must_use]
pub fn month_start(micros: i64, offset: i64) -> i64 {
    let (y, m) = month_of(micros, offset);
    time::days_from_civil(y, m, 1) * 86_400_000_000
}

fn month_start_iso(y: i64, m: u32) -> String {
    time::format_iso(time::days_from_civil(y, m, 1) * 86_400_000_000)
}

/// The partition name for a month: `audit_logs_p2026_03`.
#[must_use]
pub fn partition_name(y: i64, m: u32) -> String {
    format!("{LOGS}_p{y:04}_{m:02}")
}

/// `CREATE TABLE IF NOT EXISTS … PARTITION OF` for the month of `now` and `months_ahead` after.
#[must_use]
pub fn partitions_sql(t: &Table, now_micros: i64, months_ahead: u32) -> String {
    let parent = t.logs();
    (0..=i64::from(months_ahead))
        .map(|k| {
            let (y, m) = month_of(now_micros, k);
            let (ny, nm) = month_of(now_micros, k + 1);
            format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {parent} FOR VALUES FROM ({}) TO ({});\n",
                t.qualified(&partition_name(y, m)),
                literal(&month_start_iso(y, m)),
                literal(&month_start_iso(ny, nm)),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAR_15_2026: i64 = 1_773_532_800_000_000; // 2026-03-15T00:00:00Z

    #[test]
    fn expectations_are_read_from_the_ddl() {
        let columns = expected_columns();
        assert_eq!(columns.len(), 21);
        assert_eq!(columns[0], ("id", "uuid"));
        assert_eq!(columns[1], ("timestamp", "timestamptz"));
        assert_eq!(columns[20], ("hash", "text"));
        assert_eq!(added_columns(), ["tenant_id", "seq", "prev_hash", "hash"]);
        let indexes = expected_indexes();
        assert_eq!(indexes.len(), INDEXES.len());
        assert_eq!(
            indexes[0],
            (
                "audit_logs_table_name_timestamp_idx",
                vec!["table_name", "timestamp"]
            )
        );
        assert_eq!(
            Some(month_start(MAR_15_2026, 10)),
            time::parse_iso("2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn partitions_by_month_across_a_year_end() {
        let t = Table::new("public").unwrap();
        let sql = partitions_sql(&t, MAR_15_2026 + 9 * 30 * 86_400_000_000, 1);
        assert!(sql.contains("\"audit_logs_p2026_12\" PARTITION OF \"public\".\"audit_logs\" FOR VALUES FROM ('2026-12-01T00:00:00.000000Z') TO ('2027-01-01T00:00:00.000000Z')"), "{sql}");
        assert!(sql.contains("\"audit_logs_p2027_01\""), "{sql}");
        assert_eq!(sql.lines().count(), 2);
    }

    #[test]
    fn ddl_is_idempotent_and_upgrades_reference_tables() {
        let t = Table::new("audit").unwrap();
        let sql = plain_sql(&t);
        assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS \"audit\".\"audit_logs\""));
        assert!(sql.contains(
            "ADD COLUMN IF NOT EXISTS tenant_id uuid, ADD COLUMN IF NOT EXISTS seq bigint"
        ));
        assert_eq!(
            sql.matches("CREATE INDEX IF NOT EXISTS").count(),
            INDEXES.len()
        );
        assert!(sql.contains("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON \"audit\".\"audit_chain_checkpoints\" FROM PUBLIC;"));
        let p = partitioned_sql(&t, MAR_15_2026, 2);
        assert!(p.contains("PRIMARY KEY (id, \"timestamp\")\n) PARTITION BY RANGE"));
        assert!(p.contains("\"audit_logs_default\" PARTITION OF \"audit\".\"audit_logs\" DEFAULT"));
        assert_eq!(p.matches("FOR VALUES FROM").count(), 3);
    }
}
