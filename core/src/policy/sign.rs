//! Signatures for hardened mode: what the library sets next to `app.current_tenant` and
//! `app.bypass_rls`, and what the database's `better_tenant_private.signed()` recomputes.
//! Each names the transaction it is for (see `context::BINDING_EXPR`), so it cannot be replayed.

use hmac::Mac;

use crate::crypto::{hex, hmac_sha256};

fn hmac_hex(key: &[u8], message: &str) -> String {
    let mut mac = hmac_sha256(key);
    mac.update(message.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// `app.tenant_sig` for `tenant_id` in the transaction `binding` (the id is lower-cased, as the
/// database does).
#[must_use]
pub fn tenant_signature(key: &[u8], tenant_id: &str, binding: &str) -> String {
    hmac_hex(
        key,
        &format!("tenant:{}:{binding}", tenant_id.to_ascii_lowercase()),
    )
}

/// `app.bypass_sig` in the transaction `binding`.
#[must_use]
pub fn bypass_signature(key: &[u8], binding: &str) -> String {
    hmac_hex(key, &format!("bypass:{binding}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2() {
        // HMAC-SHA256(key "Jefe", "what do ya want for nothing?")
        assert_eq!(
            hmac_hex(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tenant_ids_are_case_insensitive() {
        assert_eq!(
            tenant_signature(b"k", "AB-CD", "1:2"),
            tenant_signature(b"k", "ab-cd", "1:2")
        );
        assert_ne!(
            tenant_signature(b"k", "ab", "1:2"),
            bypass_signature(b"k", "1:2")
        );
    }

    #[test]
    fn signatures_name_their_transaction() {
        assert_ne!(
            tenant_signature(b"k", "ab", "1:2"),
            tenant_signature(b"k", "ab", "1:3")
        );
        assert_ne!(bypass_signature(b"k", "1:2"), bypass_signature(b"k", "7:2"));
    }
}
