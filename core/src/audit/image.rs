//! Row images: the JSON an entry stores for a row, built in SQL over the row itself (so it is the
//! stored row, in the same statement), keyed and formatted as the ORM hands that row to the app:
//! Drizzle property names or Prisma field names, timestamps as JavaScript's
//! `Date.prototype.toISOString()` (`2020-01-01T00:00:00.000Z`). Entries written this way read the
//! same as the ones the reference wrote from JavaScript, so old and new rows of one table agree.

use crate::sql::literal;

/// One column of the imaged table: its name, SQL type and the key its value is stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(from = "Spec"))]
pub struct ImageColumn {
    pub name: String,
    pub sql_type: String,
    pub key: String,
}

/// `[name, type]` keeps the column name as the key; `[name, type, key]` names it.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Spec {
    Keyed(String, String, String),
    Plain(String, String),
}

#[cfg(feature = "serde")]
impl From<Spec> for ImageColumn {
    fn from(spec: Spec) -> Self {
        match spec {
            Spec::Keyed(name, sql_type, key) => ImageColumn {
                name,
                sql_type,
                key,
            },
            Spec::Plain(name, sql_type) => ImageColumn {
                key: name.clone(),
                name,
                sql_type,
            },
        }
    }
}

/// Whether a column of this SQL type is written as a string in row images (`int8` and
/// `numeric`, which JavaScript numbers cannot hold exactly).
#[must_use]
pub fn keeps_as_text(sql_type: &str) -> bool {
    type_is(
        sql_type,
        &[
            "bigint",
            "bigserial",
            "int8",
            "serial8",
            "numeric",
            "decimal",
        ],
    )
}

fn type_is(sql_type: &str, names: &[&str]) -> bool {
    let t = sql_type.trim_start().to_ascii_lowercase();
    names.iter().any(|p| {
        t.starts_with(p)
            && !t[p.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The timestamp kind of a SQL type: `Some(true)` with time zone, `Some(false)` without.
fn timestamp_kind(sql_type: &str) -> Option<bool> {
    let t = sql_type.to_ascii_lowercase();
    if type_is(&t, &["timestamptz"]) {
        Some(true)
    } else if type_is(&t, &["timestamp"]) {
        Some(t.contains("with time zone") && !t.contains("without time zone"))
    } else {
        None
    }
}

/// `toISOString()` of a timestamp value; one without a zone counts as UTC, as Drizzle reads it.
const ISO: &str = r#"'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'"#;

/// SQL for the JSON image of `row` (e.g. `"users".*`) in the table's column order: each value
/// under its column's key, [`keeps_as_text`] types as strings (as the drivers return them), and
/// timestamps in `toISOString()` form. `to_json` keeps the column order (`jsonb` would sort the
/// keys) but writes int8 and numeric as JSON numbers, which JavaScript rounds beyond 2^53.
#[must_use]
pub fn image_sql(row: &str, columns: &[ImageColumn]) -> String {
    let names = |pick: &dyn Fn(&ImageColumn) -> bool| -> String {
        let listed: Vec<String> = columns
            .iter()
            .filter(|c| pick(c))
            .map(|c| literal(&c.name))
            .collect();
        listed.join(", ")
    };
    let mut values = Vec::new();
    let exact = names(&|c| keeps_as_text(&c.sql_type));
    if !exact.is_empty() {
        values.push(format!(
            "WHEN e.k IN ({exact}) AND json_typeof(e.v) = 'number' THEN to_json(e.v #>> '{{}}')"
        ));
    }
    for (zoned, cast, at_utc) in [
        (true, "timestamptz", " AT TIME ZONE 'UTC'"),
        (false, "timestamp", ""),
    ] {
        let listed = names(&|c| timestamp_kind(&c.sql_type) == Some(zoned));
        if !listed.is_empty() {
            values.push(format!(
                "WHEN e.k IN ({listed}) AND json_typeof(e.v) = 'string' THEN to_json(to_char((e.v #>> '{{}}')::{cast}{at_utc}, {ISO}))"
            ));
        }
    }
    let renamed: Vec<String> = columns
        .iter()
        .filter(|c| c.key != c.name)
        .map(|c| format!("WHEN {} THEN {}", literal(&c.name), literal(&c.key)))
        .collect();
    if values.is_empty() && renamed.is_empty() {
        return format!("to_json({row})");
    }
    let key = if renamed.is_empty() {
        "e.k".to_owned()
    } else {
        format!("CASE e.k {} ELSE e.k END", renamed.join(" "))
    };
    let value = if values.is_empty() {
        "e.v".to_owned()
    } else {
        format!("CASE {} ELSE e.v END", values.join(" "))
    };
    format!("(SELECT json_object_agg({key}, {value} ORDER BY e.o) FROM json_each(to_json({row})) WITH ORDINALITY AS e(k, v, o))")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, sql_type: &str, key: &str) -> ImageColumn {
        ImageColumn {
            name: name.into(),
            sql_type: sql_type.into(),
            key: key.into(),
        }
    }

    #[test]
    fn precise_types() {
        for t in ["bigint", "numeric(10,2)", "int8", "BIGSERIAL", "decimal"] {
            assert!(keeps_as_text(t), "{t}");
        }
        for t in ["integer", "bigint_domain", "text", "numerical"] {
            assert!(!keeps_as_text(t), "{t}");
        }
    }

    #[test]
    fn timestamp_kinds() {
        for t in [
            "timestamptz",
            "timestamp with time zone",
            "timestamp (3) with time zone",
        ] {
            assert_eq!(timestamp_kind(t), Some(true), "{t}");
        }
        for t in ["timestamp", "timestamp without time zone", "timestamp(6)"] {
            assert_eq!(timestamp_kind(t), Some(false), "{t}");
        }
        for t in ["timestamps", "date", "text", "time with time zone"] {
            assert_eq!(timestamp_kind(t), None, "{t}");
        }
    }

    #[test]
    fn plain_rows_are_to_json() {
        assert_eq!(
            image_sql("t.*", &[col("id", "integer", "id")]),
            "to_json(t.*)"
        );
    }

    #[test]
    fn keys_exact_numbers_and_timestamps() {
        let sql = image_sql(
            "\"u\".*",
            &[
                col("id", "bigint", "id"),
                col("o'k", "numeric(10,2)", "ok"),
                col("created_at", "timestamp with time zone", "createdAt"),
                col("n", "text", "n"),
            ],
        );
        assert!(sql.contains("e.k IN ('id', 'o''k')"), "{sql}");
        assert!(
            sql.contains(
                "CASE e.k WHEN 'o''k' THEN 'ok' WHEN 'created_at' THEN 'createdAt' ELSE e.k END"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"),
            "{sql}"
        );
        assert!(
            sql.ends_with("FROM json_each(to_json(\"u\".*)) WITH ORDINALITY AS e(k, v, o))"),
            "{sql}"
        );
    }

    #[test]
    fn columns_read_as_pairs_or_triples() {
        let cols: Vec<ImageColumn> =
            serde_json::from_str(r#"[["id","int8"],["full_name","text","fullName"]]"#).unwrap();
        assert_eq!(
            cols,
            [
                col("id", "int8", "id"),
                col("full_name", "text", "fullName")
            ]
        );
    }
}
