//! `betterEmail(config)` and the CLI's `email:` section: every data key of the product, its
//! default and its range, checked once here. The package strips what cannot cross the boundary
//! (the database adapter, transports and `route`, template functions, `audit`, `webhooks`,
//! `onEvent`) and hands over the rest plus the transport names and each template's category; a
//! key this module does not know is a mistake (``unknown key `maxRecipent` ``).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{EmailError, Result};
use crate::webhooks::config::{SecretsKeyInput, Tenancy};
use crate::webhooks::outcome::duration_ms;
use crate::webhooks::schedule::{RetryPolicy, RetrySchedule, DEFAULT_JITTER};
use crate::webhooks::seal::SecretsKeys;

mod policy;

pub use policy::{Category, OnAmbiguous, Priority, Render, Scope, Suppression, Warmup};
use policy::{CategoryInput, SuppressionInput};

/// The default retry delays in seconds (≈ 16 h in all), then `failed`.
pub const DEFAULT_RETRY_SECS: [f64; 9] = [
    0.0, 30.0, 120.0, 600.0, 1_800.0, 3_600.0, 7_200.0, 14_400.0, 28_800.0,
];
/// Postmark's single-message limit, the smallest of the providers'.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 10_485_760;
/// Postmark's recipients-per-message limit.
pub const DEFAULT_MAX_RECIPIENTS: u32 = 50;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TemplateMeta {
    category: Option<String>,
    /// Tenants may override it with a stored template (`templates.save`).
    #[serde(default)]
    editable: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UnsubscribeInput {
    base_url: String,
    mailto: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PerTenant {
    per_minute: Option<u32>,
    per_hour: Option<u32>,
    per_day: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RateLimitsInput {
    #[serde(default)]
    per_tenant: PerTenant,
    max_queued_per_tenant: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RetentionInput {
    bodies_days: Option<u32>,
    metadata_days: Option<u32>,
    store_props: Option<bool>,
}

/// `senders`: what a `from` no verified sender covers does (the resolver stays in the package).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendersInput {
    fallback: Option<Fallback>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Fallback {
    /// Send from the app's `from`, with the requested address as `Reply-To`.
    App,
}

/// The configuration as the package hands it over.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Input {
    from: Option<String>,
    reply_to: Option<Value>,
    /// The names of the configured transports (`transport` alone is one named by its kind).
    transports: Option<Vec<String>>,
    templates: Option<BTreeMap<String, TemplateMeta>>,
    categories: Option<BTreeMap<String, CategoryInput>>,
    render: Option<Render>,
    require_transaction: Option<bool>,
    idempotency_window: Option<String>,
    max_message_bytes: Option<u64>,
    max_recipients: Option<u32>,
    retry_schedule: Option<Vec<f64>>,
    on_ambiguous: Option<OnAmbiguous>,
    #[serde(default)]
    suppression: SuppressionInput,
    unsubscribe: Option<UnsubscribeInput>,
    rate_limits: Option<RateLimitsInput>,
    #[serde(default)]
    warmup: Vec<Warmup>,
    secrets_key: Option<SecretsKeyInput>,
    #[serde(default)]
    retention: RetentionInput,
    #[serde(default)]
    smtp_utf8: bool,
    senders: Option<SendersInput>,
    tenancy: Option<Tenancy>,
    schema: Option<String>,
    tenant_schema: Option<String>,
    #[serde(default)]
    hardened: bool,
}

/// The settings the TypeScript side reads (defaults applied).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub from: String,
    pub transports: Vec<String>,
    /// Template name → its category.
    pub templates: BTreeMap<String, String>,
    /// The templates tenants may override: only their sends look for a stored override.
    pub editable: BTreeSet<String>,
    pub categories: BTreeMap<String, Category>,
    pub render: Render,
    pub require_transaction: bool,
    pub idempotency_window_ms: i64,
    pub max_message_bytes: u64,
    pub max_recipients: u32,
    pub on_ambiguous: OnAmbiguous,
    pub suppression: Suppression,
    pub warmup: Vec<Warmup>,
    pub unsubscribe_base_url: Option<String>,
    pub unsubscribe_mailto: Option<String>,
    pub max_queued_per_tenant: Option<u32>,
    pub per_tenant: [Option<u32>; 3],
    pub has_secrets_key: bool,
    pub bodies_days: u32,
    pub metadata_days: u32,
    pub store_props: bool,
    pub smtp_utf8: bool,
    /// `senders.fallback: "app"`: a `from` without a verified sender goes out from the app's
    /// `from` (the address asked for as `Reply-To`) instead of failing the send.
    pub sender_fallback_app: bool,
    /// A `senders` section is set: the app uses tenants' senders, so a tenant's send without
    /// `from` goes from the tenant's default verified sender (one lookup per such send).
    pub tenant_senders: bool,
    pub tenancy: Tenancy,
}

/// Everything `betterEmail(config)` compiles once.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub retry: RetryPolicy,
    pub secrets: Option<SecretsKeys>,
    /// `replyTo` as given (checked with the addresses of each message).
    pub reply_to: Option<Value>,
    pub schema: Option<String>,
    pub tenant_schema: Option<String>,
    pub hardened: bool,
}

pub(super) fn duration(field: &str, text: &str) -> Result<i64> {
    duration_ms(text).ok_or_else(|| {
        EmailError::config(
            field,
            format!("a duration like \"30s\", \"15min\", \"24h\", \"5d\" or \"2w\", got {text:?}"),
        )
    })
}

pub(super) fn range<T: PartialOrd + std::fmt::Display + Copy>(
    field: &str,
    v: Option<T>,
    default: T,
    lo: T,
    hi: T,
) -> Result<T> {
    let v = v.unwrap_or(default);
    if v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(EmailError::config(field, format!("{lo} to {hi}, got {v}")))
    }
}

