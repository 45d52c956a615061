//! Tenant-editable templates (spec §7.3) as an API — `save`, `remove`, `list`, `preview`:
//! [`Email::template_plan`] checks a call's input and names its statement,
//! [`Email::template_result`] says what the rows mean — and the send path's part: which stored
//! overrides a batch asks for, and rendering a message again with the one found.
//!
//! A save is rendered against the code template's sample props before anything is written, so
//! an override that does not accept the code template's props never reaches a send.

use serde_json::{json, Map, Value};

use super::input::{input_path, SendInput};
use super::pending::Pending;
use super::suppressions::{arg, fields, text, uuid};
use super::{em, Email};
use crate::email::db_template::{self, Source};
use crate::email::html_text::text_part;
use crate::email::EmailError;
use crate::error::Result;
use crate::input::from_value;

/// A template name as `defineTemplate` takes it.
fn name(m: &Map<String, Value>) -> Result<String> {
    let n = text(m, "name")?.ok_or_else(|| arg("name", "missing"))?;
    let ok = (1..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !ok {
        return Err(arg("name", "1 to 64 letters, digits, `_`, `.` or `-`"));
    }
    Ok(n)
}

/// `locale`: a language tag (`de`, `de-CH`); absent or empty: the default.
fn locale(m: &Map<String, Value>) -> Result<Option<String>> {
    let l = text(m, "locale")?;
    let ok = |l: &str| {
        l.len() <= 35
            && l.split('-')
                .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
    };
    match l {
        Some(l) if !l.is_empty() && !ok(&l) => {
            Err(arg("locale", "a language tag such as `de` or `de-CH`"))
        }
        l => Ok(l),
    }
}

/// The locales a lookup tries, best first: `de-CH` → `de` → the default (`''`).
pub(super) fn chain(locale: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut l = locale;
    while !l.is_empty() {
        out.push(l.to_owned());
        l = l.rsplit_once('-').map_or("", |(head, _)| head);
    }
    out.push(String::new());
    out
}

fn part<'a>(row: &'a Value, key: &str) -> Option<&'a str> {
    row.get(key).and_then(Value::as_str)
}

fn stored(row: &Value) -> Value {
    json!({
        "id": row.get("id"),
        "tenantId": row.get("tenant_id"),
        "name": row.get("name"),
        "locale": row.get("locale"),
        "version": row.get("version"),
        "subject": row.get("subject"),
        "html": row.get("html"),
        "text": row.get("text_body"),
        "createdAt": row.get("created_at"),
    })
}

/// Renders a stored row with `props`.
pub(super) fn render_row(name: &str, row: &Value, props: &Value) -> Result<db_template::Rendered> {
    let src = Source {
        name,
        subject: part(row, "subject").unwrap_or(""),
        html: part(row, "html"),
        text: part(row, "text_body"),
    };
    let mut r = db_template::render(&src, props).map_err(em)?;
    // A stored template without a text part gets one from its HTML (§7.4).
    if r.text.is_none() {
        r.text = text_part(r.html.as_deref());
    }
    Ok(r)
}

