//! `check`: judges catalog facts about tenant isolation (feature `analyze`).
//!
//! Results keep the reference's check names and messages where the meaning is the same, so
//! existing scripts that grep them keep working, and add the checks the reference lacks:
//! BYPASSRLS roles, owners without FORCE, widening policies, views without `security_invoker`,
//! `SECURITY DEFINER` functions over tenant tables, and missing `tenant_id` indexes; and what the
//! role can do around RLS (`reach`): TRUNCATE, ownership, privileged memberships, extra
//! policies, hardened functions that differ from the generator's.

pub mod audit;
pub mod catalog;
#[cfg(feature = "email")]
pub mod email;
#[cfg(feature = "email")]
pub mod email_dns;
pub mod isolation;
pub mod predicate;
pub mod probes;
mod reach;
#[cfg(feature = "webhooks")]
pub mod store;
mod tables;
#[cfg(test)]
mod tests;
mod unlisted;
#[cfg(feature = "webhooks")]
pub mod webhooks;

use std::collections::HashMap;

use catalog::Catalog;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CheckResult {
    pub check: String,
    pub passed: bool,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub message: Option<String>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub remediation: Option<String>,
}

impl CheckResult {
    pub(crate) fn pass(check: impl Into<String>) -> Self {
        CheckResult {
            check: check.into(),
            passed: true,
            message: None,
            remediation: None,
        }
    }

    pub(crate) fn fail(check: impl Into<String>, message: impl Into<String>) -> Self {
        CheckResult {
            check: check.into(),
            passed: false,
            message: Some(message.into()),
            remediation: None,
        }
    }

    pub(crate) fn when(check: impl Into<String>, ok: bool, message: impl Into<String>) -> Self {
        if ok {
            Self::pass(check)
        } else {
            Self::fail(check, message)
        }
    }

    pub(crate) fn fix(mut self, remediation: &str) -> Self {
        if !self.passed {
            self.remediation = Some(remediation.to_owned());
        }
        self
    }
}

/// The whole verdict. `passed` is true only when every result passed; warnings do not count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Report {
    pub passed: bool,
    pub results: Vec<CheckResult>,
    pub warnings: Vec<CheckResult>,
    /// What `migrate` would change on this database (for example a reference-style policy).
    pub upgrades: Vec<String>,
    /// The step to take first when something failed (`better-audit check`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub next: Option<String>,
}

impl Report {
    /// Sets `passed` and `next` (the fix of the first failure) from the results.
    pub fn finish(&mut self) {
        self.passed = self.results.iter().all(|c| c.passed);
        self.next = self
            .results
            .iter()
            .find(|c| !c.passed)
            .and_then(|c| c.remediation.clone());
    }
}

/// What to check: the `tenant` config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckConfig {
    pub tenant_tables: Vec<String>,
    pub schema: Option<String>,
    /// The config asks for hardened mode (`tenant.hardened`): a plain database then fails.
    pub hardened: bool,
    /// Tables with a `tenant_id` column that every tenant may read (`tenant.sharedTables`).
    pub shared_tables: Vec<String>,
}

impl CheckConfig {
    /// `(schema, table, label)` per configured table; `label` is the name as configured.
    #[must_use]
    pub fn targets(&self) -> Vec<(String, String, String)> {
        let default = self.schema.clone().unwrap_or_else(|| "public".into());
        self.tenant_tables
            .iter()
            .map(|t| {
                let t = t.trim();
                match t.split_once('.') {
                    Some((s, n)) => (s.to_owned(), n.to_owned(), t.to_owned()),
                    None => (default.clone(), t.to_owned(), t.to_owned()),
                }
            })
            .collect()
    }

    /// Schemas the catalog queries must cover.
    #[must_use]
    pub fn schemas(&self) -> Vec<String> {
        let mut s: Vec<String> =
            std::iter::once(self.schema.clone().unwrap_or_else(|| "public".into()))
                .chain(self.targets().into_iter().map(|(s, _, _)| s))
                .collect();
        s.sort();
        s.dedup();
        s
    }
}

