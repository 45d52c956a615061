//! SQL text shared by every product: identifier and literal quoting, the only place where
//! names are turned into SQL text.
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
        Ident::derived(name.to_owned())
    }

    /// A name built from valid parts and cut to [`MAX_IDENT_BYTES`] by its maker.
    pub(crate) fn derived(name: String) -> Ident {
        debug_assert!(!name.is_empty() && name.len() <= MAX_IDENT_BYTES && !name.contains('\0'));
        Ident(name)
    }

    /// The raw name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Double-quoted form, with embedded quotes doubled.
    #[must_use]
    pub fn quoted(&self) -> String {
        quote_ident(&self.0)
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

/// `"name"`, embedded quotes doubled: for names the caller has validated or that come from the
/// catalog (a table name read back from PostgreSQL).
#[must_use]
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let i = Ident::new("t", "we\"ird").unwrap();
        assert_eq!(i.quoted(), "\"we\"\"ird\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
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
}
