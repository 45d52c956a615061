//! Redaction of audit images: `redact` removes paths, `include` keeps only paths.
//!
//! Paths are dotted (`password`, `profile.ssn`); a path starting with `metadata.` applies to the
//! entry's metadata instead of the row images. The same paths are applied to the old and new
//! values inside the diff, so a redacted value can never leak through it.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::diff::RowDiff;
use crate::error::{Error, Result};

/// What to redact, resolved from the enrichment registrations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "RedactionRule"))]
pub struct Redaction {
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<_>", optional))]
    pub redact: Vec<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<_>", optional))]
    pub include: Vec<String>,
}

/// One audit entry's mutable parts.
#[derive(Debug, Default)]
pub struct Images<'a> {
    pub before: Option<&'a mut Map<String, Value>>,
    pub after: Option<&'a mut Map<String, Value>>,
    pub metadata: Option<&'a mut Map<String, Value>>,
    pub diff: Option<&'a mut RowDiff>,
}

fn split(path: &str) -> Vec<&str> {
    path.split('.').filter(|s| !s.is_empty()).collect()
}

/// Removes `path` from `map`; true if something was there.
fn remove(map: &mut Map<String, Value>, path: &[&str]) -> bool {
    match path {
        [] => false,
        [last] => map.remove(*last).is_some(),
        [head, rest @ ..] => match map.get_mut(*head) {
            Some(Value::Object(inner)) => remove(inner, rest),
            _ => false,
        },
    }
}

/// Keeps only `paths` (each a list of segments) in `map`; returns the removed paths.
fn keep(
    map: &mut Map<String, Value>,
    paths: &[Vec<&str>],
    prefix: &str,
    removed: &mut BTreeSet<String>,
) {
    let keys: Vec<String> = map.keys().cloned().collect();
    for k in keys {
        let here: Vec<&Vec<&str>> = paths
            .iter()
            .filter(|p| p.first() == Some(&k.as_str()))
            .collect();
        let full = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if here.is_empty() {
            map.remove(&k);
            removed.insert(full);
        } else if here.iter().all(|p| p.len() > 1) {
            if let Some(Value::Object(inner)) = map.get_mut(&k) {
                let sub: Vec<Vec<&str>> = here.iter().map(|p| p[1..].to_vec()).collect();
                keep(inner, &sub, &full, removed);
            }
        }
    }
}

impl Redaction {
    /// Checks that at most one of `redact` and `include` is given.
    ///
    /// # Errors
    /// `InvalidConfig` when both are non-empty.
    pub fn validate(&self, key: &str) -> Result<()> {
        if !self.redact.is_empty() && !self.include.is_empty() {
            return Err(Error::config(
                format!("enrichment \"{key}\""),
                "either \"redact\" or \"include\", not both",
            ));
        }
        Ok(())
    }

    /// Applies the rule; returns the sorted paths that were actually removed.
    #[must_use]
    pub fn apply(&self, images: Images<'_>) -> Vec<String> {
        let mut removed = BTreeSet::new();
        let Images {
            before,
            after,
            metadata,
            diff,
        } = images;
        let (meta_paths, row_paths): (Vec<&String>, Vec<&String>) = if self.include.is_empty() {
            self.redact.iter().partition(|p| p.starts_with("metadata."))
        } else {
            self.include
                .iter()
                .partition(|p| p.starts_with("metadata."))
        };
        let rows: Vec<Vec<&str>> = row_paths.iter().map(|p| split(p)).collect();
        let metas: Vec<Vec<&str>> = meta_paths
            .iter()
            .map(|p| split(&p["metadata.".len()..]))
            .collect();
        let on_row = |m: &mut Map<String, Value>, removed: &mut BTreeSet<String>| {
            if self.include.is_empty() {
                for (p, raw) in rows.iter().zip(&row_paths) {
                    if remove(m, p) {
                        removed.insert((*raw).clone());
                    }
                }
            } else {
                keep(m, &rows, "", removed);
            }
        };
        for image in [before, after].into_iter().flatten() {
            on_row(image, &mut removed);
        }
        if let Some(m) = metadata {
            if self.include.is_empty() {
                for (p, raw) in metas.iter().zip(&meta_paths) {
                    if remove(m, p) {
                        removed.insert((*raw).clone());
                    }
                }
            } else if !metas.is_empty() {
                let mut meta_removed = BTreeSet::new();
                keep(m, &metas, "", &mut meta_removed);
                removed.extend(meta_removed.into_iter().map(|p| format!("metadata.{p}")));
            }
        }
        if let Some(d) = diff {
            self.apply_to_diff(d, &rows);
        }
        removed.into_iter().collect()
    }

