//! `htmlToText` (spec §7.4): the text part of a templated message whose template gives none,
//! derived from its HTML. Block elements become line breaks (a paragraph or heading a blank
//! line), links `text (url)`, list items `- `, entities are decoded and whitespace collapsed;
//! `<pre>` keeps its own (but for runs of empty lines: at most one in a row anywhere). What a
//! reader never sees (`head`, `script`, `style`, comments) is left out. One pass over the bytes,
//! no parser dependency: mail HTML is often malformed, and a stray `<` or an unclosed tag must
//! still give readable text rather than an error.

mod entities;

use entities::decode;

/// Elements whose contents are not text (skipped to their closing tag).
/// (`head` is not one: parsers end it at `<body>` when `</head>` is missing, and its text-bearing
/// children are these.)
const HIDDEN: &[&str] = &["script", "style", "title", "template", "noscript"];
/// Nesting counted for list indents and links, beyond which deeper ones are flattened (markup
/// that never closes them must not grow the output quadratically).
const DEPTH: usize = 8;
/// Elements that end a line.
const LINE: &[&str] = &[
    "address",
    "article",
    "aside",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "li",
    "main",
    "nav",
    "ol",
    "section",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];
/// Elements set off by a blank line.
const PARAGRAPH: &[&str] = &[
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "p",
    "pre",
];

/// Writes the text, collapsing whitespace and line breaks as it goes.
struct Out {
    text: String,
    /// Whitespace seen since the last character (collapsed to one space).
    space: bool,
    /// Line breaks asked for since the last character (at most 2: one blank line).
    breaks: u8,
    /// Written before the next character: a list item's `- ` with its indent.
    prefix: Option<String>,
}

impl Out {
    fn line(&mut self, n: u8) {
        self.breaks = self.breaks.max(n);
    }

    /// Before a character: the pending breaks, prefix or space.
    fn flush(&mut self) {
        if self.breaks > 0 {
            while self.text.ends_with(' ') {
                self.text.pop();
            }
            if !self.text.is_empty() {
                for _ in
                    self.text.chars().rev().take_while(|&c| c == '\n').count()..self.breaks as usize
                {
                    self.text.push('\n');
                }
            }
            self.breaks = 0;
            self.space = false;
        }
        if let Some(p) = self.prefix.take() {
            self.text.push_str(&p);
            self.space = false;
        }
        if self.space {
            if !self.text.is_empty() && !self.text.ends_with('\n') {
                self.text.push(' ');
            }
            self.space = false;
        }
    }

    /// Text outside `<pre>`: runs of whitespace become one space (a no-break space stays).
    fn words(&mut self, s: &str) {
        let blank = |c: char| c.is_whitespace() && c != '\u{a0}';
        // Non-breaking spaces are rare: looked for once per run of text, not once per word (a
        // search per word was a sixth of an override's preview, template rendering included).
        let nbsp = s.contains('\u{a0}');
        let mut rest = s;
        while !rest.is_empty() {
            let start = rest.find(|c| !blank(c)).unwrap_or(rest.len());
            if start > 0 {
                self.space = true;
                rest = &rest[start..];
            }
            let end = rest.find(blank).unwrap_or(rest.len());
            if end == 0 {
                continue;
            }
            self.flush();
            let word = &rest[..end];
            if nbsp && word.contains('\u{a0}') {
                self.text.push_str(&word.replace('\u{a0}', " "));
            } else {
                self.text.push_str(word);
            }
            rest = &rest[end..];
        }
    }

    /// Text inside `<pre>`: kept as written.
    fn verbatim(&mut self, s: &str) {
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                self.text.push('\n');
            }
            if !line.is_empty() {
                self.flush();
                self.text.push_str(line);
            }
        }
    }
}

/// The text part a template without one gets: its HTML's text, or none when that is empty (an
/// empty alternative is worse than none).
#[must_use]
pub fn text_part(html: Option<&str>) -> Option<String> {
    html.map(html_to_text).filter(|t| !t.is_empty())
}

/// A tag: its lower-cased name, whether it closes, its `href` and where it ends.
struct Tag<'a> {
    name: std::borrow::Cow<'a, str>,
    closing: bool,
    href: Option<String>,
    end: usize,
}

/// The tag starting at `b[at] == b'<'`, or `None` when it is not one (a literal `<`).
fn tag(html: &str, at: usize) -> Option<Tag<'_>> {
    let b = html.as_bytes();
    let mut i = at + 1;
    let closing = b.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
        i += 1;
    }
    if i == start || !b[start].is_ascii_alphabetic() {
        return None;
    }
    let name = &html[start..i];
    let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        name.to_ascii_lowercase().into()
    } else {
        name.into()
    };
    let mut href = None;
    // Attributes up to the `>` outside quotes.
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        match b.get(i) {
            None => {
                return Some(Tag {
                    name,
                    closing,
                    href,
                    end: b.len(),
                })
            }
            Some(b'>') => {
                return Some(Tag {
                    name,
                    closing,
                    href,
                    end: i + 1,
                })
            }
            _ => {}
        }
        let key = i;
        while i < b.len() && !matches!(b[i], b'=' | b'>' | b'/') && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &html[key..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let end = html[i + 1..].find(q as char).map_or(b.len(), |e| i + 1 + e);
                let v = &html[(i + 1).min(end)..end];
                i = (end + 1).min(b.len());
                v
            }
            _ => {
                let s = i;
                while i < b.len() && b[i] != b'>' && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                &html[s..i]
            }
        };
        if key.eq_ignore_ascii_case("href") {
            href = Some(decode(value.trim()).into_owned());
        }
    }
}

