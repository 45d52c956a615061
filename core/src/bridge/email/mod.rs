//! The email product as both bindings see it: an [`Email`] compiled once from
//! `betterEmail(config)`, whose methods take and return JSON. The TypeScript package renders
//! code templates, runs statements and calls transports; everything else — what a send writes,
//! whether a recipient is suppressed, the MIME bytes of each attempt, what an answer means for
//! the message — is decided here.
//!
//! Clocks and randomness come from the caller (`now_ms`, `random` bytes, jitter draws), as in
//! the webhooks bridge, so every answer is reproducible.

mod deliver;
mod handlers;
mod input;
mod pending;
mod record;
mod render;
mod send;
pub mod senders;
mod suppressions;
mod templates;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

pub(crate) use crate::bridge::{bytea, to_value};
use crate::email::config::{self, Config};
use crate::email::store::defer::defer_scope;
use crate::email::store::engine::worker_scope;
use crate::email::store::quota::Quotas;
use crate::email::store::{Statement, Store, StoreConfig, SCHEMA_VERSION};
use crate::email::EmailError;
use crate::error::{Error, Result};
use crate::webhooks::config::Tenancy;

/// A compiled configuration and the statements of its tables.
#[derive(Debug, Clone)]
pub struct Email {
    config: Config,
    store: Store,
    /// The domain of the app's `from`, lower-cased: its subdomains need no sender (§11).
    from_domain: String,
}

fn em(e: EmailError) -> Error {
    Error::from(e)
}

/// SHA-256 of a matching key: how suppressions store an address (and keep it after erasure).
pub(crate) fn key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Email {
    /// # Errors
    /// `EMAIL_INVALID_CONFIG` naming the key.
    pub fn new(config: &Value) -> Result<Email> {
        Self::parse(config, true)
    }

    /// A configuration for the operator's tools, which send nothing: `from` may be absent.
    ///
    /// # Errors
    /// `EMAIL_INVALID_CONFIG` naming the key.
    pub fn for_tools(config: &Value) -> Result<Email> {
        Self::parse(config, false)
    }

    fn parse(config: &Value, require_from: bool) -> Result<Email> {
        let config = config::parse(config, require_from).map_err(em)?;
        let store = Store::new(&StoreConfig {
            schema: config.schema.clone(),
            rls: config.settings.tenancy == Tenancy::Rls,
            hardened: config.hardened,
            tenant_schema: config.tenant_schema.clone(),
            partition: crate::store::PartitionWidth::default(),
        })
        .map_err(em)?;
        let from_domain = senders::from_domain(&config);
        Ok(Email {
            config,
            store,
            from_domain,
        })
    }

    /// The resolved settings the package reads.
    ///
    /// # Errors
    /// Never in practice (serialising plain data).
    pub fn settings(&self) -> Result<Value> {
        to_value(&self.config.settings)
    }

    /// Every statement the package runs: `{ name: { sql, params } }`, plus the schema
    /// version expected and the probe that reads it.
    ///
    /// # Errors
    /// Never in practice.
    pub fn statements(&self) -> Result<Value> {
        let s = &self.store;
        let quotas = self.quotas();
        let mut out = Map::new();
        for (name, st) in [
            ("workerScope", Statement::new(worker_scope(), &[])),
            ("deferScope", Statement::new(defer_scope(), &[])),
            ("idempotencyClaim", s.email_idempotency_claim()),
            ("idempotencyLookup", s.email_idempotency_lookup()),
            ("templateFind", s.email_template_find()),
            ("insert", s.email_insert()),
            ("queuedCount", s.email_queued_count()),
            ("claim", s.email_claim(&self.unsubscribable(), &quotas)),
            ("deferTenant", s.email_defer_tenant()),
            ("deferDomain", s.email_defer_domain()),
            ("record", s.email_record()),
            ("reap", s.email_reap()),
            ("batchMark", s.email_batch_mark()),
            ("release", s.email_release()),
            (
                "renderFreeze",
                s.email_render_freeze(self.config.settings.store_props),
            ),
            ("rateTake", s.email_rate_take()),
            ("suppressionAdd", s.email_suppression_add()),
            ("suppressionPut", s.email_suppression_put()),
            ("suppressionRemove", s.email_suppression_remove()),
            ("suppressionCheck", s.email_suppression_check()),
            ("suppressionsList", s.email_suppressions_list()),
            ("suppressionsExport", s.email_suppressions_export()),
            ("suppressionsImport", s.email_suppressions_import()),
            ("erase", s.email_erase()),
            ("senderPut", s.email_sender_put()),
            ("sendersList", s.email_senders_list()),
            ("senderVerified", s.email_sender_verified()),
            ("senderRemove", s.email_sender_remove()),
            ("senderMatch", s.email_sender_match()),
            ("eventsApply", s.email_events_apply()),
            ("transition", s.email_transition()),
            ("auditMark", s.email_audit_mark()),
            ("auditUndo", s.email_audit_undo()),
        ] {
            out.insert(name.to_owned(), to_value(&st)?);
        }
        // The template API's own statements; the edge modules, without the engine, refuse it.
        #[cfg(feature = "templates")]
        for (name, st) in [
            ("templateLock", s.email_template_lock()),
            ("templateSave", s.email_template_save()),
            ("templateRemove", s.email_template_remove()),
            ("templatesList", s.email_templates_list()),
        ] {
            out.insert(name.to_owned(), to_value(&st)?);
        }
        // Present only when the claim enforces quotas: the worker's claims then open with it.
        if quotas.any() {
            out.insert(
                "claimScope".into(),
                to_value(&s.email_claim_scope(&worker_scope()))?,
            );
        }
        out.insert("schemaVersionExpected".into(), json!(SCHEMA_VERSION));
        Ok(Value::Object(out))
    }

    /// The per-tenant rates and warm-up caps the claim enforces.
    fn quotas(&self) -> Quotas {
        Quotas {
            per_tenant: self.config.settings.per_tenant,
            warmup: self.config.settings.warmup.clone(),
        }
    }

    /// The categories an `unsubscribe` suppression applies to (the others ignore it).
    fn unsubscribable(&self) -> Vec<String> {
        let c = &self.config.settings.categories;
        c.iter()
            .filter(|(_, p)| p.unsubscribe)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// What a lookup's `reason` means for mail of `category` (none: any): a category without
    /// unsubscribe (`transactional`) ignores an `unsubscribe` entry, as the claim does.
    fn blocking<'a>(&self, category: Option<&str>, reason: Option<&'a str>) -> Option<&'a str> {
        let categories = &self.config.settings.categories;
        let unsubscribable =
            category.is_none_or(|c| categories.get(c).is_some_and(|c| c.unsubscribe));
        reason.filter(|r| unsubscribable || *r != "unsubscribe")
    }

    /// The DDL `better-email migrate` applies, with `ahead` future partitions.
    #[must_use]
    pub fn migration_sql(&self, now_ms: i64, ahead: u32) -> String {
        self.store.migration_sql(now_ms, ahead)
    }
}
