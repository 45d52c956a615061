//! SES events arrive through SNS: a JSON message signed with RSA (`SignatureVersion` 1 = SHA-1,
//! 2 = SHA-256, the default we require) over the SNS canonical string, with the signing
//! certificate at `SigningCertURL`. The order of the checks matters: the version and the topic
//! are checked before the certificate URL is handed out for fetching ([`cert_url`]), so a
//! message from a foreign topic never makes the receiver dial anything.
//!
//! What makes the certificate trusted: the URL is `https` on a host matching one of the
//! configured patterns (the runtime verifies TLS when fetching it), its path ends `.pem`; the
//! certificate is inside its validity period at `now`; its subject common name matches one of
//! the expected names; and, if the caller supplies `trustedCa`, its signature verifies under that
//! CA's key and its issuer is that CA's subject. Chains longer than one step, revocation and
//! certificate extensions are not examined.

use serde_json::{Map, Value};

use super::{bad, x509, EventOptions, VerifiedEvent};
use crate::email::error::{EmailError, Result};

/// Hosts SNS serves certificates from; `*` stands for one DNS label (`[a-z0-9-]+`).
pub const DEFAULT_CERT_HOSTS: [&str; 2] = ["sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"];
/// Common names SNS signing certificates carry.
pub const DEFAULT_CERT_SUBJECTS: [&str; 3] = [
    "sns.amazonaws.com",
    "sns.*.amazonaws.com",
    "sns.*.amazonaws.com.cn",
];

fn cert_err(reason: impl Into<String>) -> EmailError {
    EmailError::EventCertRejected {
        reason: reason.into(),
    }
}

/// `host` against a pattern whose `*` labels match one label of `[a-z0-9-]+`; case-insensitive.
#[must_use]
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let (p, h): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), host.split('.').collect());
    p.len() == h.len()
        && p.iter().zip(&h).all(|(p, h)| {
            if *p == "*" {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            } else {
                p.eq_ignore_ascii_case(h)
            }
        })
}

/// The host of an `https:` URL on an allowed host, else why not.
fn check_url(field: &str, url: &str, opts: &EventOptions, pem_path: bool) -> Result<()> {
    let rest = url
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
        .ok_or_else(|| cert_err(format!("`{field}` {url:?} is not https")))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(end);
    if host.is_empty() || host.contains(['@', '\\']) {
        return Err(cert_err(format!("`{field}` {url:?} has no plain host")));
    }
    let owned;
    let patterns: Vec<&str> = match &opts.cert_hosts {
        Some(list) => {
            owned = list;
            owned.iter().map(String::as_str).collect()
        }
        None => DEFAULT_CERT_HOSTS.to_vec(),
    };
    if !patterns.iter().any(|p| host_matches(p, host)) {
        return Err(cert_err(format!(
            "`{field}` host {host:?} is not an SNS host"
        )));
    }
    if pem_path && (path.contains(['?', '#']) || !path.ends_with(".pem")) {
        return Err(cert_err(format!("`{field}` {url:?} is not a `.pem` path")));
    }
    Ok(())
}

/// A parsed SNS message: its string fields.
struct Message(Map<String, Value>);

impl Message {
    fn parse(body: &[u8]) -> Result<Message> {
        match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => Ok(Message(m)),
            _ => Err(bad("ses", "the body is not an SNS message (JSON object)")),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    fn need(&self, name: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| bad("ses", format!("the SNS message has no `{name}`")))
    }

    /// The signature version allowed by the options, before anything is fetched.
    fn version(&self, opts: &EventOptions) -> Result<u8> {
        match self.need("SignatureVersion")? {
            "2" => Ok(2),
            "1" if opts.allow_signature_v1 => Ok(1),
            "1" => Err(bad("ses", "SignatureVersion 1 (SHA-1) is refused: set the topic's SignatureVersion to 2, or `allowSignatureV1`")),
            v => Err(bad("ses", format!("unknown SignatureVersion {v:?}"))),
        }
    }

