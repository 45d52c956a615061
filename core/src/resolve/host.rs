//! Host parsing for the `subdomain` strategy.
//!
//! Only hosts that plausibly carry a tenant label produce a candidate: IP literals, `localhost`,
//! hosts with fewer than three labels and the `www` label never do, so that arbitrary host
//! names cannot become slug candidates.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Host without port, lower-cased, without a trailing dot. `None` for IP literals.
#[must_use]
pub fn hostname(host: &str) -> Option<String> {
    let host = host.trim();
    if host.starts_with('[') {
        return None; // bracketed IPv6, with or without port
    }
    let name = match host.matches(':').count() {
        0 => host,
        1 => host.split(':').next().unwrap_or(host),
        _ => return None, // bare IPv6
    };
    if name.parse::<Ipv6Addr>().is_ok() || name.parse::<Ipv4Addr>().is_ok() {
        return None;
    }
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

/// Host of an absolute URL (`scheme://[userinfo@]host[:port]/…`); `None` for relative URLs.
#[must_use]
pub fn host_of_url(url: &str) -> Option<&str> {
    let i = url.find("://")?;
    if !url[..i].bytes().all(|c| c.is_ascii_alphabetic()) || i == 0 {
        return None;
    }
    let after = &url[i + 3..];
    let authority = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];
    Some(authority.rsplit('@').next().unwrap_or(authority))
}

/// The tenant label of `host` at `segment_index` (default 0), if the host qualifies.
#[must_use]
pub fn subdomain_label(host: &str, segment_index: Option<usize>) -> Option<String> {
    let name = hostname(host)?;
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 3 || labels.iter().any(|l| l.is_empty()) {
        return None;
    }
    let label = *labels.get(segment_index.unwrap_or(0))?;
    (label != "www").then(|| label.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_first_label() {
        assert_eq!(
            subdomain_label("acme.example.com", None).as_deref(),
            Some("acme")
        );
        assert_eq!(
            subdomain_label("ACME.Example.com:8080", None).as_deref(),
            Some("acme")
        );
        assert_eq!(
            subdomain_label("acme.example.com.", None).as_deref(),
            Some("acme")
        );
        assert_eq!(
            subdomain_label("eu.acme.example.com", Some(1)).as_deref(),
            Some("acme")
        );
    }

    #[test]
    fn ignores_non_tenant_hosts() {
        for host in [
            "www.example.com",
            "example.com",
            "localhost",
            "localhost:3000",
            "acme.localhost",
            "127.0.0.1",
            "192.168.1.10:8080",
            "[::1]:3000",
            "[2001:db8::1]",
            "2001:db8::1",
            "a..b.com",
            "",
        ] {
            assert_eq!(subdomain_label(host, None), None, "{host}");
        }
    }

    #[test]
    fn index_out_of_range() {
        assert_eq!(subdomain_label("acme.example.com", Some(3)), None);
    }

    #[test]
    fn url_hosts() {
        assert_eq!(
            host_of_url("https://acme.example.com:8443/x?y"),
            Some("acme.example.com:8443")
        );
        assert_eq!(
            host_of_url("https://u:p@acme.example.com/"),
            Some("acme.example.com")
        );
        assert_eq!(host_of_url("/relative/path"), None);
    }
}
