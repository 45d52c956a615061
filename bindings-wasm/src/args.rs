//! Reading JS arguments. Every export takes its arguments as `JsValue` and reads them here, so
//! a value of the wrong type is an `INVALID_ARGUMENT` naming the argument (never a trap in the
//! generated glue), and the rules are those of the N-API binding (`usebetter_core::input`):
//! JSON data only, finite numbers, well-formed UTF-16 text.

use js_sys::{Array, Function, JsString, Object, Reflect};
use serde_json::{Map, Value};
use usebetter_core::input::{self, MAX_DEPTH};
use usebetter_core::Error;
use wasm_bindgen::{JsCast, JsValue};

fn type_name(v: &JsValue) -> String {
    if v.is_null() {
        return "null".to_owned();
    }
    v.js_typeof().as_string().unwrap_or_default()
}

/// A getter or proxy trap that threw while the value was read.
fn thrown(path: &str, e: &JsValue) -> Error {
    let message = e
        .dyn_ref::<js_sys::Error>()
        .map_or_else(|| format!("{e:?}"), |e| String::from(e.message()));
    input::invalid(path, format!("reading it threw: {message}"))
}

/// A required string argument.
pub fn string(path: &str, v: &JsValue) -> Result<String, Error> {
    let Some(s) = v.as_string() else {
        return Err(input::expected_string(path, &type_name(v)));
    };
    // The glue replaces a lone surrogate by U+FFFD; only then is the slow exact check needed.
    if s.contains('\u{FFFD}') && !v.unchecked_ref::<JsString>().is_valid_utf16() {
        return Err(input::lone_surrogate(path));
    }
    Ok(s)
}

/// An optional string argument: `undefined` and `null` are absent.
pub fn opt_string(path: &str, v: &JsValue) -> Result<Option<String>, Error> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    string(path, v).map(Some)
}

/// Any argument read as JSON data (`undefined` reads as `null`).
pub fn json(path: &str, v: &JsValue) -> Result<Value, Error> {
    value(path, v, 0)
}

/// A JSON value that must be present: `undefined` has no JSON form.
#[cfg(feature = "suite")]
pub fn json_defined(path: &str, v: &JsValue) -> Result<Value, Error> {
    if v.is_undefined() {
        return Err(input::not_json(path, "undefined"));
    }
    value(path, v, 0)
}

fn value(path: &str, v: &JsValue, depth: usize) -> Result<Value, Error> {
    if v.is_undefined() || v.is_null() {
        return Ok(Value::Null);
    }
    if let Some(b) = v.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = v.as_f64() {
        return input::number(path, n);
    }
    if v.is_string() {
        return string(path, v).map(Value::String);
    }
    if !v.is_object() || v.is_function() {
        return Err(input::not_json(path, &type_name(v)));
    }
    if depth >= MAX_DEPTH {
        return Err(input::too_deep(path));
    }
    if Array::is_array(v) {
        let arr: &Array = v.unchecked_ref();
        let mut out = Vec::with_capacity(arr.length() as usize);
        for i in 0..arr.length() {
            out.push(value(&input::index_path(path, i), &arr.get(i), depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    object(path, v, depth)
}

/// A plain object by its own enumerable string keys (`Object.keys`); a `toJSON` method (a
/// `Date`) is honoured as `JSON.stringify` would.
fn object(path: &str, v: &JsValue, depth: usize) -> Result<Value, Error> {
    let to_json = Reflect::get(v, &JsValue::from_str("toJSON")).map_err(|e| thrown(path, &e))?;
    if let Some(f) = to_json.dyn_ref::<Function>() {
        let out = f.call0(v).map_err(|e| thrown(path, &e))?;
        return value(path, &out, depth + 1);
    }
    let mut out = Map::new();
    for name in Object::keys(v.unchecked_ref::<Object>()).iter() {
        let item = Reflect::get(v, &name).map_err(|e| thrown(path, &e))?;
        let key = string(path, &name)?;
        if item.is_undefined() {
            continue;
        }
        let child = input::key_path(path, &key);
        out.insert(key, value(&child, &item, depth + 1)?);
    }
    Ok(Value::Object(out))
}
