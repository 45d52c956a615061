//! The pure half of the command-line tools `better-tenant` and `better-audit`: argument
//! parsing and help in commander's wording (`args`, shared by both), each tool's config,
//! statements, messages and output (`tenant`, `audit`), all matching the reference's wording
//! where it has one. The `usebetter-cli` crate does the I/O (files, PostgreSQL) around these.

pub mod args;
pub mod audit;
mod audit_config;
mod audit_output;
#[cfg(feature = "email")]
pub mod email;
pub mod email_messages;
pub mod email_stats;
pub mod email_suppressions;
mod help;
pub mod sslmode;
#[cfg(feature = "webhooks")]
pub mod store;
pub mod tenant;
#[cfg(feature = "webhooks")]
pub mod webhooks;
#[cfg(feature = "webhooks")]
pub mod webhooks_ops;

/// What a one-shot command's message about a lost database connection ends with. A command
/// that reconnects by itself (`seal --watch`) drops it from the message it prints.
pub const RUN_AGAIN: &str = "; run the command again";

/// `a, b,,c` → `["a", "b", "c"]`.
#[must_use]
pub fn split_csv(csv: &str) -> Vec<String> {
    csv.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
