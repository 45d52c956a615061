//! A statement the core planned, bound and read back as JSON: each JSON parameter is bound as
//! the type its statement declares, and each row comes back as an object by column type. Shared
//! by the webhooks and email operator commands.

use std::error::Error as StdError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};
use tokio_postgres::Row;
use usebetter_core::audit::time::{format_iso, parse_iso};
use usebetter_core::webhooks::store::Statement;
use usebetter_core::{CliFailure, Error, Result};
use uuid::Uuid;

/// One parameter, as the statement declares it; `None` is SQL NULL.
#[derive(Debug)]
pub(crate) enum Bound {
    Uuid(Option<Uuid>),
    Text(Option<String>),
    Int(Option<i32>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Time(Option<SystemTime>),
    /// Microseconds and days (PostgreSQL's binary interval, months 0).
    Interval(Option<(i64, i32)>),
    Json(Option<Value>),
}

impl ToSql for Bound {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Bound::Uuid(v) => v.to_sql(ty, out),
            Bound::Text(v) => v.to_sql(ty, out),
            // The server infers `LIMIT $n` as bigint: the width follows the parameter's type.
            Bound::Int(v) if *ty == Type::INT8 => v.map(i64::from).to_sql(ty, out),
            Bound::Int(v) if *ty == Type::INT2 => v.map(i16::try_from).transpose()?.to_sql(ty, out),
            Bound::Int(v) => v.to_sql(ty, out),
            Bound::Float(v) => v.to_sql(ty, out),
            Bound::Bool(v) => v.to_sql(ty, out),
            Bound::Time(v) => v.to_sql(ty, out),
            Bound::Json(v) => v.to_sql(ty, out),
            Bound::Interval(None) => Ok(IsNull::Yes),
            Bound::Interval(Some((micros, days))) => {
                out.put_i64(*micros);
                out.put_i32(*days);
                out.put_i32(0);
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        // Each value is built for the type its statement declares (see `bind`).
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// A statement and its planned values that do not fit: a bug, not the user's input.
fn internal(what: String) -> Error {
    CliFailure::Internal.with(format!("internal error: {what}"))
}

fn time(text: &str) -> Option<SystemTime> {
    let us = parse_iso(text)?;
    let abs = Duration::from_micros(us.unsigned_abs());
    if us >= 0 {
        UNIX_EPOCH.checked_add(abs)
    } else {
        UNIX_EPOCH.checked_sub(abs)
    }
}

/// `"24 hours"`, `"7 days"`: the core's stats windows.
fn interval(text: &str) -> Option<(i64, i32)> {
    let (n, unit) = text.split_once(' ')?;
    let n: i64 = n.parse().ok()?;
    match unit.trim_end_matches('s') {
        "hour" => Some((n * 3_600_000_000, 0)),
        "day" => Some((0, i32::try_from(n).ok()?)),
        _ => None,
    }
}

/// The statement's parameters from the core's JSON values, each as its declared type.
pub(crate) fn bind(statement: &Statement, values: &[Value]) -> Result<Vec<Bound>> {
    if values.len() != statement.params.len() {
        return Err(internal(format!(
            "{} values for {} parameters",
            values.len(),
            statement.params.len()
        )));
    }
    statement
        .params
        .iter()
        .zip(values)
        .map(|(p, v)| {
            let bad = || internal(format!("{} ({}) from {v}", p.name, p.pg_type));
            let text = v.as_str();
            // A value of another JSON type than the parameter's is a bug, never a NULL.
            let fits = match p.pg_type {
                "int" => v.as_i64().is_some(),
                "double precision" => v.as_f64().is_some(),
                "boolean" => v.as_bool().is_some(),
                "jsonb" => true,
                _ => text.is_some(),
            };
            if !fits && !v.is_null() {
                return Err(bad());
            }
            Ok(match p.pg_type {
                "uuid" => Bound::Uuid(
                    text.map(|t| Uuid::parse_str(t).map_err(|_| bad()))
                        .transpose()?,
                ),
                "text" => Bound::Text(text.map(str::to_owned)),
                "int" => Bound::Int(
                    v.as_i64()
                        .map(|n| i32::try_from(n).map_err(|_| bad()))
                        .transpose()?,
                ),
                "double precision" => Bound::Float(v.as_f64()),
                "boolean" => Bound::Bool(v.as_bool()),
                "jsonb" => Bound::Json(Some(v.clone()).filter(|v| !v.is_null())),
                "timestamptz" => Bound::Time(text.map(|t| time(t).ok_or_else(bad)).transpose()?),
                "interval" => {
                    Bound::Interval(text.map(|t| interval(t).ok_or_else(bad)).transpose()?)
                }
                _ => return Err(bad()),
            })
        })
        .collect()
}

fn micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// Column `i` read as `T` (NULL as `None`), as JSON.
fn column<'a, T: FromSql<'a> + Serialize>(row: &'a Row, i: usize) -> Result<Value> {
    let v: Option<T> = row
        .try_get(i)
        .map_err(|e| internal(format!("column {}: {e}", row.columns()[i].name())))?;
    Ok(json!(v))
}

/// One row as JSON, by column type (timestamps as ISO 8601 with microseconds).
pub(crate) fn row_json(row: &Row) -> Result<Value> {
    let mut out = Map::new();
    for (i, c) in row.columns().iter().enumerate() {
        let t = c.type_();
        let v = if *t == Type::UUID {
            json!(row
                .try_get::<_, Option<Uuid>>(i)
                .map_err(|e| internal(format!("column {}: {e}", c.name())))?
                .map(|u| u.to_string()))
        } else if *t == Type::TIMESTAMPTZ {
            json!(row
                .try_get::<_, Option<SystemTime>>(i)
                .map_err(|e| internal(format!("column {}: {e}", c.name())))?
                .map(|s| format_iso(micros(s))))
        } else if [Type::TEXT, Type::VARCHAR, Type::NAME].contains(t) {
            column::<String>(row, i)?
        } else if *t == Type::INT2 {
            column::<i16>(row, i)?
        } else if *t == Type::INT4 {
            column::<i32>(row, i)?
        } else if *t == Type::INT8 {
            column::<i64>(row, i)?
        } else if *t == Type::FLOAT4 {
            column::<f32>(row, i)?
        } else if *t == Type::FLOAT8 {
            column::<f64>(row, i)?
        } else if *t == Type::BOOL {
            column::<bool>(row, i)?
        } else if [Type::JSON, Type::JSONB].contains(t) {
            column::<Value>(row, i)?
        } else if *t == Type::TEXT_ARRAY {
            column::<Vec<String>>(row, i)?
        } else {
            return Err(internal(format!("column {} has type {t}", c.name())));
        };
        out.insert(c.name().to_owned(), v);
    }
    Ok(Value::Object(out))
}
