//! `better-tenant`'s commands and options, with the reference's descriptions, and parsing
//! its command line.

use crate::cli::args::{
    flag, parse_with, program_help, valued, Opt, Parsed, Program, CONFIG_PATH, DATABASE_URL, HELP,
};
use crate::error::Result;

const DRY_RUN: Opt = flag("dry-run").about("Print SQL to stdout");
const FORCE: Opt = flag("force").about("Overwrite existing file");
const OUTPUT: Opt = valued("output", "<path>")
    .short('o')
    .about("Write to file (.sql) or directory (default: ./rls)");
const HARDENED: Opt = flag("hardened").about("Emit the hardened-mode SQL (signed tenant context)");
const SCHEMA: Opt =
    valued("schema", "<name>").about("Schema of the tenant tables (default: public)");
const CONFIG: [Opt; 3] = [
    valued("tables", "<tables>").about("Comma-separated table names (instead of the config's)"),
    SCHEMA,
    CONFIG_PATH,
];

/// The reference's options first, in its order, with its descriptions; then ours.
fn options(command: &str) -> Option<Vec<Opt>> {
    let mut v = match command {
        "init" => vec![
            valued("database-url", "<url>")
                .about("Accepted for compatibility (init does not connect)"),
            valued("tables", "<tables>")
                .about("Comma-separated table names (skips the tables prompt)"),
            valued("orm", "<orm>").about("ORM choice: drizzle or prisma (skips ORM prompt)"),
            flag("overwrite").about("Overwrite existing config without prompting"),
            flag("non-interactive")
                .short('n')
                .about("Disable all prompts (requires --tables and --orm)"),
            flag("plain").about("Write the reference's plain config (no hardened key)"),
        ],
        "migrate" => {
            let mut v = vec![
                DRY_RUN,
                FORCE,
                OUTPUT,
                HARDENED,
                flag("citus").about("Also distribute the tables with Citus (by tenant_id)"),
            ];
            v.extend(CONFIG);
            v
        }
        "add-table" => vec![DRY_RUN, FORCE, OUTPUT, HARDENED, SCHEMA, CONFIG_PATH],
        "check" | "doctor" => {
            let mut v = vec![DATABASE_URL, flag("json").about("Print the report as JSON")];
            v.extend(CONFIG);
            v
        }
        "seed" => vec![
            valued("name", "<name>").about("Tenant display name"),
            valued("slug", "<slug>").about("URL-safe slug (default: derived from name)"),
            DATABASE_URL,
            flag("json").about("Print the created tenant as JSON"),
        ],
        _ => return None,
    };
    v.push(HELP);
    Some(v)
}

/// The commands, in help order, with their one-line descriptions.
pub const COMMANDS: [(&str, &str); 6] = [
    ("init", "Create config interactively"),
    (
        "migrate",
        "Generate RLS policies, triggers, and set_tenant_id function for all tables in config",
    ),
    (
        "add-table",
        "Generate RLS policy, trigger, and set_tenant_id function for a single table",
    ),
    (
        "check",
        "Verify tenants table, RLS, policies, and triggers in database",
    ),
    (
        "doctor",
        "Run check, then prove isolation with live probes (rolled back)",
    ),
    ("seed", "Insert one tenant (uses bypass_rls; no superuser)"),
];

/// The reference's program name and description (what its `--help` shows).
pub const TENANT: Program = Program {
    name: "@usebetterdev/tenant-cli",
    about: "Multi-tenancy for Postgres",
    commands: &COMMANDS,
    options,
    positional: |c| (c == "add-table").then_some("tableName"),
    required: |c| (c == "seed").then_some(("name", "--name <name>")),
};

#[must_use]
pub fn help() -> String {
    program_help(&TENANT)
}

/// Parses `args` (without the program name).
///
/// # Errors
/// `CLI_USAGE` with commander's message for unknown commands/options and missing values.
pub fn parse(args: &[String], version: &str) -> Result<Parsed> {
    parse_with(&TENANT, args, version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::Invocation;

    fn p(args: &[&str]) -> Result<Parsed> {
        parse(
            &args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            "1.2.3",
        )
    }

    fn run(args: &[&str]) -> Invocation {
        match p(args) {
            Ok(Parsed::Run(i)) => i,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn commands_and_options() {
        let i = run(&["migrate", "--dry-run", "-o", "out.sql", "--tables=a,b"]);
        assert!(i.has("dry-run"));
        assert_eq!(i.value("output"), Some("out.sql"));
        assert_eq!(i.value("tables"), Some("a,b"));
        assert_eq!(run(&["add-table", "invoices"]).positionals, ["invoices"]);
        assert!(run(&["init", "-n", "--tables", "a"]).has("non-interactive"));
    }

    #[test]
    fn commander_messages() {
        let err = |args: &[&str]| {
            let e = p(args).unwrap_err();
            assert_eq!(e.code(), "CLI_USAGE");
            e.to_string()
        };
        assert_eq!(err(&["nope"]), "error: unknown command 'nope'");
        assert_eq!(
            err(&["migrate", "--bogus"]),
            "error: unknown option '--bogus'"
        );
        assert_eq!(
            err(&["seed"]),
            "error: required option '--name <name>' not specified"
        );
        assert_eq!(
            err(&["migrate", "-o"]),
            "error: option '-o, --output <path>' argument missing"
        );
        assert_eq!(
            err(&["add-table"]),
            "error: missing required argument 'tableName'"
        );
        assert!(err(&["check", "extra"]).starts_with("error: too many arguments for 'check'"));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(p(&["-V"]).unwrap(), Parsed::Print("1.2.3\n".into()));
        assert_eq!(p(&["--help"]).unwrap(), Parsed::Print(help()));
        assert_eq!(p(&["help"]).unwrap(), Parsed::Print(help()));
        // Without a command, or for an unknown one, commander prints help as an error.
        assert_eq!(p(&[]).unwrap_err().to_string(), help().trim_end());
        assert_eq!(
            p(&["help", "nope"]).unwrap_err().to_string(),
            help().trim_end()
        );
        assert_eq!(
            p(&["--bogus"]).unwrap_err().to_string(),
            "error: unknown option '--bogus'"
        );
        let Ok(Parsed::Print(check)) = p(&["check", "--help"]) else {
            panic!()
        };
        assert!(
            check.contains("\n  --database-url <url>  Database URL (default: DATABASE_URL env)\n")
        );
        assert_eq!(p(&["help", "check"]).unwrap(), Parsed::Print(check));
    }
}
