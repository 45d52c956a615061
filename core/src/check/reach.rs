//! What the application role can do around RLS rather than through it: roles it can become,
//! tables it can TRUNCATE or own, extra policies, and, in hardened mode, whether the context
//! functions are still the ones `migrate` generates and whether the policies call them.

use super::catalog::Policy;
use super::predicate::reads_settings;
use super::tables::applies;
use super::{CheckResult, Index, Report};
use crate::policy::expected::hardened_functions;
use crate::policy::names::reference_policy_name;
use crate::sql::{quote_ident as q, Ident};

pub(super) const HARDEN: &str =
    "run `better-tenant migrate --hardened` and apply the SQL as the migration role";

/// Roles the connected role can `SET ROLE` to that skip RLS.
pub(super) fn privileged_roles(ix: &Index<'_>, r: &mut Report) {
    let role = &ix.catalog.role.name;
    let found = &ix.catalog.privileged_roles;
    let names: Vec<String> = found
        .iter()
        .map(|p| {
            let what = if p.superuser {
                "superuser"
            } else {
                "BYPASSRLS"
            };
            format!("{} ({what})", q(&p.name))
        })
        .collect();
    let fix = found
        .iter()
        .map(|p| format!("REVOKE {} FROM {};", q(&p.name), q(role)))
        .collect::<Vec<_>>()
        .join(" ");
    r.results.push(
        CheckResult::when(
            "connected role cannot become a role that bypasses RLS",
            found.is_empty(),
            format!(
                "role {} is a member of {}: SET ROLE skips every policy",
                q(role),
                names.join(", ")
            ),
        )
        .fix(&format!(
            "{fix} (revoke the membership that grants it, direct or inherited)"
        )),
    );
}

/// TRUNCATE and ownership for one table in scope.
pub(super) fn table_reach(ix: &Index<'_>, schema: &str, name: &str, label: &str, r: &mut Report) {
    let Some(table) = ix.tables.get(&(schema, name)) else {
        return;
    };
    let role = ix.catalog.role.name.as_str();
    let qualified = format!("{}.{}", q(schema), q(name));
    let owns = table.owner == role;
    let how = if table.owner_reachable {
        "as its owner"
    } else {
        "by a grant"
    };
    r.results.push(
        CheckResult::when(
            format!("table {label} TRUNCATE denied"),
            !table.truncatable,
            format!(
                "role {} can TRUNCATE {label} ({how}): TRUNCATE ignores RLS and empties every tenant's rows",
                q(role)
            ),
        )
        .fix(&format!(
            "REVOKE TRUNCATE ON {qualified} FROM {}, PUBLIC;{}",
            q(role),
            if table.owner_reachable {
                " and move ownership (see the owner check)"
            } else {
                ""
            }
        )),
    );
    let message = if owns {
        format!(
            "role {} owns {label}: it can turn RLS off, drop the policy or TRUNCATE",
            q(role)
        )
    } else {
        format!(
            "role {} is a member of {}, which owns {label}: SET ROLE {} can turn RLS off, drop the policy or TRUNCATE",
            q(role),
            q(&table.owner),
            q(&table.owner)
        )
    };
    let fix = if owns {
        format!("ALTER TABLE {qualified} OWNER TO <migration role>; then GRANT SELECT, INSERT, UPDATE, DELETE ON {qualified} TO {};", q(role))
    } else {
        format!("REVOKE {} FROM {};", q(&table.owner), q(role))
    };
    r.results.push(
        CheckResult::when(
            format!("table {label} owner out of reach"),
            !table.owner_reachable,
            message,
        )
        .fix(&fix),
    );
}

/// A second tenant-scoped permissive policy is OR-ed with ours: whatever it admits beyond the
/// tenant (another setting, a looser cast) widens access, and nobody reviews it with ours.
pub(super) fn extra_policies(
    ix: &Index<'_>,
    schema: &str,
    name: &str,
    label: &str,
    r: &mut Report,
) {
    if !ix.tables.contains_key(&(schema, name)) {
        return;
    }
    let role = ix.catalog.role.name.as_str();
    let ours = Ident::new("table", name)
        .map(|t| reference_policy_name(&t).as_str().to_owned())
        .unwrap_or_default();
    let permissive: Vec<&Policy> = ix
        .policies
        .get(&(schema, name))
        .map(|ps| {
            ps.iter()
                .copied()
                .filter(|p| {
                    p.permissive
                        && ["SELECT", "INSERT", "UPDATE", "DELETE"]
                            .iter()
                            .any(|c| applies(p, role, c))
                })
                .collect()
        })
        .unwrap_or_default();
    let has_ours = permissive.iter().any(|p| p.name == ours);
    let mut extra: Vec<String> = permissive
        .iter()
        .filter(|p| p.name != ours)
        .map(|p| format!("\"{}\"", p.name))
        .collect();
    if !has_ours && extra.len() == 1 {
        extra.clear();
    }
    extra.sort();
    r.results.push(
        CheckResult::when(
            format!("table {label} no extra permissive policy"),
            extra.is_empty(),
            format!(
                "permissive {} {} OR-ed with the tenant policy: every row {} admits is reachable",
                if extra.len() == 1 {
                    "policy"
                } else {
                    "policies"
                },
                extra.join(", "),
                if extra.len() == 1 { "it" } else { "they" }
            ),
        )
        .fix("drop the extra policy, or make it AS RESTRICTIVE"),
    );
}

