//! The fixed MIME inputs (spec E6): exact bytes as snapshots, line rules, size estimate, and
//! header injection through every user field.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use usebetter_core::email::message::{build_message, message_size};
use usebetter_core::email::mime::bad_line;

use super::fixture;

fn contents(f: &Value) -> Vec<Option<Vec<u8>>> {
    f["contents"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| c.as_str().map(|s| STANDARD.decode(s).unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn fixtures() {
    let all = fixture("mime.json");
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 12);
    for f in all {
        let name = f["name"].as_str().unwrap();
        let c = contents(f);
        let bytes = build_message(&f["message"], &f["options"], &c).unwrap();
        assert_eq!(bad_line(&bytes), None, "{name}");
        assert_eq!(
            build_message(&f["message"], &f["options"], &c).unwrap(),
            bytes,
            "{name}: not deterministic"
        );
        assert_eq!(
            message_size(&f["message"], &f["options"], &c).unwrap(),
            bytes.len(),
            "{name}: the estimate differs from the build"
        );
        let text = String::from_utf8(bytes).unwrap();
        let head = text.split("\r\n\r\n").next().unwrap();
        assert!(!head.to_ascii_lowercase().contains("\nbcc:"), "{name}");
        assert!(
            !text.contains("audit@acme.example"),
            "{name}: a bcc address leaked"
        );
        // Every line ends in CRLF (checked above), so the lines determine the bytes.
        let lines = text.replace("\r\n", "\n");
        insta::with_settings!({ snapshot_path => "../snapshots" }, {
            insta::assert_snapshot!(format!("mime_{name}"), lines);
        });
    }
}

fn base() -> Value {
    json!({
        "from": "Acme <no-reply@mail.acme.example>",
        "to": "jane@example.com",
        "subject": "Hi",
        "text": "Body",
        "messageId": "eml_x@mail.acme.example",
        "dateMs": 1_800_000_000_000_i64,
    })
}

fn with(path: &[&str], value: Value) -> Value {
    let mut m = base();
    let mut cursor = &mut m;
    for (i, key) in path.iter().enumerate() {
        if i + 1 == path.len() {
            cursor[*key] = value.clone();
        } else {
            if cursor.get(*key).is_none() {
                cursor[*key] = json!({});
            }
            cursor = &mut cursor[*key];
        }
    }
    m
}

#[test]
fn header_injection_is_impossible() {
    const EVIL: &str = "x\r\nX-Injected: yes\r\n\r\n<p>phish</p>";
    let cases = [
        with(&["subject"], json!(EVIL)),
        with(&["from"], json!(format!("{EVIL} <a@x.example>"))),
        with(&["from"], json!({ "address": "a@x.example", "name": EVIL })),
        with(&["to"], json!([format!("a@x.example{EVIL}")])),
        with(&["cc"], json!({ "address": "a@x.example", "name": EVIL })),
        with(&["replyTo"], json!(format!("\"{EVIL}\" <r@x.example>"))),
        with(&["headers", "X-Note"], json!(EVIL)),
        with(&["headers", "X-Note\r\nX-Injected"], json!("yes")),
        with(&["messageId"], json!(format!("a@b{EVIL}"))),
        with(
            &["listUnsubscribe"],
            json!(format!("<https://u.example/{EVIL}>")),
        ),
        with(&["listId"], json!(EVIL)),
        with(
            &["attachments"],
            json!([{ "filename": EVIL, "content": "x" }]),
        ),
        with(
            &["attachments"],
            json!([{ "filename": "a.txt", "contentType": format!("text/plain{EVIL}"), "content": "x" }]),
        ),
        with(
            &["attachments"],
            json!([{ "filename": "a.png", "contentId": EVIL, "content": "x" }]),
        ),
    ];
    for m in cases {
        match build_message(&m, &Value::Null, &[]) {
            Err(e) => assert!(e.code().starts_with("EMAIL_INVALID_"), "{e}"),
            Ok(bytes) => {
                let text = String::from_utf8(bytes).unwrap();
                assert!(!text.contains("\r\nX-Injected:"), "{m}\n{text}");
                assert_eq!(bad_line(text.as_bytes()), None);
            }
        }
    }
    // The same text in the body is just text.
    let bytes = build_message(&with(&["text"], json!(EVIL)), &Value::Null, &[]).unwrap();
    assert!(String::from_utf8(bytes)
        .unwrap()
        .contains("\r\nX-Injected: yes"));
}

#[test]
fn errors_name_the_field() {
    for (m, code, field) in [
        (
            with(&["subject"], json!("a\nb")),
            "EMAIL_INVALID_HEADER",
            "subject",
        ),
        (
            with(&["headers", "Bcc"], json!("x@y.example")),
            "EMAIL_INVALID_HEADER",
            "Bcc",
        ),
        (
            with(&["to"], json!(["a@x.example", "b@@x"])),
            "EMAIL_INVALID_ADDRESS",
            "to[1]",
        ),
        (
            with(&["text"], Value::Null),
            "EMAIL_INVALID_ARGUMENT",
            "text",
        ),
        (
            with(&["messageId"], json!("no-at")),
            "EMAIL_INVALID_ARGUMENT",
            "messageId",
        ),
        (
            with(&["listUnsubscribePost"], json!(true)),
            "EMAIL_INVALID_ARGUMENT",
            "listUnsubscribePost",
        ),
        (
            with(&["attachments"], json!([{ "filename": "a" }])),
            "EMAIL_INVALID_ARGUMENT",
            "attachments[0].content",
        ),
        (
            with(
                &["attachments"],
                json!([{ "filename": "a", "content": "x", "contentType": "text/plain; charset=x" }]),
            ),
            "EMAIL_INVALID_ARGUMENT",
            "attachments[0].contentType",
        ),
        (with(&["subjet"], json!("x")), "INVALID_ARGUMENT", "message"),
        (
            with(&["attachments"], json!([{ "filename": 5 }])),
            "INVALID_ARGUMENT",
            "message.attachments[0].filename",
        ),
        (
            with(&["dateMs"], json!(-1)),
            "EMAIL_INVALID_ARGUMENT",
            "dateMs",
        ),
    ] {
        let e = build_message(&m, &Value::Null, &[]).unwrap_err();
        assert_eq!(e.code(), code, "{e}");
        assert!(e.to_string().contains(&format!("`{field}")), "{field}: {e}");
    }
    let e = build_message(&base(), &Value::Null, &[Some(vec![1])]).unwrap_err();
    assert!(e.to_string().contains("`contents`"), "{e}");
}

#[test]
fn size_limit_names_both_numbers() {
    let m = with(&["attachments"], json!([{ "filename": "big.bin" }]));
    let data = vec![Some(vec![7u8; 30_000])];
    let size = message_size(&m, &Value::Null, &data).unwrap();
    let built = build_message(&m, &Value::Null, &data).unwrap();
    assert_eq!(size, built.len());
    let opts = json!({ "maxMessageBytes": 40_000 });
    for e in [
        message_size(&m, &opts, &data).unwrap_err(),
        build_message(&m, &opts, &data).unwrap_err(),
    ] {
        assert_eq!(e.code(), "EMAIL_MESSAGE_TOO_LARGE");
        let msg = e.to_string();
        assert!(
            msg.contains(&size.to_string()) && msg.contains("40000"),
            "{msg}"
        );
    }
    // Every length modulo the base64 line gives the exact estimate.
    for n in [0, 1, 2, 3, 56, 57, 58, 113, 114, 115, 1000] {
        let data = vec![Some(vec![0xAB; n])];
        assert_eq!(
            message_size(&m, &Value::Null, &data).unwrap(),
            build_message(&m, &Value::Null, &data).unwrap().len(),
            "{n}"
        );
    }
}

#[test]
fn boundaries_avoid_the_content() {
    // A body that contains the boundary derived for its message id gets another one.
    let first = String::from_utf8(
        build_message(&with(&["html"], json!("<p>x</p>")), &Value::Null, &[]).unwrap(),
    )
    .unwrap();
    let stem = first
        .split("boundary=\"")
        .nth(1)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let mut m = with(&["html"], json!("<p>x</p>"));
    m["text"] = json!(format!(
        "--{stem}.0\r\nContent-Type: text/html\r\n\r\nforged\r\n"
    ));
    let second = String::from_utf8(build_message(&m, &Value::Null, &[]).unwrap()).unwrap();
    let stem2 = second
        .split("boundary=\"")
        .nth(1)
        .unwrap()
        .split('.')
        .next()
        .unwrap();
    assert_ne!(stem, stem2);
}
