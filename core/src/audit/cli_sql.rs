//! Statements only `better-audit` runs: a digest of the schema objects a migration can create
//! or change, so that `migrate` can tell an up-to-date database (its idempotent DDL changed
//! nothing) from one it upgraded; and whether anything was ever sealed.

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

/// One row: `sealed` (any entry of `logs` has a seq) and `entries` (how many there are).
#[must_use]
pub fn sealing_state(logs: &str) -> String {
    format!("SELECT EXISTS (SELECT 1 FROM {logs} WHERE seq IS NOT NULL) AS sealed, (SELECT count(*) FROM {logs}) AS entries")
}
