//! Typed reading of JSON input for the bindings (feature `serde`).
//!
//! Both bindings turn their JS argument into a `serde_json::Value` first and read it here, so a
//! value of the wrong shape gets the same error, naming the same field path, in Node and wasm.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

/// Reads argument `arg` as `T`.
///
/// # Errors
/// `InvalidArgument` naming the path of the first bad field, e.g. `config.jwt.secret`.
pub fn from_value<T: DeserializeOwned>(arg: &str, value: &Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        Error::InvalidArgument {
            field: if path == "." {
                arg.to_owned()
            } else {
                format!("{arg}.{path}")
            },
            reason: e.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::ResolverConfig;

    #[test]
    fn names_the_nested_field() {
        let v = serde_json::json!({ "jwt": { "claim": "t", "secret": 5 } });
        let err = from_value::<ResolverConfig>("config", &v).unwrap_err();
        assert_eq!(err.code(), "INVALID_ARGUMENT");
        assert!(err.to_string().starts_with("invalid `config.jwt"), "{err}");
    }

    #[test]
    fn top_level_type_error() {
        let err = from_value::<ResolverConfig>("config", &Value::from("x")).unwrap_err();
        assert!(err.to_string().starts_with("invalid `config`: "), "{err}");
    }
}
