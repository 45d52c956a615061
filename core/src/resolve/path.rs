//! Path-pattern matching for the `path` strategy.
//!
//! Unlike the reference, literal segments of the pattern must match, so `/t/:tenantId/*` does
//! not turn `/api/projects` into the tenant `projects`. Like the reference (and like a path
//! given to `app.use`), a pattern also matches every path below it: `/t/:tenantId` matches
//! `/t/acme/projects`, so a trailing `*` is optional.

/// Extracts the path component of a path or an absolute URL, without query or fragment.
#[must_use]
pub fn path_of(path_or_url: &str) -> &str {
    let rest = match path_or_url.find("://") {
        Some(i) if path_or_url[..i].bytes().all(|c| c.is_ascii_alphabetic()) => {
            let after = &path_or_url[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        _ => path_or_url,
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// Matches `path` against `pattern` and returns the raw (still percent-encoded) segment at the
/// tenant position: `segment_index` if given, else the position of `:tenantId`, else 0.
#[must_use]
pub fn match_pattern<'a>(
    pattern: &str,
    path: &'a str,
    segment_index: Option<usize>,
) -> Option<&'a str> {
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let segs: Vec<&str> = path_of(path).split('/').filter(|s| !s.is_empty()).collect();
    let fixed = match pat.split_last() {
        Some((&"*", head)) => head,
        _ => &pat[..],
    };
    if segs.len() < fixed.len() {
        return None;
    }
    for (p, s) in fixed.iter().zip(&segs) {
        if !p.starts_with(':') && *p != "*" && p != s {
            return None;
        }
    }
    let index = segment_index
        .or_else(|| fixed.iter().position(|p| *p == ":tenantId"))
        .unwrap_or(0);
    segs.get(index).copied()
}

/// Percent-decodes one path segment. `None` for a broken escape or bytes that are not UTF-8,
/// because a tenant id that cannot be read back exactly must not be guessed at.
#[must_use]
pub fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_must_match() {
        assert_eq!(
            match_pattern("/t/:tenantId/*", "/t/acme/projects", None),
            Some("acme")
        );
        assert_eq!(match_pattern("/t/:tenantId/*", "/other/acme", None), None);
        assert_eq!(
            match_pattern("/t/:tenantId/*", "/t/acme", None),
            Some("acme")
        );
        assert_eq!(match_pattern("/t/:tenantId/*", "/t", None), None);
    }

    #[test]
    fn patterns_match_the_paths_below_them() {
        assert_eq!(match_pattern("/:tenantId", "/acme", None), Some("acme"));
        assert_eq!(match_pattern("/:tenantId", "/acme/x", None), Some("acme"));
        assert_eq!(
            match_pattern("/t/:tenantId", "/t/globex/whoami", None),
            Some("globex")
        );
        assert_eq!(
            match_pattern("/t/:tenantId", "/u/globex/whoami", None),
            None
        );
        assert_eq!(match_pattern("/t/:tenantId", "/t", None), None);
        assert_eq!(
            match_pattern("/api/:v/:tenantId", "/api/v1/acme", None),
            Some("acme")
        );
    }

    #[test]
    fn segment_index_overrides_placeholder() {
        assert_eq!(
            match_pattern("/org/:org/*", "/org/acme/x", Some(1)),
            Some("acme")
        );
        assert_eq!(match_pattern("/org/:org/*", "/org/acme", Some(5)), None);
    }

    #[test]
    fn urls_and_queries() {
        assert_eq!(
            path_of("https://h.example.com:8443/t/acme?x=1#f"),
            "/t/acme"
        );
        assert_eq!(path_of("http://h.example.com"), "/");
        assert_eq!(path_of("/t/acme?x=/y"), "/t/acme");
        assert_eq!(
            match_pattern("/t/:tenantId", "/t/acme?q=1", None),
            Some("acme")
        );
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("ac%20me").as_deref(), Some("ac me"));
        assert_eq!(percent_decode("%41cme").as_deref(), Some("Acme"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
