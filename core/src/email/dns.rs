//! A sender's DNS readiness (spec §11): which records its domain needs for the transport that
//! sends its mail ([`expect`]), which names to look up ([`Expect::queries`]), and whether the
//! answers a resolver gave meet them ([`judge`]). The lookups themselves are the caller's
//! (`node:dns`, or a resolver a test injects); nothing here touches the network.
//!
//! The checks: the domain holds the sender's random token (ownership: every tenant of the app
//! shares its provider account, so the provider's records alone do not say which tenant owns a
//! domain); then the four mailbox providers apply (Gmail's and Yahoo's 2024 sender rules): SPF
//! on the envelope (bounce) domain includes the provider's servers; the provider's DKIM selector
//! records exist; the domain publishes a DMARC policy; and the From domain aligns with the
//! domain the DKIM signature names (exactly, under `adkim=s`), so DMARC passes on DKIM alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{EmailError, Result};

mod checks;

/// What each provider needs, when the sender gives nothing else: the envelope domain's first
/// label (the provider's documented custom return path), the SPF include, the DKIM selectors.
/// Selectors a provider makes up per domain (Postmark's dated ones, SES's tokens, Mailgun's)
/// must be given (`dns.dkimSelectors`), as must the SPF of an SMTP relay.
struct Provider {
    kind: &'static str,
    envelope_label: Option<&'static str>,
    spf_include: Option<&'static str>,
    selectors: &'static [&'static str],
}

const fn provider(
    kind: &'static str,
    envelope_label: Option<&'static str>,
    spf_include: Option<&'static str>,
    selectors: &'static [&'static str],
) -> Provider {
    Provider {
        kind,
        envelope_label,
        spf_include,
        selectors,
    }
}

const PROVIDERS: [Provider; 6] = [
    provider("resend", Some("send"), Some("amazonses.com"), &["resend"]),
    provider("postmark", Some("pm-bounces"), Some("spf.mtasv.net"), &[]),
    provider("ses", None, Some("amazonses.com"), &[]),
    provider("sendgrid", None, Some("sendgrid.net"), &["s1", "s2"]),
    provider("mailgun", None, Some("mailgun.org"), &[]),
    provider("smtp", None, None, &[]),
];

/// The sender's own settings (`senders.create({ dns })`), each replacing the provider's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Overrides {
    pub envelope_domain: Option<String>,
    pub spf_include: Option<String>,
    pub dkim_selectors: Option<Vec<String>>,
    pub dkim_domain: Option<String>,
}

/// What a sender's domain must publish; stored with the sender, so a later check (the CLI's,
/// without the app's transports) judges against the same expectations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expect {
    pub domain: String,
    /// The transport's kind (`resend`, `smtp`, …); `None`: not known (no SPF include asked for).
    pub kind: Option<String>,
    pub envelope_domain: String,
    pub spf_include: Option<String>,
    pub dkim_domain: String,
    pub dkim_selectors: Vec<String>,
    /// The random token `_usebetter.<domain>` must hold (drawn when the sender is created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// One lookup: `TXT` or `CNAME` of `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Query {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A resolver's answer: the records (a TXT record's strings joined), or its error code
/// (`ENOTFOUND` and `ENODATA` mean no such record; any other code, that the lookup failed).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    #[serde(default)]
    pub records: Vec<String>,
    pub error: Option<String>,
}

/// Answers keyed `"TXT name"` / `"CNAME name"`.
pub type Answers = BTreeMap<String, Answer>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// The resolver failed (timeout, SERVFAIL): nothing is known.
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `ownership`, `SPF`, `DKIM`, `DMARC` or `alignment`.
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub domain: String,
    /// Every check passed.
    pub passed: bool,
    /// A lookup failed and no check failed, so the verdict is unknown (a verified sender stays
    /// verified); a definite failure beside a failed lookup is a failure.
    pub inconclusive: bool,
    /// The DMARC record's `p=` (`none`, `quarantine`, `reject`), when there is one.
    pub dmarc_policy: Option<String>,
    pub checks: Vec<Check>,
}

