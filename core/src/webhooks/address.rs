//! `classifyAddress`: whether a resolved address may be dialled, by the default SSRF deny list —
//! the union of Svix's `is_allowed` and stripe/smokescreen's classifier. Hand-written tables over
//! `std::net` types (no dependency). IPv4-mapped (`::ffff:0:0/96`) and IPv4-compatible (`::/96`)
//! addresses are judged as the IPv4 address they carry, so `[::ffff:7f00:1]` is loopback;
//! NAT64, 6to4 and Teredo prefixes, which can also reach IPv4 hosts, are denied whole.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One denied range: network, prefix length, and why it is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeniedRange<A> {
    pub network: A,
    pub prefix: u8,
    pub reason: &'static str,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8, reason: &'static str) -> DeniedRange<u32> {
    DeniedRange {
        network: u32::from_be_bytes([a, b, c, d]),
        prefix,
        reason,
    }
}

const fn v6(segments: [u16; 8], prefix: u8, reason: &'static str) -> DeniedRange<u128> {
    let mut n: u128 = 0;
    let mut i = 0;
    while i < 8 {
        n = (n << 16) | segments[i] as u128;
        i += 1;
    }
    DeniedRange {
        network: n,
        prefix,
        reason,
    }
}

/// IPv4 ranges denied by default.
pub const DENIED_V4: [DeniedRange<u32>; 15] = [
    v4(0, 0, 0, 0, 8, "\"this network\""),
    v4(10, 0, 0, 0, 8, "private network"),
    v4(100, 64, 0, 0, 10, "carrier-grade NAT"),
    v4(127, 0, 0, 0, 8, "loopback"),
    v4(169, 254, 0, 0, 16, "link-local (cloud metadata)"),
    v4(172, 16, 0, 0, 12, "private network"),
    v4(192, 0, 0, 0, 24, "IETF protocol assignments"),
    v4(192, 0, 2, 0, 24, "documentation"),
    v4(192, 88, 99, 0, 24, "6to4 relay anycast"),
    v4(192, 168, 0, 0, 16, "private network"),
    v4(198, 18, 0, 0, 15, "benchmarking"),
    v4(198, 51, 100, 0, 24, "documentation"),
    v4(203, 0, 113, 0, 24, "documentation"),
    v4(224, 0, 0, 0, 4, "multicast"),
    v4(240, 0, 0, 0, 4, "reserved (and broadcast)"),
];

/// IPv6 ranges denied by default (besides the IPv4-carrying ones judged by their IPv4 part).
pub const DENIED_V6: [DeniedRange<u128>; 13] = [
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "NAT64"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "NAT64 (local use)"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
    v6(
        [0x5f00, 0, 0, 0, 0, 0, 0, 0],
        16,
        "SRv6 segment identifiers",
    ),
    v6(
        [0xfc00, 0, 0, 0, 0, 0, 0, 0],
        7,
        "unique local (incl. cloud metadata)",
    ),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
];

pub(crate) fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

pub(crate) fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// Why an address is denied by default.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Denial {
    /// The matching range, `10.0.0.0/8` or `fc00::/7`.
    pub range: String,
    pub reason: &'static str,
    /// Judged by the IPv4 address inside an IPv4-mapped or -compatible IPv6 address.
    pub embedded: bool,
}

fn v4_range(r: &DeniedRange<u32>) -> String {
    format!("{}/{}", Ipv4Addr::from(r.network), r.prefix)
}

fn v6_range(r: &DeniedRange<u128>) -> String {
    format!("{}/{}", Ipv6Addr::from(r.network), r.prefix)
}

fn classify_v4(ip: Ipv4Addr) -> Option<Denial> {
    let n = u32::from(ip);
    DENIED_V4
        .iter()
        .find(|r| n & mask_v4(r.prefix) == r.network)
        .map(|r| Denial {
            range: v4_range(r),
            reason: r.reason,
            embedded: false,
        })
}

/// The IPv4 address inside `::ffff:a.b.c.d` or `::a.b.c.d` (not `::` and `::1` themselves).
#[must_use]
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let n = u128::from(ip);
    let v4 = Ipv4Addr::from(u32::try_from(n & 0xffff_ffff).ok()?);
    match n >> 32 {
        0xffff => Some(v4),
        0 if n > 1 => Some(v4),
        _ => None,
    }
}

/// `None` when `ip` may be dialled under the default policy, else the range that denies it.
#[must_use]
pub fn classify_address(ip: IpAddr) -> Option<Denial> {
    match ip {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => {
            if let Some(inner) = embedded_v4(a) {
                return classify_v4(inner).map(|d| Denial {
                    embedded: true,
                    ..d
                });
            }
            let n = u128::from(a);
            DENIED_V6
                .iter()
                .find(|r| n & mask_v6(r.prefix) == r.network)
                .map(|r| Denial {
                    range: v6_range(r),
                    reason: r.reason,
                    embedded: false,
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_hold_networks_not_hosts() {
        for r in &DENIED_V4 {
            assert_eq!(r.network & !mask_v4(r.prefix), 0, "{}", v4_range(r));
        }
        for r in &DENIED_V6 {
            assert_eq!(r.network & !mask_v6(r.prefix), 0, "{}", v6_range(r));
        }
        assert_eq!(mask_v4(0), 0);
        assert_eq!(mask_v6(128), u128::MAX);
    }

    #[test]
    fn embedded_forms() {
        let e = |s: &str| embedded_v4(s.parse().unwrap());
        assert_eq!(e("::ffff:7f00:1"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(e("::7f00:1"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(e("::1"), None);
        assert_eq!(e("::"), None);
        assert_eq!(e("::1:ffff:7f00:1"), None);
        let d = classify_address("::ffff:10.1.2.3".parse().unwrap()).unwrap();
        assert_eq!((d.range.as_str(), d.embedded), ("10.0.0.0/8", true));
    }
}
