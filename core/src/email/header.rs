//! Header validation: custom headers, the subject and the list headers. Everything a user writes
//! into a header passes here first, so no value can end a header line early (CR/LF) and no
//! custom header can shadow one the builder writes itself.
//!
//! Encoding (RFC 2047 encoded words for non-ASCII subjects, display names and custom values,
//! RFC 2231 for filenames, folding at 78 columns) is `mail-builder`'s; the tests parse its output
//! with three independent parsers.

use super::error::{EmailError, Result};

/// Longest line RFC 5322 §2.1.1 allows, without its CRLF.
pub const MAX_LINE: usize = 998;
/// Longest custom header name: the name and `": "` stay on one folded line of 78 columns.
pub const MAX_NAME: usize = 76;

/// Names the builder writes itself (compared case-insensitively); `*` ends a prefix. The spec's
/// reserved list, plus `Reply-To` and `List-Id`, which come from `replyTo` and the category's
/// `listId`: a second copy of either makes the message invalid (RFC 5322 §3.6).
const RESERVED: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-*",
    "list-unsubscribe*",
    "dkim-signature",
    "return-path",
    "reply-to",
    "list-id",
];

fn invalid(field: &str, reason: impl Into<String>) -> EmailError {
    EmailError::InvalidHeader {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn is_reserved(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    RESERVED.iter().any(|r| match r.strip_suffix('*') {
        Some(prefix) => lower.starts_with(prefix),
        None => lower == *r,
    })
}

/// Refuses CR, LF and NUL: each would end (or truncate) the header line.
fn check_line_breaks(field: &str, value: &str) -> Result<()> {
    match value.find(['\r', '\n', '\0']) {
        Some(at) => Err(invalid(
            field,
            format!(
                "the value contains {} at offset {at}: a header value is one line",
                match value.as_bytes()[at] {
                    b'\r' => "CR",
                    b'\n' => "LF",
                    _ => "NUL",
                }
            ),
        )),
        None => Ok(()),
    }
}

/// How a checked custom header value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueForm {
    /// Printable ASCII: written as given, folded at spaces.
    Raw,
    /// Non-ASCII or control characters: written as RFC 2047 encoded words.
    Encoded,
}

/// Checks one custom header (`headers: { name: value }`).
///
/// # Errors
/// `EMAIL_INVALID_HEADER` naming the header: a name outside `[!-9;-~]+` or over
/// [`MAX_NAME`] octets, a reserved name, a value with CR/LF/NUL, or a run of printable text
/// without a space too long to fold into a 998-octet line.
pub fn check_custom(name: &str, value: &str) -> Result<ValueForm> {
    if name.is_empty() {
        return Err(invalid(name, "the header name is empty"));
    }
    if let Some(c) = name.chars().find(|c| !matches!(c, '!'..='9' | ';'..='~')) {
        return Err(invalid(
            name,
            format!("the name has {c:?}: header names are printable ASCII without `:` or spaces"),
        ));
    }
    if name.len() > MAX_NAME {
        return Err(invalid(
            name,
            format!(
                "the name is {} octets, over the limit of {MAX_NAME}",
                name.len()
            ),
        ));
    }
    if is_reserved(name) {
        return Err(invalid(
            name,
            "the header is reserved: the message sets it (use from, to, cc, bcc, replyTo, subject, attachments or the category's unsubscribe and listId)",
        ));
    }
    check_line_breaks(name, value)?;
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Ok(ValueForm::Encoded);
    }
    let longest = value.split([' ', '\t']).map(str::len).max().unwrap_or(0);
    if name.len() + 2 + longest > MAX_LINE {
        return Err(invalid(
            name,
            format!(
                "the value has a run of {longest} octets without a space, which cannot be folded into lines of {MAX_LINE} octets"
            ),
        ));
    }
    Ok(ValueForm::Raw)
}

/// Checks the subject (any text on one line; the builder encodes it as needed).
///
/// # Errors
/// `EMAIL_INVALID_HEADER` naming `subject` for CR or LF.
pub fn check_subject(subject: &str) -> Result<()> {
    match subject.find(['\r', '\n']) {
        Some(_) => Err(invalid(
            "subject",
            "the subject contains CR or LF: a subject is one line",
        )),
        None => Ok(()),
    }
}

