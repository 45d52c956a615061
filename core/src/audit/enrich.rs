//! Enrichment registrations and their merge by specificity: `*:*`, `*:OP`, `table:*`,
//! `table:OP`, in registration order within each. Scalars: the most specific wins; compliance
//! tags, `redact` and `include` are unioned (first seen first). `description` is a JavaScript
//! callback, so the merge only says which registration's callback applies.

use super::redact::Redaction;
use crate::error::{Error, Result};

/// The data part of one `audit.enrich(table, operation, config)` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "EnrichmentData", optional_fields))]
pub struct Enrichment {
    pub label: Option<String>,
    #[cfg_attr(
        feature = "ts",
        ts(type = r#""low" | "medium" | "high" | "critical""#, optional)
    )]
    pub severity: Option<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<_>"))]
    pub compliance: Vec<String>,
    pub notify: Option<bool>,
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<_>"))]
    pub redact: Vec<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<_>"))]
    pub include: Vec<String>,
    /// Whether the JavaScript config had a `description` callback.
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<_>"))]
    pub has_description: bool,
}

/// The merged result for one `(table, operation)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "MergedEnrichment"))]
pub struct Merged {
    pub label: Option<String>,
    #[cfg_attr(
        feature = "ts",
        ts(type = r#""low" | "medium" | "high" | "critical" | null"#)
    )]
    pub severity: Option<String>,
    pub compliance: Vec<String>,
    pub notify: Option<bool>,
    pub redact: Vec<String>,
    pub include: Vec<String>,
    /// Index (registration order) of the registration whose `description` applies.
    pub description_from: Option<usize>,
}

const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// All registrations of one audit instance.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    audit_tables: Vec<String>,
    entries: Vec<(String, String, Enrichment)>,
}

fn union(into: &mut Vec<String>, from: &[String]) {
    for v in from {
        if !into.contains(v) {
            into.push(v.clone());
        }
    }
}

impl Registry {
    #[must_use]
    pub fn new(audit_tables: Vec<String>) -> Self {
        Registry {
            audit_tables,
            entries: Vec::new(),
        }
    }

    /// Adds a registration; returns its index.
    ///
    /// # Errors
    /// The reference's messages for unknown tables and `redact` + `include` together; an
    /// unknown severity is an error too (the reference stored anything).
    pub fn register(&mut self, table: &str, operation: &str, e: Enrichment) -> Result<usize> {
        if table != "*" && !self.audit_tables.iter().any(|t| t == table) {
            return Err(Error::Rejected {
                message: format!(
                    "Cannot register enrichment for table \"{table}\": it is not in auditTables. Registered tables: {}",
                    self.audit_tables.join(", ")
                ),
            });
        }
        let op = operation.to_ascii_uppercase();
        if !["*", "INSERT", "UPDATE", "DELETE"].contains(&op.as_str()) {
            return Err(Error::config(
                "enrich(operation)",
                format!("INSERT, UPDATE, DELETE or \"*\", got {operation:?}"),
            ));
        }
        if let Some(s) = &e.severity {
            if !SEVERITIES.contains(&s.as_str()) {
                return Err(Error::config(
                    "enrich(config.severity)",
                    format!("one of low, medium, high, critical, got {s:?}"),
                ));
            }
        }
        if !e.redact.is_empty() && !e.include.is_empty() {
            return Err(Error::Rejected {
                message: format!("Enrichment for \"{table}:{op}\" cannot specify both \"redact\" and \"include\". Use one or the other."),
            });
        }
        self.entries.push((table.to_owned(), op, e));
        Ok(self.entries.len() - 1)
    }

