//! The suppression list as a file (`better-email suppressions import|export`, spec §10.4): CSV
//! with a header line, or NDJSON, one suppression per row with the columns [`COLUMNS`]. Only
//! `address` is required; `reason` defaults to `manual`. Import checks every row before anything
//! is written, naming the line of the first bad one; export writes CSV that import reads back.

use serde_json::{Map, Value};

use super::address::{parse_address, AddressOptions};
use super::error::{EmailError, Result};
use super::recipients::AddressInput;

/// The columns, in export order.
pub const COLUMNS: [&str; 6] = [
    "address",
    "reason",
    "category",
    "tenant_id",
    "expires_at",
    "note",
];

/// The reasons the table accepts (its CHECK constraint).
pub const REASONS: [&str; 5] = [
    "hard_bounce",
    "complaint",
    "soft_bounce",
    "unsubscribe",
    "manual",
];

/// One row to import, checked: `address` as given (lowercased domain kept as written) and its
/// suppression `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub address: String,
    pub key: String,
    pub reason: String,
    pub category: Option<String>,
    pub tenant_id: Option<String>,
    /// Milliseconds since 1970.
    pub expires_at_ms: Option<i64>,
    pub note: Option<String>,
}

/// Splits one CSV record (RFC 4180: quoted fields, `""` for a quote inside them).
fn csv_fields(line: &str) -> std::result::Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => out.push(std::mem::take(&mut field)),
            (_, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed (fields cannot span lines)");
    }
    out.push(field);
    Ok(out)
}

/// A field as CSV writes it: quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Checks one row (`line` numbers start at 1), taking `tenant` when the row names none.
fn row(
    at: &dyn Fn(&str) -> String,
    fields: &Map<String, Value>,
    tenant: Option<&str>,
) -> Result<Suppression> {
    let text = |column: &str| -> Result<Option<String>> {
        match fields.get(column) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(_) => Err(EmailError::argument(at(column), "expected text")),
        }
    };
    let Some(address) = text("address")? else {
        return Err(EmailError::argument(at("address"), "missing"));
    };
    let mailbox = parse_address(
        &at("address"),
        &AddressInput::Text(address),
        AddressOptions { smtp_utf8: true },
    )?;
    let reason = text("reason")?.unwrap_or_else(|| "manual".into());
    if !REASONS.contains(&reason.as_str()) {
        return Err(EmailError::argument(
            at("reason"),
            format!("{reason:?} is not one of {}", REASONS.join(", ")),
        ));
    }
    let tenant_id = match text("tenant_id")? {
        Some(t) => Some(t),
        None => tenant.map(str::to_owned),
    };
    if let Some(t) = &tenant_id {
        if !crate::resolve::is_uuid(t) {
            return Err(EmailError::argument(at("tenant_id"), "expected a UUID"));
        }
    }
    let expires_at_ms = match text("expires_at")? {
        Some(e) => Some(crate::audit::time::parse_iso_ms(&e).ok_or_else(|| {
            EmailError::argument(at("expires_at"), "expected an ISO 8601 timestamp")
        })?),
        None => None,
    };
    Ok(Suppression {
        address: mailbox.address,
        key: mailbox.key,
        reason,
        category: text("category")?,
        tenant_id,
        expires_at_ms,
        note: text("note")?,
    })
}

