//! Address classification (spec §10.2, W11's unit table): both ends of every default range and
//! their neighbours outside, embedded IPv4, the allow/deny lists and the URL checks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use usebetter_core::webhooks::address::{classify_address, DENIED_V4, DENIED_V6};
use usebetter_core::webhooks::network::{check_endpoint_url, Cidr, NetworkPolicy, Rule, UrlParts};

/// `(address, denying range or "" for allowed)`.
const TABLE: &[(&str, &str)] = &[
    ("0.0.0.0", "0.0.0.0/8"),
    ("0.255.255.255", "0.0.0.0/8"),
    ("1.0.0.0", ""),
    ("9.255.255.255", ""),
    ("10.0.0.0", "10.0.0.0/8"),
    ("10.0.0.1", "10.0.0.0/8"),
    ("10.255.255.255", "10.0.0.0/8"),
    ("11.0.0.0", ""),
    ("100.63.255.255", ""),
    ("100.64.0.0", "100.64.0.0/10"),
    ("100.64.0.1", "100.64.0.0/10"),
    ("100.127.255.255", "100.64.0.0/10"),
    ("100.128.0.0", ""),
    ("126.255.255.255", ""),
    ("127.0.0.0", "127.0.0.0/8"),
    ("127.0.0.1", "127.0.0.0/8"),
    ("127.255.255.255", "127.0.0.0/8"),
    ("128.0.0.0", ""),
    ("169.253.255.255", ""),
    ("169.254.0.0", "169.254.0.0/16"),
    ("169.254.169.254", "169.254.0.0/16"),
    ("169.254.255.255", "169.254.0.0/16"),
    ("169.255.0.0", ""),
    ("172.15.255.255", ""),
    ("172.16.0.0", "172.16.0.0/12"),
    ("172.31.255.255", "172.16.0.0/12"),
    ("172.32.0.0", ""),
    ("191.255.255.255", ""),
    ("192.0.0.0", "192.0.0.0/24"),
    ("192.0.0.255", "192.0.0.0/24"),
    ("192.0.1.0", ""),
    ("192.0.2.0", "192.0.2.0/24"),
    ("192.0.2.255", "192.0.2.0/24"),
    ("192.0.3.0", ""),
    ("192.88.98.255", ""),
    ("192.88.99.0", "192.88.99.0/24"),
    ("192.88.99.255", "192.88.99.0/24"),
    ("192.88.100.0", ""),
    ("192.167.255.255", ""),
    ("192.168.0.0", "192.168.0.0/16"),
    ("192.168.1.1", "192.168.0.0/16"),
    ("192.168.255.255", "192.168.0.0/16"),
    ("192.169.0.0", ""),
    ("198.17.255.255", ""),
    ("198.18.0.0", "198.18.0.0/15"),
    ("198.19.255.255", "198.18.0.0/15"),
    ("198.20.0.0", ""),
    ("198.51.99.255", ""),
    ("198.51.100.0", "198.51.100.0/24"),
    ("198.51.100.255", "198.51.100.0/24"),
    ("198.51.101.0", ""),
    ("203.0.112.255", ""),
    ("203.0.113.0", "203.0.113.0/24"),
    ("203.0.113.255", "203.0.113.0/24"),
    ("203.0.114.0", ""),
    ("223.255.255.255", ""),
    ("224.0.0.0", "224.0.0.0/4"),
    ("239.255.255.255", "224.0.0.0/4"),
    ("240.0.0.0", "240.0.0.0/4"),
    ("255.255.255.255", "240.0.0.0/4"),
    ("8.8.8.8", ""),
    ("1.1.1.1", ""),
    ("93.184.215.14", ""),
    ("::", "::/128"),
    ("::1", "::1/128"),
    ("::2", "0.0.0.0/8"),
    ("::ffff:0:0", "0.0.0.0/8"),
    ("::ffff:ffff:ffff", "240.0.0.0/4"),
    ("::ffff:127.0.0.1", "127.0.0.0/8"),
    ("::ffff:7f00:1", "127.0.0.0/8"),
    ("::ffff:169.254.169.254", "169.254.0.0/16"),
    ("::ffff:10.0.0.1", "10.0.0.0/8"),
    ("::7f00:1", "127.0.0.0/8"),
    ("::ffff:8.8.8.8", ""),
    ("::8.8.8.8", ""),
    ("64:ff9b::", "64:ff9b::/96"),
    ("64:ff9b::7f00:1", "64:ff9b::/96"),
    ("64:ff9b::808:808", "64:ff9b::/96"),
    ("64:ff9b::ffff:ffff", "64:ff9b::/96"),
    ("64:ff9b::1:0:0", ""),
    ("64:ff9b:1::", "64:ff9b:1::/48"),
    ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "64:ff9b:1::/48"),
    ("64:ff9b:2::", ""),
    ("100::", "100::/64"),
    ("100::ffff:ffff:ffff:ffff", "100::/64"),
    ("100:0:0:1::", ""),
    ("2001::", "2001::/32"),
    ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/32"),
    ("2001:1::", ""),
    ("2001:db8::", "2001:db8::/32"),
    ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32"),
    ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", ""),
    ("2001:db9::", ""),
    ("2002::", "2002::/16"),
    ("2002:7f00:1::", "2002::/16"),
    ("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2002::/16"),
    ("2003::", ""),
    ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""),
    ("3fff::", "3fff::/20"),
    ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::/20"),
    ("3fff:1000::", ""),
    ("5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""),
    ("5f00::", "5f00::/16"),
    ("5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "5f00::/16"),
    ("5f01::", ""),
    ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""),
    ("fc00::", "fc00::/7"),
    ("fd00:ec2::254", "fc00::/7"),
    ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fc00::/7"),
    ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""),
    ("fe80::", "fe80::/10"),
    ("fe80::1", "fe80::/10"),
    ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::/10"),
    ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""),
    ("ff00::", "ff00::/8"),
    ("ff02::1", "ff00::/8"),
    ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff00::/8"),
    ("2606:4700:4700::1111", ""),
    ("2a00:1450:4001:82b::200e", ""),
];