/// A category or template name: what a stored row and a `List-Id` can carry.
pub(super) fn check_name(field: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(EmailError::config(
            field,
            format!("1 to 64 letters, digits, `_`, `.` or `-`, got {name:?}"),
        ))
    }
}

/// Reads `config` (a JSON object). `require_from` is false for the CLI's section, which may
/// leave sending to the application.
///
/// # Errors
/// `EMAIL_INVALID_CONFIG` naming the first bad key (``unknown key `…` `` for a misspelt one).
pub fn parse(config: &Value, require_from: bool) -> Result<Config> {
    let input: Input = crate::input::config_object(config)
        .map_err(|(field, expected)| EmailError::config(field, expected))?;
    let from = match input.from {
        Some(f) if !f.trim().is_empty() => f,
        Some(_) => {
            return Err(EmailError::config(
                "from",
                "a sender like \"Acme <hello@acme.example>\"",
            ))
        }
        None if require_from => {
            return Err(EmailError::config(
                "from",
                "the default sender, like \"Acme <hello@acme.example>\"",
            ))
        }
        None => String::new(),
    };
    let categories = policy::categories(input.categories.unwrap_or_default())?;
    let mut templates = BTreeMap::new();
    let mut editable = BTreeSet::new();
    for (name, t) in input.templates.unwrap_or_default() {
        let field = format!("templates.{name}");
        check_name(&field, &name)?;
        let category = t.category.unwrap_or_else(|| "transactional".into());
        if !categories.contains_key(&category) {
            return Err(EmailError::config(
                format!("{field}.category"),
                format!(
                    "one of the categories ({}), got {category:?}",
                    categories.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if t.editable {
            editable.insert(name.clone());
        }
        templates.insert(name, category);
    }
    let transports = input.transports.unwrap_or_default();
    if require_from && transports.is_empty() {
        return Err(EmailError::config(
            "transport",
            "a transport (`transport: resend({...})`), or `transports` and `route`",
        ));
    }
    for (i, t) in transports.iter().enumerate() {
        check_name(&format!("transports[{i}]"), t)?;
    }
    let unsubscribable = categories
        .iter()
        .find(|(_, c)| c.unsubscribe)
        .map(|(n, _)| n.clone());
    let (unsubscribe_base_url, unsubscribe_mailto) = match input.unsubscribe {
        Some(u) => {
            if !u.base_url.starts_with("https://") && !u.base_url.starts_with("http://") {
                return Err(EmailError::config(
                    "unsubscribe.baseUrl",
                    "an http(s) URL of the unsubscribe handler",
                ));
            }
            (Some(u.base_url), u.mailto)
        }
        None => (None, None),
    };
    let secrets = match &input.secrets_key {
        None => None,
        Some(SecretsKeyInput::One(k)) => Some(parse_key(k, None)?),
        Some(SecretsKeyInput::Pair { current, previous }) => {
            Some(parse_key(current, previous.as_deref())?)
        }
    };
    if let Some(name) = unsubscribable.filter(|_| require_from) {
        if unsubscribe_base_url.is_none() || secrets.is_none() {
            return Err(EmailError::config(
                "unsubscribe",
                format!("`{{ baseUrl }}` and a `secretsKey`: category `{name}` is unsubscribable (RFC 8058 one-click links carry a sealed token)"),
            ));
        }
    }
    // The first delay is the first attempt's (0 = at once): an empty schedule sends nothing.
    let delays = input
        .retry_schedule
        .unwrap_or_else(|| DEFAULT_RETRY_SECS.to_vec());
    if delays.is_empty() {
        return Err(EmailError::config(
            "retrySchedule",
            "delays in seconds, the first attempt's first (e.g. [0, 30, 120])",
        ));
    }
    let retry = RetryPolicy::new(&RetrySchedule::Delays(delays), DEFAULT_JITTER)
        .map_err(|e| EmailError::config("retrySchedule", e.to_string()))?;
    let limits = input.rate_limits.unwrap_or_default();
    let suppression = policy::suppression(&input.suppression)?;
    // Domains compare as the claim reads them from the sender's address: lower-case.
    let mut warmup = input.warmup;
    for w in &mut warmup {
        w.domain.make_ascii_lowercase();
    }
    policy::check_warmup(&warmup)?;
    let positive = |field: &str, v: Option<u32>| match v {
        Some(0) => Err(EmailError::config(field, "a positive number")),
        v => Ok(v),
    };
    let settings = Settings {
        from,
        transports,
        templates,
        editable,
        categories,
        render: input.render.unwrap_or_default(),
        require_transaction: input.require_transaction.unwrap_or(true),
        idempotency_window_ms: match &input.idempotency_window {
            Some(t) => duration("idempotencyWindow", t)?,
            None => 30 * 86_400_000,
        },
        max_message_bytes: range(
            "maxMessageBytes",
            input.max_message_bytes,
            DEFAULT_MAX_MESSAGE_BYTES,
            1_024,
            52_428_800,
        )?,
        max_recipients: range(
            "maxRecipients",
            input.max_recipients,
            DEFAULT_MAX_RECIPIENTS,
            1,
            1_000,
        )?,
        on_ambiguous: input.on_ambiguous.unwrap_or_default(),
        suppression,
        warmup,
        unsubscribe_base_url,
        unsubscribe_mailto,
        max_queued_per_tenant: positive(
            "rateLimits.maxQueuedPerTenant",
            limits.max_queued_per_tenant,
        )?,
        per_tenant: [
            positive(
                "rateLimits.perTenant.perMinute",
                limits.per_tenant.per_minute,
            )?,
            positive("rateLimits.perTenant.perHour", limits.per_tenant.per_hour)?,
            positive("rateLimits.perTenant.perDay", limits.per_tenant.per_day)?,
        ],
        has_secrets_key: secrets.is_some(),
        bodies_days: range(
            "retention.bodiesDays",
            input.retention.bodies_days,
            7,
            1,
            3_650,
        )?,
        metadata_days: range(
            "retention.metadataDays",
            input.retention.metadata_days,
            90,
            1,
            3_650,
        )?,
        store_props: input.retention.store_props.unwrap_or(false),
        smtp_utf8: input.smtp_utf8,
        sender_fallback_app: matches!(
            input.senders.as_ref().and_then(|s| s.fallback.as_ref()),
            Some(Fallback::App)
        ),
        tenant_senders: input.senders.is_some(),
        tenancy: input.tenancy.unwrap_or_default(),
    };
    if settings.bodies_days > settings.metadata_days {
        return Err(EmailError::config(
            "retention.bodiesDays",
            format!(
                "at most `retention.metadataDays` ({}), got {}",
                settings.metadata_days, settings.bodies_days
            ),
        ));
    }
    Ok(Config {
        settings,
        retry,
        secrets,
        reply_to: input.reply_to,
        schema: input.schema,
        tenant_schema: input.tenant_schema,
        hardened: input.hardened,
    })
}

fn parse_key(current: &str, previous: Option<&str>) -> Result<SecretsKeys> {
    SecretsKeys::parse("secretsKey", current, previous).map_err(|e| {
        let text = e.to_string();
        let reason = text
            .split_once(": ")
            .map_or(text.as_str(), |(_, r)| r)
            .to_owned();
        EmailError::config("secretsKey", reason)
    })
}

#[cfg(test)]
mod tests;
