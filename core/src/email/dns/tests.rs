use super::*;

fn answers(records: &[(&str, &[&str])]) -> Answers {
    records
        .iter()
        .map(|(k, r)| {
            let answer = if let Some(code) = r.first().and_then(|r| r.strip_prefix("!")) {
                Answer {
                    records: vec![],
                    error: Some(code.to_owned()),
                }
            } else {
                Answer {
                    records: r.iter().map(|s| (*s).to_owned()).collect(),
                    error: None,
                }
            };
            ((*k).to_owned(), answer)
        })
        .collect()
}

/// Every query answered "no such record", then `records` on top.
fn with_defaults(e: &Expect, records: &[(&str, &[&str])]) -> Answers {
    let mut a = unanswered(&e.queries());
    a.extend(answers(records));
    a
}

fn status(r: &Report) -> Vec<(&'static str, Status)> {
    r.checks.iter().map(|c| (c.check, c.status)).collect()
}

#[test]
fn resend_defaults_and_a_ready_domain() {
    let mut e = expect("acme.example", Some("resend"), &Overrides::default()).unwrap();
    e.token = Some("t0k".into());
    assert_eq!(e.envelope_domain, "send.acme.example");
    assert_eq!(e.spf_include.as_deref(), Some("amazonses.com"));
    let names: Vec<String> = e
        .queries()
        .iter()
        .map(|q| format!("{} {}", q.kind, q.name))
        .collect();
    assert_eq!(
        names,
        [
            "TXT _usebetter.acme.example",
            "TXT send.acme.example",
            "TXT _dmarc.acme.example",
            "CNAME resend._domainkey.acme.example",
            "TXT resend._domainkey.acme.example"
        ]
    );
    let a = with_defaults(
        &e,
        &[
            (
                "TXT send.acme.example",
                &["v=spf1 include:amazonses.com ~all"],
            ),
            (
                "TXT _dmarc.acme.example",
                &["v=DMARC1; p=Reject; rua=mailto:d@acme.example"],
            ),
            (
                "TXT resend._domainkey.acme.example",
                &["v=DKIM1; k=rsa; p = MIGfMA0GCSqGSIb3DQEB"],
            ),
            (
                "TXT _usebetter.acme.example",
                &["usebetter-verification=t0k"],
            ),
        ],
    );
    let r = judge(&e, &a);
    assert!(r.passed && !r.inconclusive, "{r:?}");
    assert_eq!(r.dmarc_policy.as_deref(), Some("reject"));
    // Another sender's token (another tenant's claim on the domain) is not this one's.
    let mut other = e.clone();
    other.token = Some("t1k".into());
    let r = judge(&other, &a);
    assert_eq!(status(&r)[0], ("ownership", Status::Fail));
    assert!(r.checks[0]
        .fix
        .as_deref()
        .unwrap()
        .contains("usebetter-verification=t1k"));
}

/// Every record a resend sender with token `tok` needs, then `records` on top.
fn ready(e: &Expect, records: &[(&str, &[&str])]) -> Answers {
    assert_eq!(e.token.as_deref(), Some("tok"));
    let d = e.domain.clone();
    let mut a = with_defaults(e, &[]);
    let base: [(String, &str); 4] = [
        (format!("TXT _usebetter.{d}"), "usebetter-verification=tok"),
        (format!("TXT send.{d}"), "v=spf1 include:amazonses.com -all"),
        (format!("TXT _dmarc.{d}"), "v=DMARC1; p=none"),
        (format!("TXT resend._domainkey.{d}"), "p=MIGf"),
    ];
    for (k, v) in base {
        a.insert(
            k,
            Answer {
                records: vec![v.into()],
                error: None,
            },
        );
    }
    a.extend(answers(records));
    a
}

#[test]
fn dmarc_records_are_read_as_rfc_7489_writes_them() {
    let mut e = expect("m.example", Some("resend"), &Overrides::default()).unwrap();
    e.token = Some("tok".into());
    for (record, ok) in [
        ("v=DMARC1 ; p = quarantine", true),
        ("v=dmarc1; p=reject", false),
        ("v=DMARC1; p=bogus", false),
        ("v=DMARC1; rua=mailto:x@m.example", false),
    ] {
        let r = judge(
            &e.clone(),
            &ready(&e, &[("TXT _dmarc.m.example", &[record])]),
        );
        assert_eq!(r.checks[3].status == Status::Pass, ok, "{record}: {r:?}");
    }
}

