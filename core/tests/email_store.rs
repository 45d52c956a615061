//! The email schema (spec §15) as snapshots: the migration with and without tenant isolation,
//! the suppression lookup in hardened mode, and the retention statements. They run against
//! PostgreSQL in `cli/tests/email_store.rs`; here their text is pinned so a change is reviewed.

use usebetter_core::email::store::{Store, StoreConfig};

/// 2026-08-27T10:00:00Z, a Thursday.
const NOW_MS: i64 = 1_787_824_800_000;

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "snapshots" }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

fn store(rls: bool, hardened: bool) -> Store {
    Store::new(&StoreConfig {
        rls,
        hardened,
        ..StoreConfig::default()
    })
    .unwrap()
}

#[test]
fn email_migration() {
    snapshot!(
        "email_migration_rls",
        store(true, false).migration_sql(NOW_MS, 1)
    );
    snapshot!(
        "email_migration_plain",
        store(false, false).migration_sql(NOW_MS, 0)
    );
    snapshot!(
        "email_suppressed_hardened",
        store(true, true).suppressed_function_sql()
    );
}

#[test]
fn email_retention() {
    let s = store(true, false);
    let mut out = String::new();
    for table in ["messages", "recipients", "attempts", "events"] {
        out.push_str(
            &s.droppable_partitions(table)
                .unwrap()
                .render(&format!("droppable {table}")),
        );
    }
    out.push_str(&s.purge_bodies().render("purgeBodies"));
    out.push_str(&s.purge_attachments().render("purgeAttachments"));
    for table in ["idempotency_keys", "event_keys", "suppressions"] {
        out.push_str(
            &s.purge_expired(table)
                .unwrap()
                .render(&format!("purgeExpired {table}")),
        );
    }
    for (table, st) in s.purge_default_partitions() {
        out.push_str(&st.render(&format!("purgeDefault {table}")));
    }
    snapshot!("email_retention", out);
}
