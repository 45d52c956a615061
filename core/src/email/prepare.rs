//! The checks a message passes before it is written: addresses, recipients, subject, ids, custom
//! and list headers, attachments. [`prepare`] returns the checked message, which
//! [`super::mime::build`] writes and [`super::mime::estimate_size`] measures.

use super::address::{parse_address, AddressOptions, Mailbox};
use super::error::{EmailError, Result};
use super::header::{self, ValueForm};
use super::message::{Attachment, BuildOptions, MessageSpec};
use super::recipients::{recipients, Recipients};

/// A message whose every field has been checked: what [`build`] and [`estimate_size`] write.
#[derive(Debug, Clone)]
pub struct Prepared<'a> {
    pub(super) spec: &'a MessageSpec,
    pub(super) from: Mailbox,
    pub(super) reply_to: Vec<Mailbox>,
    pub(super) recipients: Recipients,
    pub(super) message_id: &'a str,
    pub(super) headers: Vec<(&'a str, &'a str, ValueForm)>,
    pub(super) attachments: Vec<Part<'a>>,
    pub(super) max_bytes: usize,
}

impl Prepared<'_> {
    /// The checked sender.
    #[must_use]
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The checked `Reply-To` addresses.
    #[must_use]
    pub fn reply_to(&self) -> &[Mailbox] {
        &self.reply_to
    }
}

#[derive(Debug, Clone)]
pub(super) struct Part<'a> {
    pub(super) filename: &'a str,
    pub(super) content_type: &'a str,
    pub(super) content_id: Option<&'a str>,
    pub(super) body: Body<'a>,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Body<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
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
        _ => Err(EmailError::argument(
            field,
            format!("{ct:?} is not a media type such as `application/pdf` (no parameters)"),
        )),
    }
}

fn check_attachment<'a>(i: usize, a: &'a Attachment, bytes: Option<&'a [u8]>) -> Result<Part<'a>> {
    let field = |k: &str| format!("attachments[{i}].{k}");
    if a.filename.is_empty() || a.filename.chars().any(char::is_control) {
        return Err(EmailError::argument(
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
            return Err(EmailError::argument(
                field("content"),
                "give the content either as text or as bytes in `contents`, not both",
            ))
        }
        (None, None) => {
            return Err(EmailError::argument(
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
        return Err(EmailError::argument(
            "text",
            "a message needs `text`, `html` or both",
        ));
    }
    let message_id = header::check_id("messageId", &spec.message_id, true)?;
    if !(0..=253_402_300_799_000).contains(&spec.date_ms) {
        return Err(EmailError::argument(
            "dateMs",
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
        return Err(EmailError::argument(
            "listUnsubscribePost",
            "one-click unsubscribe needs `listUnsubscribe` (RFC 8058)",
        ));
    }
    if let Some(id) = &spec.list_id {
        header::check_list_id(id)?;
    }
    if contents.len() > spec.attachments.len() {
        return Err(EmailError::argument(
            "contents",
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
