//! Errors of the webhooks module, with the codes of the product's error table.
//!
//! A plain enum with [`WebhooksError::code`] and `Display`, like the core's [`crate::Error`], so
//! that folding it into that enum is a matter of moving variants. Messages name the field (or
//! header) at fault and, where the user can fix it, the fix.

use std::fmt;

/// A failure of a webhooks operation. Attempt outcomes (`ok`, `timeout`, …) are data, not errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhooksError {
    /// A configuration value is missing or has the wrong shape.
    InvalidConfig { field: String, expected: String },
    /// An argument has the wrong shape or length.
    InvalidArgument { field: String, reason: String },
    /// An event type or event-type pattern is not a dotted name.
    InvalidEventType {
        field: String,
        value: String,
        reason: String,
    },
    /// A well-formed event type (or pattern) that is not among the configured ones.
    UnknownEventType { field: String, value: String },
    /// A payload that cannot be a message body (not JSON, or refused by its schema).
    PayloadInvalid { field: String, reason: String },
    /// An idempotency key reused with a different body.
    IdempotencyConflict { field: String },
    /// A serialised payload over the configured limit.
    PayloadTooLarge {
        field: String,
        size: usize,
        limit: usize,
    },
    /// A custom endpoint header that is reserved or malformed.
    InvalidHeader { field: String, reason: String },
    /// An endpoint URL of the wrong shape (scheme, userinfo, host, port).
    UrlInvalid { field: String, reason: String },
    /// A destination refused by the network policy (checked before any request).
    UrlForbidden { field: String, reason: String },
    /// An endpoint secret given to us (or stored) that is not a valid key.
    SecretInvalid { field: String, reason: String },
    /// A rotation would leave more unexpired old keys than allowed.
    TooManyOldKeys { field: String, max: usize },
    /// A sealed secret was found but no `secretsKey` is configured.
    SecretsKeyMissing { field: String },
    /// A sealed secret does not open with the configured key(s).
    SecretsKeyWrong { field: String },
    /// The database has no webhook tables.
    SchemaMissing,
    /// The database has webhook tables of an older version.
    SchemaOutdated { found: String, expected: u32 },
    /// Receiver: a required header is absent (under both `webhook-*` and `svix-*`).
    MissingHeader { header: String },
    /// Receiver: the timestamp header is not an integer.
    BadTimestamp { value: String },
    /// Receiver: the timestamp is older than the tolerance allows.
    TimestampTooOld {
        timestamp: i64,
        now: i64,
        tolerance: u64,
    },
    /// Receiver: the timestamp is further ahead than the tolerance allows.
    TimestampTooNew {
        timestamp: i64,
        now: i64,
        tolerance: u64,
    },
    /// Receiver: no listed signature verifies with any configured key.
    BadSignature,
    /// Receiver (or signer): a verification or signing key cannot be parsed.
    InvalidKey { field: String, reason: String },
    /// An operator action on an id that does not exist (or not for this tenant).
    NotFound { what: String },
    /// An action on an endpoint that is disabled.
    EndpointDisabled { action: String },
    /// An action whose target is not in a state it applies to.
    InvalidState { reason: String },
}

