//! Tenant-editable templates (spec §7.3): Jinja syntax stored in `email_templates`, rendered
//! with minijinja. The author is a tenant, so the template is untrusted code running in the
//! application's process; what bounds it:
//!
//! - work: 50,000 instructions of fuel per part (an endless loop ends in
//!   `EMAIL_TEMPLATE_RENDER_FAILED`, not a hung worker);
//! - output: 512 KiB per part, enforced while writing, so a loop cannot fill memory first;
//! - intermediate values: minijinja's fuel also charges for the bytes the string operators
//!   build, which bounds a part to a few megabytes; on top of that, and to keep the escaping
//!   guarantee below, the statements allowed are `if`/`elif`/`else`/`for`/`raw` (no `set`,
//!   `with`, `filter`, `autoescape`) and `~`, `+` and `*` are refused before compiling, so every
//!   value is a prop, a literal of the template or the output of a filter below, none of which
//!   grows its input by more than a constant;
//! - reach: an empty environment (no loader, no globals such as `range` or `namespace`, no
//!   `safe` filter, no `autoescape` switch), HTML auto-escaping for the `html` part, and
//!   undefined variables that fail when printed (a misspelt prop is an error at `save`, not a
//!   blank in a mail) while `{% if coupon %}` over an optional prop stays false.
//!
//! Builds without the `templates` feature (the edge modules) keep the checks of the input and
//! answer `EMAIL_TEMPLATE_ENGINE_UNAVAILABLE` when asked to render.

use serde_json::Value;

use super::EmailError;

/// Instructions a part may run.
pub const FUEL: u64 = 50_000;
/// Bytes a rendered part may have.
pub const MAX_OUTPUT: usize = 512 * 1024;
/// Bytes of a part's source (`subject` less: it is one header line).
pub const MAX_SOURCE: usize = 256 * 1024;
const MAX_SUBJECT_SOURCE: usize = 2 * 1024;

/// A stored template's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source<'a> {
    pub name: &'a str,
    pub subject: &'a str,
    pub html: Option<&'a str>,
    pub text: Option<&'a str>,
}

/// What a render gives: the message's subject and bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
}

fn failed(name: &str, part: &str, reason: impl std::fmt::Display) -> EmailError {
    EmailError::TemplateRenderFailed {
        name: name.to_owned(),
        reason: format!("{part}: {reason}"),
    }
}

/// Statements a database template may use (`raw` bodies are skipped whole).
const STATEMENTS: [&str; 7] = ["if", "elif", "else", "endif", "for", "endfor", "raw"];

/// Where the `{% endraw %}` that closes a raw block starting at `from` ends, as minijinja's
/// lexer finds it: the first `{%`, optional `-`/`+`, spaces, `endraw`, spaces, optional
/// `-`/`+`, `%}`.
fn endraw(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < b.len() {
        if &b[i..i + 2] == b"{%" {
            let mut j = i + 2;
            if j < b.len() && (b[j] == b'-' || b[j] == b'+') {
                j += 1;
            }
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if b[j..].starts_with(b"endraw") {
                j += 6;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < b.len() && (b[j] == b'-' || b[j] == b'+') {
                    j += 1;
                }
                if b[j..].starts_with(b"%}") {
                    return Some(j + 2);
                }
            }
        }
        i += 1;
    }
    None
}

/// The body of the tag opened at `start` (after `{{`/`{%`) and the index after its close, as
/// minijinja reads it: string literals are skipped, and the close counts only outside
/// brackets (`{{ {'a': {}} }}` closes at the last `}}`).
fn tag(b: &[u8], start: usize, close: &[u8]) -> Option<(Vec<u8>, usize)> {
    let (mut j, mut depth, mut quote) = (start, 0usize, None::<u8>);
    let mut body = Vec::new();
    while j < b.len() {
        let c = b[j];
        if let Some(q) = quote {
            j += if c == b'\\' { 2 } else { 1 };
            if c == q {
                quote = None;
            }
            continue;
        }
        if depth == 0 && b[j..].starts_with(close) {
            return Some((body, j + close.len()));
        }
        match c {
            b'"' | b'\'' => quote = Some(c),
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => body.push(c),
        }
        j += 1;
    }
    None
}

