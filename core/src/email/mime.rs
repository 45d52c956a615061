//! The message as bytes: a deterministic MIME build with `mail-builder`.
//!
//! Frozen content (spec §2, guarantee 4) needs the same bytes on every attempt, on native and
//! wasm: `Message-ID` and `Date` come from the caller, and the multipart boundaries are derived
//! from the message id (SHA-256), never from a clock or a random source. A boundary starts with
//! `=_`, which quoted-printable and base64 output cannot contain; text written as 7bit is checked
//! for it and a colliding boundary is derived again with the next salt.
//!
//! Structure: `text/plain` and `text/html` as `multipart/alternative`; inline parts (those with
//! a `contentId`) beside the HTML in `multipart/related`; other attachments around everything in
//! `multipart/mixed`. `Bcc` is never written.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart};
use mail_builder::MessageBuilder;
use sha2::{Digest, Sha256};

use super::address::{parse_address, recipients, AddressOptions, Mailbox, Recipients};
use super::error::{EmailError, Result};
use super::header::{self, ValueForm, MAX_LINE};
use super::message::{Attachment, BuildOptions, MessageSpec};

/// A message whose every field has been checked: what [`build`] and [`estimate_size`] write.
#[derive(Debug, Clone)]
pub struct Prepared<'a> {
    spec: &'a MessageSpec,
    from: Mailbox,
    reply_to: Vec<Mailbox>,
    recipients: Recipients,
    message_id: &'a str,
    headers: Vec<(&'a str, &'a str, ValueForm)>,
    attachments: Vec<Part<'a>>,
    max_bytes: usize,
}

#[derive(Debug, Clone)]
struct Part<'a> {
    filename: &'a str,
    content_type: &'a str,
    content_id: Option<&'a str>,
    body: Body<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Body<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

fn arg(field: String, reason: impl Into<String>) -> EmailError {
    EmailError::InvalidArgument {
        field,
        reason: reason.into(),
    }
}

/// `type/subtype` of RFC 2045 tokens, without parameters.
fn check_content_type(field: String, ct: &str) -> Result<()> {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match ct.split_once('/') {
        Some((t, s)) if token(t) && token(s) => Ok(()),
        _ => Err(arg(
            field,
            format!("{ct:?} is not a media type such as `application/pdf` (no parameters)"),
        )),
    }
}

fn check_attachment<'a>(i: usize, a: &'a Attachment, bytes: Option<&'a [u8]>) -> Result<Part<'a>> {
    let field = |k: &str| format!("attachments[{i}].{k}");
    if a.filename.is_empty() || a.filename.chars().any(char::is_control) {
        return Err(arg(
            field("filename"),
            "a filename is required and has no control characters (CR, LF, NUL, …)",
        ));
    }
    let content_type = a
        .content_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    check_content_type(field("contentType"), content_type)?;
    let content_id = match &a.content_id {
        Some(id) => Some(header::check_id(&field("contentId"), id, false)?),
        None => None,
    };
    let body = match (&a.content, bytes) {
        (Some(text), None) => Body::Text(text),
        (None, Some(b)) => Body::Bytes(b),
        (Some(_), Some(_)) => {
            return Err(arg(
                field("content"),
                "give the content either as text or as bytes in `contents`, not both",
            ))
        }
        (None, None) => {
            return Err(arg(
                field("content"),
                "missing: give text here or bytes at the same index of `contents`",
            ))
        }
    };
    Ok(Part {
        filename: &a.filename,
        content_type,
        content_id,
        body,
    })
}

/// Checks every field of `spec`; `contents[i]` holds the bytes of attachment `i` when it has no
/// text `content`.
///
/// # Errors
/// `EMAIL_INVALID_ADDRESS`, `EMAIL_INVALID_HEADER`, `EMAIL_TOO_MANY_RECIPIENTS` or
/// `EMAIL_INVALID_ARGUMENT`, naming the field (`to[2]`, `headers`' name, `attachments[0].filename`).
pub fn prepare<'a>(
    spec: &'a MessageSpec,
    opts: &BuildOptions,
    contents: &'a [Option<Vec<u8>>],
) -> Result<Prepared<'a>> {
    let ao = AddressOptions {
        smtp_utf8: opts.smtp_utf8,
    };
    let from = parse_address("from", &spec.from, ao)?;
    let reply_to = match &spec.reply_to {
        Some(list) => list
            .items("replyTo")
            .into_iter()
            .map(|(f, a)| parse_address(&f, a, ao))
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    let recipients = recipients(
        spec.to.as_ref(),
        spec.cc.as_ref(),
        spec.bcc.as_ref(),
        ao,
        opts.max_recipients(),
    )?;
    header::check_subject(&spec.subject)?;
    if spec.text.is_none() && spec.html.is_none() {
        return Err(arg("text".into(), "a message needs `text`, `html` or both"));
    }
    let message_id = header::check_id("messageId", &spec.message_id, true)?;
    if !(0..=253_402_300_799_000).contains(&spec.date_ms) {
        return Err(arg(
            "dateMs".into(),
            "milliseconds since 1970 (Date.getTime()) up to the year 9999",
        ));
    }
    let mut headers = Vec::with_capacity(spec.headers.len());
    for (name, value) in &spec.headers {
        headers.push((
            name.as_str(),
            value.as_str(),
            header::check_custom(name, value)?,
        ));
    }
    if let Some(v) = &spec.list_unsubscribe {
        header::check_list_unsubscribe(v)?;
    } else if spec.list_unsubscribe_post {
        return Err(arg(
            "listUnsubscribePost".into(),
            "one-click unsubscribe needs `listUnsubscribe` (RFC 8058)",
        ));
    }
    if let Some(id) = &spec.list_id {
        header::check_list_id(id)?;
    }
    if contents.len() > spec.attachments.len() {
        return Err(arg(
            "contents".into(),
            format!(
                "{} entries for {} attachments: entry i holds the bytes of attachments[i]",
                contents.len(),
                spec.attachments.len()
            ),
        ));
    }
    let attachments = spec
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| check_attachment(i, a, contents.get(i).and_then(Option::as_deref)))
        .collect::<Result<_>>()?;
    Ok(Prepared {
        spec,
        from,
        reply_to,
        recipients,
        message_id,
        headers,
        attachments,
        max_bytes: opts.max_message_bytes(),
    })
}

