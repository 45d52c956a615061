//! Address inputs as the API takes them (`"addr"`, `"Name <addr>"`, `{ address, name? }`, one or
//! a list) and the recipients of a message: parsed, de-duplicated by their key
//! ([`super::address::address_key`]) and counted against `maxRecipients`.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::address::{parse_address, AddressOptions, Mailbox};
use super::error::{EmailError, Result};

/// `maxRecipients` default (Postmark's per-message limit).
pub const DEFAULT_MAX_RECIPIENTS: usize = 50;

/// An address as the API takes it: `"addr"`, `"Name <addr>"` or `{ address, name? }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressInput {
    Text(String),
    Object(AddressObject),
}

/// `{ address, name? }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressObject {
    pub address: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// One address or a list of them (`to: "a@x"` or `to: ["a@x", …]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneOrMany {
    One(AddressInput),
    Many(Vec<AddressInput>),
}

/// Reads a string, an object or (with `LIST`) an array, naming what it expected otherwise; a
/// visitor rather than `untagged`, so an array is never read as a struct and errors inside a list
/// keep their index in the path.
struct Visit<const LIST: bool>;

impl<'de, const LIST: bool> Visitor<'de> for Visit<LIST> {
    type Value = OneOrMany;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if LIST {
            "an address (\"addr\", \"Name <addr>\" or { address, name? }) or a list of them"
        } else {
            "an address: \"addr\", \"Name <addr>\" or { address, name? }"
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<OneOrMany, E> {
        Ok(OneOrMany::One(AddressInput::Text(v.to_owned())))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<OneOrMany, A::Error> {
        let o = AddressObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(OneOrMany::One(AddressInput::Object(o)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<OneOrMany, A::Error> {
        if !LIST {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        let list = Vec::<AddressInput>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(OneOrMany::Many(list))
    }
}

impl<'de> Deserialize<'de> for AddressInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match d.deserialize_any(Visit::<false>)? {
            OneOrMany::One(a) => Ok(a),
            OneOrMany::Many(_) => Err(de::Error::custom("unreachable: a list as one address")),
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(Visit::<true>)
    }
}

impl OneOrMany {
    /// The inputs with the field path of each (`to` for a single value, `to[2]` in a list).
    #[must_use]
    pub fn items(&self, field: &str) -> Vec<(String, &AddressInput)> {
        match self {
            OneOrMany::One(a) => vec![(field.to_owned(), a)],
            OneOrMany::Many(list) => list
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("{field}[{i}]"), a))
                .collect(),
        }
    }
}

/// `to`, `cc` and `bcc` parsed, de-duplicated (case-insensitively, by
/// [`super::address::address_key`]; the first occurrence wins, in the order to, cc, bcc) and
/// counted against `max`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recipients {
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
}

impl Recipients {
    /// Every distinct recipient, in order.
    pub fn all(&self) -> impl Iterator<Item = &Mailbox> {
        self.to.iter().chain(&self.cc).chain(&self.bcc)
    }
}

/// Parses and de-duplicates the recipients of one message.
///
/// # Errors
/// `EMAIL_INVALID_ADDRESS` naming the first bad one (`cc[1]`), `EMAIL_INVALID_ARGUMENT` when
/// there is none, `EMAIL_TOO_MANY_RECIPIENTS` over `max`.
pub fn recipients(
    to: Option<&OneOrMany>,
    cc: Option<&OneOrMany>,
    bcc: Option<&OneOrMany>,
    opts: AddressOptions,
    max: usize,
) -> Result<Recipients> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Recipients::default();
    for (name, list) in [("to", to), ("cc", cc), ("bcc", bcc)] {
        let Some(list) = list else { continue };
        for (field, input) in list.items(name) {
            let m = parse_address(&field, input, opts)?;
            if !seen.insert(m.key.clone()) {
                continue;
            }
            match name {
                "to" => out.to.push(m),
                "cc" => out.cc.push(m),
                _ => out.bcc.push(m),
            }
        }
    }
    let count = seen.len();
    if count == 0 {
        return Err(EmailError::InvalidArgument {
            field: "to".into(),
            reason: "at least one recipient (to, cc or bcc) is required".into(),
        });
    }
    if count > max {
        return Err(EmailError::TooManyRecipients {
            field: "to+cc+bcc".into(),
            count,
            max,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_and_limit() {
        let to = OneOrMany::Many(vec![
            AddressInput::Text("a@x.example".into()),
            AddressInput::Text("A@X.example".into()),
        ]);
        let bcc = OneOrMany::One(AddressInput::Text("b@x.example".into()));
        let r = recipients(Some(&to), None, Some(&bcc), AddressOptions::default(), 2).unwrap();
        assert_eq!((r.to.len(), r.bcc.len()), (1, 1));
        let e = recipients(Some(&to), None, Some(&bcc), AddressOptions::default(), 1).unwrap_err();
        assert_eq!(e.code(), "EMAIL_TOO_MANY_RECIPIENTS");
        assert!(e.to_string().contains("2 distinct"), "{e}");
    }
}
