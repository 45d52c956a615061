//! Errors of the email module, with the codes of the product's error table.
//!
//! Same shape as the webhooks' errors: a plain enum with [`EmailError::code`] and `Display`,
//! folded into the core's [`crate::Error`] as one variant. Messages name the field at fault and,
//! where the user can fix it, the fix. Hand-off outcomes (`sent`, `throttled`, `ambiguous`, …)
//! are data, not errors.

use std::fmt;

/// A failure of an email operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailError {
    /// A configuration value is missing or has the wrong shape.
    InvalidConfig { field: String, expected: String },
    /// An argument has the wrong shape or length.
    InvalidArgument { field: String, reason: String },
    /// An address that is not a plain `local@domain` within the RFC 5321 limits.
    InvalidAddress {
        field: String,
        value: String,
        reason: String,
    },
    /// A header name or value that would break the message (CR/LF/NUL, reserved name).
    InvalidHeader { field: String, reason: String },
    /// More than `maxRecipients` distinct recipients.
    TooManyRecipients {
        field: String,
        count: usize,
        max: usize,
    },
    /// The encoded message is over `maxMessageBytes`.
    MessageTooLarge {
        field: String,
        size: usize,
        limit: usize,
    },
    /// No template of that name (and locale) exists.
    TemplateNotFound { name: String },
    /// Props refused by the template's schema.
    TemplatePropsInvalid { name: String, reason: String },
    /// A template failed while rendering (syntax, fuel exhausted, missing value).
    TemplateRenderFailed { name: String, reason: String },
    /// Database templates need the `templates` feature, absent from this build.
    TemplateEngineUnavailable,
    /// An idempotency key reused with a different request.
    IdempotencyConflict { field: String },
    /// Sealed data (credentials, tokens) but no `secretsKey` configured.
    SecretsKeyMissing { field: String },
    /// Sealed data that does not open with the configured key(s).
    SecretsKeyWrong { field: String },
    /// The database has no email tables.
    SchemaMissing,
    /// The database has email tables of an older version.
    SchemaOutdated { found: String, expected: u32 },
    /// A provider event whose signature does not verify.
    EventBadSignature { provider: String, reason: String },
    /// A provider event older (or further ahead) than the tolerance allows.
    EventStale {
        provider: String,
        timestamp: i64,
        now: i64,
    },
    /// An SNS signing certificate from an untrusted URL or issuer.
    EventCertRejected { reason: String },
    /// An SNS message from a topic that is not configured.
    EventTopicRejected { topic: String },
    /// An events endpoint called for a provider that is not configured.
    EventUnknownProvider { provider: String },
    /// An unsubscribe token that does not open (tampered, foreign key, malformed).
    UnsubscribeTokenInvalid,
    /// The tenant already has `rateLimits.maxQueuedPerTenant` messages queued.
    RateLimited { limit: u32 },
    /// No message (or sender) with that id, or not one the caller's tenant can see: `what`
    /// names it (`message eml_…`).
    NotFound { what: String },
    /// A tenant's entry asked for where the context names no tenant.
    TenantRequired { action: String },
    /// A `from` outside the app's domain that no verified sender of the tenant covers.
    SenderNotVerified { field: String, address: String },
    /// An operator action on a message in a state it does not take.
    InvalidState {
        id: String,
        action: String,
        status: String,
        allowed: String,
    },
}

/// Result alias of the email module.
pub type Result<T> = std::result::Result<T, EmailError>;