#[test]
fn default_classification_table() {
    assert!(TABLE.len() >= 60);
    for (addr, range) in TABLE {
        let ip: IpAddr = addr.parse().unwrap();
        let got = classify_address(ip).map(|d| d.range).unwrap_or_default();
        assert_eq!(&got, range, "{addr}");
    }
}

#[test]
fn table_covers_both_ends_of_every_range() {
    let listed = |ip: IpAddr, range: &str| {
        TABLE
            .iter()
            .any(|(a, r)| a.parse::<IpAddr>().unwrap() == ip && *r == range)
    };
    for r in &DENIED_V4 {
        let last = r.network | !(u32::MAX.checked_shl(32 - u32::from(r.prefix)).unwrap_or(0));
        let range = format!("{}/{}", Ipv4Addr::from(r.network), r.prefix);
        assert!(
            listed(IpAddr::V4(r.network.into()), &range),
            "first of {range}"
        );
        assert!(listed(IpAddr::V4(last.into()), &range), "last of {range}");
    }
    for r in &DENIED_V6 {
        let last = r.network
            | !(u128::MAX
                .checked_shl(128 - u32::from(r.prefix))
                .unwrap_or(0));
        let range = format!("{}/{}", Ipv6Addr::from(r.network), r.prefix);
        assert!(
            listed(IpAddr::V6(r.network.into()), &range),
            "first of {range}"
        );
        assert!(listed(IpAddr::V6(last.into()), &range), "last of {range}");
    }
}

#[test]
fn allow_and_deny_lists() {
    let p = NetworkPolicy::new(&["127.0.0.1/32".into()], &[]).unwrap();
    let v = |p: &NetworkPolicy, a: &str| p.check(a.parse().unwrap());
    assert!(v(&p, "127.0.0.1").allowed);
    assert_eq!(v(&p, "127.0.0.1").rule, Rule::AllowNetworks);
    // The rebinding stand-in of W11: a name resolving to 127.0.0.2 stays blocked.
    assert!(!v(&p, "127.0.0.2").allowed);
    assert!(v(&p, "::ffff:127.0.0.1").allowed);
    assert!(!v(&p, "::1").allowed);
    let p = NetworkPolicy::new(
        &["8.8.8.8/32".into(), "10.1.0.0/16".into()],
        &[
            "8.8.8.0/24".into(),
            "10.1.2.0/24".into(),
            "10.1.0.0/16".into(),
        ],
    )
    .unwrap();
    assert!(v(&p, "8.8.8.8").allowed, "longer allow prefix wins");
    assert_eq!(v(&p, "8.8.8.9").rule, Rule::DenyNetworks);
    assert!(!v(&p, "10.1.2.3").allowed, "longer deny prefix wins");
    assert!(!v(&p, "10.1.3.3").allowed, "a tie goes to deny");
    assert!(v(&p, "9.9.9.9").allowed);
    let verdicts = p.check_all(&["8.8.8.8".into(), "fe80::1%eth0".into(), "nonsense".into()]);
    assert_eq!(
        verdicts.iter().map(|x| x.allowed).collect::<Vec<_>>(),
        [true, false, false]
    );
    assert_eq!(verdicts[2].rule, Rule::Unparsable);
}

