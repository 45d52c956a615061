//! Pure core of usebetter-rs.
//!
//! - [`resolve`]: tenant resolution from plain request data (header, path, subdomain, JWT).
//! - [`jwt`]: JWT verification (HS*, RS*, ES256, EdDSA; static keys or JWKS).
//! - [`policy`]: PostgreSQL row-level-security migration SQL.
//! - [`audit`]: audit diffs, redaction, canonical JSON, durations and cursors.
//! - [`sql`]: identifier and literal quoting, shared by every product.
//! - `store` (feature `webhooks`): what the products with their own tables share (statements as
//!   data, names, tenant isolation, schema version, time partitions, batched retention).
//! - `webhooks` (feature `webhooks`): signing, sealed secrets, retry decisions, SSRF address
//!   classification, ids and the delivery engine's SQL.
//! - `email` (feature `email`): addresses, headers, MIME, provider signing and events,
//!   suppression and the outbox SQL.
//!
//! The crate does no I/O and reads no clock: callers pass the current time and the bindings
//! (N-API and WebAssembly) translate values in and out. Every failure is an [`Error`] with a
//! stable [`Error::code`].

#![forbid(unsafe_code)]

#[cfg(feature = "analyze")]
pub mod analyze;
pub mod audit;
#[cfg(feature = "serde")]
pub mod bridge;
#[cfg(feature = "analyze")]
pub mod check;
#[cfg(feature = "cli")]
pub mod cli;
pub mod crypto;
#[cfg(feature = "email")]
pub mod email;
pub mod error;
#[cfg(feature = "serde")]
pub mod input;
pub mod jwt;
pub mod policy;
pub mod resolve;
pub mod sql;
#[cfg(feature = "webhooks")]
pub mod store;
#[cfg(feature = "webhooks")]
pub mod webhooks;

pub use error::{CliFailure, Error, PackageCode, Result};