/// Catalog rows grouped by table, for O(1) lookups on databases with thousands of tables.
pub(crate) struct Index<'a> {
    pub catalog: &'a Catalog,
    pub tables: HashMap<(&'a str, &'a str), &'a catalog::Table>,
    pub columns: HashMap<(&'a str, &'a str), Vec<&'a catalog::Column>>,
    pub policies: HashMap<(&'a str, &'a str), Vec<&'a catalog::Policy>>,
    pub triggers: HashMap<(&'a str, &'a str), Vec<&'a catalog::Trigger>>,
    pub indexes: HashMap<(&'a str, &'a str), Vec<&'a catalog::Index>>,
}

macro_rules! group {
    ($rows:expr) => {{
        let mut m: HashMap<(&str, &str), Vec<_>> = HashMap::new();
        for r in $rows {
            m.entry((r.schema.as_str(), r.table.as_str()))
                .or_default()
                .push(r);
        }
        m
    }};
}

impl<'a> Index<'a> {
    fn new(catalog: &'a Catalog) -> Self {
        Index {
            catalog,
            tables: catalog
                .tables
                .iter()
                .map(|t| ((t.schema.as_str(), t.name.as_str()), t))
                .collect(),
            columns: group!(&catalog.columns),
            policies: group!(&catalog.policies),
            triggers: group!(&catalog.triggers),
            indexes: group!(&catalog.indexes),
        }
    }
}

/// The connected role: neither superuser nor BYPASSRLS (both skip every policy).
fn role_results(role: &catalog::Role, r: &mut Report) {
    r.results.push(
        CheckResult::when(
            "connected as non-superuser",
            !role.superuser,
            format!(
                "connected as superuser \"{}\" — RLS policies will be bypassed. Create a non-superuser role for your application",
                role.name
            ),
        )
        .fix("CREATE ROLE app LOGIN PASSWORD '…' NOSUPERUSER NOBYPASSRLS; and connect as it"),
    );
    r.results.push(
        CheckResult::when(
            "connected role does not bypass RLS",
            !role.bypass_rls,
            format!(
                "role \"{}\" has BYPASSRLS — RLS policies will be bypassed",
                role.name
            ),
        )
        .fix(&format!(
            "ALTER ROLE {} NOBYPASSRLS;",
            crate::sql::quote_ident(&role.name)
        )),
    );
}

/// Judges `catalog` against `config`.
#[must_use]
pub fn check(catalog: &Catalog, config: &CheckConfig) -> Report {
    let ix = Index::new(catalog);
    let mut r = Report::default();
    let role = &catalog.role;
    role_results(role, &mut r);
    reach::privileged_roles(&ix, &mut r);
    let schema = config.schema.clone().unwrap_or_else(|| "public".into());
    tables::tenants_table(&ix, &schema, &mut r);
    reach::table_reach(&ix, &schema, "tenants", "tenants", &mut r);
    let targets = config.targets();
    for (s, t, label) in &targets {
        tables::tenant_table(&ix, s, t, label, &mut r);
        reach::extra_policies(&ix, s, t, label, &mut r);
        reach::table_reach(&ix, s, t, label, &mut r);
    }
    tables::views_and_functions(&ix, &targets, &mut r);
    tables::audit_logs(&ix, &config.schemas(), &targets, &mut r);
    unlisted::unlisted_tables(
        &ix,
        &config.schemas(),
        &targets,
        &config.shared_tables,
        &mut r,
    );
    let mut scoped = vec![(schema.clone(), "tenants".to_owned(), "tenants".to_owned())];
    scoped.extend(targets.iter().cloned());
    reach::foreign_functions(&ix, &schema, &scoped, &mut r);
    if let Some(usable) = catalog.private_schema_usable {
        r.results.push(
            CheckResult::when(
                "hardened context key out of reach",
                !usable,
                format!(
                    "role \"{}\" can use schema better_tenant_private and could read the signing key",
                    role.name
                ),
            )
            .fix("REVOKE ALL ON SCHEMA better_tenant_private FROM <app role>; run migrations as another role"),
        );
        reach::hardened(&ix, config.schema.as_deref(), &scoped, &mut r);
    } else if config.hardened {
        let mut plain = reach::plain_mode_warning();
        plain.check = "hardened mode applied (the config sets hardened: true)".into();
        r.results.push(plain);
    } else {
        r.warnings.push(reach::plain_mode_warning());
    }
    r.passed = r.results.iter().all(|c| c.passed);
    r
}