impl EmailError {
    /// Stable code string, as seen by JavaScript in `err.code`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            EmailError::InvalidConfig { .. } => "EMAIL_INVALID_CONFIG",
            EmailError::InvalidArgument { .. } => "EMAIL_INVALID_ARGUMENT",
            EmailError::InvalidAddress { .. } => "EMAIL_INVALID_ADDRESS",
            EmailError::InvalidHeader { .. } => "EMAIL_INVALID_HEADER",
            EmailError::TooManyRecipients { .. } => "EMAIL_TOO_MANY_RECIPIENTS",
            EmailError::MessageTooLarge { .. } => "EMAIL_MESSAGE_TOO_LARGE",
            EmailError::TemplateNotFound { .. } => "EMAIL_TEMPLATE_NOT_FOUND",
            EmailError::TemplatePropsInvalid { .. } => "EMAIL_TEMPLATE_PROPS_INVALID",
            EmailError::TemplateRenderFailed { .. } => "EMAIL_TEMPLATE_RENDER_FAILED",
            EmailError::TemplateEngineUnavailable => "EMAIL_TEMPLATE_ENGINE_UNAVAILABLE",
            EmailError::IdempotencyConflict { .. } => "EMAIL_IDEMPOTENCY_CONFLICT",
            EmailError::SecretsKeyMissing { .. } => "EMAIL_SECRETS_KEY_MISSING",
            EmailError::SecretsKeyWrong { .. } => "EMAIL_SECRETS_KEY_WRONG",
            EmailError::SchemaMissing => "EMAIL_SCHEMA_MISSING",
            EmailError::SchemaOutdated { .. } => "EMAIL_SCHEMA_OUTDATED",
            EmailError::EventBadSignature { .. } => "EMAIL_EVENT_BAD_SIGNATURE",
            EmailError::EventStale { .. } => "EMAIL_EVENT_STALE",
            EmailError::EventCertRejected { .. } => "EMAIL_EVENT_CERT_REJECTED",
            EmailError::EventTopicRejected { .. } => "EMAIL_EVENT_TOPIC_REJECTED",
            EmailError::EventUnknownProvider { .. } => "EMAIL_EVENT_UNKNOWN_PROVIDER",
            EmailError::UnsubscribeTokenInvalid => "EMAIL_UNSUBSCRIBE_TOKEN_INVALID",
            EmailError::RateLimited { .. } => "EMAIL_RATE_LIMITED",
            EmailError::NotFound { .. } => "EMAIL_NOT_FOUND",
            EmailError::TenantRequired { .. } => "EMAIL_TENANT_REQUIRED",
            EmailError::SenderNotVerified { .. } => "EMAIL_SENDER_NOT_VERIFIED",
            EmailError::InvalidState { .. } => "EMAIL_INVALID_STATE",
        }
    }

    pub(crate) fn config(field: impl Into<String>, expected: impl Into<String>) -> Self {
        EmailError::InvalidConfig {
            field: field.into(),
            expected: expected.into(),
        }
    }

    pub(crate) fn argument(field: impl Into<String>, reason: impl Into<String>) -> Self {
        EmailError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailError::InvalidConfig { field, expected } => {
                write!(f, "invalid `{field}`: expected {expected}")
            }
            EmailError::InvalidArgument { field, reason } => {
                write!(f, "invalid `{field}`: {reason}")
            }
            EmailError::InvalidAddress {
                field,
                value,
                reason,
            } => write!(f, "invalid address {value:?} in `{field}`: {reason}"),
            EmailError::InvalidHeader { field, reason } => {
                write!(f, "invalid header `{field}`: {reason}")
            }
            EmailError::TooManyRecipients { field, count, max } => write!(
                f,
                "`{field}` has {count} distinct recipients, over the limit of {max} (`maxRecipients`): split the message"
            ),
            EmailError::MessageTooLarge { field, size, limit } => write!(
                f,
                "`{field}` is {size} bytes encoded, over the limit of {limit} bytes (`maxMessageBytes`)"
            ),
            EmailError::TemplateNotFound { name } => write!(
                f,
                "no template named {name:?}: add it to `templates` or save it with `templates.save`"
            ),
            EmailError::TemplatePropsInvalid { name, reason } => {
                write!(f, "invalid props for template {name:?}: {reason}")
            }
            EmailError::TemplateRenderFailed { name, reason } => {
                write!(f, "template {name:?} failed to render: {reason}")
            }
            EmailError::TemplateEngineUnavailable => f.write_str(
                "this build leaves the template engine out (edge runtimes): tenant-editable templates are saved, previewed and rendered from Node (native addon or the Node wasm module); a send of a template the tenant has overridden must run there, or the override be removed with `email.templates.remove`",
            ),
            EmailError::IdempotencyConflict { field } => write!(
                f,
                "`{field}` was already used with a different message: use a new key for a different message"
            ),
            EmailError::SecretsKeyMissing { field } => write!(
                f,
                "`{field}` is sealed but no `secretsKey` is configured: set BETTER_EMAIL_KEY (32 bytes, base64) to the key it was sealed with"
            ),
            EmailError::SecretsKeyWrong { field } => write!(
                f,
                "`{field}` does not open with `secretsKey`: set `secretsKey.previous` to the key it was sealed with, then run `better-email rekey`"
            ),
            EmailError::SchemaMissing => write!(
                f,
                "the email tables do not exist (no `email_meta`): run `better-email migrate`"
            ),
            EmailError::SchemaOutdated { found, expected } => write!(
                f,
                "the email tables are at schema version {found}, this version needs {expected}: run `better-email migrate`"
            ),
            EmailError::EventBadSignature { provider, reason } => {
                write!(f, "{provider} event signature does not verify: {reason}")
            }
            EmailError::EventStale {
                provider,
                timestamp,
                now,
            } => write!(
                f,
                "{provider} event timestamp {timestamp} is outside the tolerance around now ({now})"
            ),
            EmailError::EventCertRejected { reason } => {
                write!(f, "SNS signing certificate rejected: {reason}")
            }
            EmailError::EventTopicRejected { topic } => write!(
                f,
                "SNS topic {topic:?} is not configured: add it to the SES events `topicArns`"
            ),
            EmailError::EventUnknownProvider { provider } => write!(
                f,
                "no events configuration for provider {provider:?}: add it to `emailEventsHandler`"
            ),
            EmailError::UnsubscribeTokenInvalid => {
                f.write_str("the unsubscribe token is not valid")
            }
            EmailError::RateLimited { limit } => write!(
                f,
                "the tenant already has {limit} messages queued (`rateLimits.maxQueuedPerTenant`); nothing was sent: try again once some are delivered"
            ),
            EmailError::NotFound { what } => write!(f, "no {what}"),
            EmailError::TenantRequired { action } => write!(
                f,
                "{action} needs a tenant: call it inside a tenant scope, pass `{{ tenantId }}` to act for one tenant, or use `scope: \"global\"` for an entry that applies to every tenant"
            ),
            EmailError::SenderNotVerified { field, address } => write!(
                f,
                "invalid `{field}`: {address} is not a verified sender of this tenant: add it (email.senders.create({{ domain }}) or {{ address }}), verify its DNS (email.senders.verify(id), `better-email senders verify <id>`), or send such mail from the app with `senders: {{ fallback: \"app\" }}`"
            ),
            EmailError::InvalidState {
                id,
                action,
                status,
                allowed,
            } => write!(
                f,
                "cannot {action} {id}: it is {status}, and {action} takes a message that is {allowed}"
            ),
        }
    }
}

impl std::error::Error for EmailError {}
