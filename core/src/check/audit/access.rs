//! Who and what writes the trail: trigger capture as `migrate --triggers` generates it today,
//! an application role that can only append, tenant isolation, and the seal key.

use super::catalog::{AuditCatalog, Relation};
use super::SealSetting;
use crate::audit::chain::{self, Mode};
use crate::audit::seal::{self, Anchor};
use crate::audit::storage::{Table, CHECKPOINTS};
use crate::audit::triggers::{self, TRIGGER, TRIGGER_TYPE};
use crate::check::{CheckResult, Report};
use crate::policy::audit::{AUDIT_POLICY, CHECKPOINT_POLICY};
use crate::policy::expected::parse_functions;
use crate::sql::quote_ident as q;

const TRIGGERS: &str = "run `better-audit migrate --triggers`";
const NOT_SUPERUSER: &str =
    "connect the application as a role that is neither superuser nor owner of audit_logs";

/// The capture function and one current trigger per table that trigger capture covers; a
/// capture trigger on a table outside that list is a warning.
pub(super) fn capture(catalog: &AuditCatalog, t: &Table, r: &mut Report) {
    if catalog.captured.is_empty() && catalog.capture_function.is_none() {
        return;
    }
    let function = t.qualified(triggers::CAPTURE_FUNCTION);
    let expected = triggers::triggers_sql(t, &[])
        .ok()
        .and_then(|sql| parse_functions(&sql).into_iter().next());
    let problem = match (&catalog.capture_function, &expected) {
        (None, _) => Some(format!("{function}() not found: the triggers have nothing to call")),
        (Some(live), Some(e)) if !e.matches(live) => Some(format!(
            "{function}() differs from what `better-audit migrate --triggers` generates (body, SECURITY DEFINER or search_path)"
        )),
        _ => None,
    };
    r.results.push(
        CheckResult::when(
            "trigger capture function current",
            problem.is_none(),
            problem.clone().unwrap_or_default(),
        )
        .fix(TRIGGERS),
    );
    let capture = format!("{}.{}", t.schema.as_str(), triggers::CAPTURE_FUNCTION);
    for c in &catalog.captured {
        let name = format!("trigger {TRIGGER} on {}", c.name);
        let table = match &c.table {
            Ok(table) => table,
            Err(reason) => {
                r.results.push(
                    CheckResult::fail(name, reason.to_string())
                        .fix("create the table, or remove it from audit.auditTables"),
                );
                continue;
            }
        };
        let live = catalog
            .triggers
            .iter()
            .find(|x| x.schema == table.schema && x.table == table.name);
        let problem = match live {
            None => Some("not found: changes to this table are not recorded".to_owned()),
            Some(x) if !x.enabled => Some("disabled: changes to this table are not recorded".to_owned()),
            Some(x) if x.trigger_type != TRIGGER_TYPE => Some(
                "does not fire AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW: some changes are not recorded".to_owned(),
            ),
            Some(x) if x.function != capture => Some(format!("calls {} instead of {capture}", x.function)),
            Some(x) if x.args != table.trigger_args() => Some(format!(
                "passes key columns ({}) and exact-number columns ({}); the table now has ({}) and ({}): record ids or images are wrong",
                x.args.first().map_or("", String::as_str),
                x.args.get(1).map_or("", String::as_str),
                table.key.join(","),
                table.precise.join(",")
            )),
            Some(_) => None,
        };
        r.results.push(
            CheckResult::when(name, problem.is_none(), problem.unwrap_or_default()).fix(TRIGGERS),
        );
    }
    for x in &catalog.triggers {
        let covered = catalog.captured.iter().any(|c| {
            c.table
                .as_ref()
                .is_ok_and(|t| t.schema == x.schema && t.name == x.table)
        });
        if !covered {
            r.warnings.push(
                CheckResult::fail(
                    format!("trigger {TRIGGER} on {}.{} is not configured", x.schema, x.table),
                    "audit.auditTables (or --tables) does not list this table, so check does not judge its trigger",
                )
                .fix("add the table to audit.auditTables, or DROP TRIGGER usebetter_audit on it"),
            );
        }
    }
}

