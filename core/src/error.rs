//! The one error type of the core.
//!
//! Every variant has a stable machine-readable code (`Error::code`) that the bindings hand to
//! JavaScript as `err.code`. Codes are part of the public contract: add new ones, never rename.
//! Messages name the offending field and what was expected, because they reach end users as-is.

use std::fmt;

/// A failure of a core operation. Findings (for example "this table has no policy") are data,
/// not errors; an `Error` means bad input or an operation that cannot proceed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A configuration or argument value is missing or has the wrong shape.
    InvalidConfig { field: String, expected: String },
    /// A binding argument does not have the expected shape.
    InvalidArgument { field: String, reason: String },
    /// A tenant identifier is neither a UUID nor a valid slug.
    InvalidTenantId { value: String },
    /// A slug to store (a new tenant's, a renamed one's) breaks the slug rule.
    InvalidSlug { value: String },
    /// A SQL identifier (table or schema name) cannot be used.
    InvalidIdentifier { field: String, reason: String },
    /// The token is not three base64url segments with JSON header and payload.
    JwtMalformed { reason: String },
    /// The token declares `alg: none` (or no algorithm); never accepted.
    JwtAlgNone,
    /// The token's algorithm is unsupported or not in the allowed list.
    JwtAlgNotAllowed { alg: String },
    /// No configured key fits the token (by `kid` and key type).
    JwtKeyNotFound { kid: Option<String>, alg: String },
    /// The signature does not verify.
    JwtBadSignature,
    /// `exp` is in the past (beyond the leeway).
    JwtExpired { exp: i64, now: i64 },
    /// `nbf` is in the future (beyond the leeway).
    JwtNotYetValid { nbf: i64, now: i64 },
    /// `aud` does not contain an expected audience.
    JwtBadAudience,
    /// `iss` is not an expected issuer.
    JwtBadIssuer,
    /// A registered claim has the wrong JSON type (for example a string `exp`).
    JwtBadClaim { claim: String, expected: String },
    /// The tenant claim is absent, empty or not a string.
    JwtClaimMissing { claim: String },
    /// A configured key (PEM, secret or JWK) cannot be parsed.
    JwtInvalidKey { reason: String },
    /// No key material is configured, so a token cannot be verified (fail-closed).
    JwtNoKeys,
    /// A retention or query duration is not `<n><h|d|w|m|y>`.
    InvalidDuration { message: String },
    /// A query cursor cannot be decoded.
    InvalidCursor { reason: String },
    /// A configuration mistake whose wording is fixed by the reference (shown verbatim).
    Rejected { message: String },
    /// Sealing or verification has no usable key (missing, too short, or conflicting with an
    /// explicit opt-in to unkeyed chains); the message names `AUDIT_SEAL_KEY` and the fix.
    SealKey { message: String },
    /// A command-line tool cannot go on. The message is printed as it stands (its wording is
    /// part of the tools' interface); `failure` gives the stable code.
    Cli {
        failure: CliFailure,
        message: String,
    },
    /// A failure of the webhooks product; its codes (`WEBHOOKS_*`, `WEBHOOK_*`) are listed in
    /// its own module, which keeps the product's error table in one place.
    #[cfg(feature = "webhooks")]
    Webhooks(crate::webhooks::WebhooksError),
    /// A failure of the email product; its codes (`EMAIL_*`) are listed in its own module.
    #[cfg(feature = "email")]
    Email(crate::email::EmailError),
}

/// Why a command-line tool stopped: the stable codes of its failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliFailure {
    /// Unknown command or option, a missing or malformed argument (commander's wording).
    Usage,
    /// No `better.config.*` was found where a command needs one.
    NoConfig,
    /// A command that connects was given no database URL.
    NoDatabase,
    /// A file the command would write exists (and `--force` / `--overwrite` was not given).
    FileExists,
    /// A file could not be read or written.
    File,
    /// The database URL or its TLS settings cannot be used as given.
    DatabaseUrl,
    /// TLS could not be set up or the handshake failed (certificates, roots).
    Tls,
    /// The server could not be reached or refused the login.
    Connect,
    /// A statement failed.
    Database,
    /// The connection went away while the command ran.
    ConnectionClosed,
    /// Hardened mode is on and the key that signs the command's scope is not set.
    HardenedKey,
    /// `seed`: a tenant with this slug exists.
    TenantExists,
    /// The tenants table does not exist.
    TenantsTableMissing,
    /// `audit_logs` does not exist.
    AuditTableMissing,
    /// `audit_logs` is a plain table where the command needs a partitioned one.
    NotPartitioned,
    /// A purge would delete sealed entries without recording where it cuts their chains.
    SealedPurge,
    /// A table to capture by trigger is missing or has no primary key.
    CaptureTable,
    /// `--anchor` is not an anchor file.
    Anchor,
    /// Something that should not happen (stored data the tool cannot read back).
    Internal,
}

