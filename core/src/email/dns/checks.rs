//! The checks of [`super::judge`], each from the answers to its own lookups.

use super::{Answer, Answers, Check, Expect, Status};

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

/// `tag=value` pairs of a DKIM or DMARC record, names trimmed (RFC 6376 §3.2 and RFC 7489
/// §6.4 allow spaces around `=`).
fn tags(record: &str) -> impl Iterator<Item = (&str, &str)> {
    record.split(';').filter_map(|t| {
        let (k, v) = t.split_once('=')?;
        Some((k.trim(), v.trim()))
    })
}

/// A TXT DKIM key record with a key (`p=` empty is a revoked key).
fn has_key(txt: &str) -> bool {
    tags(txt).any(|(k, v)| k == "p" && !v.is_empty())
}

/// The DMARC record that applies to the From domain: the domain's own, else the closest
/// ancestor's (the DNS tree walk of DMARCbis, which finds `acme.co.uk` for
/// `mail.acme.co.uk` where a two-label guess would ask `co.uk`).
pub(super) struct Dmarc {
    pub(super) check: Check,
    pub(super) policy: Option<String>,
    /// `adkim=s`: the From domain must equal the DKIM `d=` exactly.
    pub(super) strict_dkim: bool,
}

const POLICIES: [&str; 3] = ["none", "quarantine", "reject"];

pub(super) fn dmarc(e: &Expect, answers: &Answers) -> Dmarc {
    let fail = |check| Dmarc {
        check,
        policy: None,
        strict_dkim: false,
    };
    let names = dmarc_names(&e.domain);
    for (n, name) in names.iter().enumerate() {
        let records = match look(answers, "TXT", name) {
            Found::Failed(code) => return fail(failed("DMARC", name, &code)),
            Found::Records(r) => r,
        };
        // The version tag first, exactly `v=DMARC1` (RFC 7489 §6.4: case matters).
        let dmarc: Vec<&String> = records
            .iter()
            .filter(|r| tags(r).next() == Some(("v", "DMARC1")))
            .collect();
        match dmarc.as_slice() {
            [] => {}
            [one] => {
                let tag = |k: &str| {
                    tags(one)
                        .find(|(key, _)| *key == k)
                        .map(|(_, v)| v.to_ascii_lowercase())
                };
                // Above the From domain, a record's `sp=` (when set) is the subdomains' policy.
                let p = (n > 0).then(|| tag("sp")).flatten().or_else(|| tag("p"));
                let Some(p) = p.filter(|p| POLICIES.contains(&p.as_str())) else {
                    let detail = format!("{name}: no valid p= (none, quarantine or reject)");
                    let fix = format!(
                        "give the record at {name} a policy: p=none, then quarantine or reject"
                    );
                    return fail(check("DMARC", Status::Fail, detail, Some(fix)));
                };
                return Dmarc {
                    check: check("DMARC", Status::Pass, format!("{name}: p={p}"), None),
                    policy: Some(p),
                    strict_dkim: tag("adkim").as_deref() == Some("s"),
                };
            }
            many => {
                let detail = format!(
                    "{name} has {} v=DMARC1 records: receivers ignore them all (RFC 7489 §6.6.3)",
                    many.len()
                );
                let fix = format!("keep one record at {name}");
                return fail(check("DMARC", Status::Fail, detail, Some(fix)));
            }
        }
    }
    let detail = format!("no v=DMARC1 record at {}", names.join(" or "));
    let fix = format!(
        "publish at _dmarc.{}: \"v=DMARC1; p=none; rua=mailto:…\" (then quarantine or reject)",
        e.domain
    );
    fail(check("DMARC", Status::Fail, detail, Some(fix)))
}

/// `_dmarc.` of the domain and of its ancestors with two to seven labels, closest first: at
/// most seven lookups however deep the name (DMARCbis bounds its tree walk the same way).
pub(super) fn dmarc_names(domain: &str) -> Vec<String> {
    let mut out = vec![format!("_dmarc.{domain}")];
    let mut rest = domain;
    while let Some((_, parent)) = rest.split_once('.') {
        let labels = parent.split('.').count();
        if labels < 2 {
            break;
        }
        if labels <= 7 {
            out.push(format!("_dmarc.{parent}"));
        }
        rest = parent;
    }
    out
}

pub(super) fn alignment(e: &Expect, dkim: &Check, strict: bool) -> Check {
    let (from, d) = (&e.domain, &e.dkim_domain);
    let aligned = from == d || (!strict && from.ends_with(&format!(".{d}")));
    if !aligned {
        let how = if strict { "" } else { " or a subdomain of it" };
        let detail = format!("From domain {from} is not {d}{how} (the DKIM d=)");
        let fix = if strict {
            "sign with the From domain itself, or relax adkim in the DMARC record".to_owned()
        } else {
            "sign with the sender's own domain (dns.dkimDomain)".to_owned()
        };
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

/// The name that proves the tenant controls the domain: a TXT record with its token.
pub(super) fn ownership_name(domain: &str) -> String {
    format!("_usebetter.{domain}")
}

/// Ownership: `_usebetter.<domain>` holds `usebetter-verification=<token>`, the token drawn
/// for this sender when it was created. The provider's records prove the app's provider account
/// may send for the domain, not which tenant of the app owns it; the token does.
pub(super) fn ownership(e: &Expect, answers: &Answers) -> Check {
    let name = ownership_name(&e.domain);
    let Some(token) = e.token.as_deref() else {
        let detail = "the sender has no verification token (it was not created by senders.create)";
        return check(
            "ownership",
            Status::Fail,
            detail.into(),
            Some("create the sender again".into()),
        );
    };
    let want = format!("usebetter-verification={token}");
    match look(answers, "TXT", &name) {
        Found::Failed(code) => failed("ownership", &name, &code),
        Found::Records(r) if r.iter().any(|t| t.trim() == want) => check(
            "ownership",
            Status::Pass,
            format!("{name} holds this sender's token"),
            None,
        ),
        Found::Records(_) => check(
            "ownership",
            Status::Fail,
            format!("{name} does not hold this sender's token"),
            Some(format!("publish at {name}: \"{want}\"")),
        ),
    }
}
