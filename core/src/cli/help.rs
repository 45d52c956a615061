//! `--help` text in commander's layout, the library the reference's CLIs are built with: terms
//! padded to one column, descriptions wrapped at 80 columns (commander's width when the output
//! is not a terminal), so scripts and docs that quote the reference's help still match.

use super::args::{Opt, Program};

const WIDTH: usize = 80;
const INDENT: usize = 2;
const GAP: usize = 2;

fn option_term(o: &Opt) -> String {
    let short = o.short.map(|c| format!("-{c}, ")).unwrap_or_default();
    let value = o.value.map(|v| format!(" {v}")).unwrap_or_default();
    format!("{short}--{}{value}", o.long)
}

/// `add-table [options] <tableName>`: commander adds `[options]` when a command has any
/// option besides `--help`.
fn command_term(p: &Program, command: &str) -> String {
    let mut term = command.to_owned();
    if (p.options)(command).is_some_and(|opts| opts.iter().any(|o| o.long != "help")) {
        term.push_str(" [options]");
    }
    if let Some(arg) = (p.positional)(command) {
        term.push_str(&arguments(arg));
    }
    term
}

/// ` <a> [b]`: required names in angle brackets, optional ones as written.
fn arguments(names: &str) -> String {
    names
        .split(' ')
        .map(|n| {
            if n.starts_with('[') {
                format!(" {n}")
            } else {
                format!(" <{n}>")
            }
        })
        .collect()
}

/// Help text for the whole program: options, then the commands and `help [command]`.
#[must_use]
pub fn program_help(p: &Program) -> String {
    let options = vec![
        ("-V, --version".to_owned(), "output the version number"),
        ("-h, --help".to_owned(), "display help for command"),
    ];
    let mut commands: Vec<(String, &str)> = p
        .commands
        .iter()
        .map(|(c, about)| (command_term(p, c), *about))
        .collect();
    commands.push(("help [command]".to_owned(), "display help for command"));
    render(
        &format!("{} [options] [command]", p.name),
        p.about,
        &[("Options:", options), ("Commands:", commands)],
    )
}

/// Help text for one command: its usage, description and options.
#[must_use]
pub fn command_help(p: &Program, command: &str, opts: &[Opt]) -> String {
    let arg = (p.positional)(command).map(arguments).unwrap_or_default();
    let about = p
        .commands
        .iter()
        .find(|(c, _)| *c == command)
        .map_or("", |(_, a)| *a);
    let options = opts.iter().map(|o| (option_term(o), o.about)).collect();
    render(
        &format!("{} {command} [options]{arg}", p.name),
        about,
        &[("Options:", options)],
    )
}

fn render(usage: &str, about: &str, sections: &[(&str, Vec<(String, &str)>)]) -> String {
    let pad = sections
        .iter()
        .flat_map(|(_, items)| items.iter().map(|(t, _)| t.chars().count()))
        .max()
        .unwrap_or(0);
    let mut out = vec![format!("Usage: {usage}"), String::new()];
    if !about.is_empty() {
        out.push(wrap(about, WIDTH, 0));
        out.push(String::new());
    }
    for (title, items) in sections.iter().filter(|(_, items)| !items.is_empty()) {
        out.push((*title).to_owned());
        for (term, about) in items {
            let item = if about.is_empty() {
                term.clone()
            } else {
                let full = format!("{term:<w$}{about}", w = pad + GAP);
                wrap(&full, WIDTH - INDENT, pad + GAP)
            };
            for line in item.split('\n') {
                out.push(format!("{:INDENT$}{line}", ""));
            }
        }
        out.push(String::new());
    }
    out.join("\n")
}

fn is_break(c: char) -> bool {
    c.is_whitespace() || c == '\u{200B}'
}

/// Commander's `Help.wrap`: the first `indent` characters stay, the rest is cut into lines of
/// fewer than `width - indent` characters at whitespace, later lines indented by `indent`.
/// Nothing is wrapped when that column would be narrower than 40.
fn wrap(text: &str, width: usize, indent: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if width < indent + 40 || chars.len() < indent {
        return text.to_owned();
    }
    let column = width - indent;
    let (lead, rest) = chars.split_at(indent);
    let mut lines: Vec<String> = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        if rest[i] == '\n' {
            lines.push(String::new());
            i += 1;
            continue;
        }
        // The longest run (at most column - 1 characters, no line break) that ends the text or
        // is followed by a break, which it takes along; else one over-long word.
        let fits = (1..=(column - 1).min(rest.len() - i)).rev().find_map(|k| {
            if rest[i..i + k].contains(&'\n') {
                None
            } else if i + k == rest.len() {
                Some(k)
            } else {
                is_break(rest[i + k]).then_some(k + 1)
            }
        });
        let take = match fits {
            Some(k) => k,
            None if is_break(rest[i]) => {
                i += 1;
                continue;
            }
            None => {
                let word = rest[i..].iter().take_while(|c| !is_break(**c)).count();
                (word + 1).min(rest.len() - i)
            }
        };
        lines.push(
            rest[i..i + take]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_owned(),
        );
        i += take;
    }
    let mut out: String = lead.iter().collect();
    for (n, line) in lines.iter().enumerate() {
        if n > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&" ".repeat(indent));
            }
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tenant::TENANT;
    use super::*;

    #[test]
    fn wraps_like_commander() {
        let text =
            "Generate RLS policies, triggers, and set_tenant_id function for all tables in config";
        assert_eq!(
            wrap(text, 80, 0),
            "Generate RLS policies, triggers, and set_tenant_id function for all tables in\nconfig"
        );
        let item = format!("{:33}{text}", "migrate [options]");
        assert_eq!(
            wrap(&item, 78, 33),
            format!(
                "{:33}Generate RLS policies, triggers, and\n{:33}set_tenant_id function for all tables in\n{:33}config",
                "migrate [options]", "", ""
            )
        );
        assert_eq!(wrap("short", 78, 60), "short", "too narrow: left alone");
    }

    #[test]
    fn program_and_command_help_match_the_reference_lines() {
        let help = program_help(&TENANT);
        assert!(help.starts_with(
            "Usage: @usebetterdev/tenant-cli [options] [command]\n\nMulti-tenancy for Postgres\n\nOptions:\n  -V, --version                    output the version number\n"
        ));
        assert!(help.contains(
            "\n  add-table [options] <tableName>  Generate RLS policy, trigger, and\n                                   set_tenant_id function for a single table\n"
        ));
        assert!(help.ends_with("\n  help [command]                   display help for command\n"));
        let opts = (TENANT.options)("migrate").unwrap();
        let migrate = command_help(&TENANT, "migrate", &opts);
        assert!(migrate.starts_with("Usage: @usebetterdev/tenant-cli migrate [options]\n\nGenerate RLS policies, triggers, and set_tenant_id function for all tables in\nconfig\n\nOptions:\n  --dry-run  "));
        assert!(migrate.contains("\n  -o, --output <path>  "));
    }
}
