//! `doctor`'s probes: their outcome and report, and the statements that prove what `check`
//! reports about privileges, each inside a savepoint of a transaction that is rolled back.
//! Names are quoted here, once. The isolation probes' statements are in `isolation`.

use std::fmt::Write as _;

use crate::error::Result;
use crate::sql::Ident;

/// One probe outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Probe {
    pub probe: String,
    pub passed: bool,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub message: Option<String>,
}

impl Probe {
    /// A probe that passed when `failure` is `None`, else failed with it.
    #[must_use]
    pub fn new(name: impl Into<String>, failure: Option<String>) -> Probe {
        Probe {
            probe: name.into(),
            passed: failure.is_none(),
            message: failure,
        }
    }
}

/// The probe section of the text report.
#[must_use]
pub fn render(probes: &[Probe]) -> String {
    let mut s = String::from("\nLive probes (in a transaction that was rolled back):\n");
    for p in probes {
        let mark = if p.passed { '✓' } else { '✗' };
        match &p.message {
            Some(m) => writeln!(s, "  {mark} {} — {m}", p.probe).ok(),
            None => writeln!(s, "  {mark} {}", p.probe).ok(),
        };
    }
    let failed = probes.iter().filter(|p| !p.passed).count();
    if failed == 0 {
        writeln!(s, "\n✓ All {} probes passed", probes.len()).ok();
    } else {
        writeln!(s, "\n✗ {failed} of {} probes failed", probes.len()).ok();
    }
    s
}

/// Bounds how long a TRUNCATE probe may hold (or wait for) its lock on a live table.
pub const LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '1s'";

/// `TRUNCATE "schema"."table"`: PostgreSQL checks the privilege before it locks, so a refusal
/// (SQLSTATE 42501) costs nothing; any other outcome means the privilege is there.
///
/// # Errors
/// `InvalidIdentifier` for a name PostgreSQL could not have.
pub fn truncate(schema: &str, table: &str) -> Result<String> {
    Ok(format!(
        "TRUNCATE {}.{}",
        Ident::new("schema", schema)?.quoted(),
        Ident::new("table", table)?.quoted()
    ))
}

/// `SET LOCAL ROLE "role"`, reverted with the savepoint.
///
/// # Errors
/// `InvalidIdentifier`.
pub fn set_role(role: &str) -> Result<String> {
    Ok(format!(
        "SET LOCAL ROLE {}",
        Ident::new("role", role)?.quoted()
    ))
}

/// An unsigned bypass and an unsigned tenant (`$1`) for [`unsigned_refused`].
pub const UNSIGNED_CONTEXT: &str = "SELECT set_config('app.bypass_rls', 'true', true), set_config('app.bypass_sig', '', true), set_config('app.current_tenant', $1, true), set_config('app.tenant_sig', '', true)";

/// Whether the context functions ignore the unsigned settings (a hardened database answers
/// true; a function replaced by one that skips the signature answers false).
///
/// # Errors
/// `InvalidIdentifier` for the schema.
pub fn unsigned_refused(schema: &str) -> Result<String> {
    let s = Ident::new("schema", schema)?.quoted();
    Ok(format!(
        "SELECT {s}.\"better_tenant_bypass\"() IS NOT TRUE AND {s}.\"better_tenant_current\"() IS NULL"
    ))
}

/// The finding when [`unsigned_refused`] answers false.
pub const UNSIGNED_ACCEPTED: &str =
    "better_tenant_bypass()/better_tenant_current() accepted an unsigned setting";

/// A bypass setting that is not exactly `'true'` must not open anything.
pub const LOOSE_BYPASS: &str =
    "SELECT set_config('app.current_tenant', '', true), set_config('app.bypass_rls', 'on', true)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report() {
        let text = render(&[Probe::new("a", None), Probe::new("b", Some("why".into()))]);
        assert!(
            text.contains("  ✓ a\n  ✗ b — why\n\n✗ 1 of 2 probes failed\n"),
            "{text}"
        );
        assert!(render(&[Probe::new("a", None)]).ends_with("\n✓ All 1 probes passed\n"));
    }

    #[test]
    fn quoted() {
        assert_eq!(truncate("a", "b\"c").unwrap(), "TRUNCATE \"a\".\"b\"\"c\"");
        assert_eq!(set_role("x").unwrap(), "SET LOCAL ROLE \"x\"");
        assert!(unsigned_refused("a")
            .unwrap()
            .contains("\"a\".\"better_tenant_bypass\"()"));
    }
}
