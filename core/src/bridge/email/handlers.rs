//! What the HTTP handlers decide: whether an unsubscribe token opens (under this
//! configuration's `secretsKey`, the previous key included) and the suppression it adds, and
//! what a verified provider event request means (its events and the statement that applies
//! them). Nothing here reads the database: a forged request never gets that far.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{em, Email};
use crate::audit::time::format_iso;
use crate::email::address::address_key;
use crate::email::events::normalize::normalize;
use crate::email::store::operator::Action;
use crate::email::token::{open_token, seal_token, unsubscribe_headers, TokenFields};
use crate::email::EmailError;
use crate::error::Result;
use crate::webhooks::ids::{self, IdKind};

impl Email {
    /// `List-Unsubscribe` for a message of an unsubscribable `category` (message `uuid`, in
    /// `tenant`, dated `date_ms`): a token for its first recipient (`first_key`), sealed with a
    /// nonce derived from the message and address so that every attempt writes the same bytes.
    /// `None` when the category is not unsubscribable or unsubscribe is not configured.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` naming `rows` for a `uuid` that is not one.
    pub(super) fn list_unsubscribe(
        &self,
        category: &str,
        tenant: Option<String>,
        uuid: &str,
        first_key: &str,
        date_ms: i64,
    ) -> Result<Option<String>> {
        let s = &self.config.settings;
        let unsubscribable = s.categories.get(category).is_some_and(|p| p.unsubscribe);
        let (Some(base), Some(keys)) = (&s.unsubscribe_base_url, &self.config.secrets) else {
            return Ok(None);
        };
        if !unsubscribable {
            return Ok(None);
        }
        let mut h = Sha256::new();
        h.update(b"better-email/unsubscribe-nonce\0");
        h.update(uuid.as_bytes());
        h.update(first_key.as_bytes());
        let nonce = h.finalize();
        let fields = TokenFields {
            tenant_id: tenant,
            address: first_key.to_owned(),
            category: category.to_owned(),
            message_id: Some(
                ids::from_uuid("id", IdKind::Email, uuid)
                    .map_err(|e| em(EmailError::argument("rows", e.to_string())))?,
            ),
            issued_at: date_ms.div_euclid(1000),
        };
        let token = seal_token(keys, &fields, &nonce[..24]).map_err(em)?;
        let [(_, value), _] =
            unsubscribe_headers(base, &token, s.unsubscribe_mailto.as_deref()).map_err(em)?;
        Ok(Some(value))
    }

    /// Opens `token`; `all` (the preferences page) unsubscribes from every category instead of
    /// the message's. Returns `{ tenantId, address, category, params }`, `params` being the
    /// `suppressionAdd` statement's.
    ///
    /// # Errors
    /// `EMAIL_UNSUBSCRIBE_TOKEN_INVALID` (tampered, foreign key, malformed);
    /// `EMAIL_SECRETS_KEY_MISSING` without a `secretsKey`.
    pub fn unsubscribe(&self, token: &str, all: bool) -> Result<Value> {
        let keys = self.config.secrets.as_ref().ok_or_else(|| {
            em(EmailError::SecretsKeyMissing {
                field: "secretsKey".into(),
            })
        })?;
        let opened = open_token(keys, token).map_err(em)?;
        let f = opened.fields;
        let category = (!all).then(|| f.category.clone());
        Ok(json!({
            "tenantId": f.tenant_id,
            "address": f.address,
            "category": f.category,
            "messageId": f.message_id,
            "params": [f.tenant_id, f.address, f.address, category, "unsubscribe", "unsubscribe_link", Value::Null, Value::Null],
        }))
    }
}

/// Event keys are kept this long: providers retry failed deliveries for up to three days.
const EVENT_KEY_SECS: f64 = 7.0 * 86_400.0;

impl Email {
    /// A verified request's events and the `eventsApply` parameters. `request_id` is the
    /// verification's id (`svix-id`, Mailgun's `token`).
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` naming `body` for a payload of the wrong shape;
    /// `EMAIL_EVENT_UNKNOWN_PROVIDER`.
    pub fn events(&self, provider: &str, request_id: Option<&str>, body: &[u8]) -> Result<Value> {
        let mut events = normalize(provider, request_id, body).map_err(em)?;
        // One request may repeat an event (SendGrid batches): apply it once.
        let mut seen = std::collections::BTreeSet::new();
        events.retain(|e| seen.insert(e.provider_event_id.clone()));
        let mut cols: Vec<Vec<Value>> = vec![Vec::new(); 9];
        for e in &events {
            let ours = e
                .better_email_id
                .as_deref()
                .and_then(|id| ids::to_uuid("id", IdKind::Email, id).ok());
            let row = [
                json!(e.provider_event_id),
                json!(e.kind),
                json!(e.bounce),
                json!(e.recipient),
                json!(address_key(&e.recipient)),
                json!(format_iso(e.occurred_at_ms.saturating_mul(1000))),
                json!(e.provider_message_id),
                json!(ours),
                json!(json!({ "provider": e.detail }).to_string()),
            ];
            for (c, v) in row.into_iter().enumerate() {
                cols[c].push(v);
            }
        }
        let mut params = vec![json!(provider)];
        params.extend(cols.into_iter().map(Value::from));
        params.push(json!(EVENT_KEY_SECS));
        Ok(json!({ "events": events, "params": params }))
    }
}

impl Email {
    /// An operator's decision (`cancel`, `retry`, `resend`, `drop`) on message `id` (`eml_…`):
    /// the `transition` statement's parameters. `tenant_id` limits it to that tenant's messages
    /// (an operator acting in system context for one tenant).
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` naming `action`, `id` or `tenantId`.
    pub fn transition(&self, action: &str, id: &str, tenant_id: Option<&str>) -> Result<Value> {
        let action = Action::parse(action).map_err(em)?;
        let uuid = ids::to_uuid("id", IdKind::Email, id).map_err(|e| {
            em(EmailError::InvalidArgument {
                field: "id".into(),
                reason: e.to_string(),
            })
        })?;
        if let Some(t) = tenant_id {
            ids::parse_uuid("tenantId", t).map_err(|e| {
                em(EmailError::InvalidArgument {
                    field: "tenantId".into(),
                    reason: e.to_string(),
                })
            })?;
        }
        Ok(json!({ "params": action.params(&uuid, tenant_id) }))
    }

    /// The message's new status from the `transition` statement's rows.
    ///
    /// # Errors
    /// `EMAIL_NOT_FOUND` or `EMAIL_INVALID_STATE`.
    pub fn transitioned(&self, action: &str, id: &str, rows: &Value) -> Result<Value> {
        let action = Action::parse(action).map_err(em)?;
        let found = rows.get(0).map(|r| {
            (
                r.get("status").and_then(Value::as_str).unwrap_or_default(),
                r.get("changed").and_then(Value::as_bool).unwrap_or(false),
            )
        });
        Ok(json!(action.judge(id, found).map_err(em)?))
    }
}