/// Schemas other than `schema` whose `better_tenant_*` functions a policy expression calls.
fn foreign_calls(expr: &str, schema: &str) -> Vec<String> {
    let text = expr.replace('"', "");
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices("better_tenant_")
        .filter_map(|(i, _)| {
            let before = text[..i].strip_suffix('.')?;
            let start = before
                .char_indices()
                .rev()
                .find(|(_, c)| !ident(*c))
                .map_or(0, |(j, c)| j + c.len_utf8());
            let found = &before[start..];
            (!found.is_empty() && found != schema).then(|| found.to_owned())
        })
        .collect()
}

/// A policy that calls `other.better_tenant_current()` trusts whatever that schema defines,
/// which `check` does not compare with the generator. Reported only when it happens.
pub(super) fn foreign_functions(
    ix: &Index<'_>,
    schema: &str,
    tables: &[(String, String, String)],
    r: &mut Report,
) {
    for (s, t, label) in tables {
        let Some(ps) = ix.policies.get(&(s.as_str(), t.as_str())) else {
            continue;
        };
        let mut found: Vec<String> = ps
            .iter()
            .flat_map(|p| [p.qual.as_deref(), p.with_check.as_deref()])
            .flatten()
            .flat_map(|e| foreign_calls(e, schema))
            .collect();
        found.sort();
        found.dedup();
        if !found.is_empty() {
            r.results.push(
                CheckResult::fail(
                    format!("table {label} policy calls the context functions of {}", q(schema)),
                    format!(
                        "a policy calls better_tenant_* functions in {}: whatever they return is trusted as the tenant scope",
                        found.iter().map(|f| q(f)).collect::<Vec<_>>().join(", ")
                    ),
                )
                .fix("run `better-tenant migrate` and apply the SQL (it recreates the policy)"),
            );
        }
    }
}

/// Hardened mode: each policy must reach the context through the signature-checking
/// functions, which must be the ones `migrate --hardened` generates, out of the role's reach.
pub(super) fn hardened(
    ix: &Index<'_>,
    schema: Option<&str>,
    tables: &[(String, String, String)],
    r: &mut Report,
) {
    for (s, t, label) in tables {
        let mut unsigned: Vec<String> = ix
            .policies
            .get(&(s.as_str(), t.as_str()))
            .map(|ps| {
                ps.iter()
                    .filter(|p| {
                        [p.qual.as_deref(), p.with_check.as_deref()]
                            .into_iter()
                            .flatten()
                            .any(reads_settings)
                    })
                    .map(|p| format!("\"{}\"", p.name))
                    .collect()
            })
            .unwrap_or_default();
        if !ix.tables.contains_key(&(s.as_str(), t.as_str())) {
            continue;
        }
        unsigned.sort();
        r.results.push(
            CheckResult::when(
                format!("table {label} policy uses the signed context"),
                unsigned.is_empty(),
                format!(
                    "{} {} read app.current_tenant / app.bypass_rls directly: any SQL can set them without the key",
                    if unsigned.len() == 1 { "policy" } else { "policies" },
                    unsigned.join(", ")
                ),
            )
            .fix(HARDEN),
        );
    }
    let Ok(expected) = hardened_functions(schema) else {
        return;
    };
    let role = &ix.catalog.role.name;
    for f in &expected {
        let live = ix.catalog.context_functions.iter().find(|l| {
            let d = &l.definition;
            d.schema == f.schema && d.name == f.name && d.args == f.args
        });
        let problem = match live {
            None => Some("not found".to_owned()),
            Some(l) if !f.matches(&l.definition) => Some(
                "its definition (body, SECURITY DEFINER or search_path) differs from what `better-tenant migrate --hardened` generates: it may accept an unsigned context".to_owned(),
            ),
            Some(l) if l.owner_reachable => Some(format!(
                "role {} owns it or is a member of its owner, and can replace it with one that skips the signature",
                q(role)
            )),
            Some(_) => None,
        };
        r.results.push(
            CheckResult::when(
                format!("hardened function {} unchanged", f.label()),
                problem.is_none(),
                problem.unwrap_or_default(),
            )
            .fix(HARDEN),
        );
    }
}

/// Plain mode is a choice, but never an accident: say what it allows and how to leave it.
pub(super) fn plain_mode_warning() -> CheckResult {
    CheckResult::fail(
        "plain mode: the tenant context is not signed",
        "any SQL the application runs, an injected statement included, can call set_config('app.current_tenant', …) to switch tenant or set_config('app.bypass_rls', 'true', …) to read every tenant",
    )
    .fix(&format!(
        "{HARDEN}, then store the key: INSERT INTO better_tenant_private.context_key (key) VALUES (convert_to('<key>', 'UTF8'))"
    ))
}
