//! The pure parts of `better-tenant`: argument parsing, config validation, slugs, the files
//! `init` and `migrate` write, and the messages, all matching the reference's wording.
//! The binding does the I/O (files, PostgreSQL) around these.

pub mod args;
pub mod audit;
mod audit_config;
mod help;
mod init;

pub use init::{env_with_key, init_config_file, init_guide, KEY_FILE, KEY_VARIABLE};

use serde_json::Value;

use crate::policy::MigrationConfig;
use crate::resolve::is_slug;

/// The config file `init` writes.
pub const CONFIG_FILE: &str = "better.config.ts";
/// First words of the message printed when no config is found.
pub const NO_CONFIG_MESSAGE_PREFIX: &str = "better-tenant: No config found.";

/// Validates the loaded `better.config.*` value (`null` when none was found) and applies the
/// `--tables`/`--schema` overrides. `Err` is the message to print.
///
/// # Errors
/// The reference's `Config error: …` messages, or the no-config message.
pub fn tenant_config(
    loaded: Option<&Value>,
    tables_flag: Option<&str>,
    schema_flag: Option<&str>,
    cwd: &str,
    detected: &[String],
) -> Result<MigrationConfig, String> {
    let mut config = MigrationConfig {
        schema: schema_flag.map(str::to_owned),
        ..MigrationConfig::default()
    };
    if let Some(csv) = tables_flag {
        config.tenant_tables = split_csv(csv);
        if config.tenant_tables.is_empty() {
            return Err("--tables requires at least one table name".into());
        }
        return Ok(config);
    }
    let Some(loaded) = loaded else {
        return Err(no_config_message(cwd, detected));
    };
    let tenant = loaded
        .get("tenant")
        .filter(|t| t.is_object())
        .ok_or("Config error: \"tenant\" section is required")?;
    let tables = tenant
        .get("tenantTables")
        .and_then(Value::as_array)
        .ok_or("Config error: \"tenant.tenantTables\" must be an array")?;
    if tables.is_empty() {
        return Err("Config error: \"tenant.tenantTables\" must not be empty".into());
    }
    for t in tables {
        match t.as_str() {
            Some(s) if !s.trim().is_empty() => config.tenant_tables.push(s.trim().to_owned()),
            _ => {
                return Err(
                    "Config error: \"tenant.tenantTables\" entries must be non-empty strings"
                        .into(),
                )
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
        Some(_) => return Err("Config error: \"tenant.hardened\" must be a boolean".into()),
    };
    Ok(config)
}

/// `tenant.sharedTables`: tables with a `tenant_id` column that every tenant may read, so
/// `check` does not report them as unprotected.
///
/// # Errors
/// A `Config error: …` message when it is not an array of non-empty strings.
pub fn shared_tables(loaded: Option<&Value>) -> Result<Vec<String>, String> {
    let Some(list) = loaded
        .and_then(|l| l.get("tenant"))
        .and_then(|t| t.get("sharedTables"))
        .filter(|v| !v.is_null())
    else {
        return Ok(Vec::new());
    };
    let error =
        || "Config error: \"tenant.sharedTables\" must be an array of table names".to_owned();
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

/// `a, b,,c` → `["a", "b", "c"]`.
#[must_use]
pub fn split_csv(csv: &str) -> Vec<String> {
    csv.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
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

/// Where `migrate`/`add-table` write, as the reference prints it: `-o x.sql` as given, else
/// `path.join(-o or <cwd>/rls, default_name)`.
#[must_use]
pub fn output_path(output: Option<&str>, cwd: &str, default_name: &str) -> String {
    match output {
        Some(o) if o.ends_with(".sql") => o.to_owned(),
        Some(dir) => join_path(dir, default_name),
        None => join_path(&join_path(cwd, "rls"), default_name),
    }
}

/// Node's `path.posix.join`: the parts joined with `/`, then `.`, `..` and `//` resolved.
#[must_use]
pub fn join_path(a: &str, b: &str) -> String {
    let joined = format!("{a}/{b}");
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in joined.split('/') {
        match seg {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (absolute, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_owned(),
        (false, false) => body,
    }
}

pub(crate) fn config_file(tables: &str) -> String {
    config_file_with(tables, "")
}

pub(crate) fn config_file_with(tables: &str, extra: &str) -> String {
    format!(
        "import {{ defineBetterConfig }} from \"@usebetterdev/plugin/config\";\n\nexport default defineBetterConfig({{\n  tenant: {{\n    tenantTables: [{tables}],\n{extra}  }},\n}});\n"
    )
}

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
        t == "tenants"
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
/// The message to print.
pub fn seed_input(name: &str, slug: Option<&str>) -> Result<(String, String), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("seed: --name must not be empty".into());
    }
    let slug = match slug {
        Some(s) => s.trim().to_owned(),
        None => slug_from_name(name),
    };
    if slug.is_empty() {
        return Err(
            "seed: slug is required (provide --slug or use a name that yields a non-empty slug)"
                .into(),
        );
    }
    if !is_slug(&slug) {
        return Err(format!(
            "seed: invalid slug {slug:?}: use lower-case letters, digits and dashes (1-63 characters, no leading or trailing dash)"
        ));
    }
    Ok((name.to_owned(), slug))
}

/// `YYYYMMDD_HHMMSS` from local date-time parts.
#[must_use]
pub fn timestamp(parts: [u32; 6]) -> String {
    let [y, mo, d, h, mi, s] = parts;
    format!("{y:04}{mo:02}{d:02}_{h:02}{mi:02}{s:02}")
}

/// File name for `add-table`: `<ts>_rls_<name with [^A-Za-z0-9_] → _>.sql`.
#[must_use]
pub fn add_table_file_name(ts: &str, table: &str) -> String {
    let safe: String = table
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{ts}_rls_{safe}.sql")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_errors_match_reference() {
        let e = |v: Value| tenant_config(Some(&v), None, None, "/x", &[]).unwrap_err();
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
    }

    #[test]
    fn flags_override_and_missing_config() {
        let c = tenant_config(None, Some(" a, ,b "), None, "/x", &[]).unwrap();
        assert_eq!(c.tenant_tables, ["a", "b"]);
        let msg = tenant_config(None, None, None, "/proj", &["tasks".into()]).unwrap_err();
        assert!(msg.starts_with(NO_CONFIG_MESSAGE_PREFIX) && msg.contains("(Looked in: /proj)"));
        assert!(msg.contains(
            "\n      tenantTables: [\"tasks\"],\n    },\n  });\n\n(These tables were detected in your database — adjust as needed.)\n\n(Looked in: /proj)"
        ));
    }

    #[test]
    fn output_paths_as_given() {
        let name = "x.sql";
        assert_eq!(
            output_path(Some("./db/rls.sql"), "/p", name),
            "./db/rls.sql"
        );
        assert_eq!(output_path(Some("./out"), "/p", name), "out/x.sql");
        assert_eq!(output_path(Some("out/"), "/p", name), "out/x.sql");
        assert_eq!(output_path(Some("../a/./b"), "/p", name), "../a/b/x.sql");
        assert_eq!(output_path(Some("/abs//d/.."), "/p", name), "/abs/x.sql");
        assert_eq!(output_path(None, "/p/./q", name), "/p/q/rls/x.sql");
        assert_eq!(join_path(".", ".."), "..");
        assert_eq!(join_path("/", ".."), "/");
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
    fn slugs() {
        assert_eq!(slug_from_name("  Ünïcode Name!! "), "ncode-name");
        assert_eq!(slug_from_name("Acme   Corp"), "acme-corp");
        assert_eq!(
            seed_input("  Acme  ", None).unwrap(),
            ("Acme".to_owned(), "acme".to_owned())
        );
        assert!(seed_input("x", Some("GLOBEX inc"))
            .unwrap_err()
            .contains("invalid slug"));
        assert!(seed_input("!!!", None)
            .unwrap_err()
            .contains("slug is required"));
    }

    #[test]
    fn file_names() {
        let ts = timestamp([2026, 1, 2, 3, 4, 5]);
        assert_eq!(ts, "20260102_030405");
        assert_eq!(
            add_table_file_name(&ts, "my-table"),
            "20260102_030405_rls_my_table.sql"
        );
    }
}
