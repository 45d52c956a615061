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

use super::address::Mailbox;
use super::error::{EmailError, Result};
use super::header::{ValueForm, MAX_LINE};
use super::prepare::{Body, Part, Prepared};
use super::recipients::Recipients;

/// Text as CRLF lines: a lone CR or LF would be a bare line ending in a 7bit part.
fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut rest = text;
    // Whole runs between line ends: a part is kilobytes, and a character at a time was most of
    // the build.
    while let Some(at) = rest.bytes().position(|b| b == b'\r' || b == b'\n') {
        out.push_str(&rest[..at]);
        out.push_str("\r\n");
        let end = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[at + end..];
    }
    out.push_str(rest);
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
    // From each occurrence of the first byte only: a comparison at every position was a tenth
    // of a build.
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    while let Some(p) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + p;
        if haystack[at + 1..].starts_with(rest) {
            return true;
        }
        from = at + 1;
    }
    false
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
        return Err(EmailError::argument(
            "message",
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

#[cfg(test)]
mod tests {
    use super::{contains, crlf};

    #[test]
    fn contains_finds_a_needle_anywhere() {
        assert!(contains(b"a==_x=_b", b"=_b"));
        assert!(contains(b"=_b", b"=_b"));
        assert!(!contains(b"=_", b"=_b"));
        assert!(!contains(b"= _b =b_", b"=_b"));
        assert!(contains(b"", b""));
    }

    #[test]
    fn every_line_end_becomes_crlf_once() {
        assert_eq!(
            crlf("a\nb\r\nc\rd\r\r\ne\n"),
            "a\r\nb\r\nc\r\nd\r\n\r\ne\r\n"
        );
        assert_eq!(crlf("\u{e9}t\u{e9}\n\u{65e5}"), "\u{e9}t\u{e9}\r\n\u{65e5}");
        assert_eq!(crlf(""), "");
        assert_eq!(crlf("\r"), "\r\n");
    }
}
