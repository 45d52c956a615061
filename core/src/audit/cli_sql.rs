//! Statements only `better-audit` runs: a digest of the schema objects a migration can create
//! or change, so that `migrate` can tell an up-to-date database (its idempotent DDL changed
//! nothing) from one it upgraded.

/// Definitions are compared as PostgreSQL prints them, never by oid, because the DDL drops and
/// recreates policies and replaces functions and triggers with equal ones.
/// One row, one column (`digest`): md5 over every relation (kind, RLS flags, owner, grants,
/// partition bound), column, index, constraint, policy, non-internal trigger and function
/// (body digest, SECURITY DEFINER, settings, grants, owner) outside the system schemas.
pub const SCHEMA_DIGEST: &str = "SELECT md5(coalesce(string_agg(d, E'\\n' ORDER BY d), '')) AS digest FROM (
  SELECT format('rel %s.%s %s %s %s %s %s %s', n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
                pg_get_userbyid(c.relowner), c.relacl, pg_get_expr(c.relpartbound, c.oid)) AS d
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT format('col %s.%s.%s %s %s %s', n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                pg_get_expr(ad.adbin, ad.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT format('idx %s', pg_get_indexdef(i.indexrelid))
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT format('con %s.%s %s', n.nspname, co.conname, pg_get_constraintdef(co.oid))
    FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
   WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT format('pol %s %s %s %s %s %s %s', p.polrelid::regclass, p.polname, p.polcmd, p.polpermissive, p.polroles,
                pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
    FROM pg_policy p
  UNION ALL
  SELECT format('trg %s', pg_get_triggerdef(t.oid)) FROM pg_trigger t WHERE NOT t.tgisinternal
  UNION ALL
  SELECT format('fn %s %s %s %s %s %s', p.oid::regprocedure, md5(p.prosrc), p.prosecdef, p.proconfig, p.proacl,
                pg_get_userbyid(p.proowner))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
) s";

/// `relkind` of `$1` (a table name as text) as `kind`: `r` plain, `p` partitioned; no row
/// when it does not exist.
pub const RELATION_KIND: &str =
    "SELECT c.relkind::text AS kind FROM pg_class c WHERE c.oid = to_regclass($1)";

/// The columns of the table `$1` (a quoted name, see [`capture_target`]) in order: schema,
/// table, column, type as `format_type` prints it, position in the primary key (null outside
/// it). Trigger capture records the key and keeps exact numbers as text.
pub const CAPTURE_COLUMNS: &str = "SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), array_position(i.indkey::int2[], a.attnum)
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
   LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
  WHERE c.oid = to_regclass($1) ORDER BY a.attnum";

/// A table named in `auditTables` / `--tables` as [`CAPTURE_COLUMNS`] looks it up: the name
/// as written, quoted (so `Users` is not folded to `users`), on the search path.
#[must_use]
pub fn capture_target(name: &str) -> String {
    crate::sql::quote_ident(name)
}

/// `stats`: per table and operation (`table_name`, `operation`), how many entries and how
/// many of them unsealed.
#[must_use]
pub fn stats_counts(logs: &str) -> String {
    format!("SELECT table_name, operation, count(*), count(*) FILTER (WHERE seq IS NULL) FROM {logs} GROUP BY 1, 2 ORDER BY 1, 2")
}

/// Rows `export` writes per statement.
pub const EXPORT_PAGE: i64 = 1000;

/// One page of `export` in `("timestamp", id)` order after `$1` (ISO instant, text), `$2`
/// (id, text), the sealed columns as text; `first` includes the position itself.
#[must_use]
pub fn export_page(logs: &str, first: bool) -> String {
    format!(
        "SELECT {} FROM {logs} WHERE (\"timestamp\", id) {} ($1::text::timestamptz, $2::text::uuid) ORDER BY \"timestamp\", id LIMIT {EXPORT_PAGE}",
        super::chain_sql::sealed_text_columns(),
        if first { ">=" } else { ">" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements() {
        assert_eq!(capture_target("Us\"ers"), "\"Us\"\"ers\"");
        let page = export_page("\"a\".\"audit_logs\"", true);
        assert!(page.contains("FROM \"a\".\"audit_logs\" WHERE (\"timestamp\", id) >= ($1"));
        assert!(page.ends_with("LIMIT 1000"));
        assert!(export_page("x", false).contains(") > ($1"));
        assert!(
            stats_counts("x").contains("count(*) FILTER (WHERE seq IS NULL) FROM x GROUP BY 1, 2")
        );
    }
}
