//! Provider event payloads → the product's events (spec §10.2): one [`Event`] per recipient and
//! occurrence, typed `delivered`, `bounced` (hard or soft), `complained`, `deferred`, `opened`,
//! `clicked`, `unsubscribed` or `rejected`, with the provider's event id (the dedupe key), the
//! provider's message id and our `better_email_id` where the payload carries them. Run only on a
//! body whose signature has been verified. Event kinds we do not act on (`email.sent`,
//! SendGrid's `processed`, Mailgun's `accepted`) give no event.

use serde::Serialize;
use serde_json::Value;

use super::super::error::{EmailError, Result};
use crate::audit::time::parse_iso_ms;

/// The tag, metadata key or custom argument our transports set to the message's `eml_…` id.
pub const CORRELATION_KEY: &str = "better_email_id";

/// One normalized event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub provider_event_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub bounce: Option<&'static str>,
    pub recipient: String,
    pub occurred_at_ms: i64,
    pub provider_message_id: Option<String>,
    pub better_email_id: Option<String>,
    /// The provider's own name for what happened (`HardBounce`, `failed`/`permanent`, …).
    pub detail: String,
}

fn bad(provider: &str, reason: &str) -> EmailError {
    EmailError::argument("body", format!("not a {provider} event payload: {reason}"))
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn iso_ms(v: Option<String>) -> Option<i64> {
    v.as_deref().and_then(parse_iso_ms)
}

/// Unix seconds (integer or fractional, number or text) to ms.
fn secs_ms(v: Option<&Value>) -> Option<i64> {
    let s = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(t) => t.parse().ok()?,
        _ => return None,
    };
    // Seconds since 1970 to ms: far inside i64 for any real timestamp.
    #[allow(clippy::cast_possible_truncation)]
    Some((s * 1000.0).round() as i64)
}

/// Our id from a tag map (`{ better_email_id: "eml_…" }`), a tag list (`[{ name, value }]`)
/// or an SES tag map of lists (`{ better_email_id: ["eml_…"] }`).
fn correlation(tags: Option<&Value>) -> Option<String> {
    match tags? {
        Value::Object(m) => match m.get(CORRELATION_KEY)? {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => a.first()?.as_str().map(str::to_owned),
            _ => None,
        },
        Value::Array(a) => a
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some(CORRELATION_KEY))
            .and_then(|t| t.get("value")?.as_str().map(str::to_owned)),
        _ => None,
    }
}

/// `template` once per recipient; with several, each event id gets `#i` (one provider
/// notification names them all, and each must be applied once).
fn per_recipient(id: &str, recipients: &[String], template: &Event) -> Vec<Event> {
    recipients
        .iter()
        .enumerate()
        .map(|(i, r)| Event {
            provider_event_id: if recipients.len() > 1 {
                format!("{id}#{i}")
            } else {
                id.to_owned()
            },
            recipient: r.clone(),
            ..template.clone()
        })
        .collect()
}

