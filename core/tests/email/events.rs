//! The provider event mapping table (spec §10.2), one recorded-shape payload per provider and
//! kind: what each becomes, with its dedupe key and correlation.

use usebetter_core::email::events::normalize::{normalize, Event};

fn one(provider: &str, id: Option<&str>, body: &str) -> Vec<Event> {
    normalize(provider, id, body.as_bytes()).unwrap()
}

/// (event id, type, bounce, recipient, our id) per event.
type Summary = (
    String,
    &'static str,
    Option<&'static str>,
    String,
    Option<String>,
);

fn summary(e: &[Event]) -> Vec<Summary> {
    e.iter()
        .map(|e| {
            (
                e.provider_event_id.clone(),
                e.kind,
                e.bounce,
                e.recipient.clone(),
                e.better_email_id.clone(),
            )
        })
        .collect()
}

#[test]
fn resend_bounce_per_recipient_and_tag_shapes() {
    let e = one(
        "resend",
        Some("msg_1"),
        r#"{"type":"email.bounced","created_at":"2024-11-22T23:41:12.126Z","data":{"email_id":"56761188","to":["a@x.example","b@x.example"],"bounce":{"type":"Permanent","subType":"General"},"tags":{"better_email_id":"eml_1"}}}"#,
    );
    assert_eq!(
        summary(&e),
        vec![
            (
                "msg_1#0".into(),
                "bounced",
                Some("hard"),
                "a@x.example".into(),
                Some("eml_1".into())
            ),
            (
                "msg_1#1".into(),
                "bounced",
                Some("hard"),
                "b@x.example".into(),
                Some("eml_1".into())
            ),
        ]
    );
    assert_eq!(e[0].occurred_at_ms, 1_732_318_872_126);
    assert_eq!(e[0].provider_message_id.as_deref(), Some("56761188"));
    let d = one(
        "resend",
        Some("msg_2"),
        r#"{"type":"email.delivery_delayed","created_at":"2024-11-22T23:41:12Z","data":{"email_id":"x","to":["a@x.example"],"tags":[{"name":"better_email_id","value":"eml_2"}]}}"#,
    );
    assert_eq!(
        (d[0].kind, d[0].bounce, d[0].better_email_id.as_deref()),
        ("deferred", Some("soft"), Some("eml_2"))
    );
    assert!(one(
        "resend",
        Some("msg_3"),
        r#"{"type":"email.sent","data":{"to":["a@x.example"]}}"#
    )
    .is_empty());
    assert_eq!(
        normalize("resend", None, b"{}").unwrap_err().code(),
        "EMAIL_INVALID_ARGUMENT"
    );
}

#[test]
fn postmark_records() {
    let hard = one(
        "postmark",
        None,
        r#"{"RecordType":"Bounce","ID":42,"Type":"HardBounce","MessageID":"pm-1","Email":"a@x.example","BouncedAt":"2019-11-05T16:33:54.9070259Z","Metadata":{"better_email_id":"eml_3"}}"#,
    );
    assert_eq!(
        summary(&hard),
        vec![(
            "Bounce:42:2019-11-05T16:33:54.9070259Z".into(),
            "bounced",
            Some("hard"),
            "a@x.example".into(),
            Some("eml_3".into())
        )]
    );
    let soft = one(
        "postmark",
        None,
        r#"{"RecordType":"Bounce","ID":43,"Type":"SoftBounce","Email":"a@x.example","BouncedAt":"2019-11-05T16:33:54Z"}"#,
    );
    assert_eq!((soft[0].kind, soft[0].bounce), ("bounced", Some("soft")));
    let spam = one(
        "postmark",
        None,
        r#"{"RecordType":"SpamComplaint","ID":44,"Email":"a@x.example","BouncedAt":"2019-11-05T16:33:54Z"}"#,
    );
    assert_eq!(spam[0].kind, "complained");
    let delivered = one(
        "postmark",
        None,
        r#"{"RecordType":"Delivery","MessageID":"pm-2","Recipient":"a@x.example","DeliveredAt":"2019-11-05T16:33:54Z"}"#,
    );
    assert_eq!(
        (delivered[0].kind, delivered[0].provider_event_id.as_str()),
        ("delivered", "Delivery:pm-2:2019-11-05T16:33:54Z")
    );
}