impl CliFailure {
    /// Stable code string.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            CliFailure::Usage => "CLI_USAGE",
            CliFailure::NoConfig => "CLI_NO_CONFIG",
            CliFailure::NoDatabase => "CLI_NO_DATABASE",
            CliFailure::FileExists => "CLI_FILE_EXISTS",
            CliFailure::File => "CLI_FILE",
            CliFailure::DatabaseUrl => "DB_INVALID_URL",
            CliFailure::Tls => "DB_TLS",
            CliFailure::Connect => "DB_CONNECT",
            CliFailure::Database => "DB_QUERY",
            CliFailure::ConnectionClosed => "DB_CONNECTION_CLOSED",
            CliFailure::HardenedKey => "TENANT_HARDENED_KEY",
            CliFailure::TenantExists => "TENANT_EXISTS",
            CliFailure::TenantsTableMissing => "TENANT_TABLE_MISSING",
            CliFailure::AuditTableMissing => "AUDIT_TABLE_MISSING",
            CliFailure::NotPartitioned => "AUDIT_NOT_PARTITIONED",
            CliFailure::SealedPurge => "AUDIT_SEALED_PURGE",
            CliFailure::CaptureTable => "AUDIT_CAPTURE_TABLE",
            CliFailure::Anchor => "AUDIT_ANCHOR_INVALID",
            CliFailure::Internal => "INTERNAL",
        }
    }

    /// This failure with `message`.
    #[must_use]
    pub fn with(self, message: impl Into<String>) -> Error {
        Error::Cli {
            failure: self,
            message: message.into(),
        }
    }
}

