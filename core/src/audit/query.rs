//! Compiles an `AuditQuerySpec` into one parameterised `SELECT` on `audit_logs`.
//!
//! Same filter semantics as the reference's Drizzle adapter, with its defects fixed: the limit
//! is the spec's (up to the configured maximum), not a hidden 250; the cursor compares full
//! microsecond timestamps as a row value `(timestamp, id)`, which the
//! `audit_logs_timestamp_id_idx` index answers directly.

use serde_json::{json, Value};

use super::{cursor, duration, time};
use crate::error::{Error, Result};
use crate::sql::Ident;

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditResource", optional_fields))]
pub struct Resource {
    pub table_name: String,
    pub record_id: Option<String>,
}

/// `{ date }` (ISO timestamp) or `{ duration }` (`30d`, resolved against `now`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditTimeFilter", optional_fields))]
pub struct TimeFilter {
    pub date: Option<String>,
    pub duration: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase", default))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditQueryFilters", optional_fields))]
pub struct Filters {
    pub resource: Option<Resource>,
    #[cfg_attr(feature = "ts", ts(as = "Option<_>"))]
    pub actor_ids: Vec<String>,
    #[cfg_attr(feature = "ts", ts(as = "Option<_>"))]
    pub severities: Vec<String>,
    #[cfg_attr(feature = "ts", ts(as = "Option<_>"))]
    pub compliance: Vec<String>,
    pub since: Option<TimeFilter>,
    pub until: Option<TimeFilter>,
    pub search_text: Option<String>,
    #[cfg_attr(feature = "ts", ts(as = "Option<_>"))]
    pub operations: Vec<String>,
    /// Restricts to one tenant's entries (our `tenant_id` column).
    pub tenant_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase", default))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditQuerySpec", optional_fields))]
pub struct QuerySpec {
    pub filters: Filters,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = r#""asc" | "desc""#, optional))]
    pub sort_order: Option<String>,
}

/// SQL text, its parameters (as JSON: strings and arrays), and the page size. The statement
/// fetches `limit + 1` rows; an extra row means there is a next page.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "CompiledAuditQuery"))]
pub struct Compiled {
    pub sql: String,
    /// The conditions alone (no `WHERE`), empty when there are none; they use the first
    /// parameters, the limit is always the last one.
    #[cfg_attr(feature = "serde", serde(rename = "where"))]
    pub where_sql: String,
    #[cfg_attr(feature = "ts", ts(type = "unknown[]"))]
    pub params: Vec<Value>,
    pub limit: u32,
}

const MAX_SEARCH: usize = 500;
const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];
const OPERATIONS: [&str; 3] = ["INSERT", "UPDATE", "DELETE"];

/// PostgreSQL text cannot hold NUL: the database would fail the statement instead.
fn no_nul(f: &Filters) -> Result<()> {
    let resource = f.resource.iter().flat_map(|r| {
        [
            ("resource.tableName", Some(&r.table_name)),
            ("resource.recordId", r.record_id.as_ref()),
        ]
    });
    let texts = resource
        .chain(f.actor_ids.iter().map(|a| ("actorIds", Some(a))))
        .chain(f.compliance.iter().map(|c| ("compliance", Some(c))))
        .chain([
            ("searchText", f.search_text.as_ref()),
            ("tenantId", f.tenant_id.as_ref()),
        ]);
    for (field, text) in texts {
        if text.is_some_and(|t| t.contains('\0')) {
            return Err(Error::config(field, "text without NUL characters"));
        }
    }
    Ok(())
}

fn only_known(field: &str, values: &[String], known: &[&str]) -> Result<()> {
    match values.iter().find(|v| !known.contains(&v.as_str())) {
        None => Ok(()),
        Some(bad) => Err(Error::config(
            field,
            format!("one of {}, got {bad:?}", known.join(", ")),
        )),
    }
}

/// The row's timestamp as exact text (drivers turn `timestamptz` into millisecond dates), for
/// building the next cursor.
pub(crate) const CURSOR_TS: &str =
    "to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

struct Builder {
    conditions: Vec<String>,
    params: Vec<Value>,
}

impl Builder {
    fn param(&mut self, v: Value, cast: &str) -> String {
        self.params.push(v);
        format!("${}::{cast}", self.params.len())
    }

    fn any_of(&mut self, column: &str, values: &[String]) {
        let mut unique: Vec<&String> = Vec::new();
        for v in values {
            if !unique.contains(&v) {
                unique.push(v);
            }
        }
        match unique.as_slice() {
            [] => {}
            [one] => {
                let p = self.param(json!(one), "text");
                self.conditions.push(format!("{column} = {p}"));
            }
            many => {
                let p = self.param(json!(many), "text[]");
                self.conditions.push(format!("{column} = ANY({p})"));
            }
        }
    }
}

