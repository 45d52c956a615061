//! Which fields of a row changed, decided in one place: [`changed_fields_json`] in Rust (the
//! `captureLog` pipeline) and [`diff_sql`], the same decision as a SQL expression (inline
//! capture and trigger capture). `js-tests/audit-diff.test.mjs` holds the two equal on random
//! pairs against PostgreSQL.
//!
//! The decision, over two row images (JSON objects with distinct keys):
//! - fields are listed in `before`'s key order, then the keys only `after` has, in its order;
//! - a field is changed when one side lacks it (`null` is a value: `null` and missing differ),
//!   or when its two values differ as `jsonb` values do: objects whatever their key order (of
//!   repeated keys the last counts), arrays element by element, numbers by exact decimal value
//!   (`1`, `1.0` and `1e0` are equal; `9007199254740993` and `9007199254740992` are not), strings
//!   after unescaping, byte for byte.
//!
//! The reference compared `JSON.stringify` texts, so key order inside a JSON value counted as a
//! change there; for values JavaScript produced (one spelling per number) everything else agrees.
//! The stored diff is `{ changedFields, changes: [{ field, old, new }] }`: `old` is absent when
//! the field did not exist before, `new` when it does not exist after.

use serde_json::Value;

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

/// The diff of one row, as stored.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct RowDiff {
    pub changed_fields: Vec<String>,
    pub changes: Vec<FieldChange>,
}

/// The stored diff of the JSON images `before` and `after` (SQL expressions of type `json`;
/// SQL NULL counts as `{}`) as a SQL expression of type `jsonb`: NULL when nothing changed.
/// Values are compared as `jsonb`, which is the decision described above.
#[must_use]
pub fn diff_sql(before: &str, after: &str) -> String {
    format!(
        "(select case when count(*) = 0 then null else jsonb_build_object('changedFields', jsonb_agg(d.k order by d.o), 'changes', jsonb_agg(d.c order by d.o)) end \
from (select coalesce(b.k, a.k) as k, coalesce(b.o, 1000000 + a.o) as o, \
jsonb_build_object('field', coalesce(b.k, a.k)) \
|| case when b.k is null then '{{}}'::jsonb else jsonb_build_object('old', b.v) end \
|| case when a.k is null then '{{}}'::jsonb else jsonb_build_object('new', a.v) end as c \
from json_each({before}) with ordinality b(k, v, o) \
full join json_each({after}) with ordinality a(k, v, o) on a.k = b.k \
where a.k is null or b.k is null or a.v::jsonb is distinct from b.v::jsonb) d)"
    )
}

#[cfg(feature = "serde")]
pub use text::changed_fields_json;

/// The Rust side, over JSON text without building value trees: each image is read as field
/// name → borrowed raw JSON text; fields whose texts are byte-equal are unchanged (the common
/// case, and how JavaScript serialises equal values) and only the others are compared.
#[cfg(feature = "serde")]
mod text {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use serde::de::{MapAccess, Visitor};
    use serde::{Deserialize, Deserializer};
    use serde_json::value::RawValue;

    use crate::error::{Error, Result};

    /// Fields in document order. Rows are short enough that a scan beats hashing, and both
    /// images of a row usually list the same fields in the same order, so lookups start there.
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

