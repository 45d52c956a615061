//! The pure core of `@usebetterdev/email`: address and header validation, MIME building, provider
//! request signing, response and event classification, suppression keys, unsubscribe tokens and
//! the SQL of the tables. Transports (fetch, SMTP) and the worker loop live outside the core; they
//! cross into this module to decide and to build, never to do I/O.
//!
//! As in the webhooks module, no function reads a clock or a random source: callers pass `now`
//! and random bytes, so every decision is reproducible and identical on the native and wasm builds.

pub mod address;
pub mod config;
pub mod db_template;
pub mod dkim;
pub mod dns;
pub mod error;
pub mod events;
pub mod header;
pub mod html_text;
pub mod http;
pub mod mailgun;
pub mod message;
pub mod mime;
pub mod postmark;
pub mod prepare;
pub mod recipients;
pub mod resend_batch;
pub mod retry;
pub mod sendgrid;
pub mod ses;
pub mod sigv4;
pub mod smtp;
pub mod smtp_envelope;
pub mod smtp_outcome;
pub mod store;
pub mod suppression_file;
pub mod token;

pub use error::{EmailError, Result};
