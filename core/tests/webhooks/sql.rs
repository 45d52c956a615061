//! The schema and the engine's statements (spec §15, §8) as snapshots. The statements run
//! against PostgreSQL in `cli/tests/webhooks_store.rs`; here their text is pinned so a change to
//! any of them is reviewed.

use usebetter_core::webhooks::store::{PartitionWidth, Store, StoreConfig};

/// 2026-08-27T10:00:00Z, a Thursday.
const NOW_MS: i64 = 1_787_824_800_000;

/// Snapshots live with the others in `core/tests/snapshots`.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots" }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

fn store(rls: bool) -> Store {
    Store::new(&StoreConfig {
        rls,
        ..StoreConfig::default()
    })
    .unwrap()
}

#[test]
fn migration_without_rls() {
    snapshot!(
        "webhooks_migration_plain",
        store(false).migration_sql(NOW_MS, 1)
    );
}

#[test]
fn migration_with_rls() {
    snapshot!(
        "webhooks_migration_rls",
        store(true).migration_sql(NOW_MS, 1)
    );
}

#[test]
fn hardened_policy_in_another_schema() {
    let s = Store::new(&StoreConfig {
        schema: Some("hooks".into()),
        rls: true,
        hardened: true,
        tenant_schema: Some("app".into()),
        partition: PartitionWidth::Month,
    })
    .unwrap();
    snapshot!(
        "webhooks_partitions_hardened_month",
        s.ensure_partitions_sql(NOW_MS, 1)
    );
}

#[test]
fn engine_statements() {
    let s = store(true);
    let all: String = s
        .statements()
        .iter()
        .map(|(name, st)| st.render(name) + "\n")
        .collect();
    snapshot!("webhooks_statements", all);
    let drop = format!(
        "{}\n{}\n{}",
        s.droppable_partitions("messages")
            .unwrap()
            .render("droppableMessagePartitions"),
        s.droppable_partitions("attempts")
            .unwrap()
            .render("droppableAttemptPartitions"),
        s.drop_partitions_sql(&["webhook_messages_p20260817".into()])
            .unwrap()
    );
    snapshot!("webhooks_partition_retention", drop);
}

#[test]
fn statements_number_their_parameters() {
    for (name, st) in store(true).statements() {
        for i in 1..=st.params.len() {
            assert!(
                st.sql.contains(&format!("${i}")),
                "{name} does not use ${i}"
            );
        }
        assert!(
            !st.sql.contains(&format!("${}", st.params.len() + 1)),
            "{name} uses an undeclared parameter"
        );
        // Schema-qualified everywhere: search_path never decides which table is written.
        assert!(!st.sql.contains(" webhook_"), "{name}: unqualified table");
    }
}
