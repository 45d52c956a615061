//! `U&"…"` identifiers, which PostgreSQL decodes (`\XXXX`, `\+XXXXXX`) and the SQL parser does
//! not know: rewritten as plain quoted names so the statement can be analysed. Positions come
//! from the tokenizer, so text inside literals and comments is never touched.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

/// `sql` with every `U&"…"` name as a plain `"…"` name; `None` when there is none, or one
/// this rewrite does not read (`UESCAPE`, a bad escape): the statement then stays opaque.
pub(super) fn plain_names(sql: &str) -> Option<String> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let lines: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    // Locations count lines and characters from 1.
    let offset = |at: Location| -> Option<usize> {
        let start = *lines.get(usize::try_from(at.line).ok()?.checked_sub(1)?)?;
        let column = usize::try_from(at.column).ok()?.checked_sub(1)?;
        match sql[start..].char_indices().nth(column) {
            Some((i, _)) => Some(start + i),
            None => Some(sql.len()),
        }
    };
    let mut out = String::new();
    let mut copied = 0;
    for (i, w) in tokens.windows(3).enumerate() {
        let [u, amp, name] = w else { continue };
        let (Token::Word(u_word), Token::Ampersand, Token::Word(quoted)) =
            (&u.token, &amp.token, &name.token)
        else {
            continue;
        };
        if u_word.quote_style.is_some()
            || !u_word.value.eq_ignore_ascii_case("u")
            || quoted.quote_style != Some('"')
        {
            continue;
        }
        let start = offset(u.span.start)?;
        // `U&"` must be written together to be one name.
        if offset(amp.span.start)? != start + 1 || offset(name.span.start)? != start + 2 {
            continue;
        }
        let mut rest = tokens[i + 3..].iter();
        let next = rest.find(|t| !matches!(t.token, Token::Whitespace(_)));
        if matches!(next, Some(TokenWithSpan { token: Token::Word(k), .. }) if k.value.eq_ignore_ascii_case("uescape"))
        {
            return None;
        }
        let end = match tokens.get(i + 3) {
            Some(t) => offset(t.span.start)?,
            None => sql.len(),
        };
        out.push_str(&sql[copied..start]);
        out.push('"');
        out.push_str(&decode(&quoted.value)?.replace('"', "\"\""));
        out.push('"');
        copied = end;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&sql[copied..]);
    Some(out)
}

/// `\XXXX`, `\+XXXXXX` and `\\` as PostgreSQL reads them; anything else after `\` is an error.
fn decode(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('\\') {
            out.push('\\');
            rest = r;
            continue;
        }
        let (digits, r) = match rest.strip_prefix('+') {
            Some(r) => (r.get(..6)?, &r[6..]),
            None => (rest.get(..4)?, &rest[4..]),
        };
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        out.push(char::from_u32(u32::from_str_radix(digits, 16).ok()?)?);
        rest = r;
    }
    out.push_str(rest);
    Some(out)
}
