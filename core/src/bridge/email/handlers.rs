//! What the HTTP handlers decide: whether an unsubscribe token opens (under this
//! configuration's `secretsKey`, the previous key included) and the suppression it adds. The
//! handler answers from this alone: no database read before the token has been verified.

use serde_json::{json, Value};

use super::{em, Email};
use crate::email::token::open_token;
use crate::email::EmailError;
use crate::error::Result;

impl Email {
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