impl Error {
    /// Stable code string, as seen by JavaScript in `err.code`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidConfig { .. } => "INVALID_CONFIG",
            Error::InvalidArgument { .. } => "INVALID_ARGUMENT",
            Error::InvalidTenantId { .. } => "TENANT_INVALID_ID",
            Error::InvalidSlug { .. } => "TENANT_INVALID_SLUG",
            Error::InvalidIdentifier { .. } => "INVALID_IDENTIFIER",
            Error::JwtMalformed { .. } => "JWT_MALFORMED",
            Error::JwtAlgNone => "JWT_ALG_NONE",
            Error::JwtAlgNotAllowed { .. } => "JWT_ALG_NOT_ALLOWED",
            Error::JwtKeyNotFound { .. } => "JWT_KEY_NOT_FOUND",
            Error::JwtBadSignature => "JWT_BAD_SIGNATURE",
            Error::JwtExpired { .. } => "JWT_EXPIRED",
            Error::JwtNotYetValid { .. } => "JWT_NOT_YET_VALID",
            Error::JwtBadAudience => "JWT_BAD_AUDIENCE",
            Error::JwtBadIssuer => "JWT_BAD_ISSUER",
            Error::JwtBadClaim { .. } => "JWT_BAD_CLAIM",
            Error::JwtClaimMissing { .. } => "JWT_CLAIM_MISSING",
            Error::JwtInvalidKey { .. } => "JWT_INVALID_KEY",
            Error::JwtNoKeys => "JWT_NO_KEYS",
            Error::InvalidDuration { .. } => "INVALID_DURATION",
            Error::InvalidCursor { .. } => "INVALID_CURSOR",
            Error::Rejected { .. } => "INVALID_CONFIG",
            Error::SealKey { .. } => "AUDIT_SEAL_KEY",
            Error::Cli { failure, .. } => failure.code(),
            #[cfg(feature = "webhooks")]
            Error::Webhooks(e) => e.code(),
            #[cfg(feature = "email")]
            Error::Email(e) => e.code(),
        }
    }

    /// A configuration mistake worded by the caller (shown verbatim, code `INVALID_CONFIG`).
    pub fn rejected(message: impl Into<String>) -> Self {
        Error::Rejected {
            message: message.into(),
        }
    }

    pub(crate) fn config(field: impl Into<String>, expected: impl Into<String>) -> Self {
        Error::InvalidConfig {
            field: field.into(),
            expected: expected.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig { field, expected } => {
                write!(f, "invalid `{field}`: expected {expected}")
            }
            Error::InvalidArgument { field, reason } => write!(f, "invalid `{field}`: {reason}"),
            Error::InvalidTenantId { value } => write!(
                f,
                "invalid tenant id {value:?}: expected a UUID or a slug ({})",
                crate::resolve::SLUG_RULE
            ),
            Error::InvalidSlug { value } => write!(
                f,
                "invalid slug {value:?}: use {}",
                crate::resolve::SLUG_RULE
            ),
            Error::InvalidIdentifier { field, reason } => {
                write!(f, "invalid identifier in `{field}`: {reason}")
            }
            Error::JwtMalformed { reason } => write!(f, "malformed JWT: {reason}"),
            Error::JwtAlgNone => write!(f, "JWT uses alg \"none\", which is never accepted"),
            Error::JwtAlgNotAllowed { alg } => {
                write!(f, "JWT algorithm {alg:?} is not allowed by `algorithms`")
            }
            Error::JwtKeyNotFound { kid: Some(kid), alg } => {
                write!(f, "no configured key with kid {kid:?} fits JWT algorithm {alg}")
            }
            Error::JwtKeyNotFound { kid: None, alg } => {
                write!(f, "no configured key fits JWT algorithm {alg}")
            }
            Error::JwtBadSignature => write!(f, "JWT signature does not verify"),
            Error::JwtExpired { exp, now } => {
                write!(f, "JWT expired: exp {exp} is before now {now}")
            }
            Error::JwtNotYetValid { nbf, now } => {
                write!(f, "JWT not yet valid: nbf {nbf} is after now {now}")
            }
            Error::JwtBadAudience => write!(f, "JWT `aud` does not match `audience`"),
            Error::JwtBadIssuer => write!(f, "JWT `iss` does not match `issuer`"),
            Error::JwtBadClaim { claim, expected } => {
                write!(f, "JWT claim `{claim}` has the wrong type: expected {expected}")
            }
            Error::JwtClaimMissing { claim } => {
                write!(f, "JWT claim `{claim}` is missing: expected a non-empty string")
            }
            Error::JwtInvalidKey { reason } => write!(f, "invalid JWT key: {reason}"),
            Error::JwtNoKeys => write!(
                f,
                "no JWT key configured: set `secret`, `publicKey` or `jwks` (or opt in to unverified decoding)"
            ),
            Error::InvalidDuration { message } => f.write_str(message),
            Error::InvalidCursor { reason } => write!(f, "Invalid cursor: {reason}"),
            Error::Rejected { message }
            | Error::SealKey { message }
            | Error::Cli { message, .. } => f.write_str(message),
            #[cfg(feature = "webhooks")]
            Error::Webhooks(e) => e.fmt(f),
            #[cfg(feature = "email")]
            Error::Email(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(feature = "webhooks")]
impl From<crate::webhooks::WebhooksError> for Error {
    fn from(e: crate::webhooks::WebhooksError) -> Self {
        Error::Webhooks(e)
    }
}

#[cfg(feature = "email")]
impl From<crate::email::EmailError> for Error {
    fn from(e: crate::email::EmailError) -> Self {
        Error::Email(e)
    }
}

/// Result alias used across the core.
pub type Result<T> = std::result::Result<T, Error>;

/// Failures the JavaScript packages detect themselves (a handle used after its scope, a pool that
/// stayed full, a write the audit could not capture): their errors are raised in JavaScript, but
/// their codes are part of the same contract, so they are listed here with the core's and reach
/// TypeScript in the generated `ErrorCode` union.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageCode {
    /// A scoped database handle was used after its scope ended.
    TenantScopeClosed,
    /// No pooled connection became free within `timeouts.acquireMs`.
    TenantAcquireTimeout,
    /// `requireDatabase()` outside a tenant scope.
    TenantNoScope,
    /// No tenant has that id or slug.
    TenantNotFound,
    /// An audited write could not be recorded (fail-closed).
    AuditUncapturedWrite,
    /// A log entry passed to the audit API has the wrong shape.
    AuditInvalidData,
    /// An audit query was built wrong (unknown filter, bad limit).
    AuditInvalidQuery,
    /// The database failed an audit query.
    AuditQueryFailed,
    /// The audit's database adapter does not implement the operation asked for.
    AuditAdapterUnsupported,
    /// Neither the native addon nor the wasm build could be loaded.
    BindingLoadFailed,
    /// `send()` found no transaction to join (`requireTransaction`).
    WebhooksNoTransaction,
    /// A `tenantId` given inside another tenant's scope.
    WebhooksTenantMismatch,
    /// A management call outside a tenant scope without `tenantId`.
    WebhooksTenantRequired,
    /// No endpoint, message, delivery or lane with that id is visible.
    WebhooksNotFound,
    /// `maxEndpointsPerTenant` live endpoints already exist.
    WebhooksLimitReached,
    /// A replay to a disabled endpoint.
    WebhooksEndpointDisabled,
    /// The object is not in a state the action applies to (or changed concurrently).
    WebhooksInvalidState,
    /// The receiver's inbox has already processed this `webhook-id`.
    WebhookDuplicate,
    /// `email.send()` found no transaction to join (`requireTransaction`).
    EmailNoTransaction,
    /// A `tenantId` given inside another tenant's scope.
    EmailTenantMismatch,
    /// A call that needs a tenant outside a tenant scope without `tenantId`.
    EmailTenantRequired,
    /// A `from` address that is not a verified sender of the tenant.
    EmailSenderNotVerified,
    /// A tenant over its rate limit or `maxQueuedPerTenant`.
    EmailRateLimited,
    /// A transport that cannot run here (SMTP on an edge runtime).
    EmailTransportUnavailable,
    /// A route returned a transport name that is not configured.
    EmailTransportNotFound,
    /// No message with that id is visible.
    EmailNotFound,
    /// The message is not in a state the action applies to.
    EmailInvalidState,
}

impl PackageCode {
    /// Stable code string.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            PackageCode::TenantScopeClosed => "TENANT_SCOPE_CLOSED",
            PackageCode::TenantAcquireTimeout => "TENANT_ACQUIRE_TIMEOUT",
            PackageCode::TenantNoScope => "TENANT_NO_SCOPE",
            PackageCode::TenantNotFound => "TENANT_NOT_FOUND",
            PackageCode::AuditUncapturedWrite => "AUDIT_UNCAPTURED_WRITE",
            PackageCode::AuditInvalidData => "AUDIT_INVALID_DATA",
            PackageCode::AuditInvalidQuery => "AUDIT_INVALID_QUERY",
            PackageCode::AuditQueryFailed => "AUDIT_QUERY_FAILED",
            PackageCode::WebhooksNoTransaction => "WEBHOOKS_NO_TRANSACTION",
            PackageCode::WebhooksTenantMismatch => "WEBHOOKS_TENANT_MISMATCH",
            PackageCode::WebhooksTenantRequired => "WEBHOOKS_TENANT_REQUIRED",
            PackageCode::WebhooksNotFound => "WEBHOOKS_NOT_FOUND",
            PackageCode::WebhooksLimitReached => "WEBHOOKS_LIMIT_REACHED",
            PackageCode::WebhooksEndpointDisabled => "WEBHOOKS_ENDPOINT_DISABLED",
            PackageCode::WebhooksInvalidState => "WEBHOOKS_INVALID_STATE",
            PackageCode::WebhookDuplicate => "WEBHOOK_DUPLICATE",
            PackageCode::EmailNoTransaction => "EMAIL_NO_TRANSACTION",
            PackageCode::EmailTenantMismatch => "EMAIL_TENANT_MISMATCH",
            PackageCode::EmailTenantRequired => "EMAIL_TENANT_REQUIRED",
            PackageCode::EmailSenderNotVerified => "EMAIL_SENDER_NOT_VERIFIED",
            PackageCode::EmailRateLimited => "EMAIL_RATE_LIMITED",
            PackageCode::EmailTransportUnavailable => "EMAIL_TRANSPORT_UNAVAILABLE",
            PackageCode::EmailTransportNotFound => "EMAIL_TRANSPORT_NOT_FOUND",
            PackageCode::EmailNotFound => "EMAIL_NOT_FOUND",
            PackageCode::EmailInvalidState => "EMAIL_INVALID_STATE",
            PackageCode::AuditAdapterUnsupported => "AUDIT_ADAPTER_UNSUPPORTED",
            PackageCode::BindingLoadFailed => "BINDING_LOAD_FAILED",
        }
    }
}