/// Where the closing tag of hidden element `name` ends (the input's end when it has none).
fn skip_to_close(html: &str, from: usize, name: &str) -> usize {
    let mut i = from;
    while let Some(p) = html[i..].find("</") {
        let s = i + p + 2;
        let e = s + name.len();
        let ends = html
            .as_bytes()
            .get(e)
            .is_none_or(|&b| b == b'>' || b == b'/' || b.is_ascii_whitespace());
        if e <= html.len()
            && html.is_char_boundary(e)
            && html[s..e].eq_ignore_ascii_case(name)
            && ends
        {
            return html[e..].find('>').map_or(html.len(), |g| e + g + 1);
        }
        i = s;
    }
    html.len()
}

/// A link's URL worth printing after its text: not a fragment or script, not the text itself.
fn shown_url(href: &str, text: &str) -> Option<String> {
    let h = href.trim();
    let lower = h.to_ascii_lowercase();
    if h.is_empty() || h.starts_with('#') || lower.starts_with("javascript:") {
        return None;
    }
    let bare = if lower.starts_with("mailto:") {
        &h[7..]
    } else {
        h
    };
    let t = text.trim();
    (t != h && t != bare).then(|| h.to_owned())
}

/// The text of `html`.
#[must_use]
pub fn html_to_text(html: &str) -> String {
    let mut out = Out {
        text: String::with_capacity(html.len() / 2),
        space: false,
        breaks: 0,
        prefix: None,
    };
    let mut pre = 0usize;
    let mut lists = 0usize;
    // Open links: the text's length at their start and their href.
    let mut links: Vec<(usize, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < html.len() {
        let next = html[i..].find('<').map_or(html.len(), |p| i + p);
        if next > i {
            let text = decode(&html[i..next]);
            if pre > 0 {
                out.verbatim(&text);
            } else {
                out.words(&text);
            }
        }
        if next >= html.len() {
            break;
        }
        let rest = &html[next..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            i = comment.find("-->").map_or(html.len(), |e| next + 4 + e + 3);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            i = rest.find('>').map_or(html.len(), |e| next + e + 1);
            continue;
        }
        let Some(t) = tag(html, next) else {
            out.words("<");
            i = next + 1;
            continue;
        };
        i = t.end;
        let name = t.name.as_ref();
        if HIDDEN.contains(&name) {
            if !t.closing {
                i = skip_to_close(html, i, name);
            }
            continue;
        }
        match (name, t.closing) {
            // Each `<br>` counts, up to the blank line.
            ("br", _) => out.breaks = (out.breaks + 1).min(2),
            ("pre", false) => {
                out.line(2);
                pre += 1;
            }
            ("pre", true) => {
                out.line(2);
                pre = pre.saturating_sub(1);
            }
            ("ul" | "ol", false) => {
                out.line(if lists == 0 { 2 } else { 1 });
                lists += 1;
            }
            ("ul" | "ol", true) => {
                lists = lists.saturating_sub(1);
                out.line(if lists == 0 { 2 } else { 1 });
            }
            ("li", false) => {
                out.line(1);
                let indent = lists.saturating_sub(1).min(DEPTH);
                out.prefix = Some(format!("{}- ", "  ".repeat(indent)));
            }
            ("td" | "th", false) => out.space = true,
            ("a", false) if links.len() < DEPTH => {
                // The link's text starts after what is pending (a list item's `- `).
                out.flush();
                links.push((out.text.len(), t.href));
            }
            ("a", true) => {
                if let Some((start, Some(href))) = links.pop() {
                    let text = out.text.get(start..).unwrap_or_default();
                    let shown = shown_url(&href, text).map(|url| (url, text.trim().is_empty()));
                    match shown {
                        Some((url, true)) => out.words(&url),
                        Some((url, false)) => out.words(&format!(" ({url})")),
                        None => {}
                    }
                }
            }
            (n, _) if PARAGRAPH.contains(&n) => out.line(2),
            (n, _) if LINE.contains(&n) => out.line(1),
            _ => {}
        }
    }
    // Lines without trailing blanks, at most one empty line in a row (a space-only line counts
    // as empty), none at either end.
    let mut text = String::with_capacity(out.text.len());
    let mut gap = false;
    for line in out.text.lines().map(str::trim_end) {
        if line.is_empty() {
            gap = true;
            continue;
        }
        if !text.is_empty() {
            text.push_str(if gap { "\n\n" } else { "\n" });
        }
        text.push_str(line);
        gap = false;
    }
    text
}

#[cfg(test)]
mod tests;
