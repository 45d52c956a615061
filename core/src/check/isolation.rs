//! `doctor`'s isolation probes as statements. Two probe tenants get one made-up row in every
//! tenant table (values synthesised per column type, foreign keys pointing at the probe rows
//! inserted before), then each operation is tried as tenant A against B's row. The CLI runs
//! them in one transaction that it rolls back; names are quoted here, once.

use crate::error::Result;
use crate::policy::TENANTS;
use crate::sql::{quote_ident, Ident};

/// The columns of `$1` (a table name as text) in order: name, type as `format_type` prints
/// it, whether an insert must give it a value (NOT NULL without default, identity or
/// generation), and its single-column foreign key as `table|column`.
pub const COLUMNS: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
    a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '',
    (SELECT f.confrelid::regclass::text || '|' || fa.attname::text
       FROM pg_constraint f JOIN pg_attribute fa ON fa.attrelid = f.confrelid AND fa.attnum = f.confkey[1]
      WHERE f.conrelid = a.attrelid AND f.contype = 'f' AND f.conkey = ARRAY[a.attnum]::int2[] LIMIT 1)
  FROM pg_attribute a WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

/// One row of [`COLUMNS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub required: bool,
    pub foreign_key: Option<String>,
}

/// A value expression for a required column, or `None` if none can be made up. A foreign key
/// points at a row of the same tenant (`tenant_param`), or at any row of a table without one.
#[must_use]
pub fn synthesize(data_type: &str, fk: Option<&str>, tenant_param: &str) -> Option<String> {
    if let Some(fk) = fk {
        let (table, column) = fk.split_once('|')?;
        let col = Ident::new("fk", column).ok()?.quoted();
        return Some(format!(
            "(SELECT r.{col} FROM {table} AS r WHERE to_jsonb(r) ->> 'tenant_id' IS NOT DISTINCT FROM {tenant_param}::text OR NOT (to_jsonb(r) ? 'tenant_id') LIMIT 1)"
        ));
    }
    let t = data_type.to_ascii_lowercase();
    let v = if t.starts_with("text") || t.starts_with("character") || t.starts_with("citext") {
        "'doctor-probe-' || md5(random()::text)".to_owned()
    } else if t == "smallint" {
        "(random() * 30000)::int2".to_owned()
    } else if t == "integer"
        || t == "bigint"
        || t.starts_with("numeric")
        || t == "real"
        || t == "double precision"
    {
        format!("(1000000000 + random() * 1000000000)::{t}")
    } else if t == "boolean" {
        "false".to_owned()
    } else if t == "uuid" {
        "gen_random_uuid()".to_owned()
    } else if t.starts_with("timestamp") || t == "date" || t.starts_with("time") {
        format!("now()::{t}")
    } else if t == "json" || t == "jsonb" {
        format!("'{{}}'::{t}")
    } else if t == "bytea" {
        "'\\x00'::bytea".to_owned()
    } else if t.ends_with("[]") {
        format!("'{{}}'::{t}")
    } else {
        return None;
    };
    Some(v)
}

/// How a probe row gets into a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeRow {
    /// `INSERT` of a row owned by the tenant in `$1`.
    Insert(String),
    /// No row can be made: why, as the probe reports it.
    Impossible(String),
}

/// The probe row's `INSERT` for `table` (quoted) with `columns` as [`COLUMNS`] read them.
#[must_use]
pub fn probe_row(table: &str, columns: &[Column]) -> ProbeRow {
    let mut cols = vec!["tenant_id".to_owned()];
    let mut vals = vec!["$1::text::uuid".to_owned()];
    for c in columns {
        if c.name == "tenant_id" || !c.required {
            continue;
        }
        let Some(v) = synthesize(&c.data_type, c.foreign_key.as_deref(), "$1") else {
            return ProbeRow::Impossible(format!(
                "cannot make up a value for column {} ({})",
                c.name, c.data_type
            ));
        };
        cols.push(quote_ident(&c.name));
        vals.push(v);
    }
    ProbeRow::Insert(format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        cols.join(", "),
        vals.join(", ")
    ))
}

