//! serde's access traits over the value tree (sequences, maps, enums), each element read by a
//! [`De`] one link further down the path.

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, Error as _, IntoDeserializer, Unexpected, Visitor};
use serde_json::{Error, Value};

use super::{unexpected, Chain, De, Track};

pub(super) struct SeqDe<'de, 'c> {
    pub(super) iter: std::slice::Iter<'de, Value>,
    pub(super) index: usize,
    pub(super) chain: &'c Chain<'c>,
    pub(super) track: &'c Track,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'de, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(v) = self.iter.next() else {
            return Ok(None);
        };
        let chain = Chain::Index {
            parent: self.chain,
            index: self.index,
        };
        self.index += 1;
        seed.deserialize(De {
            v,
            chain: &chain,
            track: self.track,
        })
        .map(Some)
        .map_err(|e| self.track.trigger(self.chain, e))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

pub(super) struct MapDe<'de, 'c> {
    pub(super) iter: serde_json::map::Iter<'de>,
    pub(super) entry: Option<(&'de str, &'de Value)>,
    pub(super) chain: &'c Chain<'c>,
    pub(super) track: &'c Track,
}

impl<'de> de::MapAccess<'de> for MapDe<'de, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, v)) = self.iter.next() else {
            return Ok(None);
        };
        self.entry = Some((key, v));
        // An unknown key's error names the key itself.
        seed.deserialize(BorrowedStrDeserializer::<Error>::new(key))
            .map(Some)
            .map_err(|e| {
                let chain = Chain::Key {
                    parent: self.chain,
                    key,
                };
                self.track.trigger(&chain, e)
            })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some((key, v)) = self.entry.take() else {
            return Err(Error::custom("value is missing"));
        };
        let chain = Chain::Key {
            parent: self.chain,
            key,
        };
        seed.deserialize(De {
            v,
            chain: &chain,
            track: self.track,
        })
        .map_err(|e| self.track.trigger(self.chain, e))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An enum: a variant name, with its content (`{ "variant": content }`) or without (`"variant"`).
pub(super) struct EnumDe<'de, 'c> {
    pub(super) variant: &'de str,
    pub(super) value: Option<&'de Value>,
    pub(super) chain: &'c Chain<'c>,
    pub(super) track: &'c Track,
}

impl<'de, 'c> de::EnumAccess<'de> for EnumDe<'de, 'c> {
    type Error = Error;
    type Variant = VariantDe<'de, 'c>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Error> {
        let name: StrDeserializer<'_, Error> = self.variant.into_deserializer();
        let v = seed
            .deserialize(name)
            .map_err(|e| self.track.trigger(self.chain, e))?;
        Ok((
            v,
            VariantDe {
                variant: self.variant,
                value: self.value,
                parent: self.chain,
                track: self.track,
            },
        ))
    }
}

/// The content of a variant, whose path ends with the variant's name.
pub(super) struct VariantDe<'de, 'c> {
    pub(super) variant: &'de str,
    pub(super) value: Option<&'de Value>,
    pub(super) parent: &'c Chain<'c>,
    pub(super) track: &'c Track,
}

impl<'de> VariantDe<'de, '_> {
    /// Runs `f` on the content's deserializer, tracking errors at the variant.
    fn with<R>(self, f: impl FnOnce(Option<De<'de, '_>>) -> Result<R, Error>) -> Result<R, Error> {
        let chain = Chain::Key {
            parent: self.parent,
            key: self.variant,
        };
        let de = self.value.map(|v| De {
            v,
            chain: &chain,
            track: self.track,
        });
        f(de).map_err(|e| self.track.trigger(&chain, e))
    }
}

impl<'de> de::VariantAccess<'de> for VariantDe<'de, '_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        self.with(|de| match de {
            Some(de) => <() as de::Deserialize>::deserialize(de),
            None => Ok(()),
        })
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        self.with(|de| match de {
            Some(de) => seed.deserialize(de),
            None => Err(Error::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.with(|de| match de {
            Some(de) => match de.v {
                Value::Array(a) if a.is_empty() => visitor.visit_unit(),
                Value::Array(a) => de.seq(a, visitor),
                other => Err(Error::invalid_type(unexpected(other), &"tuple variant")),
            },
            None => Err(Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        })
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.with(|de| match de {
            Some(de) => match de.v {
                Value::Object(m) => de.map(m, visitor),
                other => Err(Error::invalid_type(unexpected(other), &"struct variant")),
            },
            None => Err(Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        })
    }
}
