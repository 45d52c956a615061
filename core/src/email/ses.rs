//! Amazon SES v2 (spec §8.2, §8.4): `POST /v2/email/outbound-emails` signed with SigV4 (service
//! `ses`), the message as `Content.Raw` (our MIME, so the list headers and custom headers are
//! exactly ours), the envelope's recipients as the destination (the MIME carries no `Bcc`),
//! `better_email_id` and the tenant as `EmailTags` (how SES's events correlate). SES keeps no
//! idempotency key: an answer lost after the request left is `ambiguous`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::error::{EmailError, Result};
use super::events::header;
use super::http::{base_url, raw_mime, HttpRequest, Outgoing, ProviderOptions};
use super::sigv4::{sign, SigV4Request};
use super::smtp_outcome::HandOff;

const PATH: &str = "/v2/email/outbound-emails";

/// SES's rule for tag names and values: ASCII letters, digits, `_` and `-`, at most 256.
fn tag_text(s: &str) -> String {
    s.chars()
        .take(256)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// SigV4's token rule, refused as configuration (SES options), not as an argument.
fn printable(field: &str, v: &str, expected: &str) -> Result<()> {
    if !super::sigv4::is_token(v) {
        return Err(EmailError::config(field, expected));
    }
    Ok(())
}

/// `(host[:port], path prefix)` of a base URL already checked to start with `http(s)://`, the
/// host as `fetch` sends it in `Host` (lower case, without the scheme's default port), which is
/// what the signature must cover. A query, fragment, user info or a character a URL would
/// percent-encode is refused: the signed path would differ from the one sent.
fn host_and_prefix(base: &str) -> Result<(String, &str)> {
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let (host, prefix) = rest
        .find('/')
        .map_or((rest, ""), |i| (&rest[..i], &rest[i..]));
    let in_host = |c: u8| c.is_ascii_alphanumeric() || b"-._~%:[]".contains(&c);
    let in_path = |c: u8| c.is_ascii_alphanumeric() || b"-._~/%!$&'()*+,;=:@".contains(&c);
    if host.is_empty() || !host.bytes().all(in_host) || !prefix.bytes().all(in_path) {
        return Err(EmailError::config(
            "baseUrl",
            "an http(s) URL without query, fragment or user info, such as https://email.eu-west-1.amazonaws.com",
        ));
    }
    let host = host.to_ascii_lowercase();
    let default = if scheme == "https" { ":443" } else { ":80" };
    Ok((
        host.strip_suffix(default)
            .map_or(host.clone(), str::to_owned),
        prefix,
    ))
}

pub(super) fn request(m: &Outgoing, o: &ProviderOptions) -> Result<HttpRequest> {
    let region = o.region.as_deref().unwrap_or_default();
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(EmailError::config(
            "region",
            "the AWS region SES sends from, such as eu-west-1",
        ));
    }
    let Some(c) = o.credentials.as_ref() else {
        return Err(EmailError::config(
            "credentials",
            "{ accessKeyId, secretAccessKey, sessionToken? } or a function returning them",
        ));
    };
    printable(
        "credentials.accessKeyId",
        &c.access_key_id,
        "the AWS access key id",
    )?;
    printable(
        "credentials.secretAccessKey",
        &c.secret_access_key,
        "the AWS secret access key",
    )?;
    if let Some(t) = c.session_token.as_deref().filter(|t| !t.is_empty()) {
        printable("credentials.sessionToken", t, "the AWS session token")?;
    }
    if let Some(set) = &o.configuration_set_name {
        printable("configurationSetName", set, "an SES configuration set name")?;
    }
    let raw = raw_mime(m, "SES")?;
    let base = base_url(
        "baseUrl",
        o,
        &format!("https://email.{region}.amazonaws.com"),
    )?;
    let (host, prefix) = host_and_prefix(&base)?;
    let mut tags = vec![json!({ "Name": "better_email_id", "Value": tag_text(&m.id) })];
    if let Some(t) = &m.tenant_id {
        tags.push(json!({ "Name": "tenant", "Value": tag_text(t) }));
    }
    for (k, v) in m.tags.iter().flatten() {
        tags.push(json!({ "Name": tag_text(k), "Value": tag_text(v) }));
    }
    let mut body = json!({
        "FromEmailAddress": m.from.address,
        "Destination": { "ToAddresses": m.recipients },
        "Content": { "Raw": { "Data": STANDARD.encode(raw) } },
        "EmailTags": tags,
    });
    if let Some(set) = &o.configuration_set_name {
        body["ConfigurationSetName"] = json!(set);
    }
    let body = body.to_string();
    let content_type = ("content-type".to_owned(), "application/json".to_owned());
    let signed = sign(&SigV4Request {
        method: "POST".into(),
        host,
        path: format!("{prefix}{PATH}"),
        query: Vec::new(),
        headers: vec![content_type.clone()],
        body: body.clone(),
        region: region.to_owned(),
        service: "ses".into(),
        access_key_id: c.access_key_id.clone(),
        secret_access_key: c.secret_access_key.clone(),
        session_token: c.session_token.clone(),
        now_ms: o
            .now_ms
            .ok_or_else(|| EmailError::config("nowMs", "the signing time (Date.now())"))?,
    })?;
    let mut headers = vec![content_type];
    headers.extend(signed.headers);
    Ok(HttpRequest {
        method: "POST",
        url: format!("{base}{PATH}"),
        headers,
        body,
    })
}

/// A refusal by its error type (`x-amzn-ErrorType`, or the body's `__type`/`code`), then its
/// status: an account whose sending is paused or suspended cannot send anything, which another
/// transport may; a quota or rate refusal is throttling, whatever its status.
pub(super) fn judge(status: u16, headers: &[(String, String)], body: Option<&Value>) -> HandOff {
    let from_body = |k: &str| body.and_then(|b| b.get(k)).and_then(Value::as_str);
    let kind = header(headers, "x-amzn-errortype")
        .or_else(|| from_body("__type"))
        .or_else(|| from_body("code"))
        .unwrap_or_default();
    // `MessageRejected:http://internal.amazon.com/…` or `com.amazonaws…#MessageRejected`.
    let kind = kind.split(':').next().unwrap_or_default();
    let kind = kind.rsplit('#').next().unwrap_or_default();
    match (kind, status) {
        // A signature made on a clock that drifted: nothing was sent, the next attempt signs anew.
        ("RequestExpired", _) => HandOff::Retryable,
        // Credentials, signature and permission refusals (some come as 400): the transport cannot
        // send anything now, which another transport may.
        (
            "SendingPausedException"
            | "AccountSuspendedException"
            | "AccessDeniedException"
            | "NotAuthorized"
            | "IncompleteSignature"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "MissingAuthenticationToken",
            _,
        )
        | (_, 401 | 403) => HandOff::AuthFailed,
        ("TooManyRequestsException" | "ThrottlingException" | "LimitExceededException", _)
        | (_, 429) => HandOff::Throttled,
        (_, 400..=499) => HandOff::RejectedPermanent,
        _ => HandOff::Retryable,
    }
}

#[cfg(test)]
mod tests;