#[test]
fn dmarc_walks_up_the_tree_past_a_public_suffix_guess() {
    let mut e = expect("mail.acme.co.uk", Some("resend"), &Overrides::default()).unwrap();
    e.token = Some("tok".into());
    let names: Vec<String> = e
        .queries()
        .into_iter()
        .map(|q| q.name)
        .filter(|n| n.starts_with("_dmarc"))
        .collect();
    assert_eq!(
        names,
        [
            "_dmarc.mail.acme.co.uk",
            "_dmarc.acme.co.uk",
            "_dmarc.co.uk"
        ]
    );
    // However deep the name, at most seven lookups.
    let deep = format!("{}acme.example", "a.".repeat(100));
    let e2 = expect(&deep, Some("resend"), &Overrides::default()).unwrap();
    let dmarc: Vec<String> = e2
        .queries()
        .into_iter()
        .map(|q| q.name)
        .filter(|n| n.starts_with("_dmarc"))
        .collect();
    assert_eq!(dmarc.len(), 7);
    assert_eq!(dmarc[0], format!("_dmarc.{deep}"));
    assert_eq!(dmarc[1], "_dmarc.a.a.a.a.a.acme.example");
    let a = ready(
        &e,
        &[
            ("TXT _dmarc.mail.acme.co.uk", &["!ENOTFOUND"]),
            ("TXT _dmarc.acme.co.uk", &["v=DMARC1; p=reject"]),
        ],
    );
    let r = judge(&e, &a);
    assert_eq!(r.checks[3].status, Status::Pass, "{r:?}");
    assert_eq!(r.dmarc_policy.as_deref(), Some("reject"));
}

#[test]
fn strict_dkim_alignment_needs_the_exact_domain() {
    let o = Overrides {
        dkim_domain: Some("strict.example".into()),
        ..Overrides::default()
    };
    let mut e = expect("sub.strict.example", Some("resend"), &o).unwrap();
    e.token = Some("tok".into());
    let key = [("TXT resend._domainkey.strict.example", &["p=MIGf"][..])];
    let relaxed = judge(
        &e.clone(),
        &ready(
            &e,
            &[
                key[0],
                ("TXT _dmarc.sub.strict.example", &["v=DMARC1; p=reject"]),
            ],
        ),
    );
    assert_eq!(
        status(&relaxed)[4],
        ("alignment", Status::Pass),
        "{relaxed:?}"
    );
    let strict = judge(
        &e.clone(),
        &ready(
            &e,
            &[
                key[0],
                (
                    "TXT _dmarc.sub.strict.example",
                    &["v=DMARC1; p=reject; adkim=s"],
                ),
            ],
        ),
    );
    assert_eq!(status(&strict)[4], ("alignment", Status::Fail));
}

#[test]
fn spf_needs_one_record_with_the_include() {
    let e = expect("b.example", Some("sendgrid"), &Overrides::default()).unwrap();
    let none = judge(&e, &with_defaults(&e, &[]));
    assert_eq!(none.checks[1].status, Status::Fail);
    assert!(none.checks[1]
        .fix
        .as_deref()
        .unwrap()
        .contains("include:sendgrid.net"));
    let other = judge(
        &e,
        &with_defaults(
            &e,
            &[(
                "TXT b.example",
                &[
                    "v=spf1 include:_spf.google.com -all",
                    "google-site-verification=x",
                ],
            )],
        ),
    );
    assert!(
        other.checks[1]
            .detail
            .contains("does not include sendgrid.net"),
        "{other:?}"
    );
    let two = judge(
        &e,
        &with_defaults(
            &e,
            &[(
                "TXT b.example",
                &["v=spf1 include:sendgrid.net -all", "v=spf1 -all"],
            )],
        ),
    );
    assert!(two.checks[1].detail.contains("2 v=spf1 records"));
    let ok = judge(
        &e,
        &with_defaults(
            &e,
            &[("TXT b.example", &["V=SPF1 +include:sendgrid.net -all"])],
        ),
    );
    assert_eq!(ok.checks[1].status, Status::Pass);
}

