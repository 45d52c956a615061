//! Argument shapes shared by both bindings (feature `serde`), so that each binding function
//! stays a one-line translation and both read and write exactly the same JSON.

pub mod audit;
#[cfg(feature = "email")]
pub mod email;
#[cfg(feature = "email")]
pub mod email_crypto;
#[cfg(feature = "webhooks")]
pub mod webhooks;
