//! `better-email check`: judges the email tables as `migrate` writes them (tables, schema
//! version, indexes, partitions, tenant isolation: `check::store`, shared with
//! `better-webhooks check`), what the application role can do around them, and the suppression
//! lookup `email_suppressed`: present, `SECURITY DEFINER` with a pinned `search_path`, and with
//! the body `migrate` writes (a replaced body could list global suppressions); and the send
//! path's `email_enqueue`, as `migrate` writes it.

use super::catalog::Catalog;
use super::store::{self, Target};
use super::{reach, CheckResult, Index, Report};
use crate::email::store::enqueue::{ENQUEUE_CONFIG, ENQUEUE_FUNCTION};
use crate::email::store::schema::{TABLES, TENANT_TABLES};
use crate::email::store::suppressed::{FUNCTION, SEARCH_PATH};
use crate::email::store::{schema_status, Store};

const MIGRATE: &str = "run `better-email migrate` as the tables' owner";
const SIGN: &str = "sign with `smtp({ dkim: { domain, selector, privateKey } })`, or have the provider sign these headers";

/// A function of the email schema as the catalog has it (`email::store::function_query`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionFacts {
    pub security_definer: bool,
    /// `pg_proc.proconfig`: `name=value` per `SET` clause.
    pub config: Vec<String>,
    pub source: String,
}

/// Everything `better-email check` looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailFacts {
    /// The tenant check's catalog of the email schema.
    pub catalog: Catalog,
    /// `email_meta`'s schema version; `None` when absent.
    pub schema_version: Option<String>,
    /// `None` when the function does not exist.
    pub suppressed: Option<FunctionFacts>,
    /// `None` when the function does not exist.
    pub enqueue: Option<FunctionFacts>,
}

/// Judges `facts` against the tables `store` describes at `now_ms`. `next` is the fix of the
/// first failure.
#[must_use]
pub fn check(facts: &EmailFacts, store: &Store, now_ms: i64) -> Report {
    let ix = Index::new(&facts.catalog);
    let mut r = Report::default();
    super::role_results(&facts.catalog.role, &mut r);
    reach::privileged_roles(&ix, &mut r);
    let version = schema_status(
        ix.tables.contains_key(&(store.schema(), "email_meta")),
        facts.schema_version.as_deref(),
    );
    let target = Target {
        layout: store,
        tables: &TABLES,
        tenant_tables: &TENANT_TABLES,
        indexes: store.expected_indexes(),
        version: version.map_err(|e| e.to_string()),
        migrate: MIGRATE,
        partitions_fix: "run `better-email ensure-partitions` (weekly, from cron)",
        now_ms,
    };
    if store::tables(&ix, &target, &mut r) {
        suppressed(facts.suppressed.as_ref(), store, &mut r);
        enqueue(facts.enqueue.as_ref(), store, &mut r);
    }
    r.finish();
    r
}

fn suppressed(f: Option<&FunctionFacts>, store: &Store, r: &mut Report) {
    let name = format!("{}.{FUNCTION}", store.schema());
    let problems = match f {
        None => vec![format!(
            "{name}(address_hashes bytea[], category text) does not exist: tenant sends cannot see global suppressions"
        )],
        Some(f) => {
            let mut p = Vec::new();
            if !f.security_definer {
                p.push(format!("{name} is not SECURITY DEFINER: a tenant scope cannot see global suppressions through it"));
            }
            if !f.config.iter().any(|c| c == SEARCH_PATH) {
                p.push(format!(
                    "{name} does not pin {SEARCH_PATH}: a caller's objects could stand in for the ones it uses"
                ));
            }
            if f.source != store.suppressed_body() {
                p.push(format!(
                    "{name} differs from the one `better-email migrate` writes: a replaced body could list global suppressions"
                ));
            }
            p
        }
    };
    r.results.push(
        CheckResult::when(
            format!("function {FUNCTION} answers suppressions only"),
            problems.is_empty(),
            problems.join("; "),
        )
        .fix(MIGRATE),
    );
}

fn enqueue(f: Option<&FunctionFacts>, store: &Store, r: &mut Report) {
    let name = format!("{}.{ENQUEUE_FUNCTION}", store.schema());
    let problem = match f {
        None => Some(format!("{name} does not exist: every send fails")),
        Some(f) if f.source != store.enqueue_body() => Some(format!(
            "{name} differs from the one `better-email migrate` writes: sends may store other rows than this version's"
        )),
        Some(f) if !f.config.iter().any(|c| c == ENQUEUE_CONFIG) => Some(format!(
            "{name} does not set {ENQUEUE_CONFIG}: every send is planned again"
        )),
        Some(_) => None,
    };
    r.results.push(
        CheckResult::when(
            format!("function {ENQUEUE_FUNCTION} as migrate writes it"),
            problem.is_none(),
            problem.unwrap_or_default(),
        )
        .fix(MIGRATE),
    );
}

