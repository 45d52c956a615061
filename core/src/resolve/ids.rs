//! Classification and normalisation of tenant identifiers.
//!
//! The policies compare `tenant_id` as a `uuid`, so case does not matter to PostgreSQL; it does
//! matter to caches, logs and slug lookups, which is why every UUID leaves here in lower case.

use crate::error::{Error, Result};

/// What kind of identifier a resolved value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum IdKind {
    /// A canonical 8-4-4-4-12 hexadecimal UUID, lower-cased.
    Uuid,
    /// A slug to be looked up in the `tenants` table.
    Slug,
}

/// Longest slug accepted: one DNS label, so every slug also works as a subdomain.
pub const MAX_SLUG_LEN: usize = 63;

/// The slug rule as messages state it.
pub const SLUG_RULE: &str =
    "lower-case letters, digits and dashes (1-63 characters, no leading or trailing dash)";

/// Checks a slug to be stored as given (no trimming, no lower-casing).
///
/// # Errors
/// `InvalidSlug` naming the slug and the rule.
pub fn check_slug(slug: &str) -> Result<()> {
    if is_slug(slug) {
        Ok(())
    } else {
        Err(Error::InvalidSlug {
            value: slug.to_owned(),
        })
    }
}

/// Returns true for the canonical hyphenated UUID form (any version, any case).
#[must_use]
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Returns true for a slug: lower-case ASCII letters, digits and dashes, not starting or ending
/// with a dash, 1 to 63 characters.
#[must_use]
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLUG_LEN
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Trims and classifies a raw candidate. UUIDs are lower-cased; slugs are lower-cased too,
/// because hosts are case-insensitive and a slug must be usable as a host label.
///
/// # Errors
/// `Error::InvalidTenantId` when the value is neither a UUID nor a slug.
pub fn normalize_tenant_id(raw: &str) -> Result<(String, IdKind)> {
    let trimmed = raw.trim();
    let lower = trimmed.to_ascii_lowercase();
    if is_uuid(&lower) {
        Ok((lower, IdKind::Uuid))
    } else if is_slug(&lower) {
        Ok((lower, IdKind::Slug))
    } else {
        Err(Error::InvalidTenantId {
            value: trimmed.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_lower_cased() {
        let (v, k) = normalize_tenant_id(" AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE ").unwrap();
        assert_eq!(v, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
        assert_eq!(k, IdKind::Uuid);
    }

    #[test]
    fn slug_rules() {
        assert_eq!(normalize_tenant_id("acme-2").unwrap().1, IdKind::Slug);
        assert_eq!(normalize_tenant_id("ACME").unwrap().0, "acme");
        for bad in [
            "",
            "  ",
            "-acme",
            "acme-",
            "ac me",
            "acme!",
            "ac_me",
            "é",
            &"a".repeat(64),
        ] {
            let err = normalize_tenant_id(bad).unwrap_err();
            assert_eq!(err.code(), "TENANT_INVALID_ID", "{bad:?}");
        }
        assert!(is_slug(&"a".repeat(63)));
    }

    #[test]
    fn uuid_shape_is_exact() {
        assert!(is_uuid("00000000-0000-0000-0000-000000000000"));
        assert!(!is_uuid("00000000-0000-0000-0000-00000000000"));
        assert!(!is_uuid("00000000000000000000000000000000"));
        assert!(!is_uuid("0000000g-0000-0000-0000-000000000000"));
        assert!(!is_uuid("{00000000-0000-0000-0000-000000000000}"));
    }
}
