//! Statements as data: SQL text with `$1…$n` and the name and PostgreSQL type of each
//! parameter, built once and run by the caller.

/// One parameter of a statement: its name (for the caller) and PostgreSQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Param {
    pub name: &'static str,
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub pg_type: &'static str,
}

/// SQL with `$1…$n` and what each parameter is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Statement {
    pub(crate) fn new(sql: String, params: &[(&'static str, &'static str)]) -> Statement {
        debug_assert!(
            params
                .iter()
                .enumerate()
                .all(|(i, _)| sql.contains(&format!("${}", i + 1))),
            "every parameter is used: {sql}"
        );
        Statement {
            sql,
            params: params
                .iter()
                .map(|(name, pg_type)| Param { name, pg_type })
                .collect(),
        }
    }

    /// The statement as a comment header and its SQL, for snapshots and `--dry-run` output.
    #[must_use]
    pub fn render(&self, name: &str) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| format!("${} {} {}", i + 1, p.name, p.pg_type))
            .collect();
        format!(
            "-- {name}({})\n{};\n",
            params.join(", "),
            self.sql.trim_end()
        )
    }
}

/// `items` as a PostgreSQL array literal (`{"a","b\"c"}`), for a `text[]` parameter the
/// caller passes as text: every element quoted, `"` and `\` escaped.
#[must_use]
pub fn text_array_literal<S: AsRef<str>>(items: &[S]) -> String {
    let len: usize = items.iter().map(|s| s.as_ref().len() + 3).sum();
    let mut out = String::with_capacity(len + 2);
    out.push('{');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in s.as_ref().chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// A separator for many texts passed as one parameter to `string_to_array($n, $sep)`: a
/// character none of them holds. Parsing a `text[]` literal costs the server (and a driver
/// escaping it, node-postgres with two regular expressions per element) far more than splitting
/// one text: ~12 against ~5 ms for a thousand 1 KB webhook bodies. U+0001 unless a text holds
/// it (JSON text never holds a raw control character), else the first control character none
/// holds (found in one more pass; every database encoding has them); `None` when every one
/// occurs, and the caller passes a [`text_array_literal`] instead. Join at least two texts: one
/// empty text would split into no element at all.
pub fn separator_for<'a, I>(texts: I) -> Option<char>
where
    I: IntoIterator<Item = &'a str> + Clone,
{
    if !texts.clone().into_iter().any(|s| s.contains('\u{1}')) {
        return Some('\u{1}');
    }
    let mut taken = [false; 32];
    for b in texts.into_iter().flat_map(str::bytes).filter(|&b| b < 32) {
        taken[usize::from(b)] = true;
    }
    (1u8..32).find(|&b| !taken[usize::from(b)]).map(char::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_separator_is_a_character_none_of_the_texts_holds() {
        assert_eq!(separator_for(["{\"a\":1}", "", "x"]), Some('\u{1}'));
        // A raw body holding U+0001 and U+0002 moves the separator on.
        assert_eq!(
            separator_for(["a\u{1}b", "\u{2}", "\u{e000}"]),
            Some('\u{3}')
        );
        // Multi-byte characters do not hide a control character's byte.
        assert_eq!(separator_for(["\u{1}\u{e001}ž", "\u{101}"]), Some('\u{2}'));
        // Every control character taken: none, and the caller falls back to an array literal
        // (not a private-use character, which a LATIN1 database could not store).
        let controls: String = ('\u{1}'..='\u{1f}').collect();
        assert_eq!(separator_for([controls.as_str(), ""]), None);
    }

    #[test]
    fn an_array_literal_quotes_every_element() {
        assert_eq!(
            text_array_literal(&["a", "", "q\"b\\s", "NULL", "{,}"]),
            r#"{"a","","q\"b\\s","NULL","{,}"}"#
        );
        assert_eq!(text_array_literal::<&str>(&[]), "{}");
    }
}
