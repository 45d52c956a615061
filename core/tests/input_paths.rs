//! `input::with_path` reports the same path and message as `serde_path_to_error` over a
//! `&Value`, for every shape an input type can take and for the real input types, on valid
//! values and on every one-leaf corruption of them.

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use usebetter_core::input::with_path;

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Outer {
    name: String,
    count: Option<u32>,
    ratio: f64,
    #[serde(default)]
    tags: Vec<String>,
    pairs: Option<Vec<(String, i64)>>,
    inner: Option<Inner>,
    kind: Kind,
    shape: Option<Shape>,
    either: Option<Either>,
    headers: Option<BTreeMap<String, String>>,
    wrapped: Option<Wrapped>,
    any: Option<Value>,
    flag: Option<bool>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inner {
    list: Vec<Inner2>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Inner2 {
    id: u8,
    note: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Plain,
    Fancy,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Shape {
    Dot,
    Circle(u32),
    Rect { w: u32, h: u32 },
    Pair(u32, String),
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum Either {
    Text(String),
    Detailed { a: u32, b: Option<String> },
}

#[derive(Debug, PartialEq, Deserialize)]
struct Wrapped(Vec<u16>);

fn sample() -> Value {
    json!({
        "name": "n",
        "count": 3,
        "ratio": 0.5,
        "tags": ["a", "b"],
        "pairs": [["x", -1], ["y", 2]],
        "inner": { "list": [{ "id": 1 }, { "id": 2, "note": "z" }] },
        "kind": "fancy",
        "shape": { "rect": { "w": 1, "h": 2 } },
        "either": { "a": 1 },
        "headers": { "x-a": "1" },
        "wrapped": [1, 2],
        "any": { "deep": [1, { "k": null }] },
        "flag": true
    })
}

/// Every value obtained from `v` by replacing one node (or adding a key to one object).
fn corruptions(v: &Value) -> Vec<Value> {
    let replacements = [
        json!(null),
        json!(true),
        json!(-7),
        json!(300),
        json!(1.5),
        json!("s"),
        json!([]),
        json!([1, "a"]),
        json!({}),
        json!({ "q": 1 }),
    ];
    let mut out: Vec<Value> = replacements.to_vec();
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                for c in corruptions(item) {
                    let mut copy = items.clone();
                    copy[i] = c;
                    out.push(Value::Array(copy));
                }
            }
            let mut longer = items.clone();
            longer.push(json!("extra"));
            out.push(Value::Array(longer));
        }
        Value::Object(map) => {
            for (k, item) in map {
                for c in corruptions(item) {
                    let mut copy = map.clone();
                    copy.insert(k.clone(), c);
                    out.push(Value::Object(copy));
                }
                let mut without = map.clone();
                without.remove(k);
                out.push(Value::Object(without));
            }
            let mut extra = map.clone();
            extra.insert("unknownKey".into(), json!(1));
            out.push(Value::Object(extra));
        }
        _ => {}
    }
    out
}

fn same<T: DeserializeOwned + Debug + PartialEq>(v: &Value) {
    let ours = with_path::<T>(v).map_err(|(path, e)| (path, e.to_string()));
    let reference = serde_path_to_error::deserialize::<_, T>(v)
        .map_err(|e| (e.path().to_string(), e.into_inner().to_string()));
    assert_eq!(ours, reference, "{v}");
}

fn all_corruptions<T: DeserializeOwned + Debug + PartialEq>(valid: &Value) -> usize {
    same::<T>(valid);
    assert!(with_path::<T>(valid).is_ok(), "{valid}");
    let cases = corruptions(valid);
    for c in &cases {
        same::<T>(c);
    }
    cases.len()
}

#[test]
fn every_shape_matches_serde_path_to_error() {
    let mut v = sample();
    let n = all_corruptions::<Outer>(&v);
    assert!(n > 400, "{n}");
    for shape in [
        json!("dot"),
        json!({ "circle": 4 }),
        json!({ "pair": [1, "x"] }),
        json!({ "rect": { "w": 1, "h": 2 } }),
    ] {
        v["shape"] = shape;
        all_corruptions::<Outer>(&v);
    }
    v["either"] = json!("text");
    all_corruptions::<Outer>(&v);
    for odd in [
        json!({ "dot": null }),
        json!({ "dot": 1 }),
        json!({ "circle": 1, "rect": 2 }),
        json!({ "unknown": 1 }),
        json!("circle"),
        json!("rect"),
        json!("pair"),
        json!({ "pair": [] }),
        json!({ "pair": "x" }),
        json!({ "rect": [1, 2] }),
        json!({ "rect": [1, 2, 3] }),
        json!({ "rect": 5 }),
        json!(5),
    ] {
        v["shape"] = odd;
        same::<Outer>(&v);
    }
    same::<Vec<Outer>>(&json!([sample(), sample(), { "name": 1 }]));
    same::<(String, u8)>(&json!(["a", 1, 2]));
}

#[test]
fn real_inputs_match_serde_path_to_error() {
    use usebetter_core::resolve::ResolverConfig;
    all_corruptions::<Wrap<ResolverConfig>>(&json!({
        "header": "x-tenant",
        "path": { "pattern": "/t/:tenant", "segmentIndex": 1 },
        "subdomain": { "segmentIndex": 0 },
        "jwt": { "claim": "tid", "secret": "s" }
    }));
    #[cfg(feature = "webhooks")]
    {
        use usebetter_core::bridge::webhooks::{PreparedRequest, RecordInput};
        all_corruptions::<Wrap<Vec<RecordInput>>>(&json!([{
            "deliveryId": "d", "leaseToken": "l", "tenantId": null, "messageId": "m",
            "endpointId": "e", "attempt": 1, "trigger": "auto", "laneId": null,
            "startedAtMs": 1, "durationMs": 2, "status": 200, "failure": null,
            "retryAfter": null, "responseBody": "ok", "operatorError": null,
            "requestTimestamp": 3, "workerId": "w"
        }]));
        all_corruptions::<Wrap<Vec<PreparedRequest>>>(&json!([{
            "endpointId": "e", "messageId": "m", "body": "{}", "keys": [],
            "headers": { "x-a": "b" }, "contentType": null
        }]));
    }
}

/// Compares through `Debug`, for input types without `PartialEq`.
#[derive(Debug)]
struct Wrap<T>(T);

impl<T: Debug> PartialEq for Wrap<T> {
    fn eq(&self, other: &Self) -> bool {
        format!("{:?}", self.0) == format!("{:?}", other.0)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Wrap<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Wrap)
    }
}