/// Text as CRLF lines: a lone CR or LF would be a bare line ending in a 7bit part.
fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\r\n");
            }
            '\n' => out.push_str("\r\n"),
            _ => out.push(c),
        }
    }
    out
}

fn mailbox(m: &Mailbox) -> Address<'_> {
    Address::new_address(m.name.as_deref(), m.address.as_str())
}

fn list(ms: &[Mailbox]) -> Address<'_> {
    Address::new_list(ms.iter().map(mailbox).collect())
}

fn is_text_type(ct: &str) -> bool {
    ct.len() > 5 && ct[..5].eq_ignore_ascii_case("text/")
}

fn text_part<'x>(content_type: &'static str, text: &str) -> MimePart<'x> {
    MimePart::new(content_type, BodyPart::Text(crlf(text).into()))
}

fn multipart<'x>(stem: &str, kind: &str, n: u8, parts: Vec<MimePart<'x>>) -> MimePart<'x> {
    MimePart::new(
        ContentType::new(format!("multipart/{kind}")).attribute("boundary", format!("{stem}.{n}")),
        parts,
    )
}

/// `bytes` in base64, 76 characters per line, each line ending in CRLF.
fn base64_lines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(base64_len(bytes.len()));
    for chunk in bytes.chunks(57) {
        out.extend_from_slice(STANDARD.encode(chunk).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// An attachment or inline part, always base64 so that every parser returns its exact bytes
/// (a 7bit text part's line endings are the parser's to interpret); in a skeleton, without its
/// bytes.
fn leaf<'x>(p: &Part<'x>, skeleton: bool) -> MimePart<'x> {
    let (bytes, is_text) = match p.body {
        Body::Text(t) => (t.as_bytes(), true),
        Body::Bytes(b) => (b, false),
    };
    let encoded = if skeleton {
        Vec::new()
    } else {
        base64_lines(bytes)
    };
    let mut content_type = ContentType::new(p.content_type);
    if is_text && is_text_type(p.content_type) {
        content_type = content_type.attribute("charset", "utf-8");
    }
    let disposition = if p.content_id.is_some() {
        "inline"
    } else {
        "attachment"
    };
    let part = MimePart::new(content_type, BodyPart::Binary(encoded.into())).header(
        "Content-Disposition",
        ContentType::new(disposition).attribute("filename", p.filename),
    );
    match p.content_id {
        Some(id) => part.cid(id),
        None => part,
    }
    .transfer_encoding("base64")
}

