//! What `send()` / `sendMany()` accept of one message, and the checks made on it before any
//! row is built: where a field is (as errors name it), the tags, the attachments' bytes.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use super::{em, Email};
use crate::email::message::Attachment;
use crate::email::recipients::{AddressInput, OneOrMany};
use crate::email::EmailError;
use crate::error::Result;

/// One message as the package hands it over: templates already rendered, or with
/// `render: "worker"` a template's name and props only.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct SendInput {
    pub(super) to: Option<OneOrMany>,
    pub(super) cc: Option<OneOrMany>,
    pub(super) bcc: Option<OneOrMany>,
    pub(super) from: Option<AddressInput>,
    pub(super) reply_to: Option<OneOrMany>,
    pub(super) category: Option<String>,
    pub(super) template: Option<String>,
    /// The template's props: what a tenant's database override renders with.
    pub(super) props: Option<Value>,
    pub(super) locale: Option<String>,
    pub(super) subject: Option<String>,
    pub(super) html: Option<String>,
    pub(super) text: Option<String>,
    #[serde(default)]
    pub(super) headers: IndexMap<String, String>,
    #[serde(default)]
    pub(super) attachments: Vec<AttachmentInput>,
    pub(super) tags: Option<BTreeMap<String, String>>,
    pub(super) idempotency_key: Option<String>,
    pub(super) send_at_ms: Option<i64>,
    /// Absent: the category's default; `null`: never.
    #[serde(default, deserialize_with = "explicit_null")]
    pub(super) expires_at_ms: Option<Option<i64>>,
    pub(super) priority: Option<crate::email::config::Priority>,
}

fn explicit_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct AttachmentInput {
    pub(super) filename: String,
    pub(super) content_type: Option<String>,
    pub(super) content_id: Option<String>,
    /// Text content (written as UTF-8).
    pub(super) content: Option<String>,
    /// Binary content, base64.
    pub(super) base64: Option<String>,
}

/// Where input `n`'s field `key` is, as errors name it: `inputs[3].to` for `sendMany`, `to` for
/// `send`; the message itself (`key` empty): `inputs[3]` or `input`.
pub(super) fn input_path(many: bool, n: usize, key: &str) -> String {
    match (many, key.is_empty()) {
        (true, true) => format!("inputs[{n}]"),
        (true, false) => format!("inputs[{n}].{key}"),
        (false, true) => "input".into(),
        (false, false) => key.to_owned(),
    }
}

/// The tags every provider request carries: a message's own tags cannot take these names.
const RESERVED_TAGS: [&str; 2] = ["better_email_id", "tenant"];

impl Email {
    pub(super) fn check_tags(&self, field: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let ok = |s: &str| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if tags.len() > 10 {
            return Err(em(EmailError::argument(field, "at most 10 tags")));
        }
        if let Some(k) = tags.keys().find(|k| RESERVED_TAGS.contains(&k.as_str())) {
            return Err(em(EmailError::argument(
                format!("{field}.{k}"),
                "is set by the library (providers' events correlate by it): use another name",
            )));
        }
        match tags.iter().find(|(k, v)| !ok(k) || !ok(v)) {
            Some((k, _)) => Err(em(EmailError::argument(
                format!("{field}.{k}"),
                "tag names and values are 1 to 64 of [A-Za-z0-9_-]",
            ))),
            None => Ok(()),
        }
    }
}

/// Each attachment's decoded bytes (`None`: text content, written as UTF-8).
pub(super) type Contents = Vec<Option<Vec<u8>>>;

/// The attachments' decoded bytes and their MIME parts.
pub(super) fn attachment_parts(i: &SendInput) -> Result<(Contents, Vec<Attachment>)> {
    let mut contents = Vec::with_capacity(i.attachments.len());
    let mut attachments = Vec::with_capacity(i.attachments.len());
    for (n, a) in i.attachments.iter().enumerate() {
        let bytes = match &a.base64 {
            Some(b) => Some(STANDARD.decode(b).map_err(|_| {
                em(EmailError::argument(
                    format!("attachments[{n}].content"),
                    "bytes that did not survive base64",
                ))
            })?),
            None => None,
        };
        contents.push(bytes);
        attachments.push(Attachment {
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            content_id: a.content_id.clone(),
            content: a.content.clone(),
        });
    }
    Ok((contents, attachments))
}