/// A probe tenant in the tenants table of `schema`: `$1` id (text), `$2` slug.
///
/// # Errors
/// `InvalidIdentifier` for the schema.
pub fn probe_tenant_sql(schema: &str) -> Result<String> {
    Ok(format!(
        "INSERT INTO {}.{} (id, name, slug) VALUES ($1::text::uuid, 'doctor probe', $2)",
        Ident::new("schema", schema)?.quoted(),
        quote_ident(TENANTS)
    ))
}

/// The statements tried on one tenant table (quoted), `$1` a tenant id as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProbes {
    /// The tenant's row as JSON text, to copy.
    pub row_json: String,
    /// How many rows of the tenant are visible.
    pub count_tenant: String,
    /// Rewrites the tenant's rows with themselves.
    pub update: String,
    pub delete: String,
    /// Inserts a verbatim copy of a row given as JSON text: RLS's WITH CHECK runs before NOT
    /// NULL, foreign-key and unique checks, so a refusal with 42501 is the policy speaking.
    pub copy: String,
    /// How many rows are visible at all (no `$1`).
    pub count_all: String,
    /// How many rows of the tenants `$1` and `$2` are visible.
    pub count_both: String,
}

#[must_use]
pub fn table_probes(table: &str) -> TableProbes {
    let own = "tenant_id = $1::text::uuid";
    TableProbes {
        row_json: format!("SELECT to_jsonb(t)::text FROM {table} t WHERE {own} LIMIT 1"),
        count_tenant: format!("SELECT count(*) FROM {table} WHERE {own}"),
        update: format!("UPDATE {table} SET tenant_id = tenant_id WHERE {own}"),
        delete: format!("DELETE FROM {table} WHERE {own}"),
        copy: format!("INSERT INTO {table} SELECT * FROM jsonb_populate_record(NULL::{table}, $1::text::jsonb)"),
        count_all: format!("SELECT count(*) FROM {table}"),
        count_both: format!("SELECT count(*) FROM {table} WHERE tenant_id IN ($1::text::uuid, $2::text::uuid)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, data_type: &str, fk: Option<&str>) -> Column {
        Column {
            name: name.into(),
            data_type: data_type.into(),
            required: true,
            foreign_key: fk.map(str::to_owned),
        }
    }

    #[test]
    fn values_are_made_up_per_type() {
        assert_eq!(synthesize("uuid", None, "$1").unwrap(), "gen_random_uuid()");
        assert_eq!(
            synthesize("numeric(10,2)", None, "$1").unwrap(),
            "(1000000000 + random() * 1000000000)::numeric(10,2)"
        );
        assert_eq!(
            synthesize("integer[]", None, "$1").unwrap(),
            "'{}'::integer[]"
        );
        assert_eq!(synthesize("point", None, "$1"), None);
        let fk = synthesize("uuid", Some("\"public\".\"projects\"|id"), "$1").unwrap();
        assert!(fk.starts_with("(SELECT r.\"id\" FROM \"public\".\"projects\" AS r WHERE"));
    }

    #[test]
    fn probe_rows_fill_required_columns_only() {
        let mut optional = col("note", "text", None);
        optional.required = false;
        let row = probe_row(
            "\"public\".\"tasks\"",
            &[
                col("tenant_id", "uuid", None),
                col("Title", "text", None),
                optional,
            ],
        );
        assert_eq!(
            row,
            ProbeRow::Insert("INSERT INTO \"public\".\"tasks\" (tenant_id, \"Title\") VALUES ($1::text::uuid, 'doctor-probe-' || md5(random()::text))".into())
        );
        assert_eq!(
            probe_row("t", &[col("at", "point", None)]),
            ProbeRow::Impossible("cannot make up a value for column at (point)".into())
        );
        assert_eq!(
            probe_tenant_sql("app").unwrap(),
            "INSERT INTO \"app\".\"tenants\" (id, name, slug) VALUES ($1::text::uuid, 'doctor probe', $2)"
        );
        let p = table_probes("\"t\"");
        assert!(p
            .copy
            .ends_with("jsonb_populate_record(NULL::\"t\", $1::text::jsonb)"));
    }
}
