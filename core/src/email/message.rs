//! The message as the bindings hand it over (camelCase JSON), and the entry points both bindings
//! call: parse an address, de-duplicate recipients, build the MIME bytes, estimate their size.
//!
//! Values of the wrong shape are `INVALID_ARGUMENT` naming the path (`message.attachments[0]`),
//! read with [`crate::input`] like every other binding argument; values of the right shape that
//! the product refuses get the `EMAIL_*` codes of spec §18, naming the field (`to[2]`).

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use super::address::{self, AddressOptions, Mailbox};
use super::recipients::{self as rcpt, AddressInput, OneOrMany, Recipients};
use super::{mime, prepare};
use crate::error::Result;
use crate::input::from_value;

/// `maxMessageBytes` default: Postmark's single-message limit.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 10_485_760;

/// One attachment. Its bytes are `content` (text, written as UTF-8) or, for binary data, entry
/// `i` of the `contents` argument, so megabytes never travel as JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attachment {
    pub filename: String,
    #[serde(default)]
    pub content_type: Option<String>,
    /// Makes the part inline, referenced from the HTML as `cid:<contentId>`.
    #[serde(default)]
    pub content_id: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
}

/// Everything a message's bytes depend on. `messageId` and `dateMs` are fixed when the message
/// is enqueued, so every attempt builds the same bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageSpec {
    pub from: AddressInput,
    #[serde(default)]
    pub to: Option<OneOrMany>,
    #[serde(default)]
    pub cc: Option<OneOrMany>,
    /// Recipients of the envelope only: never written into the headers.
    #[serde(default)]
    pub bcc: Option<OneOrMany>,
    #[serde(default)]
    pub reply_to: Option<OneOrMany>,
    pub subject: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    /// `left@domain`, with or without angle brackets.
    pub message_id: String,
    /// Milliseconds since 1970 (`Date.getTime()`); written to the second, in UTC.
    pub date_ms: i64,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The whole `List-Unsubscribe` value: `<https://…>[, <mailto:…>]`.
    #[serde(default)]
    pub list_unsubscribe: Option<String>,
    /// Adds `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
    #[serde(default)]
    pub list_unsubscribe_post: bool,
    /// Adds `List-Id: <listId>`.
    #[serde(default)]
    pub list_id: Option<String>,
}

/// The configuration values a build depends on (`betterEmail` keys of the same names).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuildOptions {
    #[serde(default)]
    pub smtp_utf8: bool,
    #[serde(default)]
    pub max_recipients: Option<usize>,
    #[serde(default)]
    pub max_message_bytes: Option<usize>,
}

impl BuildOptions {
    #[must_use]
    pub fn max_recipients(&self) -> usize {
        self.max_recipients.unwrap_or(rcpt::DEFAULT_MAX_RECIPIENTS)
    }

    #[must_use]
    pub fn max_message_bytes(&self) -> usize {
        self.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES)
    }
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ParseOptions {
    #[serde(default)]
    smtp_utf8: bool,
    /// The field named in errors (`to[2]`); `address` by default.
    #[serde(default)]
    field: Option<String>,
}

fn options<T: serde::de::DeserializeOwned + Default>(value: &Value) -> Result<T> {
    if value.is_null() {
        return Ok(T::default());
    }
    from_value("options", value)
}

/// `emailParseAddress(input, { smtpUtf8?, field? })` → `{ address, name?, key }`.
///
/// # Errors
/// `INVALID_ARGUMENT` for a wrong shape; `EMAIL_INVALID_ADDRESS` naming `field`.
pub fn parse_address(input: &Value, opts: &Value) -> Result<Mailbox> {
    let input: AddressInput = from_value("input", input)?;
    let o: ParseOptions = options(opts)?;
    let field = o.field.as_deref().unwrap_or("address");
    let ao = AddressOptions {
        smtp_utf8: o.smtp_utf8,
    };
    Ok(address::parse_address(field, &input, ao)?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RecipientsInput {
    #[serde(default)]
    to: Option<OneOrMany>,
    #[serde(default)]
    cc: Option<OneOrMany>,
    #[serde(default)]
    bcc: Option<OneOrMany>,
}

/// `emailRecipients({ to?, cc?, bcc? }, { smtpUtf8?, maxRecipients? })` → the distinct
/// recipients per field.
///
/// # Errors
/// `INVALID_ARGUMENT`; `EMAIL_INVALID_ADDRESS`, `EMAIL_TOO_MANY_RECIPIENTS`.
pub fn recipients(input: &Value, opts: &Value) -> Result<Recipients> {
    let i: RecipientsInput = from_value("input", input)?;
    let o: BuildOptions = options(opts)?;
    let ao = AddressOptions {
        smtp_utf8: o.smtp_utf8,
    };
    Ok(rcpt::recipients(
        i.to.as_ref(),
        i.cc.as_ref(),
        i.bcc.as_ref(),
        ao,
        o.max_recipients(),
    )?)
}

fn read(message: &Value, opts: &Value) -> Result<(MessageSpec, BuildOptions)> {
    Ok((from_value("message", message)?, options(opts)?))
}

/// `emailBuildMessage(message, options, contents)` → the MIME bytes.
///
/// # Errors
/// `INVALID_ARGUMENT` for a wrong shape; the `EMAIL_*` codes of [`prepare::prepare`] and
/// `EMAIL_MESSAGE_TOO_LARGE`.
pub fn build_message(
    message: &Value,
    opts: &Value,
    contents: &[Option<Vec<u8>>],
) -> Result<Vec<u8>> {
    let (spec, o) = read(message, opts)?;
    let p = prepare::prepare(&spec, &o, contents)?;
    Ok(mime::build(&p)?)
}

/// `emailMessageSize(message, options, contents)` → the encoded size in bytes, after every
/// check [`build_message`] makes, without encoding the attachments.
///
/// # Errors
/// As [`build_message`].
pub fn message_size(message: &Value, opts: &Value, contents: &[Option<Vec<u8>>]) -> Result<usize> {
    let (spec, o) = read(message, opts)?;
    let p = prepare::prepare(&spec, &o, contents)?;
    Ok(mime::estimate_size(&p)?)
}

/// `contents` (or one of its entries) of the wrong type: the same words on both bindings.
#[must_use]
pub fn bad_contents(path: &str, got: &str) -> crate::Error {
    crate::input::invalid(
        path,
        format!("expected an array of Uint8Array or null (one per attachment), got {got}"),
    )
}
