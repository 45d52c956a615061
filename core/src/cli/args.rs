//! Command-line parsing for both tools (`better-tenant`, `better-audit`: each a [`Program`],
//! in `cli::tenant` and `cli::audit`), with commander's wording for usage errors so scripts
//! written against the reference see the same messages; the options both tools share.

use std::collections::BTreeMap;

use super::help::command_help;
pub use super::help::program_help;
use crate::error::{CliFailure, Error, Result};

/// A usage error (`CLI_USAGE`): printed as-is to stderr, exit code 1.
fn usage(message: String) -> Error {
    CliFailure::Usage.with(message)
}

/// One option a command accepts.
#[derive(Clone, Copy)]
pub struct Opt {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: Option<&'static str>,
    /// Its line in `--help`.
    pub about: &'static str,
}

pub const fn flag(long: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value: None,
        about: "",
    }
}

pub const fn valued(long: &'static str, value: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value: Some(value),
        about: "",
    }
}

impl Opt {
    /// The option with a one-letter alias (`-o`).
    #[must_use]
    pub const fn short(mut self, c: char) -> Opt {
        self.short = Some(c);
        self
    }

    /// The option with its `--help` description.
    #[must_use]
    pub const fn about(mut self, text: &'static str) -> Opt {
        self.about = text;
        self
    }
}

/// The help option every command has, with commander's wording.
pub const HELP: Opt = flag("help").short('h').about("display help for command");

/// `--database-url`, as both tools describe it.
pub(crate) const DATABASE_URL: Opt =
    valued("database-url", "<url>").about("Database URL (default: DATABASE_URL env)");
/// `worker --prepare`, as both workers describe it.
pub(crate) const PREPARE: Opt = flag("prepare").about(
    "Named prepared statements, planned once per connection (through PgBouncer in transaction mode: 1.21+ with max_prepared_statements)",
);
/// `--config`, as both tools describe it.
pub(crate) const CONFIG_PATH: Opt =
    valued("config", "<path>").about("Config file (default: ./better.config.*)");

/// `migrate --dry-run`, as every tool describes it.
pub(crate) const DRY_RUN: Opt = flag("dry-run").about("Print the SQL instead of applying it");
/// `migrate -o <path>`, as every tool describes it.
pub(crate) const OUTPUT: Opt = valued("output", "<path>")
    .short('o')
    .about("Write the SQL to a file instead of applying it");

/// A parsed invocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    pub command: String,
    pub positionals: Vec<String>,
    /// Long option name → value (`None` for flags).
    pub options: BTreeMap<String, Option<String>>,
}

impl Invocation {
    /// Whether a flag (or option) was given.
    #[must_use]
    pub fn has(&self, long: &str) -> bool {
        self.options.contains_key(long)
    }

    /// The value of an option, if given.
    #[must_use]
    pub fn value(&self, long: &str) -> Option<&str> {
        self.options.get(long).and_then(|v| v.as_deref())
    }
}

/// What the process should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Invocation),
    /// Print this text to stdout and exit 0 (help, version).
    Print(String),
}

/// A command-line program: its commands, their options and arguments.
pub struct Program {
    pub name: &'static str,
    pub about: &'static str,
    pub commands: &'static [(&'static str, &'static str)],
    pub options: fn(&str) -> Option<Vec<Opt>>,
    /// The positional arguments a command takes, if any: names separated by spaces, an
    /// optional one in brackets (`"list|enable [ep_id]"`).
    pub positional: fn(&str) -> Option<&'static str>,
    /// An option a command requires, as commander prints it (`--name <name>`).
    pub required: fn(&str) -> Option<(&'static str, &'static str)>,
}

/// An option's whole-number value within `min..=max`.
///
/// # Errors
/// `CLI_USAGE` naming the option and the range.
pub fn whole_number(option: &str, v: &str, min: u64, max: u64) -> Result<u64> {
    v.parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            CliFailure::Usage.with(format!(
                "invalid --{option} {v:?}: expected a whole number from {min} to {max}"
            ))
        })
}

/// # Errors
/// `CLI_USAGE` with commander's wording.
pub fn parse_with(p: &Program, args: &[String], version: &str) -> Result<Parsed> {
    // As commander: help on stdout when asked for, on stderr with exit 1 when no (known)
    // command was given.
    let unasked_help = || usage(program_help(p).trim_end().to_owned());
    let Some(first) = args.first() else {
        return Err(unasked_help());
    };
    match first.as_str() {
        "-V" | "--version" => return Ok(Parsed::Print(format!("{version}\n"))),
        "-h" | "--help" => return Ok(Parsed::Print(program_help(p))),
        "help" => {
            return match args.get(1) {
                None => Ok(Parsed::Print(program_help(p))),
                Some(c) => match (p.options)(c) {
                    Some(opts) => Ok(Parsed::Print(command_help(p, c, &opts))),
                    None => Err(unasked_help()),
                },
            }
        }
        f if f.starts_with('-') => return Err(usage(format!("error: unknown option '{f}'"))),
        _ => {}
    }
    let command = first.clone();
    let opts = (p.options)(&command)
        .ok_or_else(|| usage(format!("error: unknown command '{command}'")))?;
    let mut inv = Invocation {
        command: command.clone(),
        ..Invocation::default()
    };
    let mut i = 1;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let (found, inline) = if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            (opts.iter().find(|o| o.long == name), inline)
        } else if arg.len() == 2 && arg.starts_with('-') {
            (
                opts.iter()
                    .find(|o| o.short.is_some_and(|c| arg.ends_with(c))),
                None,
            )
        } else {
            inv.positionals.push(arg.clone());
            continue;
        };
        let opt = found.ok_or_else(|| usage(format!("error: unknown option '{arg}'")))?;
        if opt.long == "help" {
            return Ok(Parsed::Print(command_help(p, &command, &opts)));
        }
        let value = match (opt.value, inline) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(usage(format!(
                    "error: option '--{}' does not take a value",
                    opt.long
                )))
            }
            (Some(_), Some(v)) => Some(v),
            (Some(shape), None) => {
                let v = args
                    .get(i)
                    .filter(|v| !v.starts_with('-') || v.len() == 1)
                    .ok_or_else(|| {
                        let short = opt.short.map(|c| format!("-{c}, ")).unwrap_or_default();
                        usage(format!(
                            "error: option '{short}--{} {shape}' argument missing",
                            opt.long
                        ))
                    })?;
                i += 1;
                Some(v.clone())
            }
        };
        inv.options.insert(opt.long.to_owned(), value);
    }
    let names: Vec<&str> = (p.positional)(&command)
        .map(|n| n.split(' ').collect())
        .unwrap_or_default();
    let max_positionals = names.len();
    if inv.positionals.len() > max_positionals {
        return Err(usage(format!(
            "error: too many arguments for '{command}'. Expected {max_positionals} argument{} but got {}.",
            if max_positionals == 1 { "" } else { "s" },
            inv.positionals.len()
        )));
    }
    let required = names.iter().filter(|n| !n.starts_with('[')).count();
    if let Some(name) = names
        .get(inv.positionals.len())
        .filter(|_| inv.positionals.len() < required)
    {
        return Err(usage(format!("error: missing required argument '{name}'")));
    }
    if let Some((long, shown)) = (p.required)(&command) {
        if !inv.has(long) {
            return Err(usage(format!(
                "error: required option '{shown}' not specified"
            )));
        }
    }
    Ok(Parsed::Run(inv))
}
