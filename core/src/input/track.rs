//! Reading a `serde_json::Value` into a typed input while recording where the first error
//! arose (`config.jwt.secret`, `rows[3].keys[0].id`).
//!
//! The path is tracked at the level of the value tree, not by wrapping every visitor (as a
//! generic path-tracking deserializer does): each input type's `Deserialize` code is generated
//! once, against [`De`], instead of once more per wrapped visitor. That keeps the WebAssembly
//! module small. Paths and messages are those of `serde_path_to_error` over `&Value`: segments
//! joined by `.`, indices as `[i]`, an enum's content under its variant's name, the key itself
//! for an unknown key, and `.` for the root.

use std::cell::Cell;

use serde::de::{self, DeserializeOwned, Error as _, Unexpected, Visitor};
use serde_json::{Error, Map, Value};

mod access;

use access::{EnumDe, MapDe, SeqDe};

/// Where a value sits: a linked list from the value up to the root, on the stack.
enum Chain<'c> {
    Root,
    Index { parent: &'c Chain<'c>, index: usize },
    Key { parent: &'c Chain<'c>, key: &'c str },
}

/// The path of the first error reported (the innermost value that refused).
struct Track(Cell<Option<String>>);

impl Track {
    #[inline(never)]
    fn trigger(&self, chain: &Chain<'_>, e: Error) -> Error {
        if let Some(path) = self.0.take() {
            self.0.set(Some(path));
        } else {
            self.0.set(Some(path_text(chain)));
        }
        e
    }
}

fn path_text(mut chain: &Chain<'_>) -> String {
    let mut segments = Vec::new();
    loop {
        match chain {
            Chain::Root => break,
            Chain::Index { parent, index } => {
                segments.push(format!("[{index}]"));
                chain = parent;
            }
            Chain::Key { parent, key } => {
                segments.push((*key).to_owned());
                chain = parent;
            }
        }
    }
    if segments.is_empty() {
        return ".".into();
    }
    let mut out = String::new();
    for (i, s) in segments.iter().rev().enumerate() {
        if i > 0 && !s.starts_with('[') {
            out.push('.');
        }
        out.push_str(s);
    }
    out
}

/// Reads `value` as `T`; on failure, the path of the value that refused (`.` for the root)
/// and serde's message.
pub(crate) fn deserialize<T: DeserializeOwned>(value: &Value) -> Result<T, (String, Error)> {
    let track = Track(Cell::new(None));
    T::deserialize(De {
        v: value,
        chain: &Chain::Root,
        track: &track,
    })
    .map_err(|e| (track.0.take().unwrap_or_else(|| ".".into()), e))
}

/// The value at `chain`.
#[derive(Clone, Copy)]
struct De<'de, 'c> {
    v: &'de Value,
    chain: &'c Chain<'c>,
    track: &'c Track,
}

impl<'de, 'c> De<'de, 'c> {
    fn fail(self, e: Error) -> Error {
        self.track.trigger(self.chain, e)
    }

    fn seq<V: Visitor<'de>>(self, items: &'de [Value], visitor: V) -> Result<V::Value, Error> {
        let mut access = SeqDe {
            iter: items.iter(),
            index: 0,
            chain: self.chain,
            track: self.track,
        };
        let out = visitor.visit_seq(&mut access)?;
        if access.iter.len() == 0 {
            Ok(out)
        } else {
            Err(Error::invalid_length(
                items.len(),
                &"fewer elements in array",
            ))
        }
    }

    fn map<V: Visitor<'de>>(
        self,
        map: &'de Map<String, Value>,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let mut access = MapDe {
            iter: map.iter(),
            entry: None,
            chain: self.chain,
            track: self.track,
        };
        let out = visitor.visit_map(&mut access)?;
        if access.iter.len() == 0 {
            Ok(out)
        } else {
            Err(Error::invalid_length(map.len(), &"fewer elements in map"))
        }
    }
}

/// `Value::unexpected` (private to `serde_json`), for the messages of enum variants.
fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Unexpected::Unsigned(u),
            (None, Some(i)) => Unexpected::Signed(i),
            _ => Unexpected::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// `serde_json`'s refusal of a value of the wrong type. (Calling its compound readers just for
/// the error would compile each visitor a second time, against `serde_json`'s accessors.)
fn wrong_type(v: &Value, expected: &dyn de::Expected) -> Error {
    Error::invalid_type(unexpected(v), expected)
}

/// Scalars are read by `serde_json`'s own `&Value` deserializer; only the error is tracked.
macro_rules! leaf {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.v.$method(visitor).map_err(|e| self.fail(e))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for De<'de, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            Value::Array(a) => self.seq(a, visitor),
            Value::Object(m) => self.map(m, visitor),
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => n.deserialize_any(visitor),
            Value::String(s) => visitor.visit_borrowed_str(s),
        }
        .map_err(|e| self.fail(e))
    }

    leaf! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_unit deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            Value::Array(a) => self.seq(a, visitor),
            Value::String(s) => visitor.visit_borrowed_str(s),
            v => Err(wrong_type(v, &visitor)),
        }
        .map_err(|e| self.fail(e))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| self.fail(e))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        // No input holds a `RawValue` (its text comes from `serde_json`'s own readers).
        let _ = name;
        visitor.visit_newtype_struct(self).map_err(|e| self.fail(e))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            Value::Array(a) => self.seq(a, visitor),
            v => Err(wrong_type(v, &visitor)),
        }
        .map_err(|e| self.fail(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            Value::Object(m) => self.map(m, visitor),
            v => Err(wrong_type(v, &visitor)),
        }
        .map_err(|e| self.fail(e))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.v {
            Value::Array(a) => self.seq(a, visitor),
            Value::Object(m) => self.map(m, visitor),
            v => Err(wrong_type(v, &visitor)),
        }
        .map_err(|e| self.fail(e))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (variant, value) = match self.v {
            Value::String(s) => (s.as_str(), None),
            Value::Object(m) => match m.iter().next() {
                Some((k, v)) if m.len() == 1 => (k.as_str(), Some(v)),
                _ => {
                    let e = Error::invalid_value(Unexpected::Map, &"map with a single key");
                    return Err(self.fail(e));
                }
            },
            v => return Err(self.fail(Error::invalid_type(unexpected(v), &"string or map"))),
        };
        visitor
            .visit_enum(EnumDe {
                variant,
                value,
                chain: self.chain,
                track: self.track,
            })
            .map_err(|e| self.fail(e))
    }
}
