//! `seed`: the tenant's name and slug as the reference derives and checks them, the statement
//! that inserts it (in the system scope), and what its failures mean.

use crate::error::{CliFailure, Error, Result};
use crate::resolve::check_slug;
use crate::sql::quote_ident;

/// The reference's `slugFromName`: lower-case, trim, whitespace runs to `-`, drop the rest.
#[must_use]
pub fn slug_from_name(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut out = String::new();
    let mut in_space = false;
    for c in lower.trim().chars() {
        if c.is_whitespace() {
            in_space = true;
            continue;
        }
        if in_space {
            out.push('-');
            in_space = false;
        }
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
            out.push(c);
        }
    }
    out
}

/// Validates `seed` input: trimmed name, slug from `--slug` or the name.
///
/// # Errors
/// `CLI_USAGE` naming what is wrong with the name or slug.
pub fn seed_input(name: &str, slug: Option<&str>) -> Result<(String, String)> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CliFailure::Usage.with("seed: --name must not be empty"));
    }
    let slug = match slug {
        Some(s) => s.trim().to_owned(),
        None => slug_from_name(name),
    };
    if slug.is_empty() {
        return Err(CliFailure::Usage.with(
            "seed: slug is required (provide --slug or use a name that yields a non-empty slug)",
        ));
    }
    if let Err(e) = check_slug(&slug) {
        return Err(CliFailure::Usage.with(format!("seed: {e}")));
    }
    Ok((name.to_owned(), slug))
}

/// Inserts the tenant (`$1` id as text, `$2` name, `$3` slug) into the tenants table on the
/// search path, as the reference does; returns `id` as text, `name`, `slug`.
#[must_use]
pub fn seed_sql() -> String {
    format!(
        "INSERT INTO {} (id, name, slug) VALUES ($1::text::uuid, $2, $3) RETURNING id::text, name, slug",
        quote_ident(super::TENANTS)
    )
}

/// What a failed insert means, by its SQLSTATE; `detail` is the database's own message.
#[must_use]
pub fn seed_failure(sqlstate: Option<&str>, slug: &str, detail: &str) -> Error {
    match sqlstate {
        Some("23505") => CliFailure::TenantExists
            .with(format!("seed: a tenant with slug {slug:?} already exists")),
        Some("42P01") => CliFailure::TenantsTableMissing.with(format!(
            "seed: table {} not found: create it with your ORM's migration first",
            super::TENANTS
        )),
        _ => CliFailure::Database.with(format!("seed: {detail}")),
    }
}

/// `seed`'s output: the tenant as JSON, or the reference's two lines.
#[must_use]
pub fn seed_output(id: &str, name: &str, slug: &str, json: bool) -> String {
    if json {
        format!(
            "{}\n",
            serde_json::json!({ "id": id, "name": name, "slug": slug })
        )
    } else {
        format!("✓ Created tenant: {name} ({slug})\n{id}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug_from_name("  Ünïcode Name!! "), "ncode-name");
        assert_eq!(slug_from_name("Acme   Corp"), "acme-corp");
        assert_eq!(
            seed_input("  Acme  ", None).unwrap(),
            ("Acme".to_owned(), "acme".to_owned())
        );
        let bad = seed_input("x", Some("GLOBEX inc")).unwrap_err();
        assert_eq!(bad.code(), "CLI_USAGE");
        assert!(bad.to_string().contains("invalid slug"));
        assert!(seed_input("!!!", None)
            .unwrap_err()
            .to_string()
            .contains("slug is required"));
        assert!(seed_sql().starts_with("INSERT INTO \"tenants\" (id, name, slug)"));
        assert_eq!(seed_failure(Some("23505"), "a", "").code(), "TENANT_EXISTS");
        assert_eq!(
            seed_failure(Some("42P01"), "a", "").to_string(),
            "seed: table tenants not found: create it with your ORM's migration first"
        );
        assert_eq!(
            seed_failure(None, "a", "boom (XX000)").to_string(),
            "seed: boom (XX000)"
        );
        assert_eq!(
            seed_output("i", "N", "n", false),
            "✓ Created tenant: N (n)\ni\n"
        );
    }
}
