//! The network policy: `network.allowNetworks` / `network.denyNetworks` CIDR lists over the
//! default deny list ([`classify_address`]), the connect-time verdict for resolved addresses,
//! and the create-time checks of an endpoint URL's parts (the JS runtime's WHATWG parser has
//! already normalised them, including every literal-IP spelling such as `0x7f.1`).
//!
//! Between the lists the longest matching prefix wins, a tie goes to `denyNetworks`
//! (fail-closed); an address neither list matches gets the default verdict. So
//! `allowNetworks: ["127.0.0.1/32"]` lets tests reach one loopback address and nothing else.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use super::address::{classify_address, embedded_v4, mask_v4, mask_v6};
use super::error::{Result, WebhooksError};

/// A parsed `address/prefix` (a bare address is a single host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `text`; host bits must be zero, so `10.0.0.1/8` (likely a typo) is refused.
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_CONFIG` naming `field`.
    pub fn parse(field: &str, text: &str) -> Result<Cidr> {
        let bad = |why: String| {
            WebhooksError::config(
                field,
                format!("a CIDR like \"10.0.0.0/8\" or \"fd00::/8\"; {why}"),
            )
        };
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| bad(format!("{addr:?} is not an IP address")))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| bad(format!("prefix {p:?} is not 0 to {max}")))?,
        };
        let host_bits = match network {
            IpAddr::V4(a) => u32::from(a) & !mask_v4(prefix) != 0,
            IpAddr::V6(a) => u128::from(a) & !mask_v6(prefix) != 0,
        };
        if host_bits {
            let fixed = Cidr::masked(network, prefix);
            return Err(bad(format!(
                "{text:?} has host bits set (did you mean \"{fixed}\"?)"
            )));
        }
        Ok(Cidr { network, prefix })
    }

    fn masked(ip: IpAddr, prefix: u8) -> Cidr {
        let network = match ip {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask_v4(prefix)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask_v6(prefix)).into()),
        };
        Cidr { network, prefix }
    }

    #[must_use]
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is inside; an IPv4 range also covers the IPv4-mapped/-compatible form.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => u32::from(a) & mask_v4(self.prefix) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => u128::from(a) & mask_v6(self.prefix) == u128::from(n),
            (IpAddr::V4(_), IpAddr::V6(a)) => {
                embedded_v4(a).is_some_and(|v4| self.contains(IpAddr::V4(v4)))
            }
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Which rule decided a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub enum Rule {
    /// The default deny list (or, when nothing in it matched, the public Internet).
    Default,
    AllowNetworks,
    DenyNetworks,
    /// The text was not an IP address (refused: fail-closed).
    Unparsable,
}

/// The verdict on one address. For operators only: tenants see just `destination_blocked`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Verdict {
    pub allowed: bool,
    pub rule: Rule,
    /// The range that decided, if any.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub range: Option<String>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub reason: Option<&'static str>,
}

/// `network.allowNetworks` and `network.denyNetworks`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    allow: Vec<Cidr>,
    deny: Vec<Cidr>,
}

impl NetworkPolicy {
    /// # Errors
    /// `WEBHOOKS_INVALID_CONFIG` naming `network.allowNetworks[i]` or `network.denyNetworks[i]`.
    pub fn new(allow: &[String], deny: &[String]) -> Result<NetworkPolicy> {
        let parse = |key: &str, list: &[String]| -> Result<Vec<Cidr>> {
            list.iter()
                .enumerate()
                .map(|(i, t)| Cidr::parse(&format!("network.{key}[{i}]"), t))
                .collect()
        };
        Ok(NetworkPolicy {
            allow: parse("allowNetworks", allow)?,
            deny: parse("denyNetworks", deny)?,
        })
    }

    /// The verdict on `ip`.
    #[must_use]
    pub fn check(&self, ip: IpAddr) -> Verdict {
        let best = |list: &[Cidr]| {
            list.iter()
                .filter(|c| c.contains(ip))
                .max_by_key(|c| c.prefix)
                .copied()
        };
        let user = match (best(&self.allow), best(&self.deny)) {
            (Some(a), Some(d)) if a.prefix > d.prefix => Some((true, a)),
            (_, Some(d)) => Some((false, d)),
            (Some(a), None) => Some((true, a)),
            (None, None) => None,
        };
        if let Some((allowed, c)) = user {
            return Verdict {
                allowed,
                rule: if allowed {
                    Rule::AllowNetworks
                } else {
                    Rule::DenyNetworks
                },
                range: Some(c.to_string()),
                reason: None,
            };
        }
        match classify_address(ip) {
            None => Verdict {
                allowed: true,
                rule: Rule::Default,
                range: None,
                reason: None,
            },
            Some(d) => Verdict {
                allowed: false,
                rule: Rule::Default,
                range: Some(d.range),
                reason: Some(d.reason),
            },
        }
    }

    /// Verdicts for the addresses a lookup returned, in order; text that is not an address is
    /// refused.
    #[must_use]
    pub fn check_all(&self, addresses: &[String]) -> Vec<Verdict> {
        addresses
            .iter()
            .map(|a| match a.parse::<IpAddr>() {
                Ok(ip) => self.check(ip),
                Err(_) => Verdict {
                    allowed: false,
                    rule: Rule::Unparsable,
                    range: None,
                    reason: Some("not an IP address"),
                },
            })
            .collect()
    }
}

/// Host names refused before any lookup: they name the machine itself or a metadata service.
fn forbidden_name(host: &str) -> bool {
    let h = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost") || h == "metadata.google.internal"
}

/// The parts of a WHATWG `URL` the checks need (`protocol` with its colon, `hostname` with
/// brackets around IPv6, `port` empty for the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub protocol: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub hostname: &'a str,
    pub port: &'a str,
}

/// Create/update-time checks of an endpoint URL: `https:` (or `http:` with `allow_http`), no
/// userinfo, a host, port 1–65535, no forbidden name, and a literal IP the policy allows.
///
/// # Errors
/// `WEBHOOKS_URL_INVALID` or `WEBHOOKS_URL_FORBIDDEN` naming `field`.
pub fn check_endpoint_url(
    field: &str,
    url: &UrlParts<'_>,
    allow_http: bool,
    policy: &NetworkPolicy,
) -> Result<()> {
    let invalid = |reason: &str| WebhooksError::UrlInvalid {
        field: field.to_owned(),
        reason: reason.to_owned(),
    };
    let forbidden = |reason: String| WebhooksError::UrlForbidden {
        field: field.to_owned(),
        reason,
    };
    match url.protocol {
        "https:" => {}
        "http:" if allow_http => {}
        "http:" => {
            return Err(invalid(
                "`http:` URLs need `network.allowHttp: true`; use https",
            ))
        }
        _ => return Err(invalid("the scheme must be https")),
    }
    if !url.username.is_empty() || !url.password.is_empty() {
        return Err(invalid(
            "credentials in the URL are not allowed; use endpoint `headers`",
        ));
    }
    if url.hostname.is_empty() {
        return Err(invalid("the URL has no host"));
    }
    if !url.port.is_empty() && !url.port.parse::<u16>().is_ok_and(|p| p >= 1) {
        return Err(invalid("the port must be 1 to 65535"));
    }
    if forbidden_name(url.hostname) {
        return Err(forbidden(format!(
            "{:?} names this machine or a metadata service",
            url.hostname
        )));
    }
    let literal = url
        .hostname
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .map_or_else(
            || url.hostname.parse::<Ipv4Addr>().map(IpAddr::V4).ok(),
            |h| h.parse().ok(),
        );
    if let Some(ip) = literal {
        let v = policy.check(ip);
        if !v.allowed {
            let why = v.reason.unwrap_or("listed in `network.denyNetworks`");
            return Err(forbidden(format!(
                "{ip} is in {} ({why})",
                v.range.unwrap_or_default()
            )));
        }
    }
    Ok(())
}