fn verbs(x: &Relation) -> Vec<&'static str> {
    [
        ("UPDATE", x.update),
        ("DELETE", x.delete),
        ("TRUNCATE", x.truncate),
    ]
    .into_iter()
    .filter_map(|(v, has)| has.then_some(v))
    .collect()
}

/// The connected role (the application's) may add entries, never change or remove them, and
/// may not write the purge checkpoints.
pub(super) fn append_only(catalog: &AuditCatalog, t: &Table, r: &mut Report) {
    let role = &catalog.role;
    let logs: Vec<&Relation> = catalog
        .relations
        .iter()
        .filter(|x| x.name != CHECKPOINTS || x.partition)
        .collect();
    let writable: Vec<&&Relation> = logs.iter().filter(|x| !verbs(x).is_empty()).collect();
    let owned = logs.iter().find(|x| x.owner_reachable);
    let name = "connected role cannot UPDATE, DELETE or TRUNCATE audit_logs";
    let (message, fix) = if role.superuser {
        (
            format!(
                "{} is a superuser: it can change or remove any entry",
                q(&role.name)
            ),
            NOT_SUPERUSER.to_owned(),
        )
    } else if let Some(o) = owned {
        (
            format!(
                "{} {} {}: it can change, remove or drop entries whatever is granted",
                q(&role.name),
                if o.owner == role.name { "owns".to_owned() } else { format!("is a member of {}, which owns", q(&o.owner)) },
                o.name
            ),
            format!("connect the application as a role that does not own audit_logs, with GRANT SELECT, INSERT ON {} TO <app role>; run `better-audit migrate` as the owner", t.qualified("audit_logs")),
        )
    } else {
        let list = writable
            .iter()
            .map(|x| format!("{} ({})", x.name, verbs(x).join(", ")))
            .collect::<Vec<_>>()
            .join(", ");
        let targets = writable
            .iter()
            .map(|x| t.qualified(&x.name))
            .collect::<Vec<_>>()
            .join(", ");
        (
            format!("{} can change or remove entries (granted to it, to PUBLIC or to a role it is a member of): {list}", q(&role.name)),
            format!("REVOKE UPDATE, DELETE, TRUNCATE ON {targets} FROM {}, PUBLIC;", q(&role.name)),
        )
    };
    let safe = !role.superuser && owned.is_none() && writable.is_empty();
    r.results
        .push(CheckResult::when(name, safe, message).fix(&fix));
    if let Some(main) = logs.iter().find(|x| !x.partition) {
        if !main.insert && !role.superuser {
            r.warnings.push(
                CheckResult::fail(
                    "connected role can INSERT into audit_logs",
                    format!("{} cannot: entries the library writes on this connection fail (trigger capture does not need it)", q(&role.name)),
                )
                .fix(&format!("GRANT SELECT, INSERT ON {} TO {};", t.qualified("audit_logs"), q(&role.name))),
            );
        }
    }
    let Some(cp) = catalog
        .relations
        .iter()
        .find(|x| x.name == CHECKPOINTS && !x.partition)
    else {
        return;
    };
    let denied = !role.superuser && !cp.owner_reachable && !cp.insert && verbs(cp).is_empty();
    let (how, fix) = match (role.superuser, cp.owner_reachable) {
        (true, _) => ("as a superuser", NOT_SUPERUSER),
        (false, true) => ("as its owner", "connect the application as a role that does not own it; run `better-audit migrate` as the owner"),
        _ => ("by a grant", "run `better-audit migrate` as the owner: it revokes these privileges from every role but the owner"),
    };
    r.results.push(
        CheckResult::when(
            format!("connected role cannot write {CHECKPOINTS}"),
            denied,
            format!("{} can ({how}) record where a purge cut a chain, which is how deleted history would be hidden", q(&role.name)),
        )
        .fix(fix),
    );
}