/// Reads a suppression file: NDJSON when its first non-blank character is `{`, else CSV whose
/// first line names the columns. `tenant` applies to rows that name no `tenant_id` (none: global).
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming the line and column of the first bad row, or an unknown
/// CSV column; `EMAIL_INVALID_ADDRESS` for an address the send path would refuse.
pub fn parse(text: &str, tenant: Option<&str>) -> Result<Vec<Suppression>> {
    // Spreadsheets save "CSV UTF-8" with a byte order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    if text.trim_start().starts_with('{') {
        let lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        for (i, line) in lines {
            let n = i + 1;
            let value: Value = serde_json::from_str(line)
                .map_err(|e| EmailError::argument(format!("line {n}"), e.to_string()))?;
            let Value::Object(fields) = value else {
                return Err(EmailError::argument(
                    format!("line {n}"),
                    "expected an object",
                ));
            };
            if let Some(bad) = fields.keys().find(|k| !COLUMNS.contains(&k.as_str())) {
                return Err(unknown_column(n, bad));
            }
            out.push(row(&|c| format!("line {n}: {c}"), &fields, tenant)?);
        }
        return Ok(out);
    }
    let mut lines = records(text).into_iter();
    let Some((n, header)) = lines.next() else {
        return Ok(out);
    };
    let names = csv_fields(&header).map_err(|e| EmailError::argument(format!("line {n}"), e))?;
    let names: Vec<String> = names
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    if let Some(bad) = names.iter().find(|c| !COLUMNS.contains(&c.as_str())) {
        return Err(unknown_column(n, bad));
    }
    if !names.iter().any(|c| c == "address") {
        return Err(EmailError::argument(
            format!("line {n}"),
            "the header line names no `address` column",
        ));
    }
    for (n, line) in lines {
        let values = csv_fields(&line).map_err(|e| EmailError::argument(format!("line {n}"), e))?;
        if values.len() != names.len() {
            return Err(EmailError::argument(
                format!("line {n}"),
                format!(
                    "{} fields where the header has {}",
                    values.len(),
                    names.len()
                ),
            ));
        }
        let fields: Map<String, Value> = names
            .iter()
            .cloned()
            .zip(values.into_iter().map(Value::String))
            .collect();
        out.push(row(&|c| format!("line {n}: {c}"), &fields, tenant)?);
    }
    Ok(out)
}

fn unknown_column(line: usize, name: &str) -> EmailError {
    EmailError::argument(
        format!("line {line}: {name}"),
        format!(
            "not a column of the suppression list ({})",
            COLUMNS.join(", ")
        ),
    )
}

/// The non-blank CSV records of `text` with the line each starts on; a quoted field may span
/// lines (an odd number of quotes so far means the record goes on).
fn records(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        let odd = line.matches('"').count() % 2 == 1;
        if open {
            if let Some((_, record)) = out.last_mut() {
                record.push('\n');
                record.push_str(line);
            }
            open ^= odd;
        } else if !line.trim().is_empty() {
            out.push((i + 1, line.to_owned()));
            open = odd;
        }
    }
    out
}

/// Reads rows given as objects (`email.suppressions.import([...])`) with the file's columns
/// in camelCase (`tenantId`, `expiresAt`); errors name `rows[i].column`.
///
/// # Errors
/// As [`parse`].
pub fn from_rows(rows: &[Value], tenant: Option<&str>) -> Result<Vec<Suppression>> {
    let mut out = Vec::with_capacity(rows.len());
    for (i, value) in rows.iter().enumerate() {
        let Value::Object(given) = value else {
            return Err(EmailError::argument(
                format!("rows[{i}]"),
                "expected an object",
            ));
        };
        let mut fields = Map::new();
        for (k, v) in given {
            let column = match k.as_str() {
                "tenantId" => "tenant_id",
                "expiresAt" => "expires_at",
                c if COLUMNS.contains(&c) && !c.contains('_') => c,
                _ => {
                    return Err(EmailError::argument(
                        format!("rows[{i}].{k}"),
                        "not a field of a suppression (address, reason, category, tenantId, expiresAt, note)",
                    ))
                }
            };
            fields.insert(column.to_owned(), v.clone());
        }
        let camel = |c: &str| match c {
            "tenant_id" => "tenantId".to_owned(),
            "expires_at" => "expiresAt".to_owned(),
            c => c.to_owned(),
        };
        out.push(row(
            &|c| format!("rows[{i}].{}", camel(c)),
            &fields,
            tenant,
        )?);
    }
    Ok(out)
}

/// Rows per import statement: 10,000 rows are ten round trips.
pub const IMPORT_CHUNK: usize = 1_000;