/// `better-email check --dkim-sample <file>`: whether a message as a receiver got it is signed,
/// and whether its signature covers `From` and, when present, the one-click unsubscribe headers
/// (mailbox providers ignore a `List-Unsubscribe-Post` the signature does not cover, RFC 8058 §4).
#[must_use]
pub fn dkim_sample(message: &[u8]) -> Report {
    let (present, h) = crate::email::dkim::coverage(message);
    let mut r = Report::default();
    let Some(h) = h else {
        r.results.push(
            CheckResult::fail("DKIM signature", "the sample has no DKIM-Signature").fix(SIGN),
        );
        r.finish();
        return r;
    };
    r.results.push(CheckResult::pass("DKIM signature"));
    for name in ["from", "list-unsubscribe", "list-unsubscribe-post"] {
        if name == "from" || present.iter().any(|p| p == name) {
            let label = format!("signature covers {name}");
            let message = format!("h= ({}) lacks {name}", h.join(":"));
            r.results
                .push(CheckResult::when(label, h.iter().any(|n| n == name), message).fix(SIGN));
        }
    }
    r.finish();
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::store::StoreConfig;

    const NOW_MS: i64 = 1_787_000_000_000;

    fn store() -> Store {
        Store::new(&StoreConfig {
            rls: true,
            ..StoreConfig::default()
        })
        .unwrap()
    }

    /// A database as `migrate` leaves it, read by a role that owns nothing.
    fn healthy(s: &Store) -> EmailFacts {
        let mut names: Vec<String> = TABLES.iter().map(|t| format!("email_{t}")).collect();
        names.extend(s.current_partitions(NOW_MS));
        let catalog = super::store::migrated_catalog(s, names, s.expected_indexes());
        EmailFacts {
            catalog,
            schema_version: Some(crate::email::store::SCHEMA_VERSION.to_string()),
            suppressed: Some(FunctionFacts {
                security_definer: true,
                config: vec![SEARCH_PATH.into()],
                source: s.suppressed_body(),
            }),
            enqueue: Some(FunctionFacts {
                security_definer: false,
                config: vec![ENQUEUE_CONFIG.into()],
                source: s.enqueue_body(),
            }),
        }
    }

    fn failed(report: &Report) -> Vec<String> {
        report
            .results
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {}", c.check, c.message.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn healthy_passes_and_each_finding_is_named() {
        let s = store();
        let ok = check(&healthy(&s), &s, NOW_MS);
        assert_eq!(failed(&ok), Vec::<String>::new());
        assert!(ok.passed);

        let mut off = healthy(&s);
        off.catalog.tables[5].rls_enabled = false; // email_event_keys has no tenant_id
        off.catalog.tables[6].rls_enabled = false; // email_suppressions
        let f = failed(&check(&off, &s, NOW_MS));
        assert_eq!(
            f,
            ["table email_suppressions RLS enabled: ROW LEVEL SECURITY not enabled on email_suppressions"]
        );

        let mut gone = healthy(&s);
        gone.suppressed = None;
        let report = check(&gone, &s, NOW_MS);
        assert!(failed(&report)[0].starts_with(
            "function email_suppressed answers suppressions only: public.email_suppressed(address_hashes bytea[], category text) does not exist"
        ));
        assert_eq!(report.next.as_deref(), Some(MIGRATE));

        let mut replaced = healthy(&s);
        replaced.suppressed = Some(FunctionFacts {
            security_definer: false,
            config: vec![],
            source: "SELECT 1".into(),
        });
        let f = failed(&check(&replaced, &s, NOW_MS)).join("\n");
        for part in [
            "is not SECURITY DEFINER",
            "does not pin search_path=pg_catalog, pg_temp",
            "differs from the one",
        ] {
            assert!(f.contains(part), "{part}: {f}");
        }

        let mut gone = healthy(&s);
        gone.enqueue = None;
        let report = check(&gone, &s, NOW_MS);
        assert_eq!(
            failed(&report),
            ["function email_enqueue as migrate writes it: public.email_enqueue does not exist: every send fails"]
        );
        assert_eq!(report.next.as_deref(), Some(MIGRATE));
        let mut replaced = healthy(&s);
        replaced.enqueue.as_mut().unwrap().source.push(' ');
        assert!(failed(&check(&replaced, &s, NOW_MS))[0].contains("differs from the one"));
        let mut unplanned = healthy(&s);
        unplanned.enqueue.as_mut().unwrap().config.clear();
        assert!(failed(&check(&unplanned, &s, NOW_MS))[0].ends_with(
            "does not set plan_cache_mode=force_generic_plan: every send is planned again"
        ));

        let mut old = healthy(&s);
        old.schema_version = Some("0".into());
        let f = failed(&check(&old, &s, NOW_MS));
        assert!(
            f[0].starts_with("schema version recorded: the email tables are at schema version 0"),
            "{f:?}"
        );

        let empty = check(&EmailFacts::default(), &s, NOW_MS);
        let f = failed(&empty);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].starts_with("email tables exist: missing in schema public: email_messages"));
    }
}