/// The reference's verbose text output, plus our upgrade notes.
#[must_use]
pub fn render(report: &Report) -> String {
    let mut out = String::from("\n");
    let line = |out: &mut String, mark: char, c: &CheckResult| {
        match &c.message {
            Some(m) if !c.passed => out.push_str(&format!("  {mark} {} — {m}\n", c.check)),
            _ => out.push_str(&format!("  {mark} {}\n", c.check)),
        }
        if let Some(fix) = &c.remediation {
            out.push_str(&format!("      fix: {fix}\n"));
        }
    };
    for c in &report.results {
        line(&mut out, if c.passed { '✓' } else { '✗' }, c);
    }
    if !report.warnings.is_empty() {
        out.push('\n');
        for w in &report.warnings {
            line(&mut out, '⚠', w);
        }
    }
    if !report.upgrades.is_empty() {
        out.push_str("\n  `migrate` would upgrade:\n");
        for u in &report.upgrades {
            out.push_str(&format!("    - {u}\n"));
        }
    }
    let failed = report.results.iter().filter(|c| !c.passed).count();
    let passed = report.results.len() - failed;
    if failed == 0 {
        out.push_str(&format!("\n✓ All {passed} checks passed\n"));
    } else {
        let s = if failed == 1 { "check" } else { "checks" };
        out.push_str(&format!("\n✗ {failed} {s} failed, {passed} passed\n"));
        if let Some(next) = &report.next {
            out.push_str(&format!("Next: {next}\n"));
        }
        out.push('\n');
    }
    out
}

/// The last lines of a failed `check` or `doctor`: each distinct fix once, in the order of the
/// results, with the number of checks it fixes, and the command to run afterwards. `migrate` is
/// the `better-tenant migrate` of this invocation (with its `--config` / `--schema`).
#[must_use]
pub fn next_steps(report: &Report, migrate: &str, rerun: &str) -> String {
    let mut steps: Vec<(String, usize)> = Vec::new();
    for c in report.results.iter().filter(|c| !c.passed) {
        let step = match c.remediation.as_deref() {
            Some(fix) if fix.starts_with(reach::HARDEN) || fix.starts_with(tables::MIGRATE) => {
                let hardened = if fix.starts_with(reach::HARDEN) {
                    " --hardened"
                } else {
                    ""
                };
                format!("run `{migrate}{hardened} -o db/rls.sql` and apply db/rls.sql as the tables' owner (not the application role)")
            }
            Some(fix) => fix.to_owned(),
            None => "fix what the ✗ line says".to_owned(),
        };
        match steps.iter_mut().find(|(s, _)| *s == step) {
            Some((_, n)) => *n += 1,
            None => steps.push((step, 1)),
        }
    }
    let count = |n: usize| {
        if n == 1 {
            "1 check".to_owned()
        } else {
            format!("{n} checks")
        }
    };
    match steps.as_slice() {
        [] => String::new(),
        [(step, n)] => format!(
            "Next step: {step} (fixes {}), then run `{rerun}` again.\n",
            count(*n)
        ),
        _ => {
            let mut out = format!("Next steps, then run `{rerun}` again:\n");
            for (i, (step, n)) in steps.iter().enumerate() {
                out.push_str(&format!("  {}. {step} ({})\n", i + 1, count(*n)));
            }
            out
        }
    }
}
