//! Trigger capture: one PL/pgSQL function and a row trigger per audited table that write the
//! audit row for every row a statement touches — raw SQL, bulk updates, cascades, other
//! services — in the writing transaction. Actor, tenant and metadata come from
//! transaction-local settings ([`ACTOR_SETTING`], [`TENANT_SETTING`], [`METADATA_SETTING`])
//! that the proxy and middleware set; the tenant falls back to the tenant package's
//! `app.current_tenant`. Images match the library's: column order, `int8` and `numeric` as
//! strings, and the diff is [`super::diff::diff_sql`], the library's. Rows written here are
//! unsealed; `audit-cli seal` seals them.

use super::diff::diff_sql;
use super::storage::{Table, LOGS};
use crate::error::{Error, Result};
use crate::policy::context::CURRENT_TENANT;
use crate::sql::{dollar_quoted, literal, Ident};

/// The trigger's name on every audited table; the proxy looks for it to stand down.
pub const TRIGGER: &str = "usebetter_audit";

/// The capture function, in the schema of `audit_logs`.
pub const CAPTURE_FUNCTION: &str = "usebetter_audit_capture";

/// Transaction-local settings the trigger reads: the actor's id, the tenant (a UUID) and the
/// metadata (JSON text); empty means none.
pub const ACTOR_SETTING: &str = "usebetter.audit_actor";
pub const TENANT_SETTING: &str = "usebetter.audit_tenant";
pub const METADATA_SETTING: &str = "usebetter.audit_metadata";

/// `pg_trigger.tgtype` of the trigger [`triggers_sql`] creates: `FOR EACH ROW` (1), `INSERT`
/// (4), `DELETE` (8), `UPDATE` (16), neither `BEFORE` (2) nor `INSTEAD OF` (64), so `AFTER`.
pub const TRIGGER_TYPE: i16 = 1 | 4 | 8 | 16;

/// One audited table as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerTable {
    pub schema: String,
    pub name: String,
    pub key: Vec<String>,
    /// Columns written as strings in images (`int8`, `numeric`).
    pub precise: Vec<String>,
}

impl TriggerTable {
    /// The arguments its trigger passes to the capture function: the key columns and the
    /// precise columns, each comma-separated.
    #[must_use]
    pub fn trigger_args(&self) -> [String; 2] {
        [self.key.join(","), self.precise.join(",")]
    }
}