/// A `List-Unsubscribe` value: one or more `<URI>` separated by commas (RFC 2369), each an
/// `https:` or `mailto:` URI without spaces or angle brackets.
///
/// # Errors
/// `EMAIL_INVALID_HEADER` naming `List-Unsubscribe`.
pub fn check_list_unsubscribe(value: &str) -> Result<()> {
    const FIELD: &str = "List-Unsubscribe";
    check_line_breaks(FIELD, value)?;
    for item in value.split(',') {
        let item = item.trim_matches(' ');
        let uri = item
            .strip_prefix('<')
            .and_then(|i| i.strip_suffix('>'))
            .ok_or_else(|| invalid(FIELD, format!("{item:?} is not `<URI>`")))?;
        let scheme_ok =
            uri.starts_with("https://") || uri.starts_with("http://") || uri.starts_with("mailto:");
        if !scheme_ok
            || !uri
                .bytes()
                .all(|b| (b'!'..=b'~').contains(&b) && b != b'<' && b != b'>')
        {
            return Err(invalid(
                FIELD,
                format!(
                    "{uri:?} is not an http(s): or mailto: URI of printable ASCII without spaces"
                ),
            ));
        }
        if uri.len() + 12 > MAX_LINE {
            return Err(invalid(FIELD, "a URI is too long for one header line"));
        }
    }
    Ok(())
}

/// A `List-Id` identifier (RFC 2919: a dot-atom such as `news.acme.com`).
///
/// # Errors
/// `EMAIL_INVALID_HEADER` naming `List-Id`.
pub fn check_list_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && !id.starts_with('.')
        && !id.ends_with('.')
        && !id.contains("..")
        && id
            .chars()
            .all(|c| c == '.' || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "List-Id",
            format!("{id:?} is not a list identifier such as `news.acme.com`"),
        ))
    }
}

/// An id of `Message-ID` or `Content-ID` (`left@right` or, for content ids, any run of
/// printable ASCII without `<>`, spaces or quotes); surrounding angle brackets are dropped.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming `field`.
pub fn check_id<'a>(field: &str, id: &'a str, need_at: bool) -> Result<&'a str> {
    let bare = id
        .strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(id);
    let chars_ok = bare.bytes().all(|b| {
        (b'!'..=b'~').contains(&b)
            && !matches!(
                b,
                b'<' | b'>' | b'"' | b'\\' | b'(' | b')' | b',' | b';' | b':' | b'[' | b']'
            )
    });
    let at_ok = !need_at
        || bare
            .split_once('@')
            .is_some_and(|(l, r)| !l.is_empty() && !r.is_empty() && !r.contains('@'));
    if bare.is_empty() || bare.len() > 250 || !chars_ok || !at_ok {
        return Err(EmailError::InvalidArgument {
            field: field.to_owned(),
            reason: format!(
                "{id:?} is not an id{}",
                if need_at {
                    " of the form `left@domain`"
                } else {
                    " of printable ASCII"
                }
            ),
        });
    }
    Ok(bare)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_headers() {
        assert_eq!(
            check_custom("X-Entity-Ref-ID", "abc").unwrap(),
            ValueForm::Raw
        );
        assert_eq!(
            check_custom("X-Greeting", "Grüße").unwrap(),
            ValueForm::Encoded
        );
        for (name, value) in [
            ("X-A", "a\r\nBcc: victim@x.example"),
            ("X-A", "a\nb"),
            ("X-A", "a\0b"),
            ("X A", "v"),
            ("X:A", "v"),
            ("", "v"),
            ("Content-Type", "text/plain"),
            ("bcc", "x@y.example"),
            ("List-Unsubscribe-Post", "x"),
            ("DKIM-Signature", "x"),
            ("X-Long", &"a".repeat(992)),
        ] {
            let e = check_custom(name, value).unwrap_err();
            assert_eq!(e.code(), "EMAIL_INVALID_HEADER", "{name}");
            assert!(e.to_string().contains(&format!("`{name}`")), "{e}");
        }
        assert!(check_subject("a\rb").is_err() && check_subject("Grüße ✓").is_ok());
    }

    #[test]
    fn list_headers() {
        check_list_unsubscribe("<https://a.example/u/x>, <mailto:u@a.example>").unwrap();
        for bad in ["https://a.example", "<javascript:x>", "<https://a b>"] {
            assert!(check_list_unsubscribe(bad).is_err(), "{bad}");
        }
        check_list_id("news.acme.com").unwrap();
        assert!(check_list_id("news acme").is_err());
        assert_eq!(check_id("messageId", "<a@b>", true).unwrap(), "a@b");
        assert!(check_id("messageId", "ab", true).is_err());
        assert!(check_id("messageId", "a@b\r\nX: y", true).is_err());
    }
}