    fn topic(&self, opts: &EventOptions) -> Result<String> {
        let topic = self.need("TopicArn")?;
        if !opts.topic_arns.iter().any(|t| t == topic) {
            return Err(EmailError::EventTopicRejected {
                topic: topic.to_owned(),
            });
        }
        Ok(topic.to_owned())
    }

    /// The string SNS signs: `name\nvalue\n` for each signed field present, in this order.
    fn canonical(&self) -> Result<String> {
        let kind = self.need("Type")?;
        let fields: &[&str] = match kind {
            "Notification" => &[
                "Message",
                "MessageId",
                "Subject",
                "Timestamp",
                "TopicArn",
                "Type",
            ],
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => &[
                "Message",
                "MessageId",
                "SubscribeURL",
                "Timestamp",
                "Token",
                "TopicArn",
                "Type",
            ],
            other => return Err(bad("ses", format!("unknown SNS message Type {other:?}"))),
        };
        let mut out = String::new();
        for f in fields {
            match self.get(f) {
                Some(v) => {
                    out.push_str(f);
                    out.push('\n');
                    out.push_str(v);
                    out.push('\n');
                }
                None if *f == "Subject" => {}
                None => return Err(bad("ses", format!("the SNS message has no `{f}`"))),
            }
        }
        Ok(out)
    }
}

/// The certificate URL to fetch for `body`, after the version, topic and URL checks.
///
/// # Errors
/// `EMAIL_EVENT_BAD_SIGNATURE` (not an SNS message, refused version),
/// `EMAIL_EVENT_TOPIC_REJECTED`, `EMAIL_EVENT_CERT_REJECTED` (URL).
pub fn cert_url(body: &[u8], opts: &EventOptions) -> Result<String> {
    let m = Message::parse(body)?;
    m.version(opts)?;
    m.topic(opts)?;
    let url = m.need("SigningCertURL")?;
    check_url("SigningCertURL", url, opts, true)?;
    Ok(url.to_owned())
}

