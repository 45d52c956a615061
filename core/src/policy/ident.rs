//! SQL identifier and literal quoting: the only place where names are turned into SQL text.
//!
//! PostgreSQL silently truncates identifiers longer than 63 bytes, which would make generated
//! SQL refer to a different object than the one named, so such names are rejected here.

use crate::error::{Error, Result};

/// Longest identifier PostgreSQL keeps intact (NAMEDATALEN - 1).
pub const MAX_IDENT_BYTES: usize = 63;

/// A validated identifier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident(String);

impl Ident {
    /// Validates `name` for use as an identifier; `field` names the config key in errors.
    ///
    /// # Errors
    /// `InvalidIdentifier` for empty names, NUL bytes or names over 63 bytes.
    pub fn new(field: &str, name: &str) -> Result<Ident> {
        let bad = |reason: &str| Error::InvalidIdentifier {
            field: field.to_owned(),
            reason: format!("{name:?} {reason}"),
        };
        if name.is_empty() {
            return Err(bad("is empty"));
        }
        if name.contains('\0') {
            return Err(bad("contains a NUL byte"));
        }
        if name.len() > MAX_IDENT_BYTES {
            return Err(bad(&format!(
                "is {} bytes long; PostgreSQL identifiers are at most {MAX_IDENT_BYTES} bytes",
                name.len()
            )));
        }
        Ok(Ident(name.to_owned()))
    }

    /// A name known at compile time to be valid (short, no NUL).
    pub(crate) fn fixed(name: &'static str) -> Ident {
        debug_assert!(!name.is_empty() && name.len() <= MAX_IDENT_BYTES && !name.contains('\0'));
        Ident(name.to_owned())
    }

    /// The raw name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Double-quoted form, with embedded quotes doubled.
    #[must_use]
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0.replace('"', "\"\""))
    }

    /// Form safe inside a `--` comment: control characters (a newline would end the comment
    /// and turn the rest of the name into SQL) are written as escapes.
    #[must_use]
    pub fn for_comment(&self) -> String {
        self.0
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    }
}

/// A schema-qualified relation name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QualifiedName {
    pub schema: Ident,
    pub name: Ident,
}

impl QualifiedName {
    /// `"schema"."name"`.
    #[must_use]
    pub fn quoted(&self) -> String {
        format!("{}.{}", self.schema.quoted(), self.name.quoted())
    }

    /// `schema.name` for comments.
    #[must_use]
    pub fn for_comment(&self) -> String {
        format!("{}.{}", self.schema.for_comment(), self.name.for_comment())
    }
}

/// Single-quoted SQL string literal (standard_conforming_strings on, the default since 9.1).
#[must_use]
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Dollar-quoted body (`$fn$…$fn$`) with a tag that does not occur in `body`, so names
/// embedded in a function body (say a schema called `x$$`) cannot end the quote early.
#[must_use]
pub fn dollar_quoted(body: &str) -> String {
    let mut tag = String::from("$fn$");
    let mut n = 0u32;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$fn{n}$");
    }
    format!("{tag}{body}{tag}")
}

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
    Ident(name)
}

/// An index name derived from the table: `<table>_tenant_id_idx`, shortened with a stable
/// hash suffix when that would exceed 63 bytes.
#[must_use]
pub fn tenant_index_name(table: &Ident) -> Ident {
    const SUFFIX: &str = "_tenant_id_idx";
    let full = format!("{}{SUFFIX}", table.as_str());
    if full.len() <= MAX_IDENT_BYTES {
        return Ident(full);
    }
    let hash = fnv1a(table.as_str().as_bytes());
    let tag = format!("_{hash:08x}{SUFFIX}");
    let mut cut = MAX_IDENT_BYTES - tag.len();
    while !table.as_str().is_char_boundary(cut) {
        cut -= 1;
    }
    Ident(format!("{}{tag}", &table.as_str()[..cut]))
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
    fn quoting() {
        let i = Ident::new("t", "we\"ird").unwrap();
        assert_eq!(i.quoted(), "\"we\"\"ird\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(dollar_quoted(" x "), "$fn$ x $fn$");
        assert_eq!(dollar_quoted("a $fn$ b"), "$fn1$a $fn$ b$fn1$");
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["", "a\0b", &"x".repeat(64)] {
            assert_eq!(
                Ident::new("tenantTables", bad).unwrap_err().code(),
                "INVALID_IDENTIFIER"
            );
        }
        assert!(Ident::new("t", &"é".repeat(31)).is_ok()); // 62 bytes
        assert!(Ident::new("t", &"é".repeat(32)).is_err()); // 64 bytes
    }

    #[test]
    fn comment_form_neutralises_newlines() {
        let i = Ident::new("t", "a\nDROP TABLE x; --").unwrap();
        assert!(!i.for_comment().contains('\n'));
    }

    #[test]
    fn policy_names_match_reference() {
        let p = |s: &str| reference_policy_name(&Ident::new("t", s).unwrap()).0;
        assert_eq!(p("projects"), "rls_tenant_projects");
        assert_eq!(p("my-table"), "rls_tenant_my_table");
        assert_eq!(p("a😀"), "rls_tenant_a__");
        assert_eq!(p(&"x".repeat(63)).len(), 63);
    }

    #[test]
    fn index_names_fit() {
        let short = tenant_index_name(&Ident::new("t", "projects").unwrap());
        assert_eq!(short.0, "projects_tenant_id_idx");
        let a = tenant_index_name(&Ident::new("t", &"é".repeat(31)).unwrap());
        let b = tenant_index_name(&Ident::new("t", &format!("{}x", "é".repeat(30))).unwrap());
        assert!(a.0.len() <= 63 && b.0.len() <= 63);
        assert_ne!(a, b);
    }
}
