//! An audited table as the adapters' statements take it (where it is, its columns with their
//! image keys, its key), and the Prisma extension's statements over it: the catalog query that
//! finds its columns and key, and the images of the rows a mutation touches, by key, optionally
//! locking them. Built once per table and kept by the adapter.

use super::image::{image_sql, ImageColumn};
use crate::error::{Error, Result};
use crate::sql::{literal, Ident};

/// An audited table: where it is, its columns (name, SQL type, image key) and its key columns.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditTableSpec"))]
pub struct TableSpec {
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub schema: Option<String>,
    pub name: String,
    /// `[name, SQL type]` keeps the column name as the image key; `[name, SQL type, key]` names it.
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(
        feature = "ts",
        ts(type = "Array<[string, string] | [string, string, string]>", optional)
    )]
    pub columns: Vec<ImageColumn>,
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<_>", optional))]
    pub key: Vec<String>,
}

/// A table's reference (schema-qualified when a schema is given) and its row image as text.
pub(crate) struct Table {
    pub reference: String,
    pub name: Ident,
    /// The image of a row of the table (`<reference>.*`), as text.
    pub image: String,
    pub key: Vec<Ident>,
}

impl TableSpec {
    pub(crate) fn resolve(&self) -> Result<Table> {
        let name = Ident::new("table.name", &self.name)?;
        let reference = match &self.schema {
            Some(s) => format!(
                "{}.{}",
                Ident::new("table.schema", s)?.quoted(),
                name.quoted()
            ),
            None => name.quoted(),
        };
        for (i, c) in self.columns.iter().enumerate() {
            Ident::new(&format!("table.columns[{i}]"), &c.name)?;
        }
        let key = self
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| Ident::new(&format!("table.key[{i}]"), k))
            .collect::<Result<Vec<_>>>()?;
        let image = format!(
            "{}::text",
            image_sql(&format!("{reference}.*"), &self.columns)
        );
        Ok(Table {
            reference,
            name,
            image,
            key,
        })
    }
}

/// Prisma's statements for a table. `columns` needs only `schema` and `name`; the image
/// statements need the columns and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditTableSql"))]
pub struct TableSql {
    /// The table as statements name it.
    #[cfg_attr(feature = "serde", serde(rename = "ref"))]
    pub reference: String,
    /// Its columns in order: `name`, `type` (`format_type`), `pk` (position in the primary
    /// key, null outside it); no rows when the table does not exist.
    pub columns: String,
    /// `ctid` and `image` (text) of the rows whose keys are given: parameter `$i` holds the
    /// values of key column `i` as a text array.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub images: Option<String>,
    /// The same, locking the rows `FOR UPDATE` first.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub images_locked: Option<String>,
}

/// # Errors
/// `InvalidIdentifier` for a bad name, `InvalidArgument` for a key column missing from the
/// columns.
pub fn table_sql(spec: &TableSpec) -> Result<TableSql> {
    let t = spec.resolve()?;
    let columns = format!(
        "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, array_position(i.indkey::int2[], a.attnum) AS pk \
FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary \
WHERE a.attrelid = to_regclass({}) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        literal(&t.reference)
    );
    let mut out = TableSql {
        reference: t.reference.clone(),
        columns,
        images: None,
        images_locked: None,
    };
    if spec.columns.is_empty() || t.key.is_empty() {
        return Ok(out);
    }
    let mut types = Vec::with_capacity(t.key.len());
    for (i, k) in t.key.iter().enumerate() {
        let column = spec
            .columns
            .iter()
            .find(|c| c.name == k.as_str())
            .ok_or_else(|| Error::InvalidArgument {
                field: format!("table.key[{i}]"),
                reason: format!("{:?} is not one of the columns", k.as_str()),
            })?;
        types.push(format!("${}::text[]::{}[]", i + 1, column.sql_type));
    }
    let keys: Vec<String> = t.key.iter().map(|k| format!("t.{}", k.quoted())).collect();
    let images = format!(
        "SELECT t.ctid::text AS ctid, {}::text AS image FROM {} AS t WHERE ({}) IN (SELECT * FROM unnest({}))",
        image_sql("t.*", &spec.columns),
        t.reference,
        keys.join(", "),
        types.join(", ")
    );
    out.images_locked = Some(format!("{images} FOR UPDATE OF t"));
    out.images = Some(images);
    Ok(out)
}
