//! The address table (spec E7): every entry's accept or reject, and the reason.

use serde_json::{json, Value};
use usebetter_core::email::message::{parse_address, recipients};

use super::fixture;

fn parse(input: &Value, utf8: bool) -> Result<Value, (String, String)> {
    parse_address(input, &json!({ "smtpUtf8": utf8, "field": "to[2]" }))
        .map(|m| serde_json::to_value(m).unwrap())
        .map_err(|e| (e.code().to_owned(), e.to_string()))
}

#[test]
fn table() {
    let table = fixture("addresses.json");
    let rows = table.as_array().unwrap();
    assert!(rows.len() >= 80, "{}", rows.len());
    let (mut accepted, mut refused) = (0, 0);
    for row in rows {
        let input = &row["input"];
        let utf8 = row["smtpUtf8"].as_bool().unwrap_or(false);
        if row["idn"].as_bool().unwrap_or(false) {
            // The raw U-label form is refused with the fix; the A-label form (what WHATWG URL
            // produces, checked in js-tests/email-address.test.mjs) is accepted.
            let (code, msg) = parse(input, utf8).unwrap_err();
            assert_eq!(code, "EMAIL_INVALID_ADDRESS");
            assert!(msg.contains("new URL("), "{msg}");
            let m = parse(&row["address"], utf8).unwrap();
            assert_eq!(m["address"], row["address"]);
            accepted += 1;
            continue;
        }
        match (row["ok"].as_bool().unwrap(), parse(input, utf8)) {
            (true, Ok(m)) => {
                if let Some(a) = row.get("address") {
                    assert_eq!(&m["address"], a, "{input}");
                }
                assert_eq!(m.get("name"), row.get("name"), "{input}");
                let address = m["address"].as_str().unwrap();
                assert_eq!(m["key"].as_str().unwrap(), address.to_lowercase());
                accepted += 1;
            }
            (false, Err((code, msg))) => {
                let reason = row["reason"].as_str().unwrap();
                assert_eq!(code, "EMAIL_INVALID_ADDRESS", "{input}: {msg}");
                assert!(msg.contains(reason), "{input}: {msg:?} lacks {reason:?}");
                assert!(msg.contains("`to[2]`"), "{msg}");
                assert!(!msg.contains('\r') && !msg.contains('\n'), "{msg:?}");
                refused += 1;
            }
            (ok, got) => panic!("{input}: expected ok={ok}, got {got:?}"),
        }
    }
    assert!(accepted >= 30 && refused >= 40, "{accepted} {refused}");
}

#[test]
fn recipients_are_deduplicated_and_counted() {
    let input = json!({
        "to": ["a@x.example", "Jane <A@X.example>"],
        "cc": "b@x.example",
        "bcc": [{ "address": "B@x.EXAMPLE" }, "c@x.example"],
    });
    let r = serde_json::to_value(recipients(&input, &Value::Null).unwrap()).unwrap();
    assert_eq!(r["to"].as_array().unwrap().len(), 1);
    assert_eq!(r["cc"][0]["address"], "b@x.example");
    assert_eq!(r["bcc"].as_array().unwrap().len(), 1);
    let e = recipients(&input, &json!({ "maxRecipients": 2 })).unwrap_err();
    assert_eq!(e.code(), "EMAIL_TOO_MANY_RECIPIENTS");
    assert!(
        e.to_string()
            .contains("3 distinct recipients, over the limit of 2"),
        "{e}"
    );
    let e = recipients(&json!({ "cc": ["ok@x.example", "bad@@x"] }), &Value::Null).unwrap_err();
    assert!(e.to_string().contains("`cc[1]`"), "{e}");
    let e = recipients(&json!({}), &Value::Null).unwrap_err();
    assert_eq!(e.code(), "EMAIL_INVALID_ARGUMENT");
    let e = recipients(&json!({ "to": 5 }), &Value::Null).unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    assert!(e.to_string().starts_with("invalid `input.to`: "), "{e}");
}

#[test]
fn shapes_are_named() {
    for (input, path) in [
        (json!({ "address": "a@x.example", "nam": "x" }), "input"),
        (json!(5), "input"),
    ] {
        let e = parse_address(&input, &Value::Null).unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT");
        assert!(
            e.to_string().starts_with(&format!("invalid `{path}")),
            "{e}"
        );
    }
    let e = parse_address(&json!("a@x.example"), &json!({ "smtputf8": true })).unwrap_err();
    assert!(e.to_string().starts_with("invalid `options"), "{e}");
}
