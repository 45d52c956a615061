//! Character references in mail HTML: the named entities it uses, numeric references (128–159
//! read as Windows-1252, as browsers do).

/// The named entities mail HTML uses; others stay as written.
fn named(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "deg" => '°',
        "times" => '×',
        "zwnj" | "zwj" | "shy" => '\u{200b}',
        _ => return None,
    })
}

/// Numeric references 128–159 as browsers read them: the Windows-1252 characters (Word's quotes
/// and dashes), not C1 controls.
fn windows_1252(n: u32) -> u32 {
    const C1: [u32; 32] = [
        0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039,
        0x152, 0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
        0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
    ];
    match n {
        0x80..=0x9f => C1[(n - 0x80) as usize],
        _ => n,
    }
}

/// `s` with its character references decoded (a zero-width result is dropped).
pub(super) fn decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.bytes().take(12).position(|b| b == b';');
        let c = end.and_then(|e| {
            let body = &rest[1..e];
            match body.strip_prefix('#') {
                Some(n) => match n.strip_prefix(['x', 'X']) {
                    Some(h) if h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        u32::from_str_radix(h, 16).ok()
                    }
                    None if n.bytes().all(|b| b.is_ascii_digit()) => n.parse().ok(),
                    _ => None,
                }
                .map(windows_1252)
                .and_then(char::from_u32)
                .filter(|&c| c != '\0'),
                None => named(body),
            }
        });
        match (c, end) {
            (Some(c), Some(e)) => {
                if c != '\u{200b}' {
                    out.push(c);
                }
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out.into()
}
