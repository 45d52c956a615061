//! The files `migrate` and `add-table` write: where (as the reference prints the path), under
//! which name, with which header, and the lines that report it.

use crate::error::{CliFailure, Error};

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

/// `YYYYMMDD_HHMMSS` from local date-time parts.
#[must_use]
pub fn timestamp(parts: [u32; 6]) -> String {
    let [y, mo, d, h, mi, s] = parts;
    format!("{y:04}{mo:02}{d:02}_{h:02}{mi:02}{s:02}")
}

/// File name for `migrate`: `<ts>_better_tenant_rls.sql`.
#[must_use]
pub fn migrate_file_name(ts: &str) -> String {
    format!("{ts}_better_tenant_rls.sql")
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

/// The file `add-table` writes for `table`: the reference's header, then the RLS `block`.
#[must_use]
pub fn add_table_file(table: &str, block: &str) -> String {
    format!(
        "-- Better Tenant: RLS for {}\n-- Assumes {} table and tenant_id column exist (managed by your ORM).\n-- Uses the functions created by `better-tenant migrate`.\n\n{block}",
        table.escape_debug(),
        super::TENANTS
    )
}

/// The output file exists and `--force` was not given (`shown`: the path as given).
#[must_use]
pub fn file_exists(shown: &str) -> Error {
    CliFailure::FileExists.with(format!(
        "File already exists: {shown}\nUse --force to overwrite."
    ))
}

/// The warning when `--force` overwrites a file.
#[must_use]
pub fn overwriting(shown: &str) -> String {
    format!("Warning: overwriting existing file {shown}\n")
}

/// The line that reports a written file.
#[must_use]
pub fn wrote(shown: &str) -> String {
    format!("✓ Wrote {shown}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn file_names() {
        let ts = timestamp([2026, 1, 2, 3, 4, 5]);
        assert_eq!(ts, "20260102_030405");
        assert_eq!(
            add_table_file_name(&ts, "my-table"),
            "20260102_030405_rls_my_table.sql"
        );
        assert_eq!(
            migrate_file_name(&ts),
            "20260102_030405_better_tenant_rls.sql"
        );
        assert!(add_table_file("a\nb", "X")
            .starts_with("-- Better Tenant: RLS for a\\nb\n-- Assumes tenants table"));
        let e = file_exists("./x.sql");
        assert_eq!(e.code(), "CLI_FILE_EXISTS");
        assert_eq!(
            e.to_string(),
            "File already exists: ./x.sql\nUse --force to overwrite."
        );
    }
}
