//! Canonical JSON: object keys sorted by UTF-16 code units (as RFC 8785 and JavaScript sort
//! them), no insignificant whitespace. Equal values always give equal bytes, which is what
//! hashing audit rows into a chain needs.

use serde_json::Value;

/// Serialises `value` canonically.
#[must_use]
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_sorted_recursively_without_whitespace() {
        let v = json!({ "b": 1, "a": { "z": [3, { "y": null, "x": "é" }], "c": true } });
        assert_eq!(
            to_canonical_string(&v),
            r#"{"a":{"c":true,"z":[3,{"x":"é","y":null}]},"b":1}"#
        );
    }

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"x":1,"y":{"p":1,"q":2}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"y":{"q":2,"p":1},"x":1}"#).unwrap();
        assert_eq!(to_canonical_string(&a), to_canonical_string(&b));
    }

    #[test]
    fn utf16_order_like_javascript() {
        // U+FFFD sorts after U+1F600 in UTF-16 (surrogates D83D < FFFD), unlike in UTF-8.
        let v = json!({ "\u{FFFD}": 1, "\u{1F600}": 2 });
        assert_eq!(to_canonical_string(&v), "{\"\u{1F600}\":2,\"\u{FFFD}\":1}");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            to_canonical_string(&json!({ "k\"": "a\nb" })),
            r#"{"k\"":"a\nb"}"#
        );
    }
}