pub(super) fn verify(body: &[u8], opts: &EventOptions) -> Result<VerifiedEvent> {
    let m = Message::parse(body)?;
    let version = m.version(opts)?;
    let topic = m.topic(opts)?;
    check_url("SigningCertURL", m.need("SigningCertURL")?, opts, true)?;
    let pem = opts.certificate.as_deref().ok_or_else(|| {
        EmailError::config("certificate", "the PEM fetched from `SigningCertURL`")
    })?;
    let subjects: Vec<&str> = match &opts.cert_subjects {
        Some(list) => list.iter().map(String::as_str).collect(),
        None => DEFAULT_CERT_SUBJECTS.to_vec(),
    };
    let key = x509::signing_key(pem, &subjects, opts.trusted_ca.as_deref(), opts.now)?;
    let signature =
        super::b64(m.need("Signature")?).ok_or_else(|| bad("ses", "`Signature` is not base64"))?;
    x509::verify_rsa(&key, version, m.canonical()?.as_bytes(), &signature)
        .map_err(|()| bad("ses", "the signature does not match the message"))?;
    let kind = m.need("Type")?.to_owned();
    let subscribe_url = match m.get("SubscribeURL") {
        Some(u) if kind == "SubscriptionConfirmation" => {
            check_url("SubscribeURL", u, opts, false)?;
            Some(u.to_owned())
        }
        _ => None,
    };
    Ok(VerifiedEvent {
        provider: "ses".into(),
        id: Some(m.need("MessageId")?.to_owned()),
        timestamp: None,
        sns_type: Some(kind),
        topic_arn: Some(topic),
        subscribe_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> EventOptions {
        EventOptions {
            topic_arns: vec!["arn:aws:sns:us-east-1:123456789012:ses".into()],
            ..EventOptions::default()
        }
    }

    fn msg(version: &str, topic: &str, url: &str) -> String {
        serde_json::json!({
            "Type": "Notification", "MessageId": "m1", "TopicArn": topic, "Message": "{}",
            "Timestamp": "2026-01-01T00:00:00.000Z", "SignatureVersion": version,
            "Signature": "AA==", "SigningCertURL": url,
        })
        .to_string()
    }

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ses";
    const URL: &str = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem";

    #[test]
    fn hosts_match_one_label_per_star() {
        assert!(host_matches(
            "sns.*.amazonaws.com",
            "sns.us-east-1.amazonaws.com"
        ));
        assert!(host_matches(
            "sns.*.amazonaws.com",
            "SNS.eu-west-1.amazonaws.com"
        ));
        assert!(!host_matches(
            "sns.*.amazonaws.com",
            "sns.a.b.amazonaws.com"
        ));
        assert!(!host_matches(
            "sns.*.amazonaws.com",
            "sns.us-east-1.amazonaws.com.evil.io"
        ));
        assert!(!host_matches("sns.*.amazonaws.com", "sns..amazonaws.com"));
        assert!(!host_matches(
            "sns.*.amazonaws.com",
            "sns.us_east.amazonaws.com"
        ));
        assert!(host_matches("127.0.0.1:8443", "127.0.0.1:8443"));
    }

    #[test]
    fn url_topic_and_version_rules() {
        assert_eq!(
            cert_url(msg("2", TOPIC, URL).as_bytes(), &opts()).unwrap(),
            URL
        );
        let code = |v: &str, t: &str, u: &str| {
            cert_url(msg(v, t, u).as_bytes(), &opts())
                .unwrap_err()
                .code()
        };
        assert_eq!(
            code("2", "arn:aws:sns:us-east-1:1:other", URL),
            "EMAIL_EVENT_TOPIC_REJECTED"
        );
        assert_eq!(code("1", TOPIC, URL), "EMAIL_EVENT_BAD_SIGNATURE");
        assert_eq!(code("3", TOPIC, URL), "EMAIL_EVENT_BAD_SIGNATURE");
        for bad_url in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.io/x.pem",
            "https://evil.io/sns.us-east-1.amazonaws.com/x.pem",
            "https://a@sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.pem?x=1",
            "https://sns.us-east-1.amazonaws.com/x.txt",
        ] {
            assert_eq!(
                code("2", TOPIC, bad_url),
                "EMAIL_EVENT_CERT_REJECTED",
                "{bad_url}"
            );
        }
        let v1 = EventOptions {
            allow_signature_v1: true,
            ..opts()
        };
        assert!(cert_url(msg("1", TOPIC, URL).as_bytes(), &v1).is_ok());
        assert_eq!(
            cert_url(b"[1]", &opts()).unwrap_err().code(),
            "EMAIL_EVENT_BAD_SIGNATURE"
        );
    }

    #[test]
    fn canonical_string_per_type() {
        let m = Message::parse(msg("2", TOPIC, URL).as_bytes()).unwrap();
        assert_eq!(
            m.canonical().unwrap(),
            format!("Message\n{{}}\nMessageId\nm1\nTimestamp\n2026-01-01T00:00:00.000Z\nTopicArn\n{TOPIC}\nType\nNotification\n")
        );
        let conf = serde_json::json!({
            "Type": "SubscriptionConfirmation", "MessageId": "m", "Token": "t", "TopicArn": "a",
            "Message": "x", "SubscribeURL": "https://s/", "Timestamp": "ts", "Subject": "ignored",
        });
        let m = Message::parse(conf.to_string().as_bytes()).unwrap();
        assert_eq!(
            m.canonical().unwrap(),
            "Message\nx\nMessageId\nm\nSubscribeURL\nhttps://s/\nTimestamp\nts\nToken\nt\nTopicArn\na\nType\nSubscriptionConfirmation\n"
        );
    }

    /// Signed by `testdata/leaf.pem` (CN=sns.amazonaws.com, issued by `testdata/ca.pem`, valid
    /// 2026–2126) with openssl, SignatureVersion 1 and 2.
    const V1: &str = include_str!("testdata/msg-v1.json");
    const V2: &str = include_str!("testdata/msg-v2.json");
    const LEAF: &str = include_str!("testdata/leaf.pem");
    const CA: &str = include_str!("testdata/ca.pem");
    /// Self-signed, same subject, another key.
    const OTHER: &str = include_str!("testdata/other.pem");
    const NOW: i64 = 1_800_000_000;

    fn signed_opts() -> EventOptions {
        EventOptions {
            topic_arns: vec!["arn:aws:sns:us-east-1:123456789012:ses-events".into()],
            certificate: Some(LEAF.into()),
            trusted_ca: Some(CA.into()),
            now: NOW,
            ..EventOptions::default()
        }
    }

    #[test]
    fn signed_messages_verify_with_both_versions() {
        let v = verify(V2.as_bytes(), &signed_opts()).unwrap();
        assert_eq!(
            v.id.as_deref(),
            Some("22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324")
        );
        assert_eq!(v.sns_type.as_deref(), Some("Notification"));
        let v1 = EventOptions {
            allow_signature_v1: true,
            ..signed_opts()
        };
        assert!(verify(V1.as_bytes(), &v1).is_ok());
        assert_eq!(
            verify(V1.as_bytes(), &signed_opts()).unwrap_err().code(),
            "EMAIL_EVENT_BAD_SIGNATURE"
        );
        // Without a trusted CA the certificate's own checks still apply.
        let no_ca = EventOptions {
            trusted_ca: None,
            ..signed_opts()
        };
        assert!(verify(V2.as_bytes(), &no_ca).is_ok());
    }

    #[test]
    fn modified_messages_and_foreign_certificates_fail() {
        let tampered = V2.replace("Bounce", "Delivery");
        assert_eq!(
            verify(tampered.as_bytes(), &signed_opts())
                .unwrap_err()
                .code(),
            "EMAIL_EVENT_BAD_SIGNATURE"
        );
        let other = EventOptions {
            certificate: Some(OTHER.into()),
            ..signed_opts()
        };
        assert_eq!(
            verify(V2.as_bytes(), &other).unwrap_err().code(),
            "EMAIL_EVENT_CERT_REJECTED"
        );
        let untrusted = EventOptions {
            certificate: Some(OTHER.into()),
            trusted_ca: None,
            ..signed_opts()
        };
        assert_eq!(
            verify(V2.as_bytes(), &untrusted).unwrap_err().code(),
            "EMAIL_EVENT_BAD_SIGNATURE"
        );
        let expired = EventOptions {
            now: 5_000_000_000,
            ..signed_opts()
        };
        let e = verify(V2.as_bytes(), &expired).unwrap_err();
        assert_eq!(e.code(), "EMAIL_EVENT_CERT_REJECTED");
        assert!(e.to_string().contains("not valid at"), "{e}");
        let subject = EventOptions {
            cert_subjects: Some(vec!["sns.example.com".into()]),
            ..signed_opts()
        };
        assert_eq!(
            verify(V2.as_bytes(), &subject).unwrap_err().code(),
            "EMAIL_EVENT_CERT_REJECTED"
        );
        let topic = EventOptions {
            topic_arns: vec![],
            ..signed_opts()
        };
        assert_eq!(
            verify(V2.as_bytes(), &topic).unwrap_err().code(),
            "EMAIL_EVENT_TOPIC_REJECTED"
        );
        let garbage = EventOptions {
            certificate: Some(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
            ),
            ..signed_opts()
        };
        assert_eq!(
            verify(V2.as_bytes(), &garbage).unwrap_err().code(),
            "EMAIL_EVENT_CERT_REJECTED"
        );
        let bad_ca = EventOptions {
            trusted_ca: Some("nope".into()),
            ..signed_opts()
        };
        assert_eq!(
            verify(V2.as_bytes(), &bad_ca).unwrap_err().code(),
            "EMAIL_INVALID_CONFIG"
        );
    }
}
