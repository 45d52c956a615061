//! Integration tests of the core's public API.
#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

mod capture;
mod email;
#[cfg(feature = "email")]
mod email_store;
#[cfg(feature = "serde")]
mod input_paths;
mod jwt;
mod policy;
mod resolve;
mod support;
#[cfg(feature = "ts")]
mod types;
#[cfg(feature = "webhooks")]
mod webhooks;
