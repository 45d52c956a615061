//! Webhooks: signing vectors, sealed secrets, retry decisions, address classification, ids,
//! names, the send conversation and the engine's SQL.

mod retry;
mod send;
mod signing;
mod sql;
mod ssrf;