impl WebhooksError {
    /// Stable code string, as seen by JavaScript in `err.code`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            WebhooksError::InvalidConfig { .. } => "WEBHOOKS_INVALID_CONFIG",
            WebhooksError::InvalidArgument { .. } => "WEBHOOKS_INVALID_ARGUMENT",
            WebhooksError::InvalidEventType { .. } => "WEBHOOKS_INVALID_EVENT_TYPE",
            WebhooksError::UnknownEventType { .. } => "WEBHOOKS_UNKNOWN_EVENT_TYPE",
            WebhooksError::PayloadInvalid { .. } => "WEBHOOKS_PAYLOAD_INVALID",
            WebhooksError::IdempotencyConflict { .. } => "WEBHOOKS_IDEMPOTENCY_CONFLICT",
            WebhooksError::PayloadTooLarge { .. } => "WEBHOOKS_PAYLOAD_TOO_LARGE",
            WebhooksError::InvalidHeader { .. } => "WEBHOOKS_INVALID_HEADER",
            WebhooksError::UrlInvalid { .. } => "WEBHOOKS_URL_INVALID",
            WebhooksError::UrlForbidden { .. } => "WEBHOOKS_URL_FORBIDDEN",
            WebhooksError::SecretInvalid { .. } => "WEBHOOKS_SECRET_INVALID",
            WebhooksError::TooManyOldKeys { .. } => "WEBHOOKS_TOO_MANY_OLD_KEYS",
            WebhooksError::SecretsKeyMissing { .. } => "WEBHOOKS_SECRETS_KEY_MISSING",
            WebhooksError::SecretsKeyWrong { .. } => "WEBHOOKS_SECRETS_KEY_WRONG",
            WebhooksError::SchemaMissing => "WEBHOOKS_SCHEMA_MISSING",
            WebhooksError::SchemaOutdated { .. } => "WEBHOOKS_SCHEMA_OUTDATED",
            WebhooksError::MissingHeader { .. } => "WEBHOOK_MISSING_HEADER",
            WebhooksError::BadTimestamp { .. } => "WEBHOOK_BAD_TIMESTAMP",
            WebhooksError::TimestampTooOld { .. } => "WEBHOOK_TIMESTAMP_TOO_OLD",
            WebhooksError::TimestampTooNew { .. } => "WEBHOOK_TIMESTAMP_TOO_NEW",
            WebhooksError::BadSignature => "WEBHOOK_BAD_SIGNATURE",
            WebhooksError::InvalidKey { .. } => "WEBHOOK_INVALID_KEY",
            WebhooksError::NotFound { .. } => "WEBHOOKS_NOT_FOUND",
            WebhooksError::EndpointDisabled { .. } => "WEBHOOKS_ENDPOINT_DISABLED",
            WebhooksError::InvalidState { .. } => "WEBHOOKS_INVALID_STATE",
        }
    }

    pub(crate) fn config(field: impl Into<String>, expected: impl Into<String>) -> Self {
        WebhooksError::InvalidConfig {
            field: field.into(),
            expected: expected.into(),
        }
    }

    /// The same error naming `name` instead: one item's checks run with the bare key
    /// (`payload`) and a batch's name (`inputs[3].payload`) is built only when one fails.
    #[must_use]
    pub(crate) fn in_field(mut self, name: String) -> Self {
        use WebhooksError as E;
        match &mut self {
            E::InvalidConfig { field, .. }
            | E::InvalidArgument { field, .. }
            | E::InvalidEventType { field, .. }
            | E::UnknownEventType { field, .. }
            | E::PayloadInvalid { field, .. }
            | E::IdempotencyConflict { field }
            | E::PayloadTooLarge { field, .. }
            | E::InvalidHeader { field, .. }
            | E::UrlInvalid { field, .. }
            | E::UrlForbidden { field, .. }
            | E::SecretInvalid { field, .. }
            | E::TooManyOldKeys { field, .. }
            | E::SecretsKeyMissing { field }
            | E::SecretsKeyWrong { field }
            | E::InvalidKey { field, .. } => *field = name,
            _ => {}
        }
        self
    }

    pub(crate) fn argument(field: impl Into<String>, reason: impl Into<String>) -> Self {
        WebhooksError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for WebhooksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhooksError::InvalidConfig { field, expected } => {
                write!(f, "invalid `{field}`: expected {expected}")
            }
            WebhooksError::InvalidArgument { field, reason } => {
                write!(f, "invalid `{field}`: {reason}")
            }
            WebhooksError::InvalidEventType {
                field,
                value,
                reason,
            } => write!(f, "invalid event type {value:?} in `{field}`: {reason}"),
            WebhooksError::UnknownEventType { field, value } => write!(
                f,
                "unknown event type {value:?} in `{field}`: add it to `eventTypes`"
            ),
            WebhooksError::PayloadInvalid { field, reason } => {
                write!(f, "invalid `{field}`: {reason}")
            }
            WebhooksError::IdempotencyConflict { field } => write!(
                f,
                "`{field}` was already used with a different body: use a new key for a different message"
            ),
            WebhooksError::PayloadTooLarge { field, size, limit } => write!(
                f,
                "`{field}` is {size} bytes serialised, over the limit of {limit} bytes (`maxPayloadBytes`)"
            ),
            WebhooksError::InvalidHeader { field, reason } => {
                write!(f, "invalid header `{field}`: {reason}")
            }
            WebhooksError::UrlInvalid { field, reason } => {
                write!(f, "invalid `{field}`: {reason}")
            }
            WebhooksError::UrlForbidden { field, reason } => {
                write!(f, "`{field}` is not an allowed destination: {reason}")
            }
            WebhooksError::SecretInvalid { field, reason } => {
                write!(f, "invalid secret in `{field}`: {reason}")
            }
            WebhooksError::TooManyOldKeys { field, max } => write!(
                f,
                "`{field}` would keep more than {max} unexpired old keys: wait for older keys to expire or rotate with `graceHours: 0`"
            ),
            WebhooksError::SecretsKeyMissing { field } => write!(
                f,
                "`{field}` is sealed but no `secretsKey` is configured: set BETTER_WEBHOOKS_KEY (32 bytes, base64) to the key it was sealed with"
            ),
            WebhooksError::SecretsKeyWrong { field } => write!(
                f,
                "`{field}` does not open with `secretsKey`: set `secretsKey.previous` to the key it was sealed with, then run `better-webhooks rekey`"
            ),
            WebhooksError::SchemaMissing => write!(
                f,
                "the webhook tables do not exist (no `webhook_meta`): run `better-webhooks migrate`"
            ),
            WebhooksError::SchemaOutdated { found, expected } => write!(
                f,
                "the webhook tables are at schema version {found}, this version needs {expected}: run `better-webhooks migrate`"
            ),
            WebhooksError::MissingHeader { header } => write!(
                f,
                "missing header `{header}` (also looked for its `svix-` form)"
            ),
            WebhooksError::BadTimestamp { value } => write!(
                f,
                "header `webhook-timestamp` is {value:?}: expected integer Unix seconds"
            ),
            WebhooksError::TimestampTooOld {
                timestamp,
                now,
                tolerance,
            } => write!(
                f,
                "header `webhook-timestamp` {timestamp} is more than {tolerance} s before now ({now})"
            ),
            WebhooksError::TimestampTooNew {
                timestamp,
                now,
                tolerance,
            } => write!(
                f,
                "header `webhook-timestamp` {timestamp} is more than {tolerance} s after now ({now})"
            ),
            WebhooksError::BadSignature => write!(
                f,
                "header `webhook-signature` has no signature that verifies with the configured keys"
            ),
            WebhooksError::InvalidKey { field, reason } => {
                write!(f, "invalid key in `{field}`: {reason}")
            }
            WebhooksError::NotFound { what } => write!(f, "no {what}"),
            WebhooksError::EndpointDisabled { action } => write!(
                f,
                "the endpoint is disabled: enable it first (better-webhooks endpoints enable <ep_id>), then {action}"
            ),
            WebhooksError::InvalidState { reason } => f.write_str(reason),
        }
    }
}

impl std::error::Error for WebhooksError {}

/// Result alias of the webhooks module.
pub type Result<T> = std::result::Result<T, WebhooksError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages_name_the_field() {
        let e = WebhooksError::PayloadTooLarge {
            field: "payload".into(),
            size: 263_169,
            limit: 262_144,
        };
        assert_eq!(e.code(), "WEBHOOKS_PAYLOAD_TOO_LARGE");
        assert!(e.to_string().contains("`payload` is 263169 bytes"), "{e}");
        let e = WebhooksError::MissingHeader {
            header: "webhook-id".into(),
        };
        assert_eq!(e.code(), "WEBHOOK_MISSING_HEADER");
        assert!(e.to_string().contains("`webhook-id`"));
        assert!(WebhooksError::SchemaMissing
            .to_string()
            .contains("better-webhooks migrate"));
    }
}