/// With a tenant section, `audit_logs`, every partition and the checkpoints are under
/// ENABLE + FORCE ROW LEVEL SECURITY with the policy `migrate` creates.
pub(super) fn tenant_isolation(catalog: &AuditCatalog, r: &mut Report) {
    let lacking: Vec<&str> = catalog
        .relations
        .iter()
        .filter(|x| {
            let policy = if x.name == CHECKPOINTS && !x.partition {
                CHECKPOINT_POLICY
            } else {
                AUDIT_POLICY
            };
            !(x.rls_enabled && x.rls_forced && x.policies.iter().any(|p| p == policy))
        })
        .map(|x| x.name.as_str())
        .collect();
    r.results.push(
        CheckResult::when(
            "audit_logs isolated by tenant",
            lacking.is_empty(),
            format!(
                "{} {} ENABLE + FORCE ROW LEVEL SECURITY with the tenant policy ({AUDIT_POLICY}): every tenant scope reads every tenant's audit entries",
                lacking.join(", "),
                if lacking.len() == 1 { "lacks" } else { "lack" }
            ),
        )
        .fix("run `better-audit migrate` (with the tenant section in better.config.*, it isolates audit_logs by tenant)"),
    );
}

const SEAL_FIX: &str = "set AUDIT_SEAL_KEY (or --key-file) to the key the entries were sealed with";

/// With sealing in use, the key must be usable and must verify the newest sealed entry (the
/// chain verification itself is `better-audit verify`'s).
pub(super) fn seal(catalog: &AuditCatalog, setting: &SealSetting, r: &mut Report) {
    let newest = catalog.newest_sealed.as_ref();
    if !setting.expected {
        if matches!(newest, Some(Ok(_))) {
            r.warnings.push(
                CheckResult::fail(
                    "seal key checked",
                    "entries are sealed, but no key was given and better.config.* has no audit.seal",
                )
                .fix("set AUDIT_SEAL_KEY (or audit.seal in better.config.*) so check verifies the key"),
            );
        }
        return;
    }
    let name = "seal key verifies the newest sealed entry";
    let key = match chain::seal_key(
        setting.key.as_deref(),
        setting.unkeyed,
        "audit.seal: { unkeyed: true } / --unkeyed",
    ) {
        Ok(k) => k,
        Err(e) => {
            r.results
                .push(CheckResult::fail(name, e.to_string()).fix(SEAL_FIX));
            return;
        }
    };
    let row = match newest {
        None => {
            r.results.push(CheckResult::pass(name));
            return;
        }
        Some(Err(e)) => {
            r.results.push(CheckResult::fail(name, format!("cannot read the newest sealed entry: {e}")).fix("run check as a role that can read audit_logs (with BETTER_TENANT_HARDENED_KEY in hardened mode)"));
            return;
        }
        Some(Ok(row)) => row,
    };
    let at = format!("entry {} (seq {})", row.id, row.seq);
    let mode = chain::mode_of(Some(row));
    let problem = match (key, mode) {
        (Some(_), Some(Mode::Unkeyed)) => Some(format!(
            "{at} is sealed without a key: anyone who can write the table can recompute its chain"
        )),
        (None, Some(Mode::Keyed)) => Some(format!(
            "{at} is sealed with a key, and audit.seal / --unkeyed asks for unkeyed chains"
        )),
        _ => {
            // The entry alone, after its own predecessor: only its seal is recomputed.
            let start = Anchor {
                seq: row.seq.saturating_sub(1),
                hash: row.prev_hash.clone(),
            };
            let by = if key.is_some() {
                "AUDIT_SEAL_KEY"
            } else {
                "its unkeyed seal"
            };
            seal::verify_from(std::slice::from_ref(row), key, Some(&start), None)
                .err()
                .map(|_| format!("{by} does not verify {at}: it is not the key the entries were sealed with, or the entry was changed (`better-audit verify` tells which)"))
        }
    };
    r.results.push(
        CheckResult::when(name, problem.is_none(), problem.unwrap_or_default()).fix(SEAL_FIX),
    );
}
