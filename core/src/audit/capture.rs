//! The statement the Drizzle proxy runs for one audited mutation of a table, built once per
//! table and kept by the proxy: a CTE `"__audit_rows"` holding the mutation with `RETURNING` of
//! the stored rows and their images (an UPDATE first locks and images the rows it replaces),
//! then either a select of the images for the JavaScript pipeline or, for inline capture, a
//! second CTE that writes the audit rows itself, with the diff of [`super::diff::diff_sql`]. The
//! parts the ORM builds (the mutation, its `SET` and `WHERE`, the caller's `RETURNING` list) and
//! the context values arrive in named slots.

use super::diff::diff_sql;
use super::storage::LOGS;
use super::table::{Table, TableSpec};
use crate::error::{Error, Result};
use crate::sql::{literal, Ident};

/// The mutation an audited statement captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "UPPERCASE"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditOperation"))]
pub enum Operation {
    Insert,
    Update,
    Delete,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Insert => "INSERT",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }
}

/// Inline capture: the statement writes the audit rows itself.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditInlineCapture"))]
pub struct Inline {
    /// The table has `tenant_id` (one made for the reference lacks it until `migrate`).
    pub tenant: bool,
    /// Store no before image (every field then counts as changed).
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<_>", optional))]
    pub skip_before: bool,
}

#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditCaptureSpec"))]
pub struct CaptureSpec {
    pub table: TableSpec,
    pub operation: Operation,
    /// An INSERT … ON CONFLICT DO UPDATE: each row says whether it was inserted.
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<_>", optional))]
    pub upsert: bool,
    /// Write the audit rows in the statement itself.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub inline: Option<Inline>,
}

/// A piece of a statement: SQL text, or a slot the adapter fills. An empty slot is left out
/// with its `before` and `after` texts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditSqlPart"))]
pub enum Part {
    Text(String),
    Slot {
        slot: &'static str,
        #[cfg_attr(feature = "serde", serde(skip_serializing_if = "str::is_empty"))]
        #[cfg_attr(feature = "ts", ts(as = "Option<_>", optional))]
        before: &'static str,
        #[cfg_attr(feature = "serde", serde(skip_serializing_if = "str::is_empty"))]
        #[cfg_attr(feature = "ts", ts(as = "Option<_>", optional))]
        after: &'static str,
    },
}

fn slot(name: &'static str) -> Part {
    Part::Slot {
        slot: name,
        before: "",
        after: "",
    }
}

/// The statement of one audited mutation. Slots: `mutation` (INSERT and DELETE: the mutation,
/// returning every column, the image as `imageAs` and, for an upsert, `inserted` as
/// `insertedAs`), `set` and `where` (UPDATE), `returning` (the caller's `RETURNING` list), and
/// for inline capture the parameters `actor_id`, `label`, `reason`, `compliance` (JSON text),
/// `metadata` (JSON text) and, with a tenant column, `tenant_id`.
///
/// Without inline capture the statement returns the caller's columns, then the before image
/// (text, UPDATE only, else null), the image and, for an upsert, whether the row was inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditCaptureSql"))]
pub struct CaptureSql {
    /// The row image as text, for the `RETURNING` list of a mutation the adapter builds.
    pub image: String,
    pub image_as: &'static str,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub inserted: Option<&'static str>,
    pub inserted_as: &'static str,
    pub statement: Vec<Part>,
}

const ROWS: &str = "\"__audit_rows\"";
const IMAGE: &str = "__audit_image";
const BEFORE: &str = "\"__audit_before\"";
const INSERTED: &str = "__audit_inserted";

