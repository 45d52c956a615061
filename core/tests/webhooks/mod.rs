//! Webhooks: signing vectors, sealed secrets, retry decisions, address classification, ids,
//! names and the engine's SQL.

mod retry;
mod signing;
mod sql;
mod ssrf;
