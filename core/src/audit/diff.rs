//! Row diffs for UPDATE audit entries.
//!
//! Unlike the reference (field names only, compared with `JSON.stringify`, so `{a,b}` and
//! `{b,a}` differ), values are compared structurally and each changed field carries its old and
//! new value. Field order is stable: `before`'s keys first, then keys only in `after`.

use serde_json::{Map, Value};

/// One changed field.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FieldChange {
    pub field: String,
    /// `None` when the field did not exist before.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub old: Option<Value>,
    /// `None` when the field does not exist after.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub new: Option<Value>,
}

/// The diff of one row.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct RowDiff {
    pub changed_fields: Vec<String>,
    pub changes: Vec<FieldChange>,
}

/// Structural equality: object key order is irrelevant, numbers compare by value.
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        (Value::Number(x), Value::Number(y)) => {
            x == y || x.as_f64().is_some_and(|f| y.as_f64() == Some(f))
        }
        _ => a == b,
    }
}

/// Diffs two row images.
#[must_use]
pub fn diff(before: &Map<String, Value>, after: &Map<String, Value>) -> RowDiff {
    let mut out = RowDiff::default();
    let keys = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)));
    for k in keys {
        let (b, a) = (before.get(k), after.get(k));
        let changed = match (b, a) {
            (Some(x), Some(y)) => !same(x, y),
            _ => true,
        };
        if changed {
            out.changed_fields.push(k.clone());
            out.changes.push(FieldChange {
                field: k.clone(),
                old: b.cloned(),
                new: a.cloned(),
            });
        }
    }
    out
}

/// A row image: column name to stored value.
pub type Image = Map<String, Value>;

/// Diffs many `(before, after)` pairs in one call.
#[must_use]
pub fn diff_batch(pairs: &[(Image, Image)]) -> Vec<RowDiff> {
    pairs.iter().map(|(b, a)| diff(b, a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn changed_fields_in_stable_order_with_values() {
        let d = diff(
            &obj(json!({ "id": 1, "name": "a", "role": "user", "gone": 1 })),
            &obj(json!({ "id": 1, "role": "admin", "name": "b", "added": true })),
        );
        assert_eq!(d.changed_fields, ["name", "role", "gone", "added"]);
        assert_eq!(
            d.changes[1],
            FieldChange {
                field: "role".into(),
                old: Some(json!("user")),
                new: Some(json!("admin"))
            }
        );
        assert_eq!(d.changes[2].new, None);
        assert_eq!(d.changes[3].old, None);
    }

    #[test]
    fn nested_json_is_compared_structurally() {
        let d = diff(
            &obj(json!({ "prefs": { "a": 1, "b": [1, { "x": 2, "y": 3 }] }, "n": 1 })),
            &obj(json!({ "prefs": { "b": [1, { "y": 3, "x": 2 }], "a": 1 }, "n": 1.0 })),
        );
        assert!(d.changed_fields.is_empty(), "{d:?}");
        let d2 = diff(
            &obj(json!({ "prefs": { "a": [1, 2] } })),
            &obj(json!({ "prefs": { "a": [2, 1] } })),
        );
        assert_eq!(d2.changed_fields, ["prefs"]);
    }

    #[test]
    fn null_versus_missing_is_a_change() {
        let d = diff(&obj(json!({ "a": null })), &obj(json!({})));
        assert_eq!(d.changed_fields, ["a"]);
    }
}
