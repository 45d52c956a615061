//! What `init` writes: the config file (hardened unless `--plain`), the key in `.env`, and
//! the next steps.

use super::{config_file, config_file_with, CONFIG_FILE};
use crate::cli::split_csv;
use crate::error::{CliFailure, Error, Result};

/// `init`'s answers (the flags, or what the bin asked on a terminal): the tables and the ORM.
///
/// # Errors
/// `CLI_USAGE` naming the missing or invalid answer.
pub fn init_request<'a>(
    tables: Option<&str>,
    orm: Option<&'a str>,
) -> Result<(Vec<String>, &'a str)> {
    let usage = |m: &str| CliFailure::Usage.with(m);
    let tables = tables.ok_or_else(|| usage("--tables is required in non-interactive mode"))?;
    let orm = orm.ok_or_else(|| usage("--orm is required in non-interactive mode"))?;
    if orm != "drizzle" && orm != "prisma" {
        return Err(usage("--orm must be 'drizzle' or 'prisma'"));
    }
    let tables = split_csv(tables);
    if tables.is_empty() {
        return Err(usage("--tables requires at least one table name"));
    }
    Ok((tables, orm))
}

/// The config file exists and `--overwrite` was not given.
#[must_use]
pub fn config_exists() -> Error {
    CliFailure::FileExists.with(format!(
        "{CONFIG_FILE} already exists. Pass --overwrite to replace it."
    ))
}

/// The `better.config.ts` that `init` writes; `hardened` makes `migrate` emit the signed mode.
#[must_use]
pub fn init_config_file(tables: &[String], hardened: bool) -> String {
    let tables = tables
        .iter()
        .map(|t| format!("{t:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if hardened {
        config_file_with(
            &tables,
            "    // Signed tenant context: migrate emits the hardened SQL (see .env for the key).\n    hardened: true,\n",
        )
    } else {
        config_file(&tables)
    }
}

/// Where `init` keeps the hardened-mode key, and the variable the CLI and the app read.
pub const KEY_FILE: &str = ".env";
pub const KEY_VARIABLE: &str = "BETTER_TENANT_HARDENED_KEY";

/// `.env` with the key appended; `None` when `existing` already defines it (never replaced:
/// the database holds the old one).
#[must_use]
pub fn env_with_key(existing: &str, key: &str) -> Option<String> {
    let defined = existing.lines().any(|l| {
        l.trim_start()
            .trim_start_matches("export ")
            .split_once('=')
            .is_some_and(|(k, _)| k.trim() == KEY_VARIABLE)
    });
    if defined {
        return None;
    }
    let mut out = existing.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "# Signs the tenant context (better-tenant hardened mode). Keep it secret.\n{KEY_VARIABLE}={key}\n"
    ));
    Some(out)
}

/// The line `init` prints about the key: kept as it was, or newly written.
#[must_use]
pub fn key_line(written: bool) -> String {
    if written {
        format!("✓ Wrote a new {KEY_VARIABLE} to {KEY_FILE} (hardened mode: keep it secret, out of git; pass --plain for the unsigned mode)\n")
    } else {
        format!("✓ Kept the {KEY_VARIABLE} already in {KEY_FILE} (hardened mode)\n")
    }
}

/// The "Next steps" `init` prints.
#[must_use]
pub fn init_guide(orm: &str, hardened: bool) -> String {
    let (schema_step, out) = if orm == "drizzle" {
        (
            "Add a tenant_id uuid column (references tenants.id) to each tenant table in your Drizzle schema",
            ("drizzle/rls.sql", "after your schema migrations"),
        )
    } else {
        (
            "Add tenantId String @db.Uuid @map(\"tenant_id\") to each tenant model in schema.prisma",
            ("prisma/rls.sql", "after prisma migrate"),
        )
    };
    let (file, when) = out;
    if !hardened {
        return format!(
            "  1. {schema_step}\n  2. npx better-tenant migrate -o {file}, then apply it {when}\n  3. npx better-tenant check --database-url $DATABASE_URL\n"
        );
    }
    format!(
        "  1. {schema_step}\n  2. npx better-tenant migrate -o {file}, then apply it {when}, as a role other than the app's (the owner of the tables), and GRANT SELECT, INSERT, UPDATE, DELETE on them to the app's role\n  3. Store the key in the database, once, as that role:\n     psql \"$MIGRATION_DATABASE_URL\" -c \"INSERT INTO better_tenant_private.context_key (key) VALUES (convert_to('${KEY_VARIABLE}', 'UTF8')) ON CONFLICT (singleton) DO UPDATE SET key = EXCLUDED.key\"\n  4. Give the app the same key: betterTenant({{ …, hardened: {{ key: process.env.{KEY_VARIABLE} }} }})\n  5. npx better-tenant check --database-url $DATABASE_URL\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::tenant::tenant_config;
    use serde_json::{json, Value};

    #[test]
    fn hardened_config_and_key_file() {
        let c = |v: Value| tenant_config(Some(&v), None, None, "/x", &[]);
        assert!(
            c(json!({"tenant": {"tenantTables": ["a"], "hardened": true}}))
                .unwrap()
                .hardened
        );
        assert!(
            !c(json!({"tenant": {"tenantTables": ["a"]}}))
                .unwrap()
                .hardened
        );
        assert_eq!(
            c(json!({"tenant": {"tenantTables": ["a"], "hardened": "yes"}}))
                .unwrap_err()
                .to_string(),
            "Config error: \"tenant.hardened\" must be a boolean"
        );
        assert!(init_config_file(&["a".into()], true).contains("hardened: true,"));
        assert!(!init_config_file(&["a".into()], false).contains("hardened"));
        let env = env_with_key("A=1", "k").unwrap();
        assert_eq!(env.lines().last(), Some("BETTER_TENANT_HARDENED_KEY=k"));
        assert!(env.starts_with("A=1\n"));
        assert_eq!(env_with_key(&env, "other"), None);
        assert!(init_guide("prisma", true).contains("context_key"));
        assert!(!init_guide("prisma", false).contains("context_key"));
        assert!(
            key_line(false).starts_with("✓ Kept the BETTER_TENANT_HARDENED_KEY already in .env")
        );
    }

    #[test]
    fn answers_are_checked() {
        assert_eq!(
            init_request(Some("a, b"), Some("prisma")).unwrap(),
            (vec!["a".to_owned(), "b".to_owned()], "prisma")
        );
        for (tables, orm, message) in [
            (
                None,
                Some("prisma"),
                "--tables is required in non-interactive mode",
            ),
            (Some("a"), None, "--orm is required in non-interactive mode"),
            (
                Some("a"),
                Some("knex"),
                "--orm must be 'drizzle' or 'prisma'",
            ),
            (
                Some(" , "),
                Some("drizzle"),
                "--tables requires at least one table name",
            ),
        ] {
            let e = init_request(tables, orm).unwrap_err();
            assert_eq!((e.code(), e.to_string().as_str()), ("CLI_USAGE", message));
        }
        assert_eq!(config_exists().code(), "CLI_FILE_EXISTS");
    }
}