/// Checked rows as the import statement's seven text arrays, in its parameter order (tenants,
/// addresses, keys, categories, reasons, expiry as ISO 8601, notes).
#[must_use]
pub fn import_columns(rows: &[Suppression]) -> [Vec<Option<String>>; 7] {
    let col = |f: &dyn Fn(&Suppression) -> Option<String>| rows.iter().map(f).collect();
    [
        col(&|s| s.tenant_id.clone()),
        col(&|s| Some(s.address.clone())),
        col(&|s| Some(s.key.clone())),
        col(&|s| s.category.clone()),
        col(&|s| Some(s.reason.clone())),
        col(&|s| {
            s.expires_at_ms
                .map(|ms| crate::audit::time::format_iso(ms.saturating_mul(1000)))
        }),
        col(&|s| s.note.clone()),
    ]
}

/// Writes rows as NDJSON, one object per line with the columns that have a value.
#[must_use]
pub fn to_ndjson(rows: &[[Option<String>; 6]]) -> String {
    let mut out = String::new();
    for r in rows {
        let line: Map<String, Value> = COLUMNS
            .iter()
            .zip(r)
            .filter_map(|(c, v)| {
                v.as_ref()
                    .map(|v| ((*c).to_owned(), Value::String(v.clone())))
            })
            .collect();
        out.push_str(&Value::Object(line).to_string());
        out.push('\n');
    }
    out
}

/// Writes rows (each [`COLUMNS`] in order, absent ones `None`) as CSV with a header line.
#[must_use]
pub fn to_csv(rows: &[[Option<String>; 6]]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for r in rows {
        let fields: Vec<String> = r
            .iter()
            .map(|f| f.as_deref().map(csv_field).unwrap_or_default())
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "0b7e7d2e-8a51-4c55-9a3f-2f4a7c1d9e10";

    #[test]
    fn csv_rows_with_defaults_quotes_and_tenant() {
        let rows = parse(
            "address,reason,note,tenant_id\r\nJohn@Example.com,,\"said \"\"stop\"\", twice\",\n\nann@x.example,complaint,,\n",
            Some(T),
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].key, "john@example.com");
        assert_eq!(rows[0].reason, "manual");
        assert_eq!(rows[0].note.as_deref(), Some("said \"stop\", twice"));
        assert_eq!(rows[0].tenant_id.as_deref(), Some(T));
        assert_eq!(rows[1].reason, "complaint");
    }

    #[test]
    fn ndjson_rows() {
        let rows = parse(
            "{\"address\":\"a@x.example\",\"reason\":\"hard_bounce\",\"expires_at\":\"2030-01-01T00:00:00Z\"}\n{\"address\":\"b@x.example\",\"tenant_id\":null}\n",
            None,
        )
        .unwrap();
        assert_eq!(rows[0].expires_at_ms, Some(1_893_456_000_000));
        assert_eq!(rows[1].tenant_id, None);
    }

    #[test]
    fn bad_rows_name_their_line_and_column() {
        let err = |text: &str| parse(text, None).unwrap_err().to_string();
        assert!(err("address\na@x.example\nnot an address\n").contains("line 3: address"));
        assert!(err("address,reason\na@x.example,bored\n").contains("line 2: reason"));
        assert!(err("address,tenant_id\na@x.example,acme\n").contains("line 2: tenant_id"));
        assert!(err("address,colour\n").contains("line 1: colour"));
        assert!(err("reason\nmanual\n").contains("no `address` column"));
        assert!(err("address,note\na@x.example\n").contains("1 fields where the header has 2"));
        assert!(err("address\n\"a@x.example\n").contains("not closed"));
        assert!(err("{\"address\":1}\n").contains("line 1: address"));
        assert!(
            err("{\"address\":\"a@x.example\",\"reasons\":\"x\"}\n").contains("line 1: reasons")
        );
    }

    #[test]
    fn export_reads_back() {
        let csv = to_csv(&[[
            Some("a@x.example".into()),
            Some("manual".into()),
            None,
            Some(T.into()),
            None,
            Some("a, \"b\"\nsecond line".into()),
        ]]);
        let rows = parse(&format!("\u{feff}{csv}"), None).unwrap();
        assert_eq!(rows[0].note.as_deref(), Some("a, \"b\"\nsecond line"));
        assert_eq!(rows[0].tenant_id.as_deref(), Some(T));
    }
}