#[test]
fn sendgrid_batches() {
    let e = one(
        "sendgrid",
        None,
        r#"[{"email":"a@x.example","timestamp":1513299569,"event":"bounce","type":"bounce","sg_event_id":"e1","sg_message_id":"14c5d75ce93.filter0001.16648.5515E0B88.0","better_email_id":"eml_4"},
            {"email":"b@x.example","timestamp":1513299569,"event":"bounce","type":"blocked","sg_event_id":"e2"},
            {"email":"c@x.example","timestamp":1513299569,"event":"spamreport","sg_event_id":"e3"},
            {"email":"d@x.example","timestamp":1513299569,"event":"processed","sg_event_id":"e4"},
            {"email":"e@x.example","timestamp":1513299569,"event":"dropped","sg_event_id":"e5"}]"#,
    );
    assert_eq!(
        e.iter().map(|e| (e.kind, e.bounce)).collect::<Vec<_>>(),
        vec![
            ("bounced", Some("hard")),
            ("bounced", Some("soft")),
            ("complained", None),
            ("rejected", None)
        ]
    );
    assert_eq!(e[0].provider_message_id.as_deref(), Some("14c5d75ce93"));
    assert_eq!(e[0].occurred_at_ms, 1_513_299_569_000);
}

#[test]
fn mailgun_severity() {
    let body = |event: &str, severity: &str| {
        format!(
            r#"{{"signature":{{}},"event-data":{{"event":"{event}","severity":"{severity}","recipient":"a@x.example","timestamp":1521472262.908181,"id":"ev1","user-variables":{{"better_email_id":"eml_5"}},"message":{{"headers":{{"message-id":"m@x"}}}}}}}}"#
        )
    };
    let hard = one("mailgun", Some("token1"), &body("failed", "permanent"));
    assert_eq!(
        summary(&hard),
        vec![(
            "token1".into(),
            "bounced",
            Some("hard"),
            "a@x.example".into(),
            Some("eml_5".into())
        )]
    );
    assert_eq!(hard[0].occurred_at_ms, 1_521_472_262_908);
    assert_eq!(
        one("mailgun", Some("t"), &body("failed", "temporary"))[0].kind,
        "deferred"
    );
    assert_eq!(
        one("mailgun", Some("t"), &body("complained", ""))[0].kind,
        "complained"
    );
}

#[test]
fn ses_through_sns() {
    let message = r#"{\"eventType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bouncedRecipients\":[{\"emailAddress\":\"a@x.example\"}],\"timestamp\":\"2024-01-01T00:00:00.000Z\"},\"mail\":{\"messageId\":\"ses-1\",\"tags\":{\"better_email_id\":[\"eml_6\"]}}}"#;
    let body = format!(r#"{{"Type":"Notification","MessageId":"sns-1","Message":"{message}"}}"#);
    let e = one("ses", None, &body);
    assert_eq!(
        summary(&e),
        vec![(
            "sns-1".into(),
            "bounced",
            Some("hard"),
            "a@x.example".into(),
            Some("eml_6".into())
        )]
    );
    let complaint = r#"{\"notificationType\":\"Complaint\",\"complaint\":{\"complainedRecipients\":[{\"emailAddress\":\"a@x.example\"}],\"timestamp\":\"2024-01-01T00:00:00Z\"},\"mail\":{\"messageId\":\"ses-2\"}}"#;
    let c = one(
        "ses",
        None,
        &format!(r#"{{"Type":"Notification","MessageId":"sns-2","Message":"{complaint}"}}"#),
    );
    assert_eq!(
        (c[0].kind, c[0].provider_message_id.as_deref()),
        ("complained", Some("ses-2"))
    );
    assert!(one(
        "ses",
        None,
        r#"{"Type":"SubscriptionConfirmation","MessageId":"x"}"#
    )
    .is_empty());
    assert_eq!(
        normalize("sparkpost", None, b"{}").unwrap_err().code(),
        "EMAIL_EVENT_UNKNOWN_PROVIDER"
    );
}
