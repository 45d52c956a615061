//! AWS Signature Version 4 for the SES v2 API (`POST /v2/email/outbound-emails`): canonical
//! request, string to sign, signing key and the `Authorization` header. The SDK is not needed
//! (and is large on edge); the transport only performs `fetch` with the headers returned here.
//!
//! Every header the caller passes is signed, plus `host`, `x-amz-date` and (with a session
//! token) `x-amz-security-token`: the caller decides what to send, and whatever is sent is
//! covered. The path is the one sent on the wire (already percent-encoded); as AWS requires for
//! every service but S3, it is normalised (`//` → `/`) and encoded once more. No clock: the
//! caller passes `now_ms`.

use sha2::{Digest, Sha256};

use super::error::{EmailError, Result};
use crate::audit::time::civil_from_days;
use crate::crypto::{hex, hmac_sha256};
use hmac::Mac;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// A request to sign.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
pub struct SigV4Request {
    pub method: String,
    /// `host[:port]` as sent.
    pub host: String,
    /// The path as sent, percent-encoded (`/v2/email/outbound-emails`).
    pub path: String,
    /// Query parameters, decoded.
    #[cfg_attr(feature = "serde", serde(default))]
    pub query: Vec<(String, String)>,
    /// Headers to sign and send (not `host`, `authorization`, `x-amz-date`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub headers: Vec<(String, String)>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub body: String,
    pub region: String,
    pub service: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// Milliseconds since 1970 (`Date.now()`).
    pub now_ms: i64,
}

/// The signed request's additions and the intermediate values (for diagnostics and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct SigV4Signed {
    /// Headers to add to the request: `x-amz-date`, `x-amz-security-token`, `authorization`.
    pub headers: Vec<(String, String)>,
    pub authorization: String,
    pub amz_date: String,
    pub signed_headers: String,
    pub canonical_request: String,
    pub canonical_request_hash: String,
    pub string_to_sign: String,
    pub signature: String,
}

/// `20150830T123600Z` for `now_ms`.
#[must_use]
pub fn amz_date(now_ms: i64) -> String {
    let secs = now_ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// RFC 3986 encoding: everything but `A-Za-z0-9-_.~` (and `/` when `keep_slash`).
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&hex(&[b]).to_ascii_uppercase());
        }
    }
    out
}

fn canonical_path(path: &str) -> String {
    let mut collapsed = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && collapsed.ends_with('/')) {
            collapsed.push(c);
        }
    }
    uri_encode(&collapsed, true)
}

fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Trimmed, runs of whitespace collapsed to one space.
fn header_value(v: &str) -> String {
    v.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `v` can go into a signed header or the credential scope as it is: non-empty
/// printable ASCII without spaces.
pub(super) fn is_token(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic())
}

fn check_token(field: &str, v: &str) -> Result<()> {
    if !is_token(v) {
        return Err(EmailError::argument(
            field,
            "must be non-empty printable ASCII without spaces",
        ));
    }
    Ok(())
}

/// The SigV4 signing key for `date` (`YYYYMMDD`).
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let step = |key: &[u8], data: &str| -> [u8; 32] {
        let mut m = hmac_sha256(key);
        m.update(data.as_bytes());
        m.finalize().into_bytes().into()
    };
    let k = step(format!("AWS4{secret}").as_bytes(), date);
    let k = step(&k, region);
    let k = step(&k, service);
    step(&k, "aws4_request")
}