/// # Errors
/// `InvalidIdentifier` for a bad name, `InvalidArgument` for an UPDATE without key columns.
pub fn capture_sql(spec: &CaptureSpec) -> Result<CaptureSql> {
    let t = spec.table.resolve()?;
    let r = &t.reference;
    let text = |s: String| Part::Text(s);
    let mut parts = Vec::new();
    if spec.operation == Operation::Update {
        if t.key.is_empty() {
            return Err(Error::InvalidArgument {
                field: "table.key".into(),
                reason: "an audited UPDATE needs the columns that identify a row".into(),
            });
        }
        // The old rows are locked by the subquery before the UPDATE touches them, so the before
        // image is exactly the version that was replaced, even under concurrent writers. The
        // subquery exposes only its own column names, so an unqualified column in the caller's
        // SET expressions still means the target row's.
        let k = |i: usize| format!("\"__audit_k{i}\"");
        let keys: Vec<String> = t
            .key
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{r}.{} as {}", c.quoted(), k(i)))
            .collect();
        let matches: Vec<String> = t
            .key
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{r}.{} = \"__audit_old\".{}", c.quoted(), k(i)))
            .collect();
        parts.push(text(format!("with {ROWS} as (update {r} set ")));
        parts.push(slot("set"));
        parts.push(text(format!(
            " from (select {}, {} as {BEFORE} from {r}",
            keys.join(", "),
            t.image
        )));
        parts.push(Part::Slot {
            slot: "where",
            before: " where ",
            after: "",
        });
        parts.push(text(format!(
            " for update) as \"__audit_old\" where {} returning {r}.*, {} as \"{IMAGE}\", \"__audit_old\".{BEFORE})",
            matches.join(" and "),
            t.image
        )));
    } else {
        parts.push(text(format!("with {ROWS} as (")));
        parts.push(slot("mutation"));
        parts.push(text(")".into()));
    }
    let returning = Part::Slot {
        slot: "returning",
        before: "",
        after: ", ",
    };
    let alias = t.name.quoted();
    match spec.inline {
        None => {
            let before = if spec.operation == Operation::Update {
                BEFORE
            } else {
                "null"
            };
            let inserted = if spec.upsert {
                format!(", \"{INSERTED}\"")
            } else {
                String::new()
            };
            parts.push(text(" select ".into()));
            parts.push(returning);
            parts.push(text(format!(
                "{before}, \"{IMAGE}\"{inserted} from {ROWS} as {alias}"
            )));
        }
        Some(inline) => {
            inline_log(&mut parts, spec, &t, inline);
            parts.push(text(" select ".into()));
            parts.push(returning);
            parts.push(text(format!("1 from {ROWS} as {alias}")));
        }
    }
    Ok(CaptureSql {
        image: t.image,
        image_as: IMAGE,
        inserted: spec.upsert.then_some("(xmax = 0)"),
        inserted_as: INSERTED,
        statement: merge(parts),
    })
}

/// The CTE that writes one audit row per captured row `r`: images, the diff, the record id
/// (the key's text, or a JSON array of them), the context values from slots.
fn inline_log(parts: &mut Vec<Part>, spec: &CaptureSpec, t: &Table, inline: Inline) {
    let op = spec.operation;
    let image = format!("r.\"{IMAGE}\"");
    let key: Vec<String> = t
        .key
        .iter()
        .map(|c| format!("r.{}::text", c.quoted()))
        .collect();
    let record_id = match key.as_slice() {
        [one] => one.clone(),
        _ => format!("to_json(array[{}])::text", key.join(", ")),
    };
    let operation = if spec.upsert {
        format!("case when r.\"{INSERTED}\" then 'INSERT' else 'UPDATE' end")
    } else {
        literal(op.as_str())
    };
    let before = match op {
        _ if inline.skip_before => "null::jsonb".to_owned(),
        Operation::Update => format!("r.{BEFORE}::jsonb"),
        Operation::Delete => format!("{image}::jsonb"),
        Operation::Insert => "null::jsonb".to_owned(),
    };
    let after = if op == Operation::Delete {
        "null::jsonb".to_owned()
    } else {
        format!("{image}::jsonb")
    };
    let diff = if op == Operation::Update {
        let old = if inline.skip_before {
            "'{}'::json".to_owned()
        } else {
            format!("r.{BEFORE}::json")
        };
        diff_sql(&old, &format!("{image}::json"))
    } else {
        "null::jsonb".to_owned()
    };
    // A table made for the reference has no tenant_id until `better-audit migrate` adds it.
    let tenant_column = if inline.tenant { ", tenant_id" } else { "" };
    parts.push(Part::Text(format!(
        ", \"__audit_log\" as (insert into {} (id, \"timestamp\", table_name, operation, record_id, actor_id, before_data, after_data, diff, label, reason, compliance, metadata{tenant_column}) \
select gen_random_uuid(), clock_timestamp(), {}, {operation}, {record_id}, ",
        Ident::fixed(LOGS).quoted(),
        literal(t.name.as_str()),
    )));
    parts.push(slot("actor_id"));
    parts.push(Part::Text(format!(", {before}, {after}, {diff}")));
    let tenant = [("tenant_id", "::uuid")];
    let values = [
        ("label", ""),
        ("reason", ""),
        ("compliance", "::jsonb"),
        ("metadata", "::jsonb"),
    ];
    for (name, cast) in values
        .iter()
        .chain(if inline.tenant { &tenant[..] } else { &[] })
    {
        parts.push(Part::Text(", ".into()));
        parts.push(slot(name));
        parts.push(Part::Text((*cast).into()));
    }
    parts.push(Part::Text(format!(" from {ROWS} as r)")));
}

/// Adjacent texts joined, so the adapter handles as few pieces as possible.
fn merge(parts: Vec<Part>) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::with_capacity(parts.len());
    for p in parts {
        match (out.last_mut(), p) {
            (Some(Part::Text(a)), Part::Text(b)) => a.push_str(&b),
            (_, p) => out.push(p),
        }
    }
    out
}