    fn apply_to_diff(&self, d: &mut RowDiff, rows: &[Vec<&str>]) {
        let top_redacted = |f: &str| rows.iter().any(|p| p.len() == 1 && p[0] == f);
        let top_included = |f: &str| rows.iter().any(|p| p.first() == Some(&f));
        d.changes.retain(|c| {
            if self.include.is_empty() {
                !top_redacted(&c.field)
            } else {
                top_included(&c.field)
            }
        });
        for c in &mut d.changes {
            let sub: Vec<Vec<&str>> = rows
                .iter()
                .filter(|p| p.len() > 1 && p[0] == c.field)
                .map(|p| p[1..].to_vec())
                .collect();
            if sub.is_empty() {
                continue;
            }
            for v in [c.old.as_mut(), c.new.as_mut()].into_iter().flatten() {
                if let Value::Object(m) = v {
                    if self.include.is_empty() {
                        for p in &sub {
                            remove(m, p);
                        }
                    } else {
                        keep(m, &sub, "", &mut BTreeSet::new());
                    }
                }
            }
        }
        d.changed_fields = d.changes.iter().map(|c| c.field.clone()).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::diff::FieldChange;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn redacts_top_level_nested_and_metadata_paths_everywhere() {
        let mut before =
            obj(json!({ "id": 1, "password": "old", "profile": { "ssn": "1", "city": "A" } }));
        let mut after =
            obj(json!({ "id": 1, "password": "new", "profile": { "ssn": "2", "city": "B" } }));
        let mut meta = obj(json!({ "ip": "1.2.3.4", "ua": "x" }));
        let change = |field: &str| FieldChange {
            field: field.into(),
            old: before.get(field).cloned(),
            new: after.get(field).cloned(),
        };
        let mut d = RowDiff {
            changed_fields: vec!["password".into(), "profile".into()],
            changes: vec![change("password"), change("profile")],
        };
        let rule = Redaction {
            redact: vec![
                "password".into(),
                "profile.ssn".into(),
                "metadata.ip".into(),
            ],
            include: vec![],
        };
        let removed = rule.apply(Images {
            before: Some(&mut before),
            after: Some(&mut after),
            metadata: Some(&mut meta),
            diff: Some(&mut d),
        });
        assert_eq!(removed, ["metadata.ip", "password", "profile.ssn"]);
        assert_eq!(
            Value::Object(after),
            json!({ "id": 1, "profile": { "city": "B" } })
        );
        assert_eq!(Value::Object(meta), json!({ "ua": "x" }));
        assert_eq!(d.changed_fields, ["profile"]);
        assert_eq!(
            d.changes[0].old,
            Some(json!({ "city": "A" })),
            "redacted values never leak through the diff"
        );
        assert!(!Value::Object(before).to_string().contains("old"));
    }

    #[test]
    fn include_keeps_only_listed_paths() {
        let mut after = obj(
            json!({ "id": 1, "email": "e", "profile": { "name": "n", "ssn": "s" }, "secret": 1 }),
        );
        let rule = Redaction {
            redact: vec![],
            include: vec!["id".into(), "profile.name".into()],
        };
        let removed = rule.apply(Images {
            after: Some(&mut after),
            ..Images::default()
        });
        assert_eq!(
            Value::Object(after),
            json!({ "id": 1, "profile": { "name": "n" } })
        );
        assert_eq!(removed, ["email", "profile.ssn", "secret"]);
    }

    #[test]
    fn nothing_removed_nothing_reported() {
        let mut after = obj(json!({ "id": 1 }));
        let rule = Redaction {
            redact: vec!["password".into(), "a.b.c".into()],
            include: vec![],
        };
        assert!(rule
            .apply(Images {
                after: Some(&mut after),
                ..Images::default()
            })
            .is_empty());
    }

    #[test]
    fn both_lists_is_a_config_error() {
        let r = Redaction {
            redact: vec!["a".into()],
            include: vec!["b".into()],
        };
        assert_eq!(
            r.validate("users:INSERT").unwrap_err().code(),
            "INVALID_CONFIG"
        );
    }
}
