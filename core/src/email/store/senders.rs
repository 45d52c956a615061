//! Senders (spec §11): the domains and addresses a tenant (or, in system context, the app) may
//! send from, with what their DNS must publish and what it did when last verified. Writes reuse
//! the suppression list's target rule: a tenant's sender needs a tenant, a global one is the
//! system context's.

use super::suppressions::{iso, target, which};
use super::{Statement, Store};

/// A sender as the API returns it.
fn columns(prefix: &str) -> String {
    format!(
        "{prefix}id::text AS id, {prefix}tenant_id::text AS tenant_id, {prefix}domain, {prefix}address, {prefix}display_name, {prefix}transport, {prefix}transport_identity, {prefix}is_default, {verified} AS verified_at, {prefix}dns_report, {created} AS created_at",
        verified = iso(&format!("{prefix}verified_at")),
        created = iso(&format!("{prefix}created_at")),
    )
}

impl Store {
    /// Adds a sender: `$1` a tenant (NULL: the scope's), `$2` global (no tenant), `$3` domain,
    /// `$4` address, `$5` display name, `$6` transport, `$7` transport identity, `$8` default,
    /// `$9` `dns_report` (what its DNS must publish), to whose `expect` a random ownership token
    /// is added (`gen_random_uuid`'s strong random bits: 122 of them). A new default takes over
    /// once it is verified ([`Store::email_sender_verified`]): until then the tenant's mail keeps
    /// its verified default. Rows: `scope`, `context` and the new sender (see
    /// [`Store::email_suppression_put`]).
    #[must_use]
    pub fn email_sender_put(&self) -> Statement {
        Statement::new(
            format!(
                "WITH t AS ({target}),
c AS (
  INSERT INTO {senders} (id, tenant_id, domain, address, display_name, transport, transport_identity, is_default, dns_report)
  SELECT gen_random_uuid(), t.tenant_id, $3, $4, $5, $6, $7, $8,
         coalesce($9::jsonb, '{{}}') || jsonb_build_object('expect', coalesce($9::jsonb -> 'expect', '{{}}')
           || jsonb_build_object('token', replace(gen_random_uuid()::text, '-', '')))
    FROM t WHERE t.allowed
  RETURNING {columns}
)
SELECT t.tenant_id::text AS scope, t.context::text AS context, c.* FROM t LEFT JOIN c ON true",
                target = target("$1", "$2"),
                columns = columns(""),
                senders = self.table("senders"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("global", "boolean"),
                ("domain", "text"),
                ("address", "text"),
                ("display_name", "text"),
                ("transport", "text"),
                ("transport_identity", "text"),
                ("is_default", "boolean"),
                ("dns_report", "jsonb"),
            ],
        )
    }

    /// The senders the call sees, oldest first: `$1` a tenant (NULL: what the context sees),
    /// `$2` only the global ones, `$3` only this id.
    #[must_use]
    pub fn email_senders_list(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT {columns} FROM {senders} s
WHERE {which} AND ($3::uuid IS NULL OR s.id = $3)
ORDER BY s.created_at, s.id",
                columns = columns("s."),
                which = which("$1", "$2"),
                senders = self.table("senders"),
            ),
            &[("tenant_id", "uuid"), ("global", "boolean"), ("id", "uuid")],
        )
    }

    /// Stores a verification: `$1` the sender, `$2` a tenant (NULL: what the context sees),
    /// `$3` the report, `$4` whether every check passed, `$5` whether it is inconclusive (only
    /// failed lookups). A pass sets `verified_at` (kept from an earlier pass), a failure clears
    /// it, and an inconclusive run leaves it as it was. A default sender that passes replaces the
    /// tenant's older defaults (a newer one still waiting for its DNS stays).
    #[must_use]
    pub fn email_sender_verified(&self) -> Statement {
        Statement::new(
            format!(
                "WITH v AS (
  UPDATE {senders} s SET dns_report = $3::jsonb,
         verified_at = CASE WHEN $5 THEN s.verified_at WHEN $4 THEN coalesce(s.verified_at, now()) END
   WHERE s.id = $1 AND {scope}
  RETURNING s.*
), o AS (
  UPDATE {senders} x SET is_default = false FROM v
   WHERE $4 AND v.is_default AND x.is_default AND (x.created_at, x.id) < (v.created_at, v.id)
     AND x.tenant_id IS NOT DISTINCT FROM v.tenant_id
)
SELECT {columns} FROM v",
                columns = columns("v."),
                scope = Store::read_scope("s.tenant_id", "$2"),
                senders = self.table("senders"),
            ),
            &[
                ("id", "uuid"),
                ("tenant_id", "uuid"),
                ("dns_report", "jsonb"),
                ("passed", "boolean"),
                ("inconclusive", "boolean"),
            ],
        )
    }

    /// Which sends' `from` a verified sender covers, for tenant `$1` (NULL: the scope's): `$2`
    /// the addresses (lower-case), `$3` their domains; a row `ord` (1-based) per covered one. A
    /// domain sender covers every address at it, an address sender its own; the app's global
    /// senders count where the context sees them (system context). With `$4`, also a row `ord`
    /// 0 with the tenant's default verified sender's `address` and `display_name`, if it has one.
    #[must_use]
    pub fn email_sender_match(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT x.ord::int AS ord, NULL::text AS address, NULL::text AS display_name
FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS x(address, domain, ord)
WHERE EXISTS (
  SELECT 1 FROM {senders} s
   WHERE s.verified_at IS NOT NULL AND s.domain = x.domain AND (s.address IS NULL OR lower(s.address) = x.address)
     AND (s.tenant_id IS NULL OR s.tenant_id = (SELECT {tenant})))
UNION ALL
(SELECT 0, s.address, s.display_name FROM {senders} s
  WHERE $4 AND s.is_default AND s.verified_at IS NOT NULL AND s.address IS NOT NULL
    AND s.tenant_id = (SELECT {tenant})
  ORDER BY s.created_at DESC LIMIT 1)",
                tenant = Store::tenant_value("$1"),
                senders = self.table("senders"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("addresses", "text[]"),
                ("domains", "text[]"),
                ("default", "boolean"),
            ],
        )
    }

    /// Removes sender `$1`, as the context (or `$2`'s tenant) sees it. Returns it when removed.
    #[must_use]
    pub fn email_sender_remove(&self) -> Statement {
        Statement::new(
            format!(
                "DELETE FROM {senders} s WHERE s.id = $1 AND {scope} RETURNING {columns}",
                columns = columns("s."),
                scope = Store::read_scope("s.tenant_id", "$2"),
                senders = self.table("senders"),
            ),
            &[("id", "uuid"), ("tenant_id", "uuid")],
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::email::store::StoreConfig;

    use super::*;

    #[test]
    fn statements_number_their_parameters() {
        let s = Store::new(&StoreConfig::default()).unwrap();
        for st in [
            s.email_sender_put(),
            s.email_senders_list(),
            s.email_sender_verified(),
            s.email_sender_remove(),
            s.email_sender_match(),
        ] {
            let highest = (1..=st.params.len())
                .rev()
                .find(|n| st.sql.contains(&format!("${n}")));
            assert_eq!(highest, Some(st.params.len()), "{}", st.sql);
        }
        assert!(s
            .email_sender_verified()
            .sql
            .contains("coalesce(s.verified_at, now())"));
    }
}
