use serde_json::{json, Value};

use super::*;
use crate::email::http::{classify, AwsCredentials};

fn outgoing() -> Outgoing {
    serde_json::from_value(json!({
        "id": "eml_1", "from": { "address": "hello@acme.example", "name": "Acme" },
        "to": [{ "address": "jane@example.com" }], "subject": "Hi",
        "tenantId": "0b9f6c1e-0000-4000-8000-000000000001", "idempotencyKey": "eml_1",
        "tags": { "kind": "welcome mail" },
        "raw": "From: Acme <hello@acme.example>\r\nSubject: Hi\r\n\r\nHi\r\n",
        "recipients": ["jane@example.com", "hidden@example.com"]
    }))
    .unwrap()
}

fn options(token: Option<&str>) -> ProviderOptions {
    ProviderOptions {
        region: Some("eu-west-1".into()),
        base_url: Some("http://127.0.0.1:9/prefix/".into()),
        credentials: Some(AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_owned),
        }),
        configuration_set_name: Some("transactional".into()),
        now_ms: Some(1_767_225_600_000),
        ..ProviderOptions::default()
    }
}

fn get<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
    header(&r.headers, name)
}

#[test]
fn request_is_raw_mime_to_the_envelope_signed_for_ses() {
    let r = request(&outgoing(), &options(Some("FQoGZXIvYXdzEXAMPLE"))).unwrap();
    assert_eq!(r.url, "http://127.0.0.1:9/prefix/v2/email/outbound-emails");
    let b: Value = serde_json::from_str(&r.body).unwrap();
    let data = STANDARD
        .decode(b["Content"]["Raw"]["Data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, outgoing().raw.unwrap().as_bytes());
    assert_eq!(
        b["Destination"]["ToAddresses"],
        json!(["jane@example.com", "hidden@example.com"])
    );
    assert_eq!(b["FromEmailAddress"], "hello@acme.example");
    assert_eq!(b["ConfigurationSetName"], "transactional");
    assert_eq!(
        b["EmailTags"],
        json!([
            { "Name": "better_email_id", "Value": "eml_1" },
            { "Name": "tenant", "Value": "0b9f6c1e-0000-4000-8000-000000000001" },
            { "Name": "kind", "Value": "welcome_mail" }
        ])
    );
    assert_eq!(get(&r, "x-amz-date"), Some("20260101T000000Z"));
    assert_eq!(get(&r, "x-amz-security-token"), Some("FQoGZXIvYXdzEXAMPLE"));
    let auth = get(&r, "authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/ses/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="),
        "{auth}"
    );
    // Signed over the path as sent, prefix included: the same request signed directly agrees.
    let again = sign(&SigV4Request {
        method: "POST".into(),
        host: "127.0.0.1:9".into(),
        path: "/prefix/v2/email/outbound-emails".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: r.body.clone(),
        region: "eu-west-1".into(),
        service: "ses".into(),
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: Some("FQoGZXIvYXdzEXAMPLE".into()),
        now_ms: 1_767_225_600_000,
        ..SigV4Request::default()
    })
    .unwrap();
    assert_eq!(again.authorization, auth);
    let plain = request(&outgoing(), &options(None)).unwrap();
    assert_eq!(get(&plain, "x-amz-security-token"), None);
    let mut default_url = options(None);
    default_url.base_url = None;
    assert_eq!(
        request(&outgoing(), &default_url).unwrap().url,
        "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails"
    );
}

#[test]
fn bad_options_and_messages_name_the_field() {
    let field = |o: &ProviderOptions, m: &Outgoing| match request(m, o).unwrap_err() {
        EmailError::InvalidConfig { field, .. } | EmailError::InvalidArgument { field, .. } => {
            field
        }
        e => panic!("{e}"),
    };
    let m = outgoing();
    let mut o = options(None);
    o.region = Some("EU West".into());
    assert_eq!(field(&o, &m), "region");
    o = options(None);
    o.credentials = None;
    assert_eq!(field(&o, &m), "credentials");
    o = options(None);
    o.credentials.as_mut().unwrap().access_key_id = "AKID EXAMPLE".into();
    assert_eq!(field(&o, &m), "credentials.accessKeyId");
    o = options(None);
    o.credentials.as_mut().unwrap().secret_access_key = String::new();
    assert_eq!(field(&o, &m), "credentials.secretAccessKey");
    o = options(None);
    o.now_ms = None;
    assert_eq!(field(&o, &m), "nowMs");
    o = options(None);
    o.base_url = Some("ftp://x".into());
    assert_eq!(field(&o, &m), "baseUrl");
    let mut no_raw = outgoing();
    no_raw.raw = None;
    assert_eq!(field(&options(None), &no_raw), "message.raw");
    let mut nobody = outgoing();
    nobody.recipients.clear();
    assert_eq!(field(&options(None), &nobody), "message.recipients");
}

#[test]
fn answers_are_judged_by_error_type_then_status() {
    let h = |t: &str| vec![("x-amzn-ErrorType".to_owned(), t.to_owned())];
    let ok = classify("ses", 200, &[], r#"{"MessageId":"0102018f-abc"}"#, 0);
    assert_eq!(ok.outcome, HandOff::Sent);
    assert_eq!(ok.provider_message_id.as_deref(), Some("0102018f-abc"));
    assert_eq!(
        classify("ses", 200, &[], "{}", 0).outcome,
        HandOff::Ambiguous
    );
    let rejected = classify(
        "ses",
        400,
        &h("MessageRejected:http://internal.amazon.com/coral/com.amazonaws.sesv2/"),
        r#"{"message":"Email address is not verified."}"#,
        0,
    );
    assert_eq!(rejected.outcome, HandOff::RejectedPermanent);
    assert_eq!(
        rejected.detail.as_deref(),
        Some("400: Email address is not verified.")
    );
    for t in ["SendingPausedException", "AccountSuspendedException"] {
        assert_eq!(judge(400, &h(t), None), HandOff::AuthFailed, "{t}");
    }
    assert_eq!(judge(403, &[], None), HandOff::AuthFailed);
    for t in [
        "AccessDeniedException",
        "NotAuthorized",
        "IncompleteSignature",
        "ExpiredTokenException",
    ] {
        assert_eq!(judge(400, &h(t), None), HandOff::AuthFailed, "{t}");
    }
    assert_eq!(judge(400, &h("RequestExpired"), None), HandOff::Retryable);
    let quota = json!({ "__type": "com.amazonaws.sesv2#LimitExceededException" });
    assert_eq!(judge(400, &[], Some(&quota)), HandOff::Throttled);
    assert_eq!(
        judge(429, &h("TooManyRequestsException"), None),
        HandOff::Throttled
    );
    assert_eq!(
        judge(404, &h("NotFoundException"), None),
        HandOff::RejectedPermanent
    );
    assert_eq!(judge(500, &h("InternalFailure"), None), HandOff::Retryable);
    let slow = classify("ses", 429, &[("retry-after".into(), "7".into())], "{}", 0);
    assert_eq!(slow.retry_after_ms, Some(7000));
}

#[test]
fn the_signed_host_is_the_one_fetch_sends() {
    assert_eq!(
        host_and_prefix("https://Email.EU-West-1.amazonaws.com:443/p").unwrap(),
        ("email.eu-west-1.amazonaws.com".to_owned(), "/p")
    );
    assert_eq!(host_and_prefix("http://h:80").unwrap().0, "h");
    assert_eq!(host_and_prefix("http://h:8080").unwrap().0, "h:8080");
    assert_eq!(
        host_and_prefix("http://[::1]:8080").unwrap().0,
        "[::1]:8080"
    );
    for bad in [
        "https://u@h",
        "https://h/?q=1",
        "https://h/#f",
        "https://h/a b",
        "https://",
    ] {
        assert!(host_and_prefix(bad).is_err(), "{bad}");
    }
}