/// Refuses what the limits of the module's comment do not cover, in every `{{ }}` and `{% %}`
/// tag: statements other than [`STATEMENTS`] (`set`, `with`, `filter`, `autoescape`, `macro`,
/// `include`, …) and the string-building operators `~`, `+`, `*` outside string literals.
/// Comments and `{% raw %}` bodies are text.
fn screen(name: &str, part: &str, src: &str) -> Result<(), EmailError> {
    let b = src.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        let close: &[u8] = match &b[i..i + 2] {
            b"{{" => b"}}",
            b"{%" => b"%}",
            b"{#" => {
                let end = src[i + 2..]
                    .find("#}")
                    .ok_or_else(|| failed(name, part, "a comment is not closed"))?;
                i += end + 4;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let statement = close == b"%}";
        let (body, end) =
            tag(b, i + 2, close).ok_or_else(|| failed(name, part, "a tag is not closed"))?;
        i = end;
        // Whitespace control marks (`{%-`, `{%+`, `-%}`, `+%}`) are not operators.
        let mut inner: &[u8] = &body;
        if let Some((&f, rest)) = inner.split_first() {
            if f == b'-' || f == b'+' {
                inner = rest;
            }
        }
        if let Some((&l, rest)) = inner.split_last() {
            if l == b'-' || l == b'+' {
                inner = rest;
            }
        }
        let text = String::from_utf8_lossy(inner);
        if statement {
            let word: String = text
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !STATEMENTS.contains(&word.as_str()) {
                return Err(failed(
                    name,
                    part,
                    format!(
                        "`{{% {word} %}}` is not allowed in a database template (allowed: if, elif, else, for, raw)"
                    ),
                ));
            }
            if word == "raw" {
                i = endraw(b, i)
                    .ok_or_else(|| failed(name, part, "a `{% raw %}` block is not closed"))?;
                continue;
            }
        }
        if let Some(op) = text.chars().find(|c| matches!(c, '~' | '+' | '*')) {
            return Err(failed(
                name,
                part,
                format!(
                    "`{op}` is not allowed in a database template (it builds strings); write `{{{{ a }}}}{{{{ b }}}}` to join values"
                ),
            ));
        }
    }
    Ok(())
}

/// Checks the sources' sizes and what they use, without rendering (every build).
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` for a source over its size, `EMAIL_TEMPLATE_RENDER_FAILED` for a
/// statement or operator a database template may not use.
pub fn check(t: &Source<'_>) -> Result<(), EmailError> {
    let parts = [
        ("subject", Some(t.subject), MAX_SUBJECT_SOURCE),
        ("html", t.html, MAX_SOURCE),
        ("text", t.text, MAX_SOURCE),
    ];
    if t.html.is_none() && t.text.is_none() {
        return Err(EmailError::argument("html", "give `html`, `text` or both"));
    }
    for (part, src, max) in parts {
        let Some(src) = src else { continue };
        if src.len() > max {
            return Err(EmailError::argument(
                part,
                format!("at most {max} bytes, got {}", src.len()),
            ));
        }
        screen(t.name, part, src)?;
    }
    Ok(())
}

/// Renders `t` with `props` (a JSON object).
///
/// # Errors
/// `EMAIL_TEMPLATE_RENDER_FAILED` naming the template and part (syntax, an undefined prop,
/// fuel or output exhausted); `EMAIL_TEMPLATE_ENGINE_UNAVAILABLE` without the engine.
pub fn render(t: &Source<'_>, props: &Value) -> Result<Rendered, EmailError> {
    if !cfg!(feature = "templates") {
        return Err(EmailError::TemplateEngineUnavailable);
    }
    check(t)?;
    if !props.is_object() {
        return Err(EmailError::TemplatePropsInvalid {
            name: t.name.to_owned(),
            reason: "props must be an object".into(),
        });
    }
    engine::render(t, props)
}

#[cfg(feature = "templates")]
mod engine {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::io;
    use std::rc::Rc;

    use minijinja::{filters, tests, AutoEscape, Environment, ErrorKind, UndefinedBehavior};
    use serde_json::Value;

    use super::{failed, Rendered, Source, FUEL, MAX_OUTPUT};
    use crate::email::EmailError;

    /// A writer that refuses to grow past [`MAX_OUTPUT`].
    struct Capped {
        out: Vec<u8>,
        over: bool,
    }

    impl io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.out.len() + buf.len() > MAX_OUTPUT {
                self.over = true;
                return Err(io::Error::other("output limit"));
            }
            self.out.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn environment(html: bool) -> Environment<'static> {
        let mut env = Environment::empty();
        env.set_fuel(Some(FUEL));
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_recursion_limit(64);
        let escape = if html {
            AutoEscape::Html
        } else {
            AutoEscape::None
        };
        env.set_auto_escape_callback(move |_| escape.clone());
        // Filters whose output is at most a constant times their input.
        env.add_filter("escape", filters::escape);
        env.add_filter("e", filters::escape);
        env.add_filter("upper", filters::upper);
        env.add_filter("lower", filters::lower);
        env.add_filter("title", filters::title);
        env.add_filter("capitalize", filters::capitalize);
        env.add_filter("trim", filters::trim);
        env.add_filter("default", filters::default);
        env.add_filter("d", filters::default);
        env.add_filter("length", filters::length);
        env.add_filter("first", filters::first);
        env.add_filter("last", filters::last);
        env.add_filter("round", filters::round);
        env.add_filter("abs", filters::abs);
        env.add_filter("int", filters::int);
        env.add_filter("float", filters::float);
        env.add_test("defined", tests::is_defined);
        env.add_test("undefined", tests::is_undefined);
        env.add_test("none", tests::is_none);
        env.add_test("odd", tests::is_odd);
        env.add_test("even", tests::is_even);
        env
    }

    /// The name errors give the part, as for a template compiled from a string.
    const NAME: &str = "<string>";
    /// How many compiled parts each thread keeps, and how many bytes of source (all are dropped
    /// when either is reached); a larger source is compiled at each render.
    const CACHED: usize = 128;
    const CACHED_BYTES: usize = 8 << 20;
    const CACHED_SOURCE: usize = 64 << 10;

    thread_local! {
        /// Compiled parts by source, text then HTML (auto-escaped): a tenant's override renders
        /// for every message it sends, and compiling it costs more than rendering it. The
        /// source is the key, so a new version compiles afresh.
        static COMPILED: RefCell<[HashMap<String, Rc<Environment<'static>>>; 2]> =
            RefCell::new([HashMap::new(), HashMap::new()]);
    }

    /// An environment holding `src` compiled as its one template, [`NAME`].
    fn compiled(html: bool, src: &str) -> Result<Rc<Environment<'static>>, minijinja::Error> {
        let at = usize::from(html);
        if let Some(env) = COMPILED.with(|c| c.borrow()[at].get(src).cloned()) {
            return Ok(env);
        }
        let mut env = environment(html);
        env.add_template_owned(NAME, src.to_owned())?;
        let env = Rc::new(env);
        if src.len() <= CACHED_SOURCE {
            COMPILED.with(|c| {
                let maps = &mut *c.borrow_mut();
                let bytes: usize = maps.iter().flat_map(|m| m.keys()).map(String::len).sum();
                if maps[at].len() >= CACHED || bytes + src.len() > CACHED_BYTES {
                    maps.iter_mut().for_each(HashMap::clear);
                }
                maps[at].insert(src.to_owned(), Rc::clone(&env));
            });
        }
        Ok(env)
    }

    fn part(
        name: &str,
        label: &str,
        src: &str,
        html: bool,
        ctx: &minijinja::Value,
    ) -> Result<String, EmailError> {
        let env = compiled(html, src).map_err(|e| failed(name, label, e))?;
        let tmpl = env.get_template(NAME).map_err(|e| failed(name, label, e))?;
        let mut w = Capped {
            out: Vec::new(),
            over: false,
        };
        match tmpl.render_captured_to(ctx.clone(), &mut w) {
            Ok(_) => {}
            Err(_) if w.over => {
                return Err(failed(
                    name,
                    label,
                    format!("the output is over {MAX_OUTPUT} bytes"),
                ))
            }
            Err(e) if e.kind() == ErrorKind::OutOfFuel => {
                return Err(failed(
                    name,
                    label,
                    format!("stopped after {FUEL} instructions (a loop that does not end?)"),
                ))
            }
            Err(e) => return Err(failed(name, label, e)),
        }
        String::from_utf8(w.out).map_err(|_| failed(name, label, "output is not UTF-8"))
    }

    pub(super) fn render(t: &Source<'_>, props: &Value) -> Result<Rendered, EmailError> {
        let ctx = minijinja::Value::from(minijinja::value::Serde(props));
        // A subject is one header line: line breaks from the template or a prop become spaces.
        let subject = part(t.name, "subject", t.subject, false, &ctx)?
            .replace(['\r', '\n'], " ")
            .trim()
            .to_owned();
        let html = match t.html {
            Some(s) => Some(part(t.name, "html", s, true, &ctx)?),
            None => None,
        };
        let text = match t.text {
            Some(s) => Some(part(t.name, "text", s, false, &ctx)?),
            None => None,
        };
        Ok(Rendered {
            subject,
            html,
            text,
        })
    }
}

#[cfg(not(feature = "templates"))]
mod engine {
    use serde_json::Value;

    use super::{Rendered, Source};
    use crate::email::EmailError;

    pub(super) fn render(_: &Source<'_>, _: &Value) -> Result<Rendered, EmailError> {
        Err(EmailError::TemplateEngineUnavailable)
    }
}

#[cfg(test)]
mod tests;