impl Prepared<'_> {
    /// Text that may be written as it is (7bit), where a boundary must not occur: the bodies
    /// (attachments are always base64).
    fn plain_texts(&self) -> impl Iterator<Item = &[u8]> {
        [self.spec.text.as_deref(), self.spec.html.as_deref()]
            .into_iter()
            .flatten()
            .map(str::as_bytes)
    }

    /// The boundary stem: `=_` and 24 hex digits of SHA-256 over the message id and a salt.
    fn boundary_stem(&self) -> String {
        let mut salt = 0u32;
        loop {
            let digest = Sha256::new()
                .chain_update(b"usebetter-email mime boundary\0")
                .chain_update(self.message_id.as_bytes())
                .chain_update(salt.to_be_bytes())
                .finalize();
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            let stem = format!("=_{hex}");
            if !self.plain_texts().any(|t| contains(t, stem.as_bytes())) {
                return stem;
            }
            salt += 1;
        }
    }

    /// The message; with `skeleton`, attachments without their bytes, whose base64 length
    /// [`estimate_size`] adds arithmetically.
    fn write(&self, skeleton: bool) -> Vec<u8> {
        let spec = self.spec;
        let stem = self.boundary_stem();
        let text = spec.text.as_deref().map(|t| text_part("text/plain", t));
        let html = spec.html.as_deref().map(|h| text_part("text/html", h));
        let (inline, other): (Vec<&Part<'_>>, Vec<&Part<'_>>) = self
            .attachments
            .iter()
            .partition(|p| p.content_id.is_some() && html.is_some());
        let html = match html {
            Some(h) if !inline.is_empty() => {
                let mut parts = vec![h];
                parts.extend(inline.into_iter().map(|p| leaf(p, skeleton)));
                Some(multipart(&stem, "related", 1, parts))
            }
            h => h,
        };
        let mut body = match (text, html) {
            (Some(t), Some(h)) => multipart(&stem, "alternative", 0, vec![t, h]),
            (Some(p), None) | (None, Some(p)) => p,
            (None, None) => text_part("text/plain", ""),
        };
        if !other.is_empty() {
            let mut parts = vec![body];
            parts.extend(other.into_iter().map(|p| leaf(p, skeleton)));
            body = multipart(&stem, "mixed", 2, parts);
        }

        let mut m = MessageBuilder::new().from(mailbox(&self.from));
        let r = &self.recipients;
        if !r.to.is_empty() {
            m = m.header("To", list(&r.to));
        }
        if !r.cc.is_empty() {
            m = m.header("Cc", list(&r.cc));
        }
        if !self.reply_to.is_empty() {
            m = m.header("Reply-To", list(&self.reply_to));
        }
        m = m
            .subject(Text::new(spec.subject.as_str()))
            .date(Date::new(spec.date_ms.div_euclid(1000)))
            .message_id(self.message_id)
            .header("MIME-Version", Raw::new("1.0"));
        if let Some(v) = &spec.list_unsubscribe {
            m = m.header("List-Unsubscribe", Raw::new(v.as_str()));
            if spec.list_unsubscribe_post {
                m = m.header(
                    "List-Unsubscribe-Post",
                    Raw::new("List-Unsubscribe=One-Click"),
                );
            }
        }
        if let Some(id) = &spec.list_id {
            m = m.header("List-Id", Raw::new(format!("<{id}>")));
        }
        for (name, value, form) in &self.headers {
            m = match form {
                ValueForm::Raw => m.header(*name, Raw::new(*value)),
                ValueForm::Encoded => m.header(*name, Text::new(*value)),
            };
        }
        let mut out = Vec::new();
        m.body(body).serialize(&mut out);
        // A single-part message ends with its body: end its last line too, so every line of
        // every message ends in CRLF (SMTP's DATA needs it, and so do signers).
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Octets of `n` bytes in base64 as attachments are written: 76-character lines, each ending
/// in CRLF.
#[must_use]
pub fn base64_len(n: usize) -> usize {
    let chars = n.div_ceil(3) * 4;
    chars + chars.div_ceil(76) * 2
}

/// Where the output breaks RFC 5322 §2.1.1 (a line over 998 octets, a bare CR or LF, a last
/// line without CRLF): the offset of the offending line. Checked on every build, so a bug shows up as an error, not as
/// a message a relay truncates.
#[must_use]
pub fn bad_line(bytes: &[u8]) -> Option<usize> {
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                if i - start > MAX_LINE {
                    return Some(start);
                }
                i += 2;
                start = i;
            }
            b'\r' | b'\n' => return Some(start),
            _ => i += 1,
        }
    }
    (start < bytes.len()).then_some(start)
}

fn too_large(size: usize, limit: usize) -> EmailError {
    EmailError::MessageTooLarge {
        field: "message".into(),
        size,
        limit,
    }
}

/// The message's bytes.
///
/// # Errors
/// `EMAIL_MESSAGE_TOO_LARGE` over `maxMessageBytes`.
pub fn build(p: &Prepared<'_>) -> Result<Vec<u8>> {
    let out = p.write(false);
    if let Some(at) = bad_line(&out) {
        return Err(arg(
            "message".into(),
            format!("the built message has a line over {MAX_LINE} octets or a bare line ending at offset {at}"),
        ));
    }
    if out.len() > p.max_bytes {
        return Err(too_large(out.len(), p.max_bytes));
    }
    Ok(out)
}

/// The encoded size of the message without encoding the attachments (their base64 length is
/// computed); equal to `build(p)?.len()`.
///
/// # Errors
/// `EMAIL_MESSAGE_TOO_LARGE` over `maxMessageBytes`.
pub fn estimate_size(p: &Prepared<'_>) -> Result<usize> {
    let skeleton = p.write(true).len();
    let bytes: usize = p
        .attachments
        .iter()
        .map(|a| match a.body {
            Body::Text(t) => base64_len(t.len()),
            Body::Bytes(b) => base64_len(b.len()),
        })
        .sum();
    let size = skeleton + bytes;
    if size > p.max_bytes {
        return Err(too_large(size, p.max_bytes));
    }
    Ok(size)
}

/// The distinct recipients (for the envelope and the recipient rows).
#[must_use]
pub fn envelope<'p>(p: &'p Prepared<'_>) -> &'p Recipients {
    &p.recipients
}