fn instant(f: &TimeFilter, now: i64, field: &str) -> Result<i64> {
    match (&f.date, &f.duration) {
        (Some(d), None) => time::parse_iso(d)
            .ok_or_else(|| Error::config(field, format!("an ISO 8601 timestamp, got {d:?}"))),
        (None, Some(d)) => duration::before(d, now),
        _ => Err(Error::config(field, "exactly one of `date` and `duration`")),
    }
}

/// Escapes `%`, `_` and `\` for `ILIKE … ESCAPE '\'`.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Compiles `spec` for `table` (usually `audit_logs`, optionally schema-qualified).
///
/// # Errors
/// `InvalidConfig` for out-of-range limits, long search text or bad times; `InvalidCursor`,
/// `InvalidDuration` as named.
pub fn compile(spec: &QuerySpec, table: &str, now_micros: i64, max_limit: u32) -> Result<Compiled> {
    let limit = spec.limit.unwrap_or(50.min(max_limit));
    if limit == 0 {
        return Err(Error::config("limit", "greater than 0, got 0"));
    }
    if limit > max_limit {
        return Err(Error::config(
            "limit",
            format!("at most the maximum allowed limit of {max_limit}, got {limit}"),
        ));
    }
    let desc = match spec.sort_order.as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(Error::config(
                "sortOrder",
                format!("\"asc\" or \"desc\", got {other:?}"),
            ))
        }
    };
    let f = &spec.filters;
    // Unknown values could only ever match rows a foreign writer stored badly; refusing them
    // here names the mistake instead.
    only_known("severities", &f.severities, &SEVERITIES)?;
    only_known("operations", &f.operations, &OPERATIONS)?;
    no_nul(f)?;
    let mut b = Builder {
        conditions: Vec::new(),
        params: Vec::new(),
    };
    if let Some(r) = &f.resource {
        let p = b.param(json!(r.table_name), "text");
        b.conditions.push(format!("table_name = {p}"));
        if let Some(id) = &r.record_id {
            let p = b.param(json!(id), "text");
            b.conditions.push(format!("record_id = {p}"));
        }
    }
    b.any_of("actor_id", &f.actor_ids);
    b.any_of("severity", &f.severities);
    b.any_of("operation", &f.operations);
    if let Some(t) = &f.tenant_id {
        let p = b.param(json!(t), "uuid");
        b.conditions.push(format!("tenant_id = {p}"));
    }
    if !f.compliance.is_empty() {
        let p = b.param(json!(json!(f.compliance).to_string()), "jsonb");
        b.conditions.push(format!("compliance @> {p}"));
    }
    for (filter, op, field) in [(&f.since, ">=", "since"), (&f.until, "<=", "until")] {
        if let Some(tf) = filter {
            let at = instant(tf, now_micros, field)?;
            let p = b.param(json!(time::format_iso(at)), "timestamptz");
            b.conditions.push(format!("\"timestamp\" {op} {p}"));
        }
    }
    if let Some(text) = f.search_text.as_deref().filter(|t| !t.is_empty()) {
        if text.chars().count() > MAX_SEARCH {
            return Err(Error::config(
                "searchText",
                format!(
                    "at most {MAX_SEARCH} characters, got {}",
                    text.chars().count()
                ),
            ));
        }
        let p = b.param(json!(like_pattern(text)), "text");
        b.conditions.push(format!(
            "(label ILIKE {p} ESCAPE '\\' OR description ILIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(c) = &spec.cursor {
        let (t, id) = cursor::decode(c)?;
        let pt = b.param(json!(time::format_iso(t)), "timestamptz");
        let pi = b.param(json!(id), "uuid");
        b.conditions.push(format!(
            "(\"timestamp\", id) {} ({pt}, {pi})",
            if desc { "<" } else { ">" }
        ));
    }
    let table = table
        .split('.')
        .map(|part| Ident::new("table", part).map(|i| i.quoted()))
        .collect::<Result<Vec<_>>>()?
        .join(".");
    let dir = if desc { "DESC" } else { "ASC" };
    let where_sql = b.conditions.join(" AND ");
    let wheres = if where_sql.is_empty() {
        String::new()
    } else {
        format!(" WHERE {where_sql}")
    };
    let lp = b.param(json!(limit + 1), "int");
    Ok(Compiled {
        sql: format!(
            "SELECT *, {CURSOR_TS} AS cursor_ts FROM {table}{wheres} ORDER BY \"timestamp\" {dir}, id {dir} LIMIT {lp}"
        ),
        params: b.params,
        where_sql,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000_000_000;

    #[test]
    fn every_filter() {
        let spec = QuerySpec {
            filters: Filters {
                resource: Some(Resource {
                    table_name: "users".into(),
                    record_id: Some("1".into()),
                }),
                actor_ids: vec!["a".into(), "a".into(), "b".into()],
                severities: vec!["high".into()],
                compliance: vec!["gdpr".into(), "soc2".into()],
                since: Some(TimeFilter {
                    date: None,
                    duration: Some("24h".into()),
                }),
                search_text: Some("100%_".into()),
                operations: vec!["UPDATE".into()],
                ..Filters::default()
            },
            limit: Some(5),
            cursor: None,
            sort_order: Some("asc".into()),
        };
        let c = compile(&spec, "audit_logs", NOW, 1000).unwrap();
        assert_eq!(
            c.sql,
            "SELECT *, to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS cursor_ts FROM \"audit_logs\" WHERE table_name = $1::text AND record_id = $2::text AND actor_id = ANY($3::text[]) AND severity = $4::text AND operation = $5::text AND compliance @> $6::jsonb AND \"timestamp\" >= $7::timestamptz AND (label ILIKE $8::text ESCAPE '\\' OR description ILIKE $8::text ESCAPE '\\') ORDER BY \"timestamp\" ASC, id ASC LIMIT $9::int"
        );
        assert_eq!(c.params[2], json!(["a", "b"]));
        assert_eq!(c.params[5], json!("[\"gdpr\",\"soc2\"]"));
        assert_eq!(
            c.params[6],
            json!(time::format_iso(NOW - 24 * 3_600_000_000))
        );
        assert_eq!(c.params[7], json!("%100\\%\\_%"));
        assert_eq!(c.params[8], json!(6));
        assert!(c.sql.contains(&format!(" WHERE {} ORDER BY", c.where_sql)));
        assert!(c.where_sql.starts_with("table_name = $1::text AND"));
        let none = compile(&QuerySpec::default(), "audit_logs", NOW, 1000).unwrap();
        assert_eq!(none.where_sql, "");
        let mut bad = QuerySpec::default();
        bad.filters.severities = vec!["urgent".into()];
        let err = compile(&bad, "audit_logs", NOW, 1000).unwrap_err();
        assert!(err.to_string().contains("severities"), "{err}");
        assert!(err.to_string().contains("\"urgent\""), "{err}");
    }

    #[test]
    fn cursor_and_limits() {
        let cur = cursor::encode(NOW + 7, "0f8fad5b-d9cb-469f-a165-70867728950e");
        let c = compile(
            &QuerySpec {
                cursor: Some(cur),
                ..QuerySpec::default()
            },
            "audit.audit_logs",
            NOW,
            1000,
        )
        .unwrap();
        assert!(c.sql.contains("FROM \"audit\".\"audit_logs\" WHERE (\"timestamp\", id) < ($1::timestamptz, $2::uuid) ORDER BY \"timestamp\" DESC"), "{}", c.sql);
        assert_eq!(
            c.params[0],
            json!(time::format_iso(NOW + 7)),
            "microseconds kept"
        );
        assert_eq!(c.limit, 50);
        assert_eq!(
            compile(
                &QuerySpec {
                    limit: Some(1000),
                    ..QuerySpec::default()
                },
                "audit_logs",
                NOW,
                1000
            )
            .unwrap()
            .limit,
            1000
        );
        for (limit, max) in [(0, 1000), (1001, 1000)] {
            let e = compile(
                &QuerySpec {
                    limit: Some(limit),
                    ..QuerySpec::default()
                },
                "audit_logs",
                NOW,
                max,
            )
            .unwrap_err();
            assert_eq!(e.code(), "INVALID_CONFIG");
        }
        let long = QuerySpec {
            filters: Filters {
                search_text: Some("x".repeat(501)),
                ..Filters::default()
            },
            ..QuerySpec::default()
        };
        assert!(compile(&long, "audit_logs", NOW, 1000)
            .unwrap_err()
            .to_string()
            .contains("got 501"));
        let bad_cursor = QuerySpec {
            cursor: Some("nope".into()),
            ..QuerySpec::default()
        };
        assert_eq!(
            compile(&bad_cursor, "audit_logs", NOW, 1000)
                .unwrap_err()
                .code(),
            "INVALID_CURSOR"
        );
    }

    #[test]
    fn nul_in_text_names_its_field() {
        for (filters, field) in [
            (
                Filters {
                    search_text: Some("a\0b".into()),
                    ..Filters::default()
                },
                "searchText",
            ),
            (
                Filters {
                    actor_ids: vec!["ok".into(), "\0".into()],
                    ..Filters::default()
                },
                "actorIds",
            ),
        ] {
            let spec = QuerySpec {
                filters,
                ..QuerySpec::default()
            };
            let e = compile(&spec, "audit_logs", NOW, 1000).unwrap_err();
            assert_eq!(e.code(), "INVALID_CONFIG");
            assert!(e.to_string().contains(field), "{e}");
        }
    }
}
