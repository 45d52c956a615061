//! `render: "worker"` (spec §7.4): a message stored unrendered is rendered at its first
//! hand-off. The tenant's active override of its template wins (rendered here, under the
//! engine's fuel, with the locale fallback a send uses); otherwise the package's code template
//! gave the content (`code`, attached to the claimed row by the worker, which has the
//! registry). The content is then checked as `send()` checks it; the worker stores it
//! (`renderFreeze`) before the hand-off, so every later attempt sends the same bytes.

use serde_json::{json, Value};

use super::templates::{chain, render_row};
use super::Email;
use crate::email::html_text::text_part;
use crate::email::EmailError;

/// Rendered content, as stored by `renderFreeze`.
pub(super) struct Content {
    pub(super) subject: String,
    pub(super) html: Option<String>,
    pub(super) text: Option<String>,
    /// The override's version; none for the code template.
    pub(super) version: Option<String>,
}

impl Content {
    pub(super) fn freeze(&self) -> Value {
        json!({ "subject": self.subject, "html": self.html, "text": self.text, "version": self.version })
    }
}

/// A render that failed: its code and message, recorded as the message's `last_error`.
pub(super) struct Failed(pub(super) String, pub(super) String);

impl Failed {
    /// Another worker may render it (this one lacks the template, as during a rolling
    /// deploy, or the engine, on edge, for an override saved since the claim): the message
    /// goes back on the retry schedule rather than failing now.
    pub(super) fn retry(&self) -> bool {
        matches!(
            self.0.as_str(),
            "EMAIL_TEMPLATE_NOT_FOUND" | "EMAIL_TEMPLATE_ENGINE_UNAVAILABLE"
        )
    }
}

impl From<EmailError> for Failed {
    fn from(e: EmailError) -> Self {
        Failed(e.code().to_owned(), e.to_string())
    }
}

impl From<crate::error::Error> for Failed {
    fn from(e: crate::error::Error) -> Self {
        Failed(e.code().to_owned(), e.to_string())
    }
}

fn failed(message: String) -> Failed {
    Failed("EMAIL_TEMPLATE_RENDER_FAILED".into(), message)
}

impl Email {
    /// The content of the unrendered message of `template` for `locale`, with `props` (JSON
    /// text), the tenant's active `overrides` of it and what the code template gave (`code`:
    /// `{ subject, html?, text? }` or `{ errorCode, error }`, read loosely so that one bad
    /// answer fails its message only).
    pub(super) fn render_deferred(
        &self,
        template: Option<&str>,
        locale: Option<&str>,
        props: Option<&str>,
        overrides: Option<&Value>,
        code: Option<&Value>,
    ) -> Result<Content, Failed> {
        let name = template.unwrap_or_default();
        let found = overrides
            .and_then(Value::as_array)
            .filter(|_| self.config.settings.editable.contains(name))
            .and_then(|rows| {
                chain(locale.unwrap_or_default()).into_iter().find_map(|l| {
                    rows.iter()
                        .find(|r| r.get("locale").and_then(Value::as_str) == Some(l.as_str()))
                })
            });
        if let Some(row) = found {
            if !cfg!(feature = "templates") {
                return Err(EmailError::TemplateEngineUnavailable.into());
            }
            // Purged or erased since the send: rendering with nothing would send blanks.
            let Some(props) = props.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
                return Err(failed(format!(
                    "template {name:?}: its props are gone (purged or erased), so it cannot be rendered"
                )));
            };
            let r = render_row(name, row, &props)?;
            let version = row.get("version").map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            return Ok(Content {
                subject: r.subject,
                html: r.html,
                text: r.text,
                version,
            });
        }
        let Some(code) = code else {
            return Err(Failed(
                "EMAIL_TEMPLATE_NOT_FOUND".into(),
                format!("template {name:?} was not rendered: the worker has no such template registered (betterEmail({{ templates }}))"),
            ));
        };
        let part = |k: &str| code.get(k).and_then(Value::as_str).map(str::to_owned);
        if let Some(c) = part("errorCode") {
            return Err(Failed(c, part("error").unwrap_or_default()));
        }
        let Some(subject) = part("subject") else {
            return Err(failed(format!("template {name:?} gave no subject")));
        };
        let html = part("html");
        Ok(Content {
            subject,
            // A code template that gives no text part gets one from its HTML (§7.4).
            text: part("text").or_else(|| text_part(html.as_deref())),
            html,
            version: None,
        })
    }
}
