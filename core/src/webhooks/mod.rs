//! The pure core of `@usebetterdev/webhooks`: Standard Webhooks signing and verification, endpoint
//! secrets sealed at rest, retry decisions, SSRF address classification, ids and event-type
//! names, and the SQL of the tables and of the delivery engine. The engine itself (claim,
//! dispatch, record) runs in TypeScript; it crosses into this module once per batch.
//!
//! No function reads a clock or a random source: callers pass `now` and random bytes, so every
//! decision is reproducible in tests and identical on the native and wasm builds.

pub mod address;
pub mod body;
#[cfg(feature = "serde")]
pub mod config;
pub mod error;
pub mod event_types;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod network;
pub mod outcome;
pub mod retry_after;
pub mod schedule;
pub mod seal;
pub mod sign;
pub mod store;
pub mod stored_keys;
pub mod verify;

pub use error::{Result, WebhooksError};
