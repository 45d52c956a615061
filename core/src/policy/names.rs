//! The names the tenant migration derives from a table's: the reference's policy name and the
//! `tenant_id` index name, both cut to what PostgreSQL keeps.

use crate::sql::{Ident, MAX_IDENT_BYTES};

/// The reference's policy name for a table: `rls_tenant_` + the name with every character
/// outside `[A-Za-z0-9_]` replaced by `_` (one per UTF-16 unit, as JavaScript's regex does),
/// cut to 63 bytes the way PostgreSQL would. Keeping the same name means re-running our
/// migration replaces the reference's policy instead of adding a second one.
#[must_use]
pub fn reference_policy_name(table: &Ident) -> Ident {
    let mut name = String::from("rls_tenant_");
    for c in table.as_str().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
        } else {
            name.extend(std::iter::repeat_n('_', c.len_utf16()));
        }
    }
    name.truncate(MAX_IDENT_BYTES);
    Ident::derived(name)
}

/// An index name derived from the table: `<table>_tenant_id_idx`, shortened with a stable
/// hash suffix when that would exceed 63 bytes.
#[must_use]
pub fn tenant_index_name(table: &Ident) -> Ident {
    const SUFFIX: &str = "_tenant_id_idx";
    let full = format!("{}{SUFFIX}", table.as_str());
    if full.len() <= MAX_IDENT_BYTES {
        return Ident::derived(full);
    }
    let hash = fnv1a(table.as_str().as_bytes());
    let tag = format!("_{hash:08x}{SUFFIX}");
    let mut cut = MAX_IDENT_BYTES - tag.len();
    while !table.as_str().is_char_boundary(cut) {
        cut -= 1;
    }
    Ident::derived(format!("{}{tag}", &table.as_str()[..cut]))
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_match_reference() {
        let p = |s: &str| reference_policy_name(&Ident::new("t", s).unwrap());
        assert_eq!(p("projects").as_str(), "rls_tenant_projects");
        assert_eq!(p("my-table").as_str(), "rls_tenant_my_table");
        assert_eq!(p("a😀").as_str(), "rls_tenant_a__");
        assert_eq!(p(&"x".repeat(63)).as_str().len(), 63);
    }

    #[test]
    fn index_names_fit() {
        let short = tenant_index_name(&Ident::new("t", "projects").unwrap());
        assert_eq!(short.as_str(), "projects_tenant_id_idx");
        let a = tenant_index_name(&Ident::new("t", &"é".repeat(31)).unwrap());
        let b = tenant_index_name(&Ident::new("t", &format!("{}x", "é".repeat(30))).unwrap());
        assert!(a.as_str().len() <= 63 && b.as_str().len() <= 63);
        assert_ne!(a, b);
    }
}
