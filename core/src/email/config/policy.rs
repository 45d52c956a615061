//! The product's policies in the configuration: categories (with the defaults of the spec),
//! suppression scopes and the soft-bounce rule, and warm-up caps per sending domain.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{check_name, duration, range};
use crate::email::error::{EmailError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    High,
    Normal,
    Low,
}

impl Priority {
    /// The stored `priority` (claimed in ascending order).
    #[must_use]
    pub fn rank(self) -> i16 {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Render {
    #[default]
    Enqueue,
    Worker,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnAmbiguous {
    #[default]
    Retry,
    Hold,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CategoryInput {
    unsubscribe: Option<bool>,
    priority: Option<Priority>,
    /// `null` = never expires; absent = the category's default.
    #[serde(default, with = "serde_with_null")]
    expires_after: Option<Option<String>>,
    list_id: Option<String>,
}

/// `Some(None)` for an explicit `null`, `None` when absent.
mod serde_with_null {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// Where a suppression of a given reason applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Global,
    Tenant,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ScopesInput {
    hard_bounce: Option<Scope>,
    complaint: Option<Scope>,
    soft_bounce: Option<Scope>,
    unsubscribe: Option<Scope>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct SoftBounceInput {
    count: Option<u32>,
    within_days: Option<u32>,
    suppress_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct SuppressionInput {
    #[serde(default)]
    scopes: ScopesInput,
    #[serde(default)]
    soft_bounce: SoftBounceInput,
}

/// The suppression policy with its defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppression {
    pub hard_bounce: Scope,
    pub complaint: Scope,
    pub soft_bounce: Scope,
    pub unsubscribe: Scope,
    /// Soft bounces within `soft_bounce_within_days` that suppress for `soft_bounce_suppress_days`.
    pub soft_bounce_count: u32,
    pub soft_bounce_within_days: u32,
    pub soft_bounce_suppress_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Warmup {
    pub domain: String,
    pub start_per_day: u32,
    pub factor: f64,
    pub max_per_day: u32,
}

/// A category's policy with its defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub unsubscribe: bool,
    pub priority: Priority,
    /// `None`: messages of the category never expire.
    pub expires_after_ms: Option<i64>,
    pub list_id: Option<String>,
}

fn defaults() -> BTreeMap<String, Category> {
    let c = |unsubscribe, priority, hours: Option<i64>, list_id: Option<&str>| Category {
        unsubscribe,
        priority,
        expires_after_ms: hours.map(|h| h * 3_600_000),
        list_id: list_id.map(str::to_owned),
    };
    BTreeMap::from([
        (
            "transactional".into(),
            c(false, Priority::High, Some(24), None),
        ),
        (
            "notifications".into(),
            c(true, Priority::Normal, Some(7 * 24), None),
        ),
        ("marketing".into(), c(true, Priority::Low, None, None)),
    ])
}

/// `categories` over the defaults: a known category keeps what is not given, a new one starts
/// from `normal` priority, no expiry, not unsubscribable.
pub(super) fn categories(
    given: BTreeMap<String, CategoryInput>,
) -> Result<BTreeMap<String, Category>> {
    let mut categories = defaults();
    for (name, c) in given {
        let field = format!("categories.{name}");
        check_name(&field, &name)?;
        let base = categories.get(&name).cloned().unwrap_or(Category {
            unsubscribe: false,
            priority: Priority::Normal,
            expires_after_ms: None,
            list_id: None,
        });
        let expires_after_ms = match &c.expires_after {
            None => base.expires_after_ms,
            Some(None) => None,
            Some(Some(t)) => Some(duration(&format!("{field}.expiresAfter"), t)?),
        };
        if let Some(id) = &c.list_id {
            // RFC 2919: a dot-atom of printable ASCII, no angle brackets or whitespace.
            if id.is_empty()
                || id.len() > 200
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
            {
                return Err(EmailError::config(
                    format!("{field}.listId"),
                    "a list id like \"news.acme.example\"",
                ));
            }
        }
        categories.insert(
            name,
            Category {
                unsubscribe: c.unsubscribe.unwrap_or(base.unsubscribe),
                priority: c.priority.unwrap_or(base.priority),
                expires_after_ms,
                list_id: c.list_id.or(base.list_id),
            },
        );
    }
    Ok(categories)
}

pub(super) fn suppression(input: &SuppressionInput) -> Result<Suppression> {
    let (sc, sb) = (&input.scopes, &input.soft_bounce);
    Ok(Suppression {
        hard_bounce: sc.hard_bounce.unwrap_or(Scope::Global),
        complaint: sc.complaint.unwrap_or(Scope::Tenant),
        soft_bounce: sc.soft_bounce.unwrap_or(Scope::Tenant),
        unsubscribe: sc.unsubscribe.unwrap_or(Scope::Tenant),
        soft_bounce_count: range("suppression.softBounce.count", sb.count, 3, 1, 100)?,
        soft_bounce_within_days: range(
            "suppression.softBounce.withinDays",
            sb.within_days,
            7,
            1,
            365,
        )?,
        soft_bounce_suppress_days: range(
            "suppression.softBounce.suppressDays",
            sb.suppress_days,
            7,
            1,
            365,
        )?,
    })
}

pub(super) fn check_warmup(warmup: &[Warmup]) -> Result<()> {
    for (i, w) in warmup.iter().enumerate() {
        let field = format!("warmup[{i}]");
        if warmup[..i].iter().any(|o| o.domain == w.domain) {
            return Err(EmailError::config(
                format!("{field}.domain"),
                format!("one entry per domain: {} is listed twice", w.domain),
            ));
        }
        let domain_ok = !w.domain.is_empty()
            && w.domain.len() <= 253
            && w.domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !domain_ok {
            return Err(EmailError::config(
                format!("{field}.domain"),
                "a sending domain in A-labels, like \"mail.acme.example\"",
            ));
        }
        range(
            &format!("{field}.startPerDay"),
            Some(w.start_per_day),
            1,
            1,
            u32::MAX,
        )?;
        range(
            &format!("{field}.maxPerDay"),
            Some(w.max_per_day),
            1,
            w.start_per_day,
            u32::MAX,
        )?;
        if !(1.0..=10.0).contains(&w.factor) {
            return Err(EmailError::config(
                format!("{field}.factor"),
                format!("1 to 10, got {}", w.factor),
            ));
        }
    }
    Ok(())
}
