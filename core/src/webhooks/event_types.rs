//! Event-type names and endpoint filters. A name is dotted identifiers,
//! `^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`, at most 128 characters (the Standard Webhooks
//! recommendation). A filter entry is a name or a prefix pattern `invoice.*`, which matches
//! every type below `invoice.` at any depth (`invoice.paid`, `invoice.line.added`), not
//! `invoice` itself. The expand statement applies the same rule in SQL.

use std::collections::BTreeSet;

use super::error::{Result, WebhooksError};

/// Longest event-type name.
pub const MAX_EVENT_TYPE_LEN: usize = 128;
/// The type of `endpoints.sendTest` messages; always known.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

fn invalid(field: &str, value: &str, reason: &str) -> WebhooksError {
    WebhooksError::InvalidEventType {
        field: field.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Checks the shape of an event-type name.
///
/// # Errors
/// `WEBHOOKS_INVALID_EVENT_TYPE` naming `field`.
pub fn check_name(field: &str, name: &str) -> Result<()> {
    if name.len() > MAX_EVENT_TYPE_LEN {
        return Err(invalid(
            field,
            name,
            &format!("longer than {MAX_EVENT_TYPE_LEN} characters"),
        ));
    }
    let ok = !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    if !ok {
        return Err(invalid(
            field,
            name,
            "expected dotted names of letters, digits and `_` (like `invoice.paid`)",
        ));
    }
    Ok(())
}

/// One filter entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pattern {
    Exact(String),
    /// The prefix including its trailing `.` (`invoice.` for `invoice.*`).
    Prefix(String),
}

impl Pattern {
    /// # Errors
    /// `WEBHOOKS_INVALID_EVENT_TYPE` naming `field`.
    pub fn parse(field: &str, text: &str) -> Result<Pattern> {
        match text.strip_suffix(".*") {
            Some(prefix) => {
                check_name(field, prefix).map_err(|_| {
                    invalid(
                        field,
                        text,
                        "a pattern is a dotted name followed by `.*` (like `invoice.*`)",
                    )
                })?;
                Ok(Pattern::Prefix(format!("{prefix}.")))
            }
            None => {
                check_name(field, text)?;
                Ok(Pattern::Exact(text.to_owned()))
            }
        }
    }

    #[must_use]
    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            Pattern::Exact(n) => n == event_type,
            Pattern::Prefix(p) => event_type.len() > p.len() && event_type.starts_with(p.as_str()),
        }
    }

    /// The text form (`invoice.*`).
    #[must_use]
    pub fn text(&self) -> String {
        match self {
            Pattern::Exact(n) => n.clone(),
            Pattern::Prefix(p) => format!("{p}*"),
        }
    }
}

/// Whether an endpoint with filter `patterns` (`None` = all types) receives `event_type`.
#[must_use]
pub fn filter_matches(patterns: Option<&[Pattern]>, event_type: &str) -> bool {
    patterns.is_none_or(|ps| ps.iter().any(|p| p.matches(event_type)))
}

/// The configured event types (`eventTypes`), plus [`TEST_EVENT_TYPE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes {
    known: BTreeSet<String>,
}

impl EventTypes {
    /// # Errors
    /// `WEBHOOKS_INVALID_EVENT_TYPE` naming `eventTypes[i]`.
    pub fn new(names: &[String]) -> Result<EventTypes> {
        let mut known = BTreeSet::new();
        for (i, n) in names.iter().enumerate() {
            check_name(&format!("eventTypes[{i}]"), n)?;
            known.insert(n.clone());
        }
        known.insert(TEST_EVENT_TYPE.to_owned());
        Ok(EventTypes { known })
    }

    /// `send()`: the type must be well formed and configured.
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_EVENT_TYPE` or `WEBHOOKS_UNKNOWN_EVENT_TYPE` naming `field`.
    pub fn check_send(&self, field: &str, name: &str) -> Result<()> {
        check_name(field, name)?;
        if !self.known.contains(name) {
            return Err(WebhooksError::UnknownEventType {
                field: field.to_owned(),
                value: name.to_owned(),
            });
        }
        Ok(())
    }

    /// An endpoint filter: every entry well formed and matching at least one configured type
    /// (a typo in a filter would otherwise silently receive nothing). Returns the entries
    /// sorted and de-duplicated, as stored in `event_types`.
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_EVENT_TYPE` or `WEBHOOKS_UNKNOWN_EVENT_TYPE` naming `field[i]`.
    pub fn check_filter(&self, field: &str, patterns: &[String]) -> Result<Vec<String>> {
        let mut out = BTreeSet::new();
        for (i, text) in patterns.iter().enumerate() {
            let f = format!("{field}[{i}]");
            let p = Pattern::parse(&f, text)?;
            if !self.known.iter().any(|k| p.matches(k)) {
                return Err(WebhooksError::UnknownEventType {
                    field: f,
                    value: text.clone(),
                });
            }
            out.insert(p.text());
        }
        Ok(out.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "invoice.paid", "User_1.created.v2", &"x".repeat(128)] {
            assert!(check_name("eventType", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "a-b",
            "a b",
            "a.*",
            "é",
            &"x".repeat(129),
        ] {
            let e = check_name("eventType", bad).unwrap_err();
            assert_eq!(e.code(), "WEBHOOKS_INVALID_EVENT_TYPE", "{bad}");
            assert!(e.to_string().contains("`eventType`"));
        }
    }

    #[test]
    fn patterns() {
        let p = Pattern::parse("f", "invoice.*").unwrap();
        assert!(p.matches("invoice.paid") && p.matches("invoice.line.added"));
        assert!(!p.matches("invoice") && !p.matches("invoices.paid") && !p.matches("invoice."));
        assert_eq!(p.text(), "invoice.*");
        for bad in ["*", ".*", "invoice.*.paid", "in*", "invoice.**"] {
            assert!(Pattern::parse("f", bad).is_err(), "{bad}");
        }
        let ps = [p, Pattern::parse("f", "user.created").unwrap()];
        assert!(filter_matches(Some(&ps), "user.created"));
        assert!(!filter_matches(Some(&ps), "user.deleted"));
        assert!(filter_matches(None, "anything"));
        assert!(!filter_matches(Some(&[]), "anything"));
    }

    #[test]
    fn known_types() {
        let t = EventTypes::new(&["invoice.paid".into(), "user.created".into()]).unwrap();
        assert!(t.check_send("eventType", "invoice.paid").is_ok());
        assert!(t.check_send("eventType", TEST_EVENT_TYPE).is_ok());
        let e = t.check_send("eventType", "invoice.payd").unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_UNKNOWN_EVENT_TYPE");
        assert!(e.to_string().contains("add it to `eventTypes`"));
        assert_eq!(
            t.check_filter(
                "eventTypes",
                &[
                    "user.created".into(),
                    "invoice.*".into(),
                    "user.created".into()
                ]
            )
            .unwrap(),
            ["invoice.*", "user.created"]
        );
        let e = t
            .check_filter("eventTypes", &["invoice.*".into(), "order.*".into()])
            .unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_UNKNOWN_EVENT_TYPE");
        assert!(e.to_string().contains("`eventTypes[1]`"));
        assert!(EventTypes::new(&["ok".into(), "bad name".into()])
            .unwrap_err()
            .to_string()
            .contains("`eventTypes[1]`"));
    }
}