    /// A field name or string, borrowed from the text unless it holds escapes.
    struct Text<'a>(Cow<'a, str>);

    impl<'de> Deserialize<'de> for Text<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct Name;
            impl<'de> Visitor<'de> for Name {
                type Value = Text<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Text<'de>, E> {
                    Ok(Text(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> std::result::Result<Text<'de>, E> {
                    Ok(Text(Cow::Owned(v.to_owned())))
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
                    while let Some((Text(k), v)) = m.next_entry::<Text<'de>, &'de RawValue>()? {
                        fields.push((k, v));
                    }
                    Ok(Image(fields))
                }
            }
            d.deserialize_map(Fields(std::marker::PhantomData))
        }
    }

    #[derive(Deserialize)]
    struct Pair<'a> {
        #[serde(borrow, default)]
        before: Image<'a>,
        #[serde(borrow, default)]
        after: Image<'a>,
    }

    fn invalid(e: &serde_json::Error) -> Error {
        Error::InvalidArgument {
            field: "pairs".into(),
            reason: e.to_string(),
        }
    }

    #[derive(PartialEq, Eq, Clone, Copy)]
    enum Kind {
        Text,
        Object,
        Array,
        Bool,
        Null,
        Number,
    }

    fn kind(s: &str) -> Kind {
        match s.as_bytes().first() {
            Some(b'"') => Kind::Text,
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// A JSON number by value: its sign, its significant digits (those of the integer and
    /// fraction parts without leading and trailing zeros) and the exponent of the last one.
    /// Zero has no digits and no sign. Equal values are equal here, as `numeric` compares them.
    #[derive(Debug)]
    struct Decimal<'a> {
        negative: bool,
        int: &'a str,
        frac: &'a str,
        skip: usize,
        len: usize,
        exponent: i64,
    }

    impl Decimal<'_> {
        fn digits(&self) -> impl Iterator<Item = u8> + '_ {
            self.int
                .bytes()
                .chain(self.frac.bytes())
                .skip(self.skip)
                .take(self.len)
        }
    }

    impl PartialEq for Decimal<'_> {
        fn eq(&self, other: &Self) -> bool {
            (self.negative, self.len, self.exponent) == (other.negative, other.len, other.exponent)
                && self.digits().eq(other.digits())
        }
    }

    fn decimal(s: &str) -> Decimal<'_> {
        let (negative, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
        let (mantissa, exponent) = s.split_once(['e', 'E']).unwrap_or((s, "0"));
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        // Beyond any exponent PostgreSQL's numeric accepts; saturating keeps it total.
        let exponent = exponent.trim_start_matches('+').parse::<i64>().unwrap_or(
            if exponent.starts_with('-') {
                i64::MIN / 2
            } else {
                i64::MAX / 2
            },
        );
        let zeros = |t: &str| t.bytes().rev().take_while(|b| *b == b'0').count();
        let total = int.len() + frac.len();
        let skip = int
            .bytes()
            .chain(frac.bytes())
            .take_while(|b| *b == b'0')
            .count();
        if skip == total {
            let zero = "";
            return Decimal {
                negative: false,
                int: zero,
                frac: zero,
                skip: 0,
                len: 0,
                exponent: 0,
            };
        }
        let mut trailing = zeros(frac);
        if trailing == frac.len() {
            trailing += zeros(int);
        }
        let shift = i64::try_from(trailing).unwrap_or(0) - i64::try_from(frac.len()).unwrap_or(0);
        Decimal {
            negative,
            int,
            frac,
            skip,
            len: total - skip - trailing,
            exponent: exponent.saturating_add(shift),
        }
    }

    /// An object's members, the last of repeated keys winning (as in `jsonb`).
    fn members(s: &str) -> Result<BTreeMap<Cow<'_, str>, &RawValue>> {
        let Image(fields) = serde_json::from_str(s).map_err(|e| invalid(&e))?;
        Ok(fields.into_iter().collect())
    }

    /// Whether two raw JSON values are the same value (see the module's rules).
    fn same(x: &str, y: &str) -> Result<bool> {
        if x == y {
            return Ok(true);
        }
        let k = kind(x);
        if k != kind(y) {
            return Ok(false);
        }
        Ok(match k {
            Kind::Text if !x.contains('\\') && !y.contains('\\') => false,
            Kind::Text => {
                let a: Text<'_> = serde_json::from_str(x).map_err(|e| invalid(&e))?;
                let b: Text<'_> = serde_json::from_str(y).map_err(|e| invalid(&e))?;
                a.0 == b.0
            }
            Kind::Number => decimal(x) == decimal(y),
            Kind::Bool | Kind::Null => false,
            Kind::Array => {
                let a: Vec<&RawValue> = serde_json::from_str(x).map_err(|e| invalid(&e))?;
                let b: Vec<&RawValue> = serde_json::from_str(y).map_err(|e| invalid(&e))?;
                a.len() == b.len() && all_same(a.iter().zip(&b).map(|(v, w)| (*v, Some(*w))))?
            }
            Kind::Object => {
                let a = members(x)?;
                let b = members(y)?;
                a.len() == b.len()
                    && all_same(a.iter().map(|(k, v)| (*v, b.get(k.as_ref()).copied())))?
            }
        })
    }

    /// Whether every left value has a right one that is the same value.
    fn all_same<'a>(
        pairs: impl Iterator<Item = (&'a RawValue, Option<&'a RawValue>)>,
    ) -> Result<bool> {
        for (v, w) in pairs {
            match w {
                Some(w) if same(v.get(), w.get())? => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    fn changed<'a>(p: &'a Pair<'a>) -> Result<Vec<&'a str>> {
        let mut out = Vec::new();
        for (i, (k, b)) in p.before.0.iter().enumerate() {
            let keep = match p.after.find(k, i) {
                Some(a) => !same(b.get(), a.get())?,
                None => true,
            };
            if keep {
                out.push(k.as_ref());
            }
        }
        for (i, (k, _)) in p.after.0.iter().enumerate() {
            if p.before.find(k, i).is_none() {
                out.push(k.as_ref());
            }
        }
        Ok(out)
    }

    /// JSON text `[{ before, after }]` in, the changed field names per pair (`string[][]`) out;
    /// callers hold the images and take the old and new values from them.
    ///
    /// # Errors
    /// `InvalidArgument` when the text is not a JSON array of `{ before, after }` objects.
    pub fn changed_fields_json(text: &str) -> Result<String> {
        let pairs: Vec<Pair<'_>> = serde_json::from_str(text).map_err(|e| invalid(&e))?;
        let names = pairs.iter().map(changed).collect::<Result<Vec<_>>>()?;
        serde_json::to_string(&names).map_err(|e| invalid(&e))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::{json, Value};

        fn names(text: &str) -> Value {
            serde_json::from_str(&changed_fields_json(text).unwrap()).unwrap()
        }

        #[test]
        fn fields_in_before_order_then_added_ones() {
            let got = names(
                r#"[
                {"before": {"id": 1, "name": "a", "role": "user", "gone": 1},
                 "after": {"id": 1, "role": "admin", "name": "b", "added": true}},
                {"before": {}, "after": {"a": 1}},
                {"after": {"a": 1}},
                {"before": {"a": null}, "after": {}}
            ]"#,
            );
            assert_eq!(
                got,
                json!([["name", "role", "gone", "added"], ["a"], ["a"], ["a"]])
            );
        }

        #[test]
        fn values_compare_as_jsonb_does() {
            let got = names(
                r#"[{"before": {"o": {"x": 1, "y": [1, {"p": 2, "q": 3}]}, "n": 1, "e": 1e2, "z": -0.0,
                                "s": "caf\u00e9", "d": {"k": 1, "k": 2}, "a": [1, 2], "big": 9007199254740993,
                                "f": 0.1, "t": "x", "i": 1, "u": [1], "b": true, "gé": "\"q\""},
                    "after":  {"o": {"y": [1, {"q": 3, "p": 2}], "x": 1}, "n": 1.0, "e": 100, "z": 0,
                                "s": "café", "d": {"k": 2}, "a": [2, 1], "big": 9007199254740992,
                                "f": 0.10000000000000001, "t": "\"x", "i": "1", "u": {"0": 1}, "b": false, "gé": "\"q\""}}]"#,
            );
            assert_eq!(
                got,
                json!([["a", "big", "f", "t", "i", "u", "b"]]),
                "key order, number spelling, escapes and repeated keys are no change"
            );
        }

        #[test]
        fn decimals_are_exact() {
            assert_eq!(decimal("1.50e1"), decimal("15"));
            assert_eq!(decimal("0.0150e3"), decimal("15.000"));
            assert_eq!(decimal("-0"), decimal("0.000e5"));
            assert_ne!(decimal("-1"), decimal("1"));
            assert_ne!(decimal("12"), decimal("1.2"));
            assert_ne!(decimal("100"), decimal("10"));
            let d = decimal("-1200.00e-1");
            assert_eq!(
                (d.digits().collect::<Vec<u8>>(), d.exponent),
                (b"12".to_vec(), 1)
            );
            assert_ne!(decimal("1e99999999999999999999"), decimal("1"));
        }

        #[test]
        fn bad_input_names_the_argument() {
            for bad in [
                r#"[{"before": 1}]"#,
                "{}",
                r#"[{"before": {"a": 1}, "after": {"a": 2"#,
            ] {
                let err = changed_fields_json(bad).unwrap_err();
                assert_eq!(err.code(), "INVALID_ARGUMENT");
                assert!(err.to_string().contains("pairs"), "{err}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_takes_both_images_once() {
        let sql = diff_sql("old_j", "r.\"__audit_image\"::json");
        assert_eq!(sql.matches("old_j").count(), 1);
        assert!(sql.contains("full join json_each(r.\"__audit_image\"::json) with ordinality a"));
        assert!(sql.contains("a.v::jsonb is distinct from b.v::jsonb"));
    }
}