/// A domain name as DNS holds it: ASCII (an internationalised name in its `xn--` form), at least
/// two labels of letters, digits and hyphens, lower-cased, without a trailing dot.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming `field`.
pub fn domain(field: &str, given: &str) -> Result<String> {
    let d = given.trim_end_matches('.').to_ascii_lowercase();
    // The address parser's rule for a mail domain, worded for a name given alone.
    super::address::check_domain(field, given, &d).map_err(|e| match e {
        EmailError::InvalidAddress { reason, .. } => EmailError::argument(
            field,
            format!("{given:?} is not a domain name: {reason} (an internationalised name in its xn-- form)"),
        ),
        other => other,
    })?;
    Ok(d)
}

/// What `domain` must publish for a transport of `kind`, with the sender's `overrides`.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming the `dns.*` field that is not a domain or selector.
pub fn expect(domain_name: &str, kind: Option<&str>, o: &Overrides) -> Result<Expect> {
    let provider = kind.and_then(|k| PROVIDERS.iter().find(|p| p.kind == k));
    let envelope = match (&o.envelope_domain, provider.and_then(|p| p.envelope_label)) {
        (Some(e), _) => domain("dns.envelopeDomain", e)?,
        (None, Some(prefix)) => format!("{prefix}.{domain_name}"),
        (None, None) => domain_name.to_owned(),
    };
    let include = match &o.spf_include {
        Some(i) => Some(domain("dns.spfInclude", i)?),
        None => provider.and_then(|p| p.spf_include).map(str::to_owned),
    };
    let selectors = match &o.dkim_selectors {
        Some(s) => s
            .iter()
            .enumerate()
            .map(|(n, s)| selector(&format!("dns.dkimSelectors[{n}]"), s))
            .collect::<Result<Vec<_>>>()?,
        None => provider
            .map(|p| p.selectors.iter().map(|s| (*s).to_owned()).collect())
            .unwrap_or_default(),
    };
    Ok(Expect {
        domain: domain_name.to_owned(),
        kind: kind.map(str::to_owned),
        envelope_domain: envelope,
        spf_include: include,
        dkim_domain: match &o.dkim_domain {
            Some(d) => domain("dns.dkimDomain", d)?,
            None => domain_name.to_owned(),
        },
        dkim_selectors: selectors,
        token: None,
    })
}

fn selector(field: &str, s: &str) -> Result<String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(EmailError::argument(
            field,
            format!("{s:?} is not a DKIM selector (letters, digits, hyphens)"),
        ))
    }
}

impl Expect {
    fn dkim_names(&self) -> impl Iterator<Item = String> + '_ {
        self.dkim_selectors
            .iter()
            .map(|s| format!("{s}._domainkey.{}", self.dkim_domain))
    }

    /// Every lookup [`judge`] reads.
    #[must_use]
    pub fn queries(&self) -> Vec<Query> {
        let txt = |name: String| Query { name, kind: "TXT" };
        let mut q = vec![
            txt(checks::ownership_name(&self.domain)),
            txt(self.envelope_domain.clone()),
        ];
        q.extend(checks::dmarc_names(&self.domain).into_iter().map(txt));
        for name in self.dkim_names() {
            q.push(Query {
                name: name.clone(),
                kind: "CNAME",
            });
            q.push(txt(name));
        }
        q
    }
}

/// Judges `answers` against `e`.
#[must_use]
pub fn judge(e: &Expect, answers: &Answers) -> Report {
    let ownership = checks::ownership(e, answers);
    let spf = checks::spf(e, answers);
    let dkim = checks::dkim(e, answers);
    let dmarc = checks::dmarc(e, answers);
    let alignment = checks::alignment(e, &dkim, dmarc.strict_dkim);
    let checks = vec![ownership, spf, dkim, dmarc.check, alignment];
    let any = |s: Status| checks.iter().any(|c| c.status == s);
    Report {
        domain: e.domain.clone(),
        passed: checks.iter().all(|c| c.status == Status::Pass),
        // A definite failure is a verdict even when another lookup failed.
        inconclusive: any(Status::Error) && !any(Status::Fail),
        dmarc_policy: dmarc.policy,
        checks,
    }
}

/// Every query answered "no such record" (tests build on it).
#[cfg(test)]
pub(crate) fn unanswered(queries: &[Query]) -> Answers {
    queries
        .iter()
        .map(|q| {
            let answer = Answer {
                records: vec![],
                error: Some("ENOTFOUND".into()),
            };
            (format!("{} {}", q.kind, q.name), answer)
        })
        .collect()
}

#[cfg(test)]
mod tests;
