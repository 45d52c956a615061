//! The four checks of [`super::judge`], each from the answers to its own lookups.

use super::{organisational, Answer, Answers, Check, Expect, Status};

/// The outcome of one lookup: records, none, or the resolver's failure.
enum Found<'a> {
    Records(&'a [String]),
    Failed(String),
}

fn look<'a>(answers: &'a Answers, kind: &str, name: &str) -> Found<'a> {
    match answers.get(&format!("{kind} {name}")) {
        None => Found::Failed("not looked up".into()),
        Some(Answer {
            error: Some(code), ..
        }) if code != "ENOTFOUND" && code != "ENODATA" => Found::Failed(code.clone()),
        Some(a) => Found::Records(if a.error.is_some() { &[] } else { &a.records }),
    }
}

fn check(check: &'static str, status: Status, detail: String, fix: Option<String>) -> Check {
    Check {
        check,
        status,
        detail,
        fix: fix.filter(|_| status != Status::Pass),
    }
}

fn failed(check_name: &'static str, name: &str, code: &str) -> Check {
    check(
        check_name,
        Status::Error,
        format!("the lookup of {name} failed ({code})"),
        Some("check the resolver, then verify again".into()),
    )
}

pub(super) fn spf(e: &Expect, answers: &Answers) -> Check {
    let name = &e.envelope_domain;
    let records = match look(answers, "TXT", name) {
        Found::Failed(code) => return failed("SPF", name, &code),
        Found::Records(r) => r,
    };
    let spf: Vec<&String> = records
        .iter()
        .filter(|r| {
            let l = r.to_ascii_lowercase();
            l == "v=spf1" || l.starts_with("v=spf1 ")
        })
        .collect();
    let want = e.spf_include.as_deref();
    let add = |i: &str| format!("publish at {name}: \"v=spf1 include:{i} ~all\"");
    match (spf.as_slice(), want) {
        ([], _) => check(
            "SPF",
            Status::Fail,
            format!("{name} has no v=spf1 record"),
            Some(want.map_or_else(|| format!("publish one v=spf1 record at {name}"), add)),
        ),
        ([one], Some(i)) => {
            let has = one.split_ascii_whitespace().any(|t| {
                let t = t.trim_start_matches('+').to_ascii_lowercase();
                t.strip_prefix("include:") == Some(i)
            });
            check(
                "SPF",
                if has { Status::Pass } else { Status::Fail },
                if has {
                    format!("{name} includes {i}")
                } else {
                    format!("{name}'s record \"{one}\" does not include {i}")
                },
                Some(format!("add include:{i} to the v=spf1 record at {name}")),
            )
        }
        ([_], None) => check(
            "SPF",
            Status::Pass,
            format!("{name} has a v=spf1 record (no provider include to look for)"),
            None,
        ),
        (many, _) => check(
            "SPF",
            Status::Fail,
            format!(
                "{name} has {} v=spf1 records: receivers treat that as an error (RFC 7208 §4.5)",
                many.len()
            ),
            Some(format!("merge them into one record at {name}")),
        ),
    }
}

pub(super) fn dkim(e: &Expect, answers: &Answers) -> Check {
    if e.dkim_selectors.is_empty() {
        let kind = e.kind.as_deref().unwrap_or("the transport");
        return check(
            "DKIM",
            Status::Fail,
            format!("no DKIM selector is known for {kind}"),
            Some("give the selectors your provider shows: senders.create({ dns: { dkimSelectors } })".into()),
        );
    }
    let mut missing = Vec::new();
    for name in e.dkim_names() {
        let cname = match look(answers, "CNAME", &name) {
            Found::Failed(code) => return failed("DKIM", &name, &code),
            Found::Records(r) => !r.is_empty(),
        };
        let key = match look(answers, "TXT", &name) {
            Found::Failed(code) => return failed("DKIM", &name, &code),
            Found::Records(r) => r.iter().any(|t| has_key(t)),
        };
        if !cname && !key {
            missing.push(name);
        }
    }
    let names = e.dkim_names().collect::<Vec<_>>().join(", ");
    if missing.is_empty() {
        check("DKIM", Status::Pass, format!("{names} published"), None)
    } else {
        check(
            "DKIM",
            Status::Fail,
            format!(
                "no key at {} (a CNAME, or a TXT with p=)",
                missing.join(", ")
            ),
            Some("publish the DKIM records your provider shows for this domain".into()),
        )
    }
}

/// A TXT DKIM key record with a key (`p=` empty is a revoked key).
fn has_key(txt: &str) -> bool {
    txt.split(';').any(|tag| {
        tag.trim()
            .strip_prefix("p=")
            .is_some_and(|p| !p.trim().is_empty())
    })
}

/// The DMARC check and the policy found.
pub(super) fn dmarc(e: &Expect, answers: &Answers) -> (Check, Option<String>) {
    let mut names = vec![format!("_dmarc.{}", e.domain)];
    if let Some(org) = organisational(&e.domain).filter(|o| *o != e.domain) {
        names.push(format!("_dmarc.{org}"));
    }
    for name in &names {
        let records = match look(answers, "TXT", name) {
            Found::Failed(code) => return (failed("DMARC", name, &code), None),
            Found::Records(r) => r,
        };
        let dmarc: Vec<&String> = records
            .iter()
            .filter(|r| {
                r.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("v=DMARC1"))
            })
            .collect();
        match dmarc.as_slice() {
            [] => {}
            [one] => {
                let tag = |k: &str| {
                    one.split(';').find_map(|t| {
                        let (key, v) = t.split_once('=')?;
                        key.trim()
                            .eq_ignore_ascii_case(k)
                            .then(|| v.trim().to_ascii_lowercase())
                    })
                };
                // A subdomain under the organisation's record follows its `sp=` when set.
                let p = (name != &names[0])
                    .then(|| tag("sp"))
                    .flatten()
                    .or_else(|| tag("p"));
                let detail = format!("{name}: p={}", p.as_deref().unwrap_or("(missing)"));
                return (check("DMARC", Status::Pass, detail, None), p);
            }
            many => {
                let detail = format!(
                    "{name} has {} v=DMARC1 records: receivers ignore them all (RFC 7489 §6.6.3)",
                    many.len()
                );
                let fix = format!("keep one record at {name}");
                return (check("DMARC", Status::Fail, detail, Some(fix)), None);
            }
        }
    }
    let detail = format!("no v=DMARC1 record at {}", names.join(" or "));
    let fix = format!(
        "publish at _dmarc.{}: \"v=DMARC1; p=none; rua=mailto:…\" (then quarantine or reject)",
        e.domain
    );
    (check("DMARC", Status::Fail, detail, Some(fix)), None)
}

pub(super) fn alignment(e: &Expect, dkim: &Check) -> Check {
    let (from, d) = (&e.domain, &e.dkim_domain);
    let aligned = from == d || from.ends_with(&format!(".{d}"));
    if !aligned {
        let detail = format!("From domain {from} is not {d} or a subdomain of it (the DKIM d=)");
        let fix = "sign with the sender's own domain (dns.dkimDomain)".to_owned();
        return check("alignment", Status::Fail, detail, Some(fix));
    }
    match dkim.status {
        Status::Pass => check(
            "alignment",
            Status::Pass,
            format!("From {from} aligns with d={d}"),
            None,
        ),
        status => check(
            "alignment",
            status,
            format!("From {from} would align with d={d}, but its DKIM key is not published"),
            Some("publish the DKIM records first".into()),
        ),
    }
}