    /// Merges the registrations that apply to `(table, operation)`; `None` if none does.
    ///
    /// # Errors
    /// `InvalidConfig` when the merge has both `redact` and `include`.
    pub fn resolve(&self, table: &str, operation: &str) -> Result<Option<Merged>> {
        let op = operation.to_ascii_uppercase();
        let mut order: Vec<(&str, &str)> = Vec::with_capacity(4);
        for step in [
            ("*", "*"),
            ("*", op.as_str()),
            (table, "*"),
            (table, op.as_str()),
        ] {
            if !order.contains(&step) {
                order.push(step);
            }
        }
        let mut merged = Merged::default();
        let mut any = false;
        for (t, o) in order {
            for (i, (et, eo, e)) in self.entries.iter().enumerate() {
                if et != t || eo != o {
                    continue;
                }
                any = true;
                if e.label.is_some() {
                    merged.label.clone_from(&e.label);
                }
                if e.severity.is_some() {
                    merged.severity.clone_from(&e.severity);
                }
                if e.notify.is_some() {
                    merged.notify = e.notify;
                }
                if e.has_description {
                    merged.description_from = Some(i);
                }
                union(&mut merged.compliance, &e.compliance);
                union(&mut merged.redact, &e.redact);
                union(&mut merged.include, &e.include);
            }
        }
        if !any {
            return Ok(None);
        }
        Redaction {
            redact: merged.redact.clone(),
            include: merged.include.clone(),
        }
        .validate(&format!("{table}:{op}"))?;
        Ok(Some(merged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg() -> Registry {
        Registry::new(vec!["users".into(), "orders".into()])
    }

    #[test]
    fn specificity_and_unions() {
        let mut r = reg();
        r.register(
            "*",
            "*",
            Enrichment {
                label: Some("any".into()),
                compliance: vec!["all".into()],
                ..Default::default()
            },
        )
        .unwrap();
        r.register(
            "users",
            "update",
            Enrichment {
                label: Some("user changed".into()),
                compliance: vec!["soc2".into(), "all".into()],
                redact: vec!["password".into()],
                ..Default::default()
            },
        )
        .unwrap();
        r.register(
            "users",
            "*",
            Enrichment {
                severity: Some("high".into()),
                redact: vec!["ssn".into()],
                has_description: true,
                ..Default::default()
            },
        )
        .unwrap();
        r.register(
            "*",
            "UPDATE",
            Enrichment {
                notify: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        let m = r.resolve("users", "UPDATE").unwrap().unwrap();
        assert_eq!(m.label.as_deref(), Some("user changed"));
        assert_eq!(m.severity.as_deref(), Some("high"));
        assert_eq!(m.notify, Some(true));
        assert_eq!(m.compliance, ["all", "soc2"]);
        assert_eq!(m.redact, ["ssn", "password"]);
        assert_eq!(m.description_from, Some(2));
        let orders = r.resolve("orders", "INSERT").unwrap().unwrap();
        assert_eq!(
            (orders.label.as_deref(), orders.notify),
            (Some("any"), None)
        );
        assert_eq!(reg().resolve("users", "INSERT").unwrap(), None);
    }

    #[test]
    fn registration_errors() {
        let mut r = reg();
        let e = r.register("nope", "*", Enrichment::default()).unwrap_err();
        assert!(
            e.to_string().contains("Registered tables: users, orders"),
            "{e}"
        );
        let both = Enrichment {
            redact: vec!["a".into()],
            include: vec!["b".into()],
            ..Default::default()
        };
        assert_eq!(
            r.register("users", "INSERT", both).unwrap_err().code(),
            "INVALID_CONFIG"
        );
        assert!(r
            .register("users", "TRUNCATE", Enrichment::default())
            .is_err());
        assert!(r
            .register(
                "users",
                "*",
                Enrichment {
                    severity: Some("urgent".into()),
                    ..Default::default()
                }
            )
            .is_err());
    }

    #[test]
    fn merged_redact_and_include_conflict_at_resolution() {
        let mut r = reg();
        r.register(
            "*",
            "*",
            Enrichment {
                redact: vec!["a".into()],
                ..Default::default()
            },
        )
        .unwrap();
        r.register(
            "users",
            "DELETE",
            Enrichment {
                include: vec!["id".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert!(r.resolve("users", "UPDATE").unwrap().is_some());
        assert_eq!(
            r.resolve("users", "DELETE").unwrap_err().code(),
            "INVALID_CONFIG"
        );
    }
}