#[test]
fn dkim_by_cname_or_key_and_a_revoked_key_fails() {
    let e = expect("c.example", Some("sendgrid"), &Overrides::default()).unwrap();
    let half = judge(
        &e,
        &with_defaults(
            &e,
            &[(
                "CNAME s1._domainkey.c.example",
                &["s1.domainkey.u1.wl.sendgrid.net"],
            )],
        ),
    );
    assert_eq!(half.checks[2].status, Status::Fail);
    assert!(half.checks[2].detail.contains("s2._domainkey.c.example"));
    assert!(!half.checks[2].detail.contains("s1._domainkey"));
    let revoked = judge(
        &e,
        &with_defaults(
            &e,
            &[
                ("CNAME s1._domainkey.c.example", &["x.sendgrid.net"]),
                ("TXT s2._domainkey.c.example", &["v=DKIM1; k=rsa; p="]),
            ],
        ),
    );
    assert_eq!(revoked.checks[2].status, Status::Fail);
    // No selector known: the fix names where to give it.
    let pm = expect("d.example", Some("postmark"), &Overrides::default()).unwrap();
    let r = judge(&pm, &with_defaults(&pm, &[]));
    assert!(r.checks[2]
        .fix
        .as_deref()
        .unwrap()
        .contains("dkimSelectors"));
}

#[test]
fn dmarc_falls_back_to_the_organisation_and_reads_sp() {
    let e = expect("mail.e.example", Some("mailgun"), &Overrides::default()).unwrap();
    let r = judge(
        &e,
        &with_defaults(
            &e,
            &[(
                "TXT _dmarc.e.example",
                &["v=DMARC1; p=reject; sp=quarantine"],
            )],
        ),
    );
    assert_eq!(r.checks[3].status, Status::Pass);
    assert_eq!(r.dmarc_policy.as_deref(), Some("quarantine"));
    let two = judge(
        &e,
        &with_defaults(
            &e,
            &[(
                "TXT _dmarc.mail.e.example",
                &["v=DMARC1; p=none", "v=DMARC1; p=reject"],
            )],
        ),
    );
    assert_eq!(two.checks[3].status, Status::Fail);
    assert_eq!(two.dmarc_policy, None);
}

#[test]
fn alignment_follows_the_dkim_domain() {
    let o = Overrides {
        dkim_selectors: Some(vec!["k1".into()]),
        dkim_domain: Some("mg.other.example".into()),
        ..Overrides::default()
    };
    let e = expect("f.example", Some("mailgun"), &o).unwrap();
    let a = with_defaults(
        &e,
        &[("TXT k1._domainkey.mg.other.example", &["k=rsa; p=MIGf"])],
    );
    let r = judge(&e, &a);
    assert_eq!(status(&r)[2], ("DKIM", Status::Pass));
    assert_eq!(status(&r)[4], ("alignment", Status::Fail));
    // A subdomain From aligns (relaxed) with its parent's signature.
    let o = Overrides {
        dkim_selectors: Some(vec!["k1".into()]),
        dkim_domain: Some("f.example".into()),
        ..Overrides::default()
    };
    let e = expect("news.f.example", Some("mailgun"), &o).unwrap();
    let r = judge(
        &e,
        &with_defaults(&e, &[("TXT k1._domainkey.f.example", &["p=MIGf"])]),
    );
    assert_eq!(status(&r)[4], ("alignment", Status::Pass));
}

#[test]
fn a_failed_lookup_is_inconclusive_not_a_failure() {
    let mut e = expect("g.example", Some("resend"), &Overrides::default()).unwrap();
    e.token = Some("tok".into());
    let r = judge(
        &e.clone(),
        &ready(&e, &[("TXT send.g.example", &["!ETIMEOUT"])]),
    );
    assert!(r.inconclusive && !r.passed, "{r:?}");
    assert_eq!(r.checks[1].status, Status::Error);
    assert!(r.checks[1].detail.contains("ETIMEOUT"));
    // Beside a definite failure it is a failure: a tenant cannot keep a sender verified by
    // making one of its names fail to resolve.
    let r = judge(
        &e.clone(),
        &ready(
            &e,
            &[
                ("TXT send.g.example", &["!ESERVFAIL"]),
                ("TXT _dmarc.g.example", &["!ENOTFOUND"]),
            ],
        ),
    );
    assert!(!r.inconclusive && !r.passed, "{r:?}");
}

#[test]
fn names_are_checked() {
    assert_eq!(domain("domain", "Acme.Example.").unwrap(), "acme.example");
    for bad in [
        "localhost",
        "a..b",
        "-a.b",
        "exa mple.com",
        "bücher.example",
        "",
    ] {
        let e = domain("domain", bad).unwrap_err();
        assert_eq!(e.code(), "EMAIL_INVALID_ARGUMENT", "{bad}");
    }
    let o = Overrides {
        dkim_selectors: Some(vec!["ok".into(), "bad selector".into()]),
        ..Overrides::default()
    };
    let e = expect("h.example", Some("ses"), &o).unwrap_err();
    assert!(e.to_string().contains("dns.dkimSelectors[1]"), "{e}");
}
