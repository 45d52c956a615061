//! The send conversation: a step that inserts every message of the call announces their ids
//! (`queued`), and `send_next` on its rows answers the same ids with the rows' times.

use serde_json::{json, Value};
use usebetter_core::bridge::webhooks::Webhooks;

fn webhooks() -> Webhooks {
    Webhooks::new(
        &json!({
            "eventTypes": ["order.created"],
            "secretsKey": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        }),
        false,
    )
    .unwrap()
}

fn begin(w: &Webhooks, inputs: &Value) -> Value {
    let random: Vec<u8> = (0..200).collect();
    serde_json::from_str(
        &w.send_begin(&inputs.to_string(), true, 1_700_000_000_000, &random)
            .unwrap(),
    )
    .unwrap()
}

fn next(w: &Webhooks, step: &Value, rows: &Value) -> Value {
    serde_json::from_str(
        &w.send_next(step["state"].as_str().unwrap(), &rows.to_string())
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn an_insert_of_every_message_announces_their_ids_and_send_next_agrees() {
    let w = webhooks();
    let step = begin(
        &w,
        &json!([
            { "eventType": "order.created", "data": "{\"a\":1}" },
            { "eventType": "order.created", "data": "{\"b\":2}" },
        ]),
    );
    assert_eq!(step["run"]["statement"], "sendInsertMessages");
    assert_eq!(step["last"], true);
    let queued = step["queued"].as_array().unwrap();
    assert_eq!(queued.len(), 2);
    assert!(queued
        .iter()
        .all(|id| id.as_str().unwrap().starts_with("msg_")));
    assert_ne!(queued[0], queued[1]);
    // The caller passes the payloads, joined at a character none holds (`string_to_array`),
    // with the envelopes' heads the core joined the same way: prefix + payload + suffix hashes
    // to the stored SHA-256.
    let params = &step["run"]["params"];
    assert_eq!(
        step["run"]["payloads"],
        json!({ "param": 2, "separator": "\u{1}" })
    );
    assert_eq!(
        (&params[2], &params[10], &params[12]),
        (&Value::Null, &json!("\u{1}"), &json!("}"))
    );
    let prefixes: Vec<&str> = params[11].as_str().unwrap().split('\u{1}').collect();
    for (i, data) in [r#"{"a":1}"#, r#"{"b":2}"#].iter().enumerate() {
        assert!(prefixes[i].starts_with(r#"{"type":"order.created","timestamp":"2023-11-14T"#));
        let body = format!("{}{data}}}", prefixes[i]);
        assert_eq!(params[3][i], sha_hex(&body), "{body}");
    }
    // The rows' `created_ms`, as a number or as text (drivers differ), become the results.
    let rows = json!([
        { "id": step["run"]["params"][0][0], "created_ms": 1_700_000_000_123_i64 },
        { "id": step["run"]["params"][0][1], "created_ms": "1700000000123" },
    ]);
    let done = next(&w, &step, &rows);
    let results = done["results"].as_array().unwrap();
    for (r, id) in results.iter().zip(queued) {
        assert_eq!(r["id"], *id);
        assert_eq!(r["status"], "queued");
        assert_eq!(r["createdAtMs"], 1_700_000_000_123_i64);
    }
    // One message: one VALUES row, the same announcement.
    let one = begin(&w, &json!([{ "eventType": "order.created", "data": "1" }]));
    assert_eq!(one["run"]["statement"], "sendInsertMessage");
    assert_eq!(one["queued"].as_array().unwrap().len(), 1);
}

#[test]
fn no_announcement_before_the_insert_nor_when_a_message_is_a_duplicate() {
    let w = webhooks();
    let keyed = json!([
        { "eventType": "order.created", "data": "{}", "idempotencyKey": "k" },
        { "eventType": "order.created", "data": "{}", "idempotencyKey": "k" },
        { "eventType": "order.created", "data": "{}" },
    ]);
    let claim = begin(&w, &keyed);
    assert_eq!(claim["run"]["statement"], "sendIdempotencyClaim");
    assert!(claim.get("queued").is_none());
    // Not the last statement: a caller without a transaction opens one for the conversation.
    assert!(claim.get("last").is_none());
    // The key is claimed: the second input is the first's duplicate, so the INSERT holds two
    // of the three messages and the results come from `send_next` only.
    let insert = next(&w, &claim, &json!([{ "key": "k" }]));
    assert_eq!(insert["run"]["statement"], "sendInsertMessages");
    assert!(insert.get("queued").is_none());
    // The caller's payloads of the inputs inserted, by index.
    assert_eq!(insert["run"]["payloads"]["items"], json!([0, 2]));
    let done = next(
        &w,
        &insert,
        &json!([{ "id": "x", "created_ms": 5 }, { "id": "y", "created_ms": 6 }]),
    );
    let results = done["results"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["queued", "duplicate", "queued"]);
    assert_eq!(results[1]["id"], results[0]["id"]);
    assert_eq!(results[1]["createdAtMs"], 5);
    assert_eq!(results[2]["createdAtMs"], 6);
}

/// `\x…` of the SHA-256 of `text`, as the statements take a `bytea`.
fn sha_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\\x{hex}")
}

/// What a stored key's row holds for a payload: SHA-256 of the event type, a NUL and the data.
fn payload_sha(event_type: &str, data: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(event_type.as_bytes());
    h.update([0u8]);
    h.update(data.as_bytes());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("\\x{hex}")
}

#[test]
fn a_duplicate_found_by_the_lookup_takes_the_stored_time_as_a_number_or_text() {
    let w = webhooks();
    let input = json!([{ "eventType": "order.created", "data": "{}", "idempotencyKey": "k" }]);
    let stored = |at: Value| {
        json!([{
            "key": "k",
            "message_id": "01a23751-bd30-763e-98d3-7e4c59e56ae3",
            "message_created_ms": at,
            "body_sha256": payload_sha("order.created", "{}"),
        }])
    };
    for at in [json!(1_700_000_000_999_i64), json!("1700000000999")] {
        let claim = begin(&w, &input);
        // Not claimed: another message owns the key.
        let lookup = next(&w, &claim, &json!([]));
        assert_eq!(lookup["run"]["statement"], "sendIdempotencyLookup");
        let done = next(&w, &lookup, &stored(at));
        let r = &done["results"][0];
        assert_eq!(r["status"], "duplicate");
        assert_eq!(r["createdAtMs"], 1_700_000_000_999_i64);
    }
    // A row without the time is refused, naming what a row must carry.
    let claim = begin(&w, &input);
    let lookup = next(&w, &claim, &json!([]));
    let err = w
        .send_next(
            lookup["state"].as_str().unwrap(),
            &stored(json!("2026-12-02 15:13:53+00")).to_string(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("message_created_ms"), "{err}");
}

#[test]
fn a_payload_as_json_value_is_stored_as_the_same_payload_as_text() {
    let w = webhooks();
    let text = "{\"a\":[1,\"x\\\"y\"],\"b\":{\"c\":null}}";
    let inputs = |payload: Value| {
        let mut item = json!({ "eventType": "order.created", "idempotencyKey": "k" });
        item.as_object_mut()
            .unwrap()
            .extend(payload.as_object().unwrap().clone());
        json!([item])
    };
    let as_text = begin(&w, &inputs(json!({ "data": text })));
    // The caller embeds the JSON itself: no escaping on either side.
    let raw =
        format!("[{{\"eventType\":\"order.created\",\"idempotencyKey\":\"k\",\"json\":{text}}}]");
    let random: Vec<u8> = (0..200).collect();
    let as_json: Value = serde_json::from_str(
        &w.send_begin(&raw, true, 1_700_000_000_000, &random)
            .unwrap(),
    )
    .unwrap();
    // Same idempotency claim (the payload's hash is the first statement's third parameter).
    assert_eq!(as_text["run"]["statement"], "sendIdempotencyClaim");
    assert_eq!(as_text["run"]["params"][2], as_json["run"]["params"][2]);
    let insert = |step: &Value| {
        let rows = json!([{ "key": "k", "id": step["run"]["params"][1][0], "fresh": true }]);
        next(&w, step, &rows)["run"]["params"].clone()
    };
    let (a, b) = (insert(&as_text), insert(&as_json));
    assert_eq!(
        (&a[3], &a[10]),
        (&b[3], &b[10]),
        "envelope head and SHA-256"
    );
    assert_eq!(a[2], Value::Null, "the caller passes the payload");
    let body = format!(
        "{}{text}{}",
        a[10].as_str().unwrap(),
        a[11].as_str().unwrap()
    );
    assert!(body.ends_with(&format!(",\"data\":{text}}}")));
    assert_eq!(a[3], sha_hex(&body));
    // A null payload is the JSON null, not a missing one.
    let null = w
        .send_begin(
            r#"[{"eventType":"order.created","json":null}]"#,
            true,
            1_700_000_000_000,
            &random,
        )
        .unwrap();
    let null: Value = serde_json::from_str(&null).unwrap();
    let head = null["run"]["params"][10].as_str().unwrap();
    assert_eq!(null["run"]["params"][3], sha_hex(&format!("{head}null}}")));
    for bad in [
        json!([{ "eventType": "order.created" }]),
        json!([{ "eventType": "order.created", "data": "1", "json": 1 }]),
    ] {
        let e = w
            .send_begin(&bad.to_string(), true, 1_700_000_000_000, &random)
            .unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_INVALID_ARGUMENT", "{e}");
        assert!(e.to_string().contains("inputs[0].payload"), "{e}");
    }
}

#[test]
fn when_every_separator_occurs_the_core_passes_the_whole_bodies() {
    let w = Webhooks::new(
        &json!({
            "eventTypes": ["order.created"],
            "secretsKey": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
            "envelope": "raw",
        }),
        false,
    )
    .unwrap();
    let all: String = ('\u{1}'..='\u{1f}').collect();
    let step = begin(
        &w,
        &json!([
            { "eventType": "order.created", "data": all },
            { "eventType": "order.created", "data": "q\"b\\" },
        ]),
    );
    let params = &step["run"]["params"];
    assert!(step["run"].get("payloads").is_none());
    assert_eq!(
        (&params[10], &params[11], &params[12]),
        (&Value::Null, &Value::Null, &json!(""))
    );
    let literal = params[2].as_str().unwrap();
    assert!(
        literal.starts_with("{\"\u{1}") && literal.ends_with(",\"q\\\"b\\\\\"}"),
        "{literal:?}"
    );
    assert_eq!(params[3][1], sha_hex("q\"b\\"));
}
