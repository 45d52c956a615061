//! The pure parts of `better-tenant`: config validation, the tables it detects, the commands it
//! names in its output, and (in the submodules) its commands and options, the files `init`,
//! `migrate` and `add-table` write and `seed`'s input and statement, all matching the
//! reference's wording.

mod commands;
mod files;
mod init;
mod seed;

pub use commands::{help, parse, COMMANDS, TENANT};
pub use files::{
    add_table_file, add_table_file_name, file_exists, join_path, migrate_file_name, output_path,
    overwriting, timestamp, wrote,
};
pub use init::{
    config_exists, env_with_key, init_config_file, init_guide, init_request, key_line, KEY_FILE,
    KEY_VARIABLE,
};
pub use seed::{seed_failure, seed_input, seed_output, seed_sql, slug_from_name};

use serde_json::Value;

use crate::error::{CliFailure, Error, Result};
use crate::policy::MigrationConfig;

/// The config file `init` writes.
pub const CONFIG_FILE: &str = "better.config.ts";
/// First words of the message printed when no config is found.
pub const NO_CONFIG_MESSAGE_PREFIX: &str = "better-tenant: No config found.";
pub use crate::policy::TENANTS;

/// Validates the loaded `better.config.*` value (`null` when none was found) and applies the
/// `--tables`/`--schema` overrides.
///
/// # Errors
/// The reference's `Config error: …` messages (`INVALID_CONFIG`), `--tables` without a table
/// (`CLI_USAGE`), or the no-config message (`CLI_NO_CONFIG`).
pub fn tenant_config(
    loaded: Option<&Value>,
    tables_flag: Option<&str>,
    schema_flag: Option<&str>,
    cwd: &str,
    detected: &[String],
) -> Result<MigrationConfig> {
    let mut config = MigrationConfig {
        schema: schema_flag.map(str::to_owned),
        ..MigrationConfig::default()
    };
    if let Some(csv) = tables_flag {
        config.tenant_tables = super::split_csv(csv);
        if config.tenant_tables.is_empty() {
            return Err(CliFailure::Usage.with("--tables requires at least one table name"));
        }
        return Ok(config);
    }
    let Some(loaded) = loaded else {
        return Err(CliFailure::NoConfig.with(no_config_message(cwd, detected)));
    };
    let tenant = loaded
        .get("tenant")
        .filter(|t| t.is_object())
        .ok_or_else(|| Error::rejected("Config error: \"tenant\" section is required"))?;
    let tables = tenant
        .get("tenantTables")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::rejected("Config error: \"tenant.tenantTables\" must be an array"))?;
    if tables.is_empty() {
        return Err(Error::rejected(
            "Config error: \"tenant.tenantTables\" must not be empty",
        ));
    }
    for t in tables {
        match t.as_str() {
            Some(s) if !s.trim().is_empty() => config.tenant_tables.push(s.trim().to_owned()),
            _ => {
                return Err(Error::rejected(
                    "Config error: \"tenant.tenantTables\" entries must be non-empty strings",
                ))
            }
        }
    }
    if config.schema.is_none() {
        config.schema = tenant
            .get("schema")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    config.hardened = match tenant.get("hardened") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(Error::rejected(
                "Config error: \"tenant.hardened\" must be a boolean",
            ))
        }
    };
    Ok(config)
}

/// `tenant.sharedTables`: tables with a `tenant_id` column that every tenant may read, so
/// `check` does not report them as unprotected.
///
/// # Errors
/// `INVALID_CONFIG` (a `Config error: …` message) when it is not an array of non-empty strings.
pub fn shared_tables(loaded: Option<&Value>) -> Result<Vec<String>> {
    let Some(list) = loaded
        .and_then(|l| l.get("tenant"))
        .and_then(|t| t.get("sharedTables"))
        .filter(|v| !v.is_null())
    else {
        return Ok(Vec::new());
    };
    let error =
        || Error::rejected("Config error: \"tenant.sharedTables\" must be an array of table names");
    list.as_array()
        .ok_or_else(error)?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(error)
        })
        .collect()
}

/// The message for a missing config, laid out as the reference's: what `tenantTables` is, then
/// the two steps with a pasteable snippet (the detected tables if any).
#[must_use]
pub fn no_config_message(cwd: &str, detected: &[String]) -> String {
    let tables = if detected.is_empty() {
        "\"projects\"".to_owned()
    } else {
        detected
            .iter()
            .map(|t| format!("{t:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let snippet: Vec<String> = config_file(&tables)
        .lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("  {l}")
            }
        })
        .collect();
    let mut s = format!(
        "{NO_CONFIG_MESSAGE_PREFIX}\n\n\
         tenantTables lists your existing tables that should be tenant-scoped.\n\
         The CLI will generate RLS policies and triggers for each one.\n\n\
         Step 1 — Create {CONFIG_FILE} in your project root:\n\n  touch {CONFIG_FILE}\n\n\
         Step 2 — Paste this into {CONFIG_FILE}:\n\n{}\n\n",
        snippet.join("\n")
    );
    if !detected.is_empty() {
        s.push_str("(These tables were detected in your database — adjust as needed.)\n\n");
    }
    s.push_str(&format!("(Looked in: {cwd})"));
    s
}

pub(crate) fn config_file(tables: &str) -> String {
    config_file_with(tables, "")
}