#[test]
fn cidr_parsing_names_the_entry() {
    assert_eq!(
        Cidr::parse("f", "fd00::/8").unwrap().to_string(),
        "fd00::/8"
    );
    assert_eq!(Cidr::parse("f", "10.0.0.1").unwrap().prefix(), 32);
    assert_eq!(Cidr::parse("f", "::1").unwrap().prefix(), 128);
    assert!(Cidr::parse("f", "0.0.0.0/0")
        .unwrap()
        .contains("8.8.8.8".parse().unwrap()));
    let e = NetworkPolicy::new(&["10.0.0.1/8".into()], &[]).unwrap_err();
    assert_eq!(e.code(), "WEBHOOKS_INVALID_CONFIG");
    assert!(
        e.to_string().contains("`network.allowNetworks[0]`")
            && e.to_string().contains("10.0.0.0/8"),
        "{e}"
    );
    for bad in [
        "10.0.0.0/33",
        "fd00::/129",
        "example.com/8",
        "10.0.0.0/",
        "10.0.0.0/x",
    ] {
        let e = NetworkPolicy::new(&[], &["8.8.8.0/24".into(), bad.into()]).unwrap_err();
        assert!(
            e.to_string().contains("`network.denyNetworks[1]`"),
            "{bad}: {e}"
        );
    }
}

fn url<'a>(protocol: &'a str, hostname: &'a str, port: &'a str) -> UrlParts<'a> {
    UrlParts {
        protocol,
        username: "",
        password: "",
        hostname,
        port,
    }
}

#[test]
fn endpoint_url_checks() {
    let none = NetworkPolicy::default();
    let code = |u: &UrlParts<'_>, http: bool| {
        check_endpoint_url("url", u, http, &none)
            .err()
            .map(|e| e.code())
    };
    assert_eq!(code(&url("https:", "hooks.example.com", ""), false), None);
    assert_eq!(
        code(&url("https:", "hooks.example.com", "8443"), false),
        None
    );
    assert_eq!(
        code(&url("http:", "hooks.example.com", ""), false),
        Some("WEBHOOKS_URL_INVALID")
    );
    assert_eq!(code(&url("http:", "hooks.example.com", ""), true), None);
    assert_eq!(
        code(&url("ftp:", "hooks.example.com", ""), true),
        Some("WEBHOOKS_URL_INVALID")
    );
    assert_eq!(
        code(&url("https:", "", ""), false),
        Some("WEBHOOKS_URL_INVALID")
    );
    assert_eq!(
        code(&url("https:", "a.example", "0"), false),
        Some("WEBHOOKS_URL_INVALID")
    );
    let creds = UrlParts {
        username: "u",
        ..url("https:", "a.example", "")
    };
    assert_eq!(code(&creds, false), Some("WEBHOOKS_URL_INVALID"));
    // W11's literal hosts after WHATWG normalisation (2130706433 and 0x7f.1 become 127.0.0.1).
    for host in [
        "127.0.0.1",
        "[::1]",
        "169.254.169.254",
        "[::ffff:7f00:1]",
        "0.0.0.0",
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "metadata.google.internal",
        "[fd00:ec2::254]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "10.0.0.1",
        "192.168.1.1",
        "100.64.0.1",
    ] {
        let e = check_endpoint_url("url", &url("http:", host, ""), true, &none).unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_URL_FORBIDDEN", "{host}");
        assert!(e.to_string().contains("`url`"));
    }
    let tests = NetworkPolicy::new(&["127.0.0.1/32".into()], &[]).unwrap();
    assert!(check_endpoint_url("url", &url("http:", "127.0.0.1", "8080"), true, &tests).is_ok());
    assert!(check_endpoint_url("url", &url("http:", "127.0.0.2", "8080"), true, &tests).is_err());
    let deny = NetworkPolicy::new(&[], &["93.184.0.0/16".into()]).unwrap();
    let e =
        check_endpoint_url("url", &url("https:", "93.184.215.14", ""), false, &deny).unwrap_err();
    assert!(e.to_string().contains("denyNetworks"), "{e}");
}