fn strings(v: Option<&Value>, field: Option<&str>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match field {
                Some(f) => x.get(f)?.as_str().map(str::to_owned),
                None => x.as_str().map(str::to_owned),
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn resend(id: Option<&str>, v: &Value) -> Result<Vec<Event>> {
    let id = id.ok_or_else(|| bad("Resend", "no svix-id"))?;
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Resend", "no `type`"))?;
    let data = v.get("data").ok_or_else(|| bad("Resend", "no `data`"))?;
    let bounce_type = text(data, &["bounce", "type"]);
    let (kind, bounce) = match kind {
        "email.delivered" => ("delivered", None),
        "email.delivery_delayed" => ("deferred", Some("soft")),
        "email.bounced" => (
            "bounced",
            Some(if bounce_type.as_deref() == Some("Permanent") {
                "hard"
            } else {
                "soft"
            }),
        ),
        "email.complained" => ("complained", None),
        "email.opened" => ("opened", None),
        "email.clicked" => ("clicked", None),
        "email.failed" => ("rejected", None),
        _ => return Ok(Vec::new()),
    };
    let at = iso_ms(text(v, &["created_at"])).unwrap_or(0);
    let pid = text(data, &["email_id"]);
    let ours = correlation(data.get("tags"));
    let detail = bounce_type.unwrap_or_else(|| kind.to_owned());
    let template = Event {
        provider_event_id: String::new(),
        kind,
        bounce,
        recipient: String::new(),
        occurred_at_ms: at,
        provider_message_id: pid,
        better_email_id: ours,
        detail,
    };
    Ok(per_recipient(id, &strings(data.get("to"), None), &template))
}

fn postmark(v: &Value) -> Result<Vec<Event>> {
    let record = text(v, &["RecordType"]).ok_or_else(|| bad("Postmark", "no `RecordType`"))?;
    let bounce_kind = text(v, &["Type"]).unwrap_or_default();
    let (kind, bounce, who, when) = match record.as_str() {
        "Delivery" => ("delivered", None, "Recipient", "DeliveredAt"),
        "Bounce" => match bounce_kind.as_str() {
            "SpamComplaint" => ("complained", None, "Email", "BouncedAt"),
            "HardBounce" | "BadEmailAddress" | "ManuallyDeactivated" => {
                ("bounced", Some("hard"), "Email", "BouncedAt")
            }
            _ => ("bounced", Some("soft"), "Email", "BouncedAt"),
        },
        "SpamComplaint" => ("complained", None, "Email", "BouncedAt"),
        "Open" => ("opened", None, "Recipient", "ReceivedAt"),
        "Click" => ("clicked", None, "Recipient", "ReceivedAt"),
        "SubscriptionChange" if v.get("SuppressSending") == Some(&Value::Bool(true)) => {
            ("unsubscribed", None, "Recipient", "ChangedAt")
        }
        _ => return Ok(Vec::new()),
    };
    let recipient = text(v, &[who]).ok_or_else(|| bad("Postmark", &format!("no `{who}`")))?;
    let stamp = text(v, &[when]);
    let pid = text(v, &["MessageID"]);
    let key = format!(
        "{record}:{}:{}",
        text(v, &["ID"]).or_else(|| pid.clone()).unwrap_or_default(),
        stamp.clone().unwrap_or_default()
    );
    Ok(vec![Event {
        provider_event_id: key,
        kind,
        bounce,
        recipient,
        occurred_at_ms: iso_ms(stamp).unwrap_or(0),
        provider_message_id: pid,
        better_email_id: correlation(v.get("Metadata")),
        detail: if bounce_kind.is_empty() {
            record
        } else {
            bounce_kind
        },
    }])
}

fn sendgrid(v: &Value) -> Result<Vec<Event>> {
    let list = v
        .as_array()
        .ok_or_else(|| bad("SendGrid", "expected a JSON array"))?;
    let mut out = Vec::new();
    for e in list {
        let name = text(e, &["event"]).unwrap_or_default();
        let (kind, bounce) = match name.as_str() {
            "delivered" => ("delivered", None),
            "deferred" => ("deferred", Some("soft")),
            "bounce" if text(e, &["type"]).as_deref() == Some("blocked") => {
                ("bounced", Some("soft"))
            }
            "bounce" => ("bounced", Some("hard")),
            "dropped" => ("rejected", None),
            "spamreport" => ("complained", None),
            "open" => ("opened", None),
            "click" => ("clicked", None),
            "unsubscribe" | "group_unsubscribe" => ("unsubscribed", None),
            _ => continue,
        };
        let (Some(id), Some(recipient)) = (text(e, &["sg_event_id"]), text(e, &["email"])) else {
            return Err(bad("SendGrid", "an event without `sg_event_id` or `email`"));
        };
        out.push(Event {
            provider_event_id: id,
            kind,
            bounce,
            recipient,
            occurred_at_ms: secs_ms(e.get("timestamp")).unwrap_or(0),
            // `sg_message_id` is the X-Message-Id the send answered, plus a filter suffix.
            provider_message_id: text(e, &["sg_message_id"])
                .map(|m| m.split('.').next().unwrap_or("").to_owned()),
            better_email_id: text(e, &[CORRELATION_KEY]),
            detail: name,
        });
    }
    Ok(out)
}

fn mailgun(id: Option<&str>, v: &Value) -> Result<Vec<Event>> {
    let d = v
        .get("event-data")
        .ok_or_else(|| bad("Mailgun", "no `event-data`"))?;
    let name = text(d, &["event"]).unwrap_or_default();
    let severity = text(d, &["severity"]).unwrap_or_default();
    let (kind, bounce) = match (name.as_str(), severity.as_str()) {
        ("delivered", _) => ("delivered", None),
        ("failed", "permanent") => ("bounced", Some("hard")),
        ("failed", _) => ("deferred", Some("soft")),
        ("rejected", _) => ("rejected", None),
        ("complained", _) => ("complained", None),
        ("opened", _) => ("opened", None),
        ("clicked", _) => ("clicked", None),
        ("unsubscribed", _) => ("unsubscribed", None),
        _ => return Ok(Vec::new()),
    };
    let recipient = text(d, &["recipient"]).ok_or_else(|| bad("Mailgun", "no `recipient`"))?;
    let key = id
        .map(str::to_owned)
        .or_else(|| text(d, &["id"]))
        .ok_or_else(|| bad("Mailgun", "no token or event id"))?;
    Ok(vec![Event {
        provider_event_id: key,
        kind,
        bounce,
        recipient,
        occurred_at_ms: secs_ms(d.get("timestamp")).unwrap_or(0),
        provider_message_id: text(d, &["message", "headers", "message-id"]),
        better_email_id: correlation(d.get("user-variables")),
        detail: if severity.is_empty() {
            name
        } else {
            format!("{name}/{severity}")
        },
    }])
}

fn ses(v: &Value) -> Result<Vec<Event>> {
    if text(v, &["Type"]).as_deref() != Some("Notification") {
        return Ok(Vec::new());
    }
    let id = text(v, &["MessageId"]).ok_or_else(|| bad("SES", "no SNS `MessageId`"))?;
    let inner: Value = text(v, &["Message"])
        .and_then(|m| serde_json::from_str(&m).ok())
        .ok_or_else(|| bad("SES", "`Message` is not JSON"))?;
    let kind = text(&inner, &["eventType"])
        .or_else(|| text(&inner, &["notificationType"]))
        .unwrap_or_default();
    let (section, list, field, ev, bounce) = match kind.as_str() {
        "Bounce" => {
            let hard = text(&inner, &["bounce", "bounceType"]).as_deref() == Some("Permanent");
            (
                "bounce",
                "bouncedRecipients",
                Some("emailAddress"),
                "bounced",
                Some(if hard { "hard" } else { "soft" }),
            )
        }
        "Complaint" => (
            "complaint",
            "complainedRecipients",
            Some("emailAddress"),
            "complained",
            None,
        ),
        "Delivery" => ("delivery", "recipients", None, "delivered", None),
        "DeliveryDelay" => (
            "deliveryDelay",
            "delayedRecipients",
            Some("emailAddress"),
            "deferred",
            Some("soft"),
        ),
        "Reject" => ("reject", "", None, "rejected", None),
        _ => return Ok(Vec::new()),
    };
    let part = inner.get(section);
    let recipients = if list.is_empty() {
        strings(inner.get("mail").and_then(|m| m.get("destination")), None)
    } else {
        strings(part.and_then(|p| p.get(list)), field)
    };
    let at = iso_ms(part.and_then(|p| text(p, &["timestamp"]))).unwrap_or(0);
    let pid = text(&inner, &["mail", "messageId"]);
    let ours = correlation(inner.get("mail").and_then(|m| m.get("tags")));
    let detail = part
        .and_then(|p| text(p, &["bounceType"]))
        .unwrap_or(kind.clone());
    let template = Event {
        provider_event_id: String::new(),
        kind: ev,
        bounce,
        recipient: String::new(),
        occurred_at_ms: at,
        provider_message_id: pid,
        better_email_id: ours,
        detail,
    };
    Ok(per_recipient(&id, &recipients, &template))
}

/// The events of a verified request. `request_id` is the verification's id (`svix-id`,
/// Mailgun's `token`); SendGrid, Postmark and SNS carry theirs in the body.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming `body` for a payload that is not the provider's shape;
/// `EMAIL_EVENT_UNKNOWN_PROVIDER`.
pub fn normalize(provider: &str, request_id: Option<&str>, body: &[u8]) -> Result<Vec<Event>> {
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(provider, &e.to_string()))?;
    match provider {
        "resend" => resend(request_id, &v),
        "postmark" => postmark(&v),
        "sendgrid" => sendgrid(&v),
        "mailgun" => mailgun(request_id, &v),
        "ses" => ses(&v),
        other => Err(EmailError::EventUnknownProvider {
            provider: other.to_owned(),
        }),
    }
}