fn function_body(audit_logs: &str) -> String {
    let setting = |name: &str| format!("current_setting({}, true)", literal(name));
    let (actor, tenant, metadata, current_tenant) = (
        setting(ACTOR_SETTING),
        setting(TENANT_SETTING),
        setting(METADATA_SETTING),
        setting(CURRENT_TENANT),
    );
    let diff = diff_sql("old_j", "new_j");
    format!(
        r#"
DECLARE
  keys text[] := string_to_array(TG_ARGV[0], ',');
  precise text[] := coalesce(string_to_array(nullif(TG_ARGV[1], ''), ','), '{{}}');
  old_j json;
  new_j json;
  src json;
  rid text;
  changes jsonb;
  tenant text := nullif({tenant}, '');
BEGIN
  IF TG_OP <> 'INSERT' THEN
    SELECT json_object_agg(e.k, CASE WHEN e.k = ANY(precise) AND json_typeof(e.v) = 'number' THEN to_json(e.v #>> '{{}}') ELSE e.v END ORDER BY e.o)
      INTO old_j FROM json_each(to_json(OLD)) WITH ORDINALITY AS e(k, v, o);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    SELECT json_object_agg(e.k, CASE WHEN e.k = ANY(precise) AND json_typeof(e.v) = 'number' THEN to_json(e.v #>> '{{}}') ELSE e.v END ORDER BY e.o)
      INTO new_j FROM json_each(to_json(NEW)) WITH ORDINALITY AS e(k, v, o);
  END IF;
  src := coalesce(new_j, old_j);
  IF array_length(keys, 1) = 1 THEN
    rid := src ->> keys[1];
  ELSE
    -- '["1","x"]', spelled as the library spells composite ids.
    SELECT '[' || string_agg(to_json(src ->> k)::text, ',' ORDER BY o) || ']' INTO rid FROM unnest(keys) WITH ORDINALITY AS u(k, o);
  END IF;
  IF TG_OP = 'UPDATE' THEN
    changes := {diff};
  END IF;
  IF tenant IS NULL AND {current_tenant} ~* '^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$' THEN
    tenant := {current_tenant};
  END IF;
  -- clock_timestamp(): rows of one transaction keep the order they were written in.
  INSERT INTO {audit_logs} ("timestamp", table_name, operation, record_id, actor_id, before_data, after_data, diff, metadata, tenant_id)
  VALUES (clock_timestamp(), TG_TABLE_NAME, TG_OP, coalesce(rid, 'unknown'), nullif({actor}, ''),
          old_j::jsonb, new_j::jsonb, changes, nullif({metadata}, '')::jsonb, tenant::uuid);
  RETURN NULL;
END
"#
    )
}

/// The capture function (SECURITY DEFINER, so writers need no privilege on `audit_logs`) and
/// one trigger per table. Idempotent.
///
/// # Errors
/// An invalid table, schema or column name.
pub fn triggers_sql(t: &Table, tables: &[TriggerTable]) -> Result<String> {
    let function = t.qualified(CAPTURE_FUNCTION);
    let mut s = format!(
        "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS {};\n",
        dollar_quoted(&function_body(&t.qualified(LOGS)))
    );
    for table in tables {
        let schema = Ident::new("schema", &table.schema)?;
        let name = Ident::new("table", &table.name)?;
        for c in table.key.iter().chain(&table.precise) {
            Ident::new("column", c)?;
            if c.contains(',') {
                // The trigger receives its column lists comma-separated.
                return Err(Error::config(
                    "column",
                    format!("a column name without commas, got {c:?}"),
                ));
            }
        }
        let target = format!("{}.{}", schema.quoted(), name.quoted());
        let [key, precise] = table.trigger_args();
        s.push_str(&format!(
            "CREATE OR REPLACE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {target} FOR EACH ROW EXECUTE FUNCTION {function}({}, {});\n",
            literal(&key),
            literal(&precise),
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_and_triggers() {
        let t = Table::new("public").unwrap();
        let tables = [TriggerTable {
            schema: "app".into(),
            name: "Order Lines".into(),
            key: vec!["order_id".into(), "line".into()],
            precise: vec!["amount".into()],
        }];
        let sql = triggers_sql(&t, &tables).unwrap();
        assert!(sql.starts_with(
            "CREATE OR REPLACE FUNCTION \"public\".\"usebetter_audit_capture\"() RETURNS trigger"
        ));
        assert!(sql.contains("INSERT INTO \"public\".\"audit_logs\" (\"timestamp\", table_name"));
        assert!(sql.contains("ON \"app\".\"Order Lines\" FOR EACH ROW EXECUTE FUNCTION \"public\".\"usebetter_audit_capture\"('order_id,line', 'amount');"), "{sql}");
        assert!(
            sql.contains(&format!("changes := {};", diff_sql("old_j", "new_j"))),
            "the library's one SQL diff"
        );
        let bad = [TriggerTable {
            schema: "app".into(),
            name: "t".into(),
            key: vec!["a\0".into()],
            precise: vec![],
        }];
        assert!(triggers_sql(&t, &bad).is_err());
        let comma = [TriggerTable {
            schema: "app".into(),
            name: "t".into(),
            key: vec!["a,b".into()],
            precise: vec![],
        }];
        assert!(triggers_sql(&t, &comma)
            .unwrap_err()
            .to_string()
            .contains("without commas"));
    }
}