/// Signs `req`.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming `method`, `host`, `path`, `region`, `service`,
/// `accessKeyId`, `secretAccessKey` or `headers[i]`.
pub fn sign(req: &SigV4Request) -> Result<SigV4Signed> {
    check_token("method", &req.method)?;
    check_token("host", &req.host)?;
    check_token("region", &req.region)?;
    check_token("service", &req.service)?;
    check_token("accessKeyId", &req.access_key_id)?;
    if req.secret_access_key.is_empty() {
        return Err(EmailError::argument("secretAccessKey", "must be non-empty"));
    }
    if !req.path.starts_with('/') || req.path.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(EmailError::argument(
            "path",
            "must start with `/` and be percent-encoded ASCII",
        ));
    }
    let date = amz_date(req.now_ms);
    let mut headers: Vec<(String, String)> = Vec::with_capacity(req.headers.len() + 3);
    for (i, (name, value)) in req.headers.iter().enumerate() {
        let lower = name.to_ascii_lowercase();
        if name.is_empty() || name.bytes().any(|b| !b.is_ascii_graphic() || b == b':') {
            return Err(EmailError::argument(
                format!("headers[{i}]"),
                "not a header name",
            ));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(EmailError::argument(
                format!("headers[{i}]"),
                "value contains CR, LF or NUL",
            ));
        }
        if matches!(
            lower.as_str(),
            "host" | "authorization" | "x-amz-date" | "x-amz-security-token"
        ) {
            return Err(EmailError::argument(
                format!("headers[{i}]"),
                format!("`{lower}` is set by the signer: pass the host as `host`, the token as `sessionToken`"),
            ));
        }
        headers.push((lower, header_value(value)));
    }
    let mut added = vec![("x-amz-date".to_owned(), date.clone())];
    if let Some(t) = req.session_token.as_deref().filter(|t| !t.is_empty()) {
        added.push(("x-amz-security-token".to_owned(), t.to_owned()));
    }
    headers.extend(added.iter().cloned());
    headers.push(("host".into(), req.host.clone()));
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    // Repeated names are one canonical header with the values joined by commas, in order.
    let mut merged: Vec<(String, String)> = Vec::with_capacity(headers.len());
    for (n, v) in headers {
        match merged.last_mut() {
            Some((last, acc)) if *last == n => {
                acc.push(',');
                acc.push_str(&v);
            }
            _ => merged.push((n, v)),
        }
    }
    let signed_headers = merged
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = merged.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let payload_hash = merged
        .iter()
        .find(|(n, _)| n == "x-amz-content-sha256")
        .map_or_else(
            || hex(&Sha256::digest(req.body.as_bytes())),
            |(_, v)| v.clone(),
        );
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
        req.method.to_ascii_uppercase(),
        canonical_path(&req.path),
        canonical_query(&req.query),
    );
    let canonical_request_hash = hex(&Sha256::digest(canonical_request.as_bytes()));
    let scope = format!("{}/{}/{}/aws4_request", &date[..8], req.region, req.service);
    let string_to_sign = format!("{ALGORITHM}\n{date}\n{scope}\n{canonical_request_hash}");
    let mut mac = hmac_sha256(&signing_key(
        &req.secret_access_key,
        &date[..8],
        &req.region,
        &req.service,
    ));
    mac.update(string_to_sign.as_bytes());
    let signature = hex(&mac.finalize().into_bytes());
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        req.access_key_id
    );
    added.push(("authorization".into(), authorization.clone()));
    Ok(SigV4Signed {
        headers: added,
        authorization,
        amz_date: date,
        signed_headers,
        canonical_request,
        canonical_request_hash,
        string_to_sign,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The IAM `ListUsers` example of the AWS SigV4 documentation.
    fn list_users() -> SigV4Request {
        SigV4Request {
            method: "GET".into(),
            host: "iam.amazonaws.com".into(),
            path: "/".into(),
            query: vec![
                ("Version".into(), "2010-05-08".into()),
                ("Action".into(), "ListUsers".into()),
            ],
            headers: vec![(
                "Content-Type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            )],
            body: String::new(),
            region: "us-east-1".into(),
            service: "iam".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
            // 2015-08-30T12:36:00Z
            now_ms: 1_440_938_160_000,
        }
    }

    #[test]
    fn aws_documentation_example() {
        let s = sign(&list_users()).unwrap();
        assert_eq!(s.amz_date, "20150830T123600Z");
        assert_eq!(
            s.canonical_request,
            "GET\n/\nAction=ListUsers&Version=2010-05-08\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            s.canonical_request_hash,
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        assert_eq!(
            s.signature,
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        assert_eq!(s.headers[0], ("x-amz-date".into(), s.amz_date.clone()));
        assert_eq!(s.headers[1].0, "authorization");
    }

    #[test]
    fn session_token_is_signed_and_returned() {
        let mut r = list_users();
        r.session_token = Some("tok/en=".into());
        let s = sign(&r).unwrap();
        assert_eq!(
            s.signed_headers,
            "content-type;host;x-amz-date;x-amz-security-token"
        );
        assert!(s
            .headers
            .contains(&("x-amz-security-token".into(), "tok/en=".into())));
        assert_ne!(s.signature, sign(&list_users()).unwrap().signature);
    }

    #[test]
    fn paths_queries_and_values_are_canonical() {
        assert_eq!(canonical_path("/a//b/c%20d/é"), "/a/b/c%2520d/%C3%A9");
        assert_eq!(
            canonical_query(&[
                ("b".into(), "x y".into()),
                ("a".into(), "2".into()),
                ("a".into(), "1*".into())
            ]),
            "a=1%2A&a=2&b=x%20y"
        );
        assert_eq!(header_value("  a \t  b  "), "a b");
        assert_eq!(amz_date(0), "19700101T000000Z");
    }

    #[test]
    fn bad_arguments_are_named() {
        let mut r = list_users();
        r.headers.push(("Host".into(), "x".into()));
        let e = sign(&r).unwrap_err();
        assert_eq!(e.code(), "EMAIL_INVALID_ARGUMENT");
        assert!(e.to_string().contains("`headers[1]`"), "{e}");
        let mut r = list_users();
        r.path = "v2".into();
        assert!(sign(&r).unwrap_err().to_string().contains("`path`"));
        let mut r = list_users();
        r.headers[0].1 = "a\r\nX-Injected: 1".into();
        assert!(sign(&r).unwrap_err().to_string().contains("CR, LF"));
        let mut r = list_users();
        r.secret_access_key.clear();
        assert!(sign(&r)
            .unwrap_err()
            .to_string()
            .contains("`secretAccessKey`"));
    }
}
