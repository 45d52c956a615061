//! Command-line parsing for `better-tenant`, with commander's wording for usage errors so
//! scripts written against the reference see the same messages.

use std::collections::BTreeMap;

/// A usage error: printed as-is to stderr, exit code 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

/// One option a command accepts.
pub struct Opt {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: Option<&'static str>,
}

pub const fn flag(long: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value: None,
    }
}

pub const fn valued(long: &'static str, value: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value: Some(value),
    }
}

const CONFIG: [Opt; 3] = [
    valued("tables", "<csv>"),
    valued("schema", "<name>"),
    valued("config", "<path>"),
];

fn options(command: &str) -> Option<Vec<Opt>> {
    let mut v = match command {
        "init" => vec![
            valued("database-url", "<url>"),
            valued("tables", "<csv>"),
            valued("orm", "<drizzle|prisma>"),
            flag("overwrite"),
            flag("plain"),
            Opt {
                long: "non-interactive",
                short: Some('n'),
                value: None,
            },
        ],
        "migrate" => {
            let mut v = vec![
                flag("dry-run"),
                flag("force"),
                Opt {
                    long: "output",
                    short: Some('o'),
                    value: Some("<path>"),
                },
                flag("hardened"),
                flag("citus"),
            ];
            v.extend(CONFIG);
            v
        }
        "add-table" => vec![
            flag("dry-run"),
            flag("force"),
            flag("hardened"),
            Opt {
                long: "output",
                short: Some('o'),
                value: Some("<path>"),
            },
            valued("schema", "<name>"),
            valued("config", "<path>"),
        ],
        "check" | "doctor" => {
            let mut v = vec![valued("database-url", "<url>"), flag("json")];
            v.extend(CONFIG);
            v
        }
        "seed" => vec![
            valued("name", "<name>"),
            valued("slug", "<slug>"),
            valued("database-url", "<url>"),
            flag("json"),
        ],
        _ => return None,
    };
    v.push(Opt {
        long: "help",
        short: Some('h'),
        value: None,
    });
    Some(v)
}

/// The commands, in help order, with their one-line descriptions.
pub const COMMANDS: [(&str, &str); 6] = [
    ("init", "Create better.config.ts"),
    ("migrate", "Generate the RLS migration SQL"),
    ("add-table", "Generate RLS SQL for one more table"),
    ("check", "Verify RLS setup against a database"),
    ("doctor", "check, plus live isolation probes (rolled back)"),
    ("seed", "Create a tenant"),
];

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

/// Top-level help text.
/// A command-line program: its commands, their options and arguments.
pub struct Program {
    pub name: &'static str,
    pub about: &'static str,
    pub commands: &'static [(&'static str, &'static str)],
    pub options: fn(&str) -> Option<Vec<Opt>>,
    /// The one required positional argument a command takes, if any.
    pub positional: fn(&str) -> Option<&'static str>,
    /// An option a command requires, as commander prints it (`--name <name>`).
    pub required: fn(&str) -> Option<(&'static str, &'static str)>,
}

pub const TENANT: Program = Program {
    name: "better-tenant",
    about: "PostgreSQL row-level security for multi-tenant apps",
    commands: &COMMANDS,
    options,
    positional: |c| (c == "add-table").then_some("tableName"),
    required: |c| (c == "seed").then_some(("name", "--name <name>")),
};

#[must_use]
pub fn help() -> String {
    program_help(&TENANT)
}

#[must_use]
pub fn program_help(p: &Program) -> String {
    let mut s = format!(
        "Usage: {} [options] [command]\n\n{}\n\nOptions:\n  -V, --version        output the version number\n  -h, --help           display help for command\n\nCommands:\n",
        p.name, p.about
    );
    for (c, d) in p.commands {
        s.push_str(&format!("  {c:<20} {d}\n"));
    }
    s
}

fn command_help(p: &Program, command: &str, opts: &[Opt]) -> String {
    let mut s = format!(
        "Usage: {} {command} [options]{}\n\nOptions:\n",
        p.name,
        (p.positional)(command)
            .map(|a| format!(" <{a}>"))
            .unwrap_or_default()
    );
    for o in opts {
        let short = o.short.map(|c| format!("-{c}, ")).unwrap_or_default();
        let left = format!(
            "{short}--{}{}",
            o.long,
            o.value.map(|v| format!(" {v}")).unwrap_or_default()
        );
        s.push_str(&format!("  {left}\n"));
    }
    s
}

/// Parses `args` (without the program name).
///
/// # Errors
/// A [`UsageError`] with commander's message for unknown commands/options and missing values.
pub fn parse(args: &[String], version: &str) -> Result<Parsed, UsageError> {
    parse_with(&TENANT, args, version)
}

/// # Errors
/// A usage error with commander's wording.
pub fn parse_with(p: &Program, args: &[String], version: &str) -> Result<Parsed, UsageError> {
    let Some(first) = args.first() else {
        return Ok(Parsed::Print(program_help(p)));
    };
    match first.as_str() {
        "-V" | "--version" => return Ok(Parsed::Print(format!("{version}\n"))),
        "-h" | "--help" | "help" => return Ok(Parsed::Print(program_help(p))),
        _ => {}
    }
    let command = first.clone();
    let opts = (p.options)(&command)
        .ok_or_else(|| UsageError(format!("error: unknown command '{command}'")))?;
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
        let opt = found.ok_or_else(|| UsageError(format!("error: unknown option '{arg}'")))?;
        if opt.long == "help" {
            return Ok(Parsed::Print(command_help(p, &command, &opts)));
        }
        let value = match (opt.value, inline) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(UsageError(format!(
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
                        UsageError(format!(
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
    let positional = (p.positional)(&command);
    let max_positionals = usize::from(positional.is_some());
    if inv.positionals.len() > max_positionals {
        return Err(UsageError(format!(
            "error: too many arguments for '{command}'. Expected {max_positionals} argument{} but got {}.",
            if max_positionals == 1 { "" } else { "s" },
            inv.positionals.len()
        )));
    }
    if let (Some(name), true) = (positional, inv.positionals.is_empty()) {
        return Err(UsageError(format!(
            "error: missing required argument '{name}'"
        )));
    }
    if let Some((long, shown)) = (p.required)(&command) {
        if !inv.has(long) {
            return Err(UsageError(format!(
                "error: required option '{shown}' not specified"
            )));
        }
    }
    Ok(Parsed::Run(inv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed, UsageError> {
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
        let err = |args: &[&str]| p(args).unwrap_err().0;
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
        assert!(matches!(p(&[]).unwrap(), Parsed::Print(h) if h.contains("doctor")));
        assert!(
            matches!(p(&["check", "--help"]).unwrap(), Parsed::Print(h) if h.contains("--database-url"))
        );
    }
}