pub(crate) fn config_file_with(tables: &str, extra: &str) -> String {
    format!(
        "import {{ defineBetterConfig }} from \"@usebetterdev/plugin/config\";\n\nexport default defineBetterConfig({{\n  tenant: {{\n    tenantTables: [{tables}],\n{extra}  }},\n}});\n"
    )
}

/// Base tables in `public` (one column, `table_name`), for the no-config snippet.
pub const DETECT_TABLES: &str = "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'";

const PRIORITY: [&str; 13] = [
    "users",
    "projects",
    "tasks",
    "organizations",
    "members",
    "workspaces",
    "teams",
    "issues",
    "posts",
    "products",
    "orders",
    "accounts",
    "invitations",
];

/// Orders detected tables as the reference does and drops ones that are never tenant tables.
#[must_use]
pub fn rank_detected_tables(mut tables: Vec<String>) -> Vec<String> {
    let skip = |t: &str| {
        t == TENANTS
            || t == "migrations"
            || t == "schema_migrations"
            || ["__drizzle", "knex_", "_prisma", "typeorm"]
                .iter()
                .any(|p| t.starts_with(p))
    };
    tables.retain(|t| !skip(t));
    tables.sort_by(|a, b| {
        let rank = |t: &str| {
            PRIORITY
                .iter()
                .position(|p| *p == t)
                .unwrap_or(PRIORITY.len())
        };
        rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
    });
    tables
}

/// `migrate` as an invocation would run it, from its `--config`, `--schema` and `--tables`.
#[must_use]
pub fn migrate_command(config: Option<&str>, schema: Option<&str>, tables: Option<&str>) -> String {
    let mut cmd = String::from("better-tenant migrate");
    for (flag, value) in [("config", config), ("schema", schema), ("tables", tables)] {
        if let Some(v) = value {
            cmd.push_str(&format!(" --{flag} {v}"));
        }
    }
    cmd
}

/// `check` and `doctor` need a database.
#[must_use]
pub fn needs_database(command: &str) -> Error {
    CliFailure::NoDatabase.with(format!(
        "{command} requires --database-url or DATABASE_URL environment variable"
    ))
}

/// The next step after a report whose checks passed but whose live probes did not.
#[must_use]
pub fn probes_failed_step(rerun: &str) -> String {
    format!("Next step: fix what the ✗ probes above show, then run `{rerun}` again.\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_errors_match_reference() {
        let e = |v: Value| {
            let e = tenant_config(Some(&v), None, None, "/x", &[]).unwrap_err();
            assert_eq!(e.code(), "INVALID_CONFIG");
            e.to_string()
        };
        assert_eq!(e(json!({})), "Config error: \"tenant\" section is required");
        assert_eq!(
            e(json!({"tenant": {}})),
            "Config error: \"tenant.tenantTables\" must be an array"
        );
        assert_eq!(
            e(json!({"tenant": {"tenantTables": []}})),
            "Config error: \"tenant.tenantTables\" must not be empty"
        );
        assert_eq!(
            e(json!({"tenant": {"tenantTables": [" "]}})),
            "Config error: \"tenant.tenantTables\" entries must be non-empty strings"
        );
        let ok = tenant_config(
            Some(&json!({"tenant": {"tenantTables": ["a"]}})),
            None,
            Some("app"),
            "/x",
            &[],
        )
        .unwrap();
        assert_eq!(
            (ok.tenant_tables, ok.schema.as_deref()),
            (vec!["a".to_owned()], Some("app"))
        );
        let shared = json!({"tenant": {"sharedTables": [1]}});
        assert_eq!(
            shared_tables(Some(&shared)).unwrap_err().code(),
            "INVALID_CONFIG"
        );
    }

    #[test]
    fn flags_override_and_missing_config() {
        let c = tenant_config(None, Some(" a, ,b "), None, "/x", &[]).unwrap();
        assert_eq!(c.tenant_tables, ["a", "b"]);
        let none = tenant_config(None, Some(" , "), None, "/x", &[]).unwrap_err();
        assert_eq!(none.code(), "CLI_USAGE");
        let missing = tenant_config(None, None, None, "/proj", &["tasks".into()]).unwrap_err();
        assert_eq!(missing.code(), "CLI_NO_CONFIG");
        let msg = missing.to_string();
        assert!(msg.starts_with(NO_CONFIG_MESSAGE_PREFIX) && msg.contains("(Looked in: /proj)"));
        assert!(msg.contains(
            "\n      tenantTables: [\"tasks\"],\n    },\n  });\n\n(These tables were detected in your database — adjust as needed.)\n\n(Looked in: /proj)"
        ));
    }

    #[test]
    fn ranking() {
        let t = rank_detected_tables(
            [
                "zeta",
                "tasks",
                "tenants",
                "__drizzle_migrations",
                "users",
                "alpha",
                "_prisma_migrations",
            ]
            .map(str::to_owned)
            .to_vec(),
        );
        assert_eq!(t, ["users", "tasks", "alpha", "zeta"]);
    }

    #[test]
    fn commands_named_in_output() {
        assert_eq!(
            migrate_command(Some("c.ts"), None, Some("a,b")),
            "better-tenant migrate --config c.ts --tables a,b"
        );
        let e = needs_database("doctor");
        assert_eq!(e.code(), "CLI_NO_DATABASE");
        assert_eq!(
            e.to_string(),
            "doctor requires --database-url or DATABASE_URL environment variable"
        );
        assert!(probes_failed_step("better-tenant doctor").contains("`better-tenant doctor`"));
    }
}
