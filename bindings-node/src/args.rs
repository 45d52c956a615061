//! Reading JS arguments. Every export takes its arguments as `Unknown` and reads them here, so
//! a value of the wrong type is an `INVALID_ARGUMENT` naming the argument (never a raw N-API
//! status), and the rules are those of the wasm binding (`usebetter_core::input`): JSON data
//! only, finite numbers, well-formed UTF-16 text.

use napi::bindgen_prelude::{Array, FromNapiValue, Function, JsObjectValue, Object, Unknown};
use napi::{JsString, JsValue, ValueType};
use serde_json::{Map, Value};
use usebetter_core::input::{self, MAX_DEPTH};
use usebetter_core::Error;

fn napi_failure(path: &str, e: &napi::Error) -> Error {
    input::invalid(path, e.reason.clone())
}

fn type_of(path: &str, v: &Unknown<'_>) -> Result<ValueType, Error> {
    v.get_type().map_err(|e| napi_failure(path, &e))
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "boolean",
        ValueType::Number => "number",
        ValueType::String => "string",
        ValueType::Symbol => "symbol",
        ValueType::Function => "function",
        ValueType::BigInt => "bigint",
        _ => "object",
    }
}

/// A required string argument.
///
/// Read as UTF-8 (V8 writes it in one pass); N-API writes a lone surrogate as U+FFFD, so only
/// text holding that character is read again as UTF-16, where a lone surrogate is refused as
/// the wasm binding refuses it.
pub fn string(path: &str, v: Unknown<'_>) -> Result<String, Error> {
    match type_of(path, &v)? {
        ValueType::String => {
            let s = JsString::from_unknown(v).map_err(|e| napi_failure(path, &e))?;
            let text = s.into_utf8().map_err(|e| napi_failure(path, &e))?;
            let text = text.into_owned().map_err(|e| napi_failure(path, &e))?;
            if !text.contains('\u{FFFD}') {
                return Ok(text);
            }
            let units = s.into_utf16().map_err(|e| napi_failure(path, &e))?;
            // The buffer ends with the NUL terminator N-API writes.
            let slice = units.as_slice();
            let body = slice.split_last().map_or(slice, |(_, body)| body);
            input::text_from_utf16(path, body)
        }
        t => Err(input::expected_string(path, type_name(t))),
    }
}

/// An optional string argument: `undefined` and `null` are absent.
pub fn opt_string(path: &str, v: Unknown<'_>) -> Result<Option<String>, Error> {
    match type_of(path, &v)? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        _ => string(path, v).map(Some),
    }
}

/// Any argument read as JSON data (`undefined` reads as `null`).
pub fn json(path: &str, v: Unknown<'_>) -> Result<Value, Error> {
    value(path, v, 0)
}

/// A JSON value that must be present: `undefined` has no JSON form.
pub fn json_defined(path: &str, v: Unknown<'_>) -> Result<Value, Error> {
    match type_of(path, &v)? {
        ValueType::Undefined => Err(input::not_json(path, "undefined")),
        _ => value(path, v, 0),
    }
}

fn value(path: &str, v: Unknown<'_>, depth: usize) -> Result<Value, Error> {
    let fail = |e: napi::Error| napi_failure(path, &e);
    match type_of(path, &v)? {
        ValueType::Undefined | ValueType::Null => Ok(Value::Null),
        ValueType::Boolean => Ok(Value::Bool(bool::from_unknown(v).map_err(fail)?)),
        ValueType::Number => input::number(path, f64::from_unknown(v).map_err(fail)?),
        ValueType::String => string(path, v).map(Value::String),
        ValueType::Object if depth >= MAX_DEPTH => Err(input::too_deep(path)),
        ValueType::Object if v.is_array().map_err(fail)? => {
            let arr = Array::from_unknown(v).map_err(fail)?;
            let mut out = Vec::with_capacity(arr.len() as usize);
            for i in 0..arr.len() {
                let child = input::index_path(path, i);
                out.push(match arr.get::<Unknown<'_>>(i).map_err(fail)? {
                    Some(item) => value(&child, item, depth + 1)?,
                    None => Value::Null,
                });
            }
            Ok(Value::Array(out))
        }
        ValueType::Object => object(path, v, depth),
        t => Err(input::not_json(path, type_name(t))),
    }
}

/// A plain object by its own enumerable string keys (as `Object.keys`); a `toJSON` method
/// (a `Date`) is honoured as `JSON.stringify` would.
fn object(path: &str, v: Unknown<'_>, depth: usize) -> Result<Value, Error> {
    let fail = |e: napi::Error| napi_failure(path, &e);
    let obj = Object::from_unknown(v).map_err(fail)?;
    if let Some(to_json) = obj.get::<Unknown<'_>>("toJSON").map_err(fail)? {
        if to_json.get_type().map_err(fail)? == ValueType::Function {
            let f = Function::<(), Unknown<'_>>::from_unknown(to_json).map_err(fail)?;
            let out = f.apply(obj, ()).map_err(fail)?;
            return value(path, out, depth + 1);
        }
    }
    let names = obj.get_property_names().map_err(fail)?;
    let len = names.get_array_length().map_err(fail)?;
    let mut out = Map::new();
    for i in 0..len {
        let name: Unknown<'_> = names.get_element(i).map_err(fail)?;
        // `get_property_names` walks the prototype chain too; Object.keys does not.
        if !obj.has_own_property_js(name).map_err(fail)? {
            continue;
        }
        let item: Unknown<'_> = obj.get_property(name).map_err(fail)?;
        let key = string(path, name)?;
        if type_of(path, &item)? == ValueType::Undefined {
            continue;
        }
        let child = input::key_path(path, &key);
        out.insert(key, value(&child, item, depth + 1)?);
    }
    Ok(Value::Object(out))
}
