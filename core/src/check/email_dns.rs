//! `better-email check --dns` and `senders verify`: each sender's DNS readiness as report lines.
//! A verified sender whose records no longer pass fails the check (its mail is sent as if they
//! did); an unverified one is reported as a warning, since nothing is sent from it yet.

use std::collections::BTreeSet;

use super::{CheckResult, Report};
use crate::email::dns::{self, Answers, Expect, Query, Status};

/// A sender as the check reads it.
#[derive(Debug, Clone)]
pub struct SenderDns {
    pub id: String,
    /// The address, or the domain when any address at it may send.
    pub name: String,
    pub verified: bool,
    pub expect: Expect,
}

/// Every lookup the senders need, each once.
#[must_use]
pub fn queries(senders: &[SenderDns]) -> Vec<Query> {
    let mut seen = BTreeSet::new();
    senders
        .iter()
        .flat_map(|s| s.expect.queries())
        .filter(|q| seen.insert((q.kind, q.name.clone())))
        .collect()
}

/// One line per check of each sender: results for verified senders, warnings for the others.
/// Returns the judgements, in the senders' order.
pub fn add(report: &mut Report, senders: &[SenderDns], answers: &Answers) -> Vec<dns::Report> {
    let mut out = Vec::new();
    for s in senders {
        let judged = dns::judge(&s.expect, answers);
        let state = if s.verified {
            "verified"
        } else {
            "not verified"
        };
        let kind = s.expect.kind.as_deref().unwrap_or("any transport");
        for c in &judged.checks {
            let who = format!("sender {} {} ({kind}, {state}): {}", s.id, s.name, c.check);
            let line = if c.status == Status::Pass {
                CheckResult::pass(format!("{who} — {}", c.detail))
            } else {
                let mut r = CheckResult::fail(who, c.detail.clone());
                r.remediation.clone_from(&c.fix);
                r
            };
            if s.verified || line.passed {
                report.results.push(line);
            } else {
                report.warnings.push(line);
            }
        }
        out.push(judged);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::dns::{expect, Overrides};

    #[test]
    fn verified_senders_fail_the_report_and_the_others_warn() {
        let mut e = expect("a.example", Some("resend"), &Overrides::default()).unwrap();
        e.token = Some("x".into());
        let senders = [
            SenderDns {
                id: "1".into(),
                name: "a.example".into(),
                verified: true,
                expect: e.clone(),
            },
            SenderDns {
                id: "2".into(),
                name: "news@a.example".into(),
                verified: false,
                expect: e,
            },
        ];
        // Both senders ask the same names: each is looked up once.
        assert_eq!(queries(&senders).len(), 5);
        let answers = dns::unanswered(&queries(&senders));
        let mut r = Report::default();
        let judged = add(&mut r, &senders, &answers);
        r.finish();
        assert!(!r.passed);
        assert_eq!(judged.len(), 2);
        assert_eq!(r.results.len(), 5);
        assert_eq!(r.warnings.len(), 5);
        assert!(r.results[1]
            .check
            .starts_with("sender 1 a.example (resend, verified): SPF"));
        assert!(r
            .next
            .as_deref()
            .unwrap()
            .contains("\"usebetter-verification=x\""));
    }
}