impl Email {
    /// `op` (`save`, `remove`, `list`, `preview`) with its `input`: `{ statement, params }`, the
    /// tenant first; a save also has `lock`, a statement to run before it in the transaction. `tenant_id`: the tenant an operator acts for (NULL: the scope's).
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` naming the field; for `save`, `EMAIL_TEMPLATE_RENDER_FAILED`
    /// when the template does not render with `sample` (nothing is written).
    pub fn template_plan(&self, op: &str, input: &Value, tenant_id: Option<&str>) -> Result<Value> {
        // The edge modules have no engine: the API is for Node, which also renders the sends.
        if !cfg!(feature = "templates") {
            return Err(em(EmailError::TemplateEngineUnavailable));
        }
        let t = json!(uuid("tenantId", tenant_id)?);
        let (statement, params) = match op {
            "save" => {
                let m = fields(
                    input,
                    &["name", "locale", "subject", "html", "text", "sample"],
                )?;
                let name = name(m)?;
                if !self.config.settings.editable.contains(&name) {
                    return Err(arg(
                        "name",
                        format!("template {name:?} is not editable: mark it `editable: true` in its defineTemplate({{...}}) to let tenants override it"),
                    ));
                }
                let subject = text(m, "subject")?.ok_or_else(|| arg("subject", "missing"))?;
                let (html, body) = (text(m, "html")?, text(m, "text")?);
                let src = Source {
                    name: &name,
                    subject: &subject,
                    html: html.as_deref(),
                    text: body.as_deref(),
                };
                let sample = m.get("sample").cloned().unwrap_or_else(|| json!({}));
                db_template::render(&src, &sample).map_err(em)?;
                let locale = locale(m)?.unwrap_or_default();
                // Concurrent saves of one (tenant, name, locale) take turns: see the lock.
                let lock = json!({ "statement": "templateLock", "params": [t, name, locale] });
                return Ok(json!({
                    "lock": lock,
                    "statement": "templateSave",
                    "params": [t, name, locale, subject, html, body],
                }));
            }
            "remove" => {
                let m = fields(input, &["name", "locale"])?;
                let locale = locale(m)?;
                ("templateRemove", json!([t, name(m)?, locale]))
            }
            "list" => {
                fields(input, &[])?;
                ("templatesList", json!([t]))
            }
            "preview" => {
                let m = fields(input, &["name", "locale", "props"])?;
                let name = name(m)?;
                let locales = chain(&locale(m)?.unwrap_or_default());
                let n = locales.len();
                let ranks: Vec<usize> = (0..n).collect();
                (
                    "templateFind",
                    json!([t, vec![name; n], locales, ranks, vec![1; n]]),
                )
            }
            other => return Err(arg("op", format!("unknown template operation {other:?}"))),
        };
        Ok(json!({ "statement": statement, "params": params }))
    }

    /// What `op`'s rows mean: `save` → the stored version (`EMAIL_TENANT_REQUIRED` when the
    /// context had no tenant), `remove` → `{ removed }`, `list` → the active templates,
    /// `preview` → the override rendered with `props`, or null when the tenant has none.
    ///
    /// # Errors
    /// `EMAIL_TENANT_REQUIRED`; `EMAIL_TEMPLATE_RENDER_FAILED` for a preview that fails.
    pub fn template_result(&self, op: &str, input: &Value, rows: &Value) -> Result<Value> {
        if !cfg!(feature = "templates") {
            return Err(em(EmailError::TemplateEngineUnavailable));
        }
        let rows: Vec<Value> = from_value("rows", rows)?;
        match op {
            "save" => rows.first().map(stored).ok_or_else(|| {
                em(EmailError::TenantRequired {
                    action: "templates.save".into(),
                })
            }),
            "remove" => Ok(json!({ "removed": rows.len() })),
            "list" => Ok(Value::Array(rows.iter().map(stored).collect())),
            "preview" => {
                let Some(row) = rows.first() else {
                    return Ok(Value::Null);
                };
                let m = fields(input, &["name", "locale", "props"])?;
                let name = name(m)?;
                let props = m.get("props").cloned().unwrap_or_else(|| json!({}));
                let r = render_row(&name, row, &props)?;
                Ok(json!({
                    "source": "database",
                    "locale": row.get("locale"),
                    "version": row.get("version"),
                    "subject": r.subject,
                    "html": r.html,
                    "text": r.text,
                }))
            }
            other => Err(arg("op", format!("unknown template operation {other:?}"))),
        }
    }

    /// The override lookup's candidates for the templated messages among `fresh`
    /// (`[names, locales, ranks, ords]`, `ord` 1-based in `fresh`), or none without any.
    pub(super) fn override_candidates(fresh: &[&Pending]) -> Option<[Vec<Value>; 4]> {
        let mut out: [Vec<Value>; 4] = Default::default();
        for (n, p) in fresh.iter().enumerate() {
            let Some(name) = &p.template else {
                continue;
            };
            let given = p.locale.as_deref().unwrap_or("");
            for (rank, l) in chain(given).into_iter().enumerate() {
                out[0].push(json!(name));
                out[1].push(json!(l));
                out[2].push(json!(rank));
                out[3].push(json!(n + 1));
            }
        }
        (!out[0].is_empty()).then_some(out)
    }

    /// Renders `p` again with the tenant's stored override `row` and rebuilds its row (size,
    /// headers and recipients checked as at the first build; ids and verdicts kept); without
    /// the engine, leaves it to the worker.
    pub(super) fn render_override(
        &self,
        p: &mut Pending,
        row: &Value,
        now_ms: i64,
        many: bool,
        n: usize,
    ) -> Result<()> {
        let Some(source) = p.source.take() else {
            return Ok(());
        };
        let uuid = crate::webhooks::ids::parse_uuid("state", &p.uuid)
            .map_err(|e| arg("state", e.to_string()))?;
        let value = crate::bridge::step::parse_text("state", &source)?;
        let mut input: SendInput = from_value(&input_path(many, n, ""), &value)?;
        let name = input.template.clone().unwrap_or_default();
        let props = input.props.clone().unwrap_or_else(|| json!({}));
        if !cfg!(feature = "templates") {
            // No engine in this build (the edge modules): a Node worker renders it.
            p.defer(&props);
            return Ok(());
        }
        let r = render_row(&name, row, &props)?;
        input.subject = Some(r.subject);
        input.html = r.html;
        input.text = r.text;
        let q = self.pending(&input, &uuid, now_ms, &|k| input_path(many, n, k))?;
        p.row = q.row;
        p.attachments = q.attachments;
        Ok(())
    }
}
