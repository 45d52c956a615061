//! `auditDiffJson` without building value trees: each row image is read as field name →
//! borrowed raw JSON text, fields whose texts are byte-equal are unchanged (the common case,
//! and how JavaScript serialises equal values), and only fields whose texts differ are parsed
//! and compared structurally. Changed values are written back as the raw text they came in.
//! Same results as [`crate::audit::diff::diff`], several times faster on wide rows.

use std::borrow::Cow;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::audit::diff;
use crate::error::{Error, Result};

/// Fields in document order. Rows are short enough that a scan beats hashing, and both images
/// of a row usually list the same fields in the same order, so lookups start where they are.
#[derive(Default)]
struct Image<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Image<'a> {
    fn find(&self, key: &str, hint: usize) -> Option<&'a RawValue> {
        if let Some((k, v)) = self.0.get(hint) {
            if k == key {
                return Some(v);
            }
        }
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// A field name, borrowed from the text unless it holds escapes (serde's own `Cow` always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Name;
        impl<'de> Visitor<'de> for Name {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(Name)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Image<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Fields<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Fields<'a> {
            type Value = Image<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a row image (JSON object)")
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                mut m: M,
            ) -> std::result::Result<Image<'a>, M::Error> {
                let mut fields = Vec::with_capacity(m.size_hint().unwrap_or(16));
                while let Some((Key(k), v)) = m.next_entry::<Key<'de>, &'de RawValue>()? {
                    fields.push((k, v));
                }
                Ok(Image(fields))
            }
        }
        d.deserialize_map(Fields(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct RawPair<'a> {
    #[serde(borrow, default)]
    before: Image<'a>,
    #[serde(borrow, default)]
    after: Image<'a>,
}

#[derive(Serialize)]
struct RawChange<'a> {
    field: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    old: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<&'a RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RawDiff<'a> {
    changed_fields: Vec<&'a str>,
    changes: Vec<RawChange<'a>>,
}

fn invalid(e: &serde_json::Error) -> Error {
    Error::InvalidArgument {
        field: "pairs".into(),
        reason: e.to_string(),
    }
}

/// Whether two raw values differ structurally. Equal texts are equal; values of different
/// JSON types, and plain strings with different texts, differ without being parsed.
fn differs(x: &str, y: &str) -> Result<bool> {
    if x == y {
        return Ok(false);
    }
    let kind = |s: &str| match s.as_bytes().first() {
        Some(b'"') => 0,
        Some(b'{') => 1,
        Some(b'[') => 2,
        Some(b't' | b'f') => 3,
        Some(b'n') => 4,
        _ => 5,
    };
    if kind(x) != kind(y) || (kind(x) == 0 && !x.contains('\\') && !y.contains('\\')) {
        return Ok(true);
    }
    let a: Value = serde_json::from_str(x).map_err(|e| invalid(&e))?;
    let b: Value = serde_json::from_str(y).map_err(|e| invalid(&e))?;
    Ok(!diff::same(&a, &b))
}

fn diff_one<'a>(p: &'a RawPair<'a>) -> Result<RawDiff<'a>> {
    let mut out = RawDiff {
        changed_fields: Vec::new(),
        changes: Vec::new(),
    };
    let before = p
        .before
        .0
        .iter()
        .enumerate()
        .map(|(i, (k, v))| (k, Some(*v), p.after.find(k, i)));
    let added = p
        .after
        .0
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| p.before.find(k, *i).is_none())
        .map(|(_, (k, v))| (k, None, Some(*v)));
    for (k, b, a) in before.chain(added) {
        let changed = match (b, a) {
            (Some(x), Some(y)) => differs(x.get(), y.get())?,
            _ => true,
        };
        if changed {
            out.changed_fields.push(k);
            out.changes.push(RawChange {
                field: k,
                old: b,
                new: a,
            });
        }
    }
    Ok(out)
}

/// JSON text `[{ before, after }]` in, `RowDiff[]` as JSON text out.
///
/// # Errors
/// `InvalidArgument` when the text is not a JSON array of `{ before, after }` objects.
pub fn diff_pairs_json(text: &str) -> Result<String> {
    let pairs: Vec<RawPair<'_>> = serde_json::from_str(text).map_err(|e| invalid(&e))?;
    let diffs = pairs.iter().map(diff_one).collect::<Result<Vec<_>>>()?;
    serde_json::to_string(&diffs).map_err(|e| invalid(&e))
}

/// JSON text `[{ before, after }]` in, the changed field names per pair (`string[][]`) out:
/// for callers that hold the images themselves and pick the old and new values from them.
///
/// # Errors
/// As [`diff_pairs_json`].
pub fn changed_fields_json(text: &str) -> Result<String> {
    let pairs: Vec<RawPair<'_>> = serde_json::from_str(text).map_err(|e| invalid(&e))?;
    let names = pairs
        .iter()
        .map(|p| diff_one(p).map(|d| d.changed_fields))
        .collect::<Result<Vec<_>>>()?;
    serde_json::to_string(&names).map_err(|e| invalid(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::audit::{diff_pairs, Pair};

    #[test]
    fn same_results_as_the_value_diff() {
        let text = r#"[
            {"before": {"a": 1, "b": {"x": 1, "y": [1, 2]}, "c": "s", "d": null, "e": 1.0},
             "after":  {"a": 2, "b": {"y": [1, 2], "x": 1}, "c": "s", "e": 1, "f": "new", "g\u00e9": "\"q\""}},
            {"before": {}, "after": {"a": 1}},
            {"after": {"a": 1}},
            {"before": {"s": "caf\u00e9", "t": "x", "n": 1, "o": [1]}, "after": {"s": "café", "t": "\"x", "n": "1", "o": {"0": 1}}}
        ]"#;
        let pairs: Vec<Pair> = serde_json::from_str(text).unwrap();
        let expected = serde_json::to_value(diff_pairs(&pairs)).unwrap();
        let got: Value = serde_json::from_str(&diff_pairs_json(text).unwrap()).unwrap();
        assert_eq!(got, expected);
        assert_eq!(
            got[0]["changedFields"],
            serde_json::json!(["a", "d", "f", "gé"])
        );
        let names: Value = serde_json::from_str(&changed_fields_json(text).unwrap()).unwrap();
        assert_eq!(names[0], serde_json::json!(["a", "d", "f", "gé"]));
        assert_eq!(names[2], serde_json::json!(["a"]));
        assert_eq!(
            got[3]["changedFields"],
            serde_json::json!(["t", "n", "o"]),
            "escaped and plain spellings of one string are equal"
        );
    }

    #[test]
    fn bad_input_names_the_argument() {
        let err = diff_pairs_json(r#"[{"before": 1}]"#).unwrap_err();
        assert_eq!(err.code(), "INVALID_ARGUMENT");
        assert!(err.to_string().contains("pairs"), "{err}");
    }
}
